"""Lexicon analyzers kept for comparison: the product plan's TextBlob rule and VADER."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from importlib import metadata

from sentiment_svc.analyzers.base import SentimentResult, band_result

logger = logging.getLogger(__name__)


class TextBlobAnalyzer:
    """TextBlob's PatternAnalyzer polarity: > 0.1 positive, < -0.1 negative, else neutral.

    PatternAnalyzer ships its lexicon inside the wheel, so no NLTK corpora are needed.
    """

    name = "textblob"
    band = 0.1

    def __init__(self) -> None:
        from textblob.en.sentiments import PatternAnalyzer

        self.version = metadata.version("textblob")
        self._analyzer = PatternAnalyzer()
        self._analyzer.analyze("warm up")  # loads the lexicon now, not on the first request
        logger.info("loaded textblob %s", self.version)

    def analyze_batch(self, texts: Sequence[str]) -> list[SentimentResult]:
        return [band_result(float(self._analyzer.analyze(t)[0]), self.band) for t in texts]


class VaderAnalyzer:
    """VADER compound score: >= 0.05 positive, <= -0.05 negative, else neutral."""

    name = "vader"
    band = 0.05

    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.version = metadata.version("vaderSentiment")
        self._analyzer = SentimentIntensityAnalyzer()
        logger.info("loaded vader %s", self.version)

    def analyze_batch(self, texts: Sequence[str]) -> list[SentimentResult]:
        out = []
        for t in texts:
            compound = float(self._analyzer.polarity_scores(t)["compound"])
            # VADER's published rule is inclusive at +-0.05; band_result's is exclusive.
            if compound == self.band or compound == -self.band:
                compound = compound * (1 + 1e-9)
            out.append(band_result(compound, self.band))
        return out
