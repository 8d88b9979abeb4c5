"""A text classifier exported to ONNX: word-piece ids in, three class probabilities out.

The shared run-time half of the ONNX analyzers (``wordconv``, ``minilm``): tokenizes with
:class:`WordPieceTokenizer` (reading each text only up to the model's token limit), runs
length-sorted chunks through one ``onnxruntime`` session on one thread, and turns
probabilities into results. Only ``onnxruntime`` and ``numpy`` are needed at run time.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sentiment_svc.analyzers.base import Label, SentimentResult
from sentiment_svc.analyzers.wordpiece import WordPieceTokenizer

logger = logging.getLogger(__name__)

MODEL_DIR = Path(__file__).resolve().parent.parent / "models"
# Rows per ONNX run. Texts are sorted by length first, so each chunk pads to a similar
# length; chunks of 32-64 beat one big padded tensor.
_CHUNK = 32


class OnnxClassifier:
    name: str
    version: str

    def __init__(self, meta_file: str, model_file: str, model_dir: Path, threads: int) -> None:
        import onnxruntime as ort

        meta: dict[str, Any] = json.loads((model_dir / meta_file).read_text())
        self.version = meta["version"]
        self._labels: list[Label] = meta["labels"]
        self._neg = self._labels.index("negative")
        self._pos = self._labels.index("positive")
        vocab = model_dir / meta.get("vocab", "minilm_vocab.txt")
        self.max_tokens = int(meta["max_len"])
        self._tok = WordPieceTokenizer(vocab, self.max_tokens)
        opts = ort.SessionOptions()
        # One core by default: the service scales by processes/replicas, not threads.
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            str(model_dir / model_file), opts, providers=["CPUExecutionProvider"]
        )
        self.analyze_batch(["warm up the session so the first request is not slow"])
        logger.info("loaded %s sentiment model %s from %s", self.name, self.version, model_dir)

    def _probs(self, token_ids: list[list[int]]) -> np.ndarray[Any, np.dtype[np.float32]]:
        ids, mask = self._tok.encode_batch(token_ids)
        out = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
        return np.asarray(out[0], dtype=np.float32)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Class probabilities, one row per text, columns in the meta file's label order."""
        token_ids = [self._tok.tokenize_ids(t) for t in texts]
        order = sorted(range(len(texts)), key=lambda i: len(token_ids[i]))
        probs = np.empty((len(texts), len(self._labels)), dtype=np.float32)
        for start in range(0, len(order), _CHUNK):
            idx = order[start : start + _CHUNK]
            probs[idx] = self._probs([token_ids[i] for i in idx])
        return probs

    def analyze_batch(self, texts: Sequence[str]) -> list[SentimentResult]:
        if not texts:
            return []
        probs = self.probabilities(texts)
        results = []
        for row in probs:
            best = int(row.argmax())
            # float32 probabilities carry ~7 significant digits: round so that
            # clients see 0.962927, not float32 noise widened to double.
            score = round(float(row[self._pos] - row[self._neg]), 6)
            results.append(
                SentimentResult(
                    self._labels[best],
                    min(1.0, max(-1.0, score)),
                    min(1.0, max(0.0, round(float(row[best]), 6))),
                )
            )
        return results
