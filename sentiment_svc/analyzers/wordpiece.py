"""A pure-Python BERT (uncased) WordPiece tokenizer.

The default analyzer needs the exact token ids that ``transformers``' ``BertTokenizer``
produced at training time. Re-implementing the ~80 lines of BERT's basic + WordPiece
tokenization avoids a runtime dependency on ``tokenizers`` (and through it on
``huggingface_hub``); ``tests/sentiment_svc/test_analyzers.py`` and the training script
check it against the reference ids.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

_MAX_WORD_CHARS = 100  # BERT's limit: longer "words" become [UNK]
# Characters cleaned and split per step; the token limit usually ends reading in the first.
_WINDOW_CHARS = 512
# Only these are cut at: every other separator (Zs, controls) is left to _clean.
_PLAIN_SPACE = re.compile(r"[ \t\n\r]")


def _is_punct(ch: str) -> bool:
    cp = ord(ch)
    # BERT treats every non-alphanumeric ASCII char as punctuation, even "$" and "^".
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def _clean(text: str) -> str:
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD:
            continue
        cat = unicodedata.category(ch)
        if ch in " \t\n\r" or cat == "Zs":
            out.append(" ")
        elif cat.startswith("C"):  # control, format, private-use, unassigned
            continue
        elif _is_cjk(cp):
            out.append(f" {ch} ")
        else:
            out.append(ch)
    return "".join(out)


def _split_punct(word: str) -> list[str]:
    pieces: list[str] = []
    cur: list[str] = []
    for ch in word:
        if _is_punct(ch):
            if cur:
                pieces.append("".join(cur))
                cur = []
            pieces.append(ch)
        else:
            cur.append(ch)
    if cur:
        pieces.append("".join(cur))
    return pieces


def _windows(text: str) -> Iterator[str]:
    """``text`` in consecutive pieces of about :data:`_WINDOW_CHARS`, each cut after a
    plain whitespace character so that no word is split. A run of more than
    :data:`_MAX_WORD_CHARS` characters without one is cut anyway, to keep the cost
    bounded: only there (a word longer than BERT's limit, or words separated by other
    spaces only) can the ids differ from the reference tokenizer's."""
    start = 0
    while start < len(text):
        end = start + _WINDOW_CHARS
        if end < len(text):
            match = _PLAIN_SPACE.search(text, end, end + _MAX_WORD_CHARS + 1)
            end = match.end() if match else end + _MAX_WORD_CHARS + 1
        yield text[start:end]
        start = end


class WordPieceTokenizer:
    """Lower-casing, accent-stripping BERT tokenizer over a ``vocab.txt``."""

    def __init__(self, vocab_path: Path, max_len: int = 128) -> None:
        tokens = vocab_path.read_text(encoding="utf-8").split("\n")
        self.vocab: dict[str, int] = {t: i for i, t in enumerate(tokens) if t}
        self.max_len = max_len
        self.cls_id = self.vocab["[CLS]"]
        self.sep_id = self.vocab["[SEP]"]
        self.unk_id = self.vocab["[UNK]"]
        self.pad_id = self.vocab["[PAD]"]
        # Words repeat a lot in feedback; caching the per-word split makes the hot path cheap.
        self._word_ids = lru_cache(maxsize=65536)(self._word_ids_uncached)

    def _word_ids_uncached(self, word: str) -> tuple[int, ...]:
        if len(word) > _MAX_WORD_CHARS:
            return (self.unk_id,)
        ids: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            found = -1
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                found = self.vocab.get(piece, -1)
                if found >= 0:
                    break
                end -= 1
            if found < 0:
                return (self.unk_id,)
            ids.append(found)
            start = end
        return tuple(ids)

    def tokenize_ids(self, text: str) -> list[int]:
        """Token ids with [CLS] ... [SEP], truncated to ``max_len`` like HF truncation.

        Reads the text window by window and stops once the limit is reached, so the cost
        is bounded by the token limit, not by the length of the text.
        """
        ids = [self.cls_id]
        limit = self.max_len - 1
        for window in _windows(text):
            for raw in _clean(window).lower().split():
                word = unicodedata.normalize("NFD", raw)
                word = "".join(ch for ch in word if unicodedata.category(ch) != "Mn")
                for piece in _split_punct(word):
                    ids.extend(self._word_ids(piece))
                if len(ids) >= limit:
                    return [*ids[:limit], self.sep_id]
        ids.append(self.sep_id)
        return ids

    def encode_batch(
        self, token_ids: list[list[int]]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Pad to the longest row; returns ``(input_ids, attention_mask)``."""
        width = max(len(row) for row in token_ids)
        ids = np.full((len(token_ids), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(token_ids), width), dtype=np.int64)
        for i, row in enumerate(token_ids):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        return ids, mask
