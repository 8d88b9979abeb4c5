"""The one interface every sentiment analyzer implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

Label = Literal["positive", "neutral", "negative"]
LABELS: tuple[Label, ...] = ("positive", "neutral", "negative")


@dataclass(frozen=True, slots=True)
class SentimentResult:
    label: Label
    score: float  # in [-1, 1]: negative ... positive
    confidence: float  # in [0, 1]: how sure the analyzer is of ``label``


@runtime_checkable
class Analyzer(Protocol):
    name: str
    version: str

    def analyze_batch(self, texts: Sequence[str]) -> list[SentimentResult]:
        """Score ``texts`` in one call (one model pass); results are in input order."""
        ...


def clamp(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


def band_result(score: float, band: float) -> SentimentResult:
    """Label a lexicon score with a symmetric neutral band (the TextBlob/VADER rules).

    Confidence for a polar label grows with the distance from the band edge to the extreme;
    for neutral it is highest at 0 and falls to 0 at the band edges. Lexicon scores are not
    calibrated probabilities, so this is only an ordering signal.
    """
    score = clamp(score, -1.0, 1.0)
    if score > band:
        return SentimentResult("positive", score, clamp((score - band) / (1 - band), 0.0, 1.0))
    if score < -band:
        return SentimentResult("negative", score, clamp((-score - band) / (1 - band), 0.0, 1.0))
    return SentimentResult("neutral", score, clamp(1 - abs(score) / band, 0.0, 1.0))
