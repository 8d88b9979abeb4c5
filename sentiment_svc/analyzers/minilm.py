"""A fine-tuned 5-layer MiniLM run as an int8 ONNX graph (the default before ``wordconv``).

The first 5 of all-MiniLM-L6-v2's 6 layers, fine-tuned for three classes (see
``sentiment_svc/models/README.md`` and ``scripts/train_sentiment.py``). The graph
quantizes activations with one scale per token, so texts may be batched with any others
(and padded to any length) without changing their results. Its int8 matrix kernels are
fast only on CPUs with AVX-512 VNNI; on AVX2-only servers it costs several times the
default analyzer.
"""

from __future__ import annotations

from pathlib import Path

from sentiment_svc.analyzers.onnx_classifier import MODEL_DIR, OnnxClassifier


class MiniLMAnalyzer(OnnxClassifier):
    name = "minilm"

    def __init__(self, model_dir: Path = MODEL_DIR, threads: int = 1) -> None:
        super().__init__("minilm_meta.json", "minilm_sentiment.int8.onnx", model_dir, threads)
