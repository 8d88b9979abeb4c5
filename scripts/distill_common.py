"""Data shared by the sentiment training scripts: the training rows and the held-aside
validation slices, split the same way by every script so that no held-aside row (or a
sentence of a held-aside review) is ever trained on.

Training-time only. Reads SST five-class train, TweetEval *validation* and amazon_5star
from ``../shared/datasets``; UCI, SST dev, TweetEval test, financial_phrasebank and the
encrypted holdout are evaluation sets and are never read by training.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentiment_svc.analyzers.datasets import (
    LabelledSet,
    load_amazon_5star,
    load_sst,
    load_tweeteval,
)

LABELS = ("negative", "neutral", "positive")  # output order of every exported graph
Row = tuple[str, int]


def split(data: LabelledSet, frac: float, seed: int) -> tuple[list[Row], list[Row]]:
    """Stratified train/validation split, deterministic for a seed."""
    rng = random.Random(seed)
    train: list[Row] = []
    val: list[Row] = []
    for lab in LABELS:
        rows = [
            (t, LABELS.index(lab)) for t, y in zip(data.texts, data.labels, strict=True) if y == lab
        ]
        rng.shuffle(rows)
        cut = int(len(rows) * frac)
        val += rows[:cut]
        train += rows[cut:]
    return train, val


@dataclass(frozen=True)
class Splits:
    sst_train: list[Row]
    sst_val: list[Row]
    tweet_train: list[Row]
    tweet_val: list[Row]
    amazon_train: list[Row]
    amazon_val: list[Row]


def load_splits(data: Path, seed: int) -> Splits:
    sst_tr, sst_val = split(load_sst(data, "train", fine=True), 0.08, seed)
    tw_tr, tw_val = split(load_tweeteval(data, "val"), 0.2, seed)
    am_tr, am_val = split(load_amazon_5star(data), 0.25, seed)
    return Splits(sst_tr, sst_val, tw_tr, tw_val, am_tr, am_val)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if len(s.split()) >= 3]


def macro_f1(gold: list[int], pred: list[int], classes: tuple[int, ...] = (0, 1, 2)) -> float:
    f1s = []
    for c in classes:
        tp = sum(1 for g, p in zip(gold, pred, strict=True) if g == c and p == c)
        fp = sum(1 for g, p in zip(gold, pred, strict=True) if g != c and p == c)
        fn = sum(1 for g, p in zip(gold, pred, strict=True) if g == c and p != c)
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(f1s) / len(f1s)


def binary_acc(gold: list[int], pred: list[int]) -> float:
    """Accuracy over the non-neutral gold rows, a neutral prediction counted wrong."""
    polar = [(g, p) for g, p in zip(gold, pred, strict=True) if g != 1]
    return sum(g == p for g, p in polar) / len(polar)


def held_aside_metrics(
    splits: Splits, predict: Callable[[list[str]], list[int]]
) -> dict[str, float]:
    """Scores on the held-aside slices, and ``selection``: the one number models are
    chosen by (SST macro-F1 + SST binary acc + tweet macro-F1 + amazon binary acc)."""
    out: dict[str, float] = {}
    for name, rows in (
        ("sst_val", splits.sst_val),
        ("tweet_val", splits.tweet_val),
        ("amazon_val", splits.amazon_val),
    ):
        gold = [y for _, y in rows]
        pred = predict([t for t, _ in rows])
        out[name + "_acc"] = sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold)
        out[name + "_f1"] = macro_f1(gold, pred)
        out[name + "_binary_acc"] = binary_acc(gold, pred)
    out["selection"] = (
        out["sst_val_f1"]
        + out["sst_val_binary_acc"]
        + out["tweet_val_f1"]
        + out["amazon_val_binary_acc"]
    )
    return out


def export_classifier(module: Any, sample: tuple[Any, Any], path: Path) -> None:
    """ONNX export of a ``(input_ids, attention_mask) -> probs`` module with dynamic batch
    and length axes, as every sentiment graph's run time expects."""
    import torch

    torch.onnx.export(
        module,
        sample,
        str(path),
        input_names=["input_ids", "attention_mask"],
        output_names=["probs"],
        opset_version=17,
        dynamo=False,
        dynamic_axes={
            "input_ids": {0: "b", 1: "t"},
            "attention_mask": {0: "b", 1: "t"},
            "probs": {0: "b"},
        },
    )
