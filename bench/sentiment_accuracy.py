"""Accuracy and speed of every sentiment analyzer on every labelled set.

    python bench/sentiment_accuracy.py [--data ../shared/datasets] [--analyzers minilm,vader]

Prints two Markdown tables (the ones recorded in ``bench/README.md``):

* accuracy and macro-F1 for every analyzer x dataset. On binary sets (UCI, SST-2 dev) a
  neutral prediction is simply wrong, and macro-F1 averages the positive and negative
  classes only; three-class sets are mapped as ``datasets/README.md`` says.
* start-up time, batched throughput (batches of 1,000, the RPC maximum, over the 3,000 UCI
  sentences), single-comment latency (p50/p99 over 20-word comments), and the CPU time per
  20-word comment scored alone (batch 1) and in batches of 64, pinned to one core.

It first prints the date, the load average and the CPU's flags relevant to the matrix
kernels (AVX2, AVX-512, VNNI...): speed figures mean little without them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

# One core, as the targets are stated: pin before numpy/onnxruntime start thread pools.
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sentiment_svc.analyzers import ANALYZER_NAMES, Analyzer, build_analyzer  # noqa: E402
from sentiment_svc.analyzers.datasets import LabelledSet, evaluation_sets  # noqa: E402


def scores(data: LabelledSet, pred: Sequence[str]) -> tuple[float, float]:
    """Accuracy and macro-F1; binary sets average F1 over their two gold classes only."""
    acc = sum(p == g for p, g in zip(pred, data.labels, strict=True)) / len(pred)
    classes = ("negative", "positive") if data.binary else ("negative", "neutral", "positive")
    f1s = []
    for c in classes:
        tp = sum(1 for p, g in zip(pred, data.labels, strict=True) if p == c and g == c)
        fp = sum(1 for p, g in zip(pred, data.labels, strict=True) if p == c and g != c)
        fn = sum(1 for p, g in zip(pred, data.labels, strict=True) if p != c and g == c)
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return acc, sum(f1s) / len(f1s)


KERNEL_FLAGS = (
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx_vnni",
    "amx_int8",
)


def cpu_description() -> str:
    """The CPU model and which of :data:`KERNEL_FLAGS` it has (Linux ``/proc/cpuinfo``)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "cpu: unknown (no /proc/cpuinfo)"
    fields: dict[str, str] = {}
    for line in info.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())  # the first CPU's
    flags = set(fields.get("flags", "").split())
    have = [f for f in KERNEL_FLAGS if f in flags]
    lacks = [f for f in KERNEL_FLAGS if f not in flags]
    model = fields.get("model name", "unknown")
    return f"cpu: {model}; has {' '.join(have) or '-'}; lacks {' '.join(lacks) or '-'}"


def cpu_per_text(analyzer: Analyzer, singles: list[str], batch: int) -> float:
    """Process CPU ms per text, scoring ``singles`` in batches of ``batch``."""
    analyzer.analyze_batch(singles[:batch])
    t0 = time.process_time()
    for i in range(0, len(singles), batch):
        analyzer.analyze_batch(singles[i : i + batch])
    return (time.process_time() - t0) / len(singles) * 1000


def speed(analyzer: Analyzer, corpus: list[str], singles: list[str]) -> list[float]:
    """[comments/s batched, p50 ms, p99 ms single comment], first by wall clock, then by
    process CPU time. CPU time is reported too because a shared machine's load inflates
    wall-clock numbers; on an idle core the two agree."""
    analyzer.analyze_batch(corpus[:50])  # warm caches
    out: list[float] = []
    for clock in (time.perf_counter, time.process_time):
        t0 = clock()
        for i in range(0, len(corpus), 1000):
            analyzer.analyze_batch(corpus[i : i + 1000])
        rate = len(corpus) / (clock() - t0)
        lat = []
        for text in singles:
            t1 = clock()
            analyzer.analyze_batch([text])
            lat.append((clock() - t1) * 1000)
        q = statistics.quantiles(lat, n=100)
        out += [rate, q[49], q[98]]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "datasets")
    ap.add_argument("--analyzers", default=",".join(ANALYZER_NAMES))
    args = ap.parse_args()
    names = [n for n in args.analyzers.split(",") if n]

    print(f"{time.strftime('%Y-%m-%d %H:%M')} UTC; load average {os.getloadavg()}")
    print(cpu_description() + "\n")
    sets = evaluation_sets(args.data)
    uci = [t for s in sets if s.name.startswith("uci_") for t in s.texts]
    # 20-word comments (+-2), from the review sets, for the single-comment latency.
    singles = [t for t in uci if 18 <= len(t.split()) <= 22][:400]

    acc_rows, speed_rows = [], []
    for name in names:
        t0 = time.perf_counter()
        analyzer = build_analyzer(name)
        startup = time.perf_counter() - t0
        cells = []
        for data in sets:
            pred = [r.label for r in analyzer.analyze_batch(data.texts)]
            acc, f1 = scores(data, pred)
            cells.append(f"{acc * 100:.1f} / {f1:.3f}")
        acc_rows.append(f"| {name} {analyzer.version} | " + " | ".join(cells) + " |")
        r_w, p50_w, p99_w, r_c, p50_c, p99_c = speed(analyzer, uci, singles)
        b1, b64 = cpu_per_text(analyzer, singles, 1), cpu_per_text(analyzer, singles, 64)
        speed_rows.append(
            f"| {name} | {startup:.2f} | {r_w:,.0f} | {r_c:,.0f} | {p50_w:.2f} | {p50_c:.2f} "
            f"| {p99_w:.2f} | {p99_c:.2f} | {b1:.2f} | {b64:.2f} |"
        )
        print(f"done {name}", file=sys.stderr)

    print("Accuracy % / macro-F1 (binary sets: neutral counts wrong, F1 over pos/neg)\n")
    print("| analyzer | " + " | ".join(f"{s.name} (n={len(s.texts)})" for s in sets) + " |")
    print("|---" * (len(sets) + 1) + "|")
    print("\n".join(acc_rows))
    print(
        f"\nSpeed, one core ({len(uci)} UCI sentences in batches of 1,000; "
        f"{len(singles)} single 18-22-word comments)\n"
    )
    print(
        "| analyzer | start-up s | batched/s wall | batched/s CPU | p50 ms wall | p50 ms CPU "
        "| p99 ms wall | p99 ms CPU | CPU ms/comment batch 1 | CPU ms/comment batch 64 |"
    )
    print("|---" * 10 + "|")
    print("\n".join(speed_rows))


if __name__ == "__main__":
    main()
