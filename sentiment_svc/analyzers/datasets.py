"""Loaders for the public labelled sentiment sets in ``../shared/datasets/sentiment``.

Used by the training script and the accuracy benchmark only; the service never reads them.
Every loader returns parallel lists of texts and gold labels in the service's label space
(``positive`` / ``neutral`` / ``negative``), mapped as ``datasets/README.md`` prescribes.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from sentiment_svc.analyzers.base import Label

_BIN: dict[str, Label] = {"0": "negative", "1": "positive"}
_FINE: dict[str, Label] = {
    "0": "negative",
    "1": "negative",
    "2": "neutral",
    "3": "positive",
    "4": "positive",
}
_TWEET: dict[str, Label] = {"0": "negative", "1": "neutral", "2": "positive"}
_STARS: dict[str, Label] = {
    "Very Negative": "negative",
    "Negative": "negative",
    "Neutral": "neutral",
    "Positive": "positive",
    "Very Positive": "positive",
}


@dataclass(frozen=True, slots=True)
class LabelledSet:
    name: str
    binary: bool  # True: gold has no neutral class, so a neutral prediction is always wrong
    texts: list[str]
    labels: list[Label]


def _lines(path: Path) -> list[str]:
    # Split on "\n" only: the IMDB file contains U+0085 (NEL) inside sentences, which
    # str.splitlines() would wrongly treat as a line break.
    with path.open(encoding="utf-8", newline="") as fh:
        return [ln.rstrip("\r") for ln in fh.read().split("\n") if ln.strip()]


def load_uci(root: Path, which: str) -> LabelledSet:
    path = root / "sentiment" / "uci" / f"{which}_labelled.txt"
    texts, labels = [], []
    for ln in _lines(path):
        text, _, lab = ln.rpartition("\t")
        texts.append(text.strip())
        labels.append(_BIN[lab.strip()])
    return LabelledSet(f"uci_{which}", True, texts, labels)


def load_sst(root: Path, split: str, fine: bool) -> LabelledSet:
    kind = "fine" if fine else "binary"
    path = root / "sentiment" / "sst" / f"stsa.{kind}.{split}"
    mapping = _FINE if fine else _BIN
    texts, labels = [], []
    for ln in _lines(path):
        lab, _, text = ln.partition(" ")
        texts.append(text.strip())
        labels.append(mapping[lab])
    name = f"sst_{'fine' if fine else 'binary'}_{split}"
    return LabelledSet(name, not fine, texts, labels)


def load_tweeteval(root: Path, split: str) -> LabelledSet:
    base = root / "sentiment" / "tweeteval"
    texts = _lines(base / f"{split}_text.txt")
    labels = [_TWEET[x.strip()] for x in _lines(base / f"{split}_labels.txt")]
    if len(texts) != len(labels):
        raise ValueError(f"tweeteval {split}: {len(texts)} texts but {len(labels)} labels")
    return LabelledSet(f"tweeteval_{split}", False, [t.strip() for t in texts], labels)


def load_amazon_5star(root: Path) -> LabelledSet:
    path = root / "sentiment" / "amazon_5star" / "reviews.csv"
    texts: list[str] = []
    labels: list[Label] = []
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            texts.append(row["input"].strip())
            labels.append(_STARS[row["target"].strip()])
    return LabelledSet("amazon_5star", False, texts, labels)


def load_financial_phrasebank(root: Path) -> LabelledSet:
    path = root / "sentiment" / "financial_phrasebank" / "Sentences_AllAgree.txt"
    texts: list[str] = []
    labels: list[Label] = []
    raw = path.read_bytes().decode("utf-8", errors="replace")
    for ln in raw.split("\n"):
        text, sep, lab = ln.strip().rpartition("@")
        if sep and lab in ("positive", "neutral", "negative"):
            texts.append(text.strip())
            labels.append(lab)  # type: ignore[arg-type]  # checked just above
    return LabelledSet("financial_phrasebank", False, texts, labels)


def evaluation_sets(root: Path) -> list[LabelledSet]:
    """Every set the benchmark reports, in table order."""
    return [
        load_uci(root, "amazon_cells"),
        load_uci(root, "yelp"),
        load_uci(root, "imdb"),
        load_sst(root, "dev", fine=False),
        load_sst(root, "dev", fine=True),
        load_tweeteval(root, "test"),
        load_amazon_5star(root),
        load_financial_phrasebank(root),
    ]
