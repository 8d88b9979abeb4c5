"""Sentiment analyzers behind one interface; pick one by name with :func:`build_analyzer`.

Nothing is loaded at import time: each analyzer loads its model in its constructor, so the
service builds one analyzer once at start-up and reuses it.
"""

from __future__ import annotations

from sentiment_svc.analyzers.base import LABELS, Analyzer, Label, SentimentResult

DEFAULT_ANALYZER = "minilm"
ANALYZER_NAMES = ("minilm", "textblob", "vader")

__all__ = [
    "ANALYZER_NAMES",
    "DEFAULT_ANALYZER",
    "LABELS",
    "Analyzer",
    "Label",
    "SentimentResult",
    "build_analyzer",
]


def build_analyzer(name: str = "default") -> Analyzer:
    """Build the analyzer called ``name`` ("default" means :data:`DEFAULT_ANALYZER`).

    Raises ``ValueError`` for an unknown name.
    """
    key = name.strip().lower()
    if key == "default":
        key = DEFAULT_ANALYZER
    if key == "minilm":
        from sentiment_svc.analyzers.minilm import MiniLMAnalyzer

        return MiniLMAnalyzer()
    if key == "textblob":
        from sentiment_svc.analyzers.lexicon import TextBlobAnalyzer

        return TextBlobAnalyzer()
    if key == "vader":
        from sentiment_svc.analyzers.lexicon import VaderAnalyzer

        return VaderAnalyzer()
    raise ValueError(f"unknown sentiment analyzer {name!r}; expected one of {ANALYZER_NAMES}")
