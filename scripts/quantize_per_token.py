"""Rewrite a dynamically quantized int8 ONNX graph to quantize activations per token.

``onnxruntime.quantization.quantize_dynamic`` quantizes each activation tensor with one
scale for the whole tensor, computed at run time: a text's result then depends on what
it was batched with (measured: 4 % of labels changed between batches of 64 and each text
alone). This rewrite gives every token row its own symmetric scale (``max |x| / 127``,
zero point 128 in uint8), so each row is quantized from its own values only: a text gets
the same result alone or in any batch (up to float32 rounding, ~1e-7), and the finer
scales lose less than the per-tensor ones. The int8 weights and their per-channel scales
are kept unchanged. Costs ~10-15 % throughput on one core (more, smaller nodes).

    python scripts/quantize_per_token.py IN.onnx OUT.onnx

``scripts/train_sentiment.py`` applies it after ``quantize_dynamic``; run by hand it
converts an existing dynamic-int8 artefact (how ``1.2`` was made from ``1.1``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

ZERO_POINT = "per_token_zero_point"
INV_127 = "per_token_inv_127"
EPS = "per_token_eps"


def rewrite(model: Any) -> Any:
    """Return ``model`` with every DynamicQuantizeLinear -> MatMulInteger made per token.

    Each ``DynamicQuantizeLinear(x)`` feeding ``MatMulInteger -> Cast -> Mul(scale)``
    becomes ``s = max(max|x| over the last axis, eps)``;
    ``q = QuantizeLinear(x / s, 1/127, 128)``; each matmul becomes
    ``MatMulIntegerToFloat(q, W, 1/127, w_scale, 128, w_zero_point) * s``.
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    weights = {i.name: i for i in graph.initializer}
    nodes = list(graph.node)
    producer = {out: n for n in nodes for out in n.output}
    consumers: dict[str, list[Any]] = {}
    for n in nodes:
        for name in n.input:
            consumers.setdefault(name, []).append(n)

    added = [
        numpy_helper.from_array(np.array(128, np.uint8), ZERO_POINT),
        numpy_helper.from_array(np.array(1.0 / 127.0, np.float32), INV_127),
        # Keeps an all-zero row (no such row occurs in this network) from dividing by 0.
        numpy_helper.from_array(np.array(1e-12, np.float32), EPS),
    ]
    dropped: set[str] = set()
    replacement: dict[str, list[Any]] = {}
    for dql in nodes:
        if dql.op_type != "DynamicQuantizeLinear":
            continue
        x, p = dql.input[0], dql.name + "_per_token"
        new = [
            helper.make_node("Abs", [x], [p + "_abs"]),
            helper.make_node("ReduceMax", [p + "_abs"], [p + "_max"], axes=[-1], keepdims=1),
            helper.make_node("Max", [p + "_max", EPS], [p + "_scale"]),
            helper.make_node("Div", [x, p + "_scale"], [p + "_unit"]),
            helper.make_node("QuantizeLinear", [p + "_unit", INV_127, ZERO_POINT], [p + "_q"]),
        ]
        users = consumers[dql.output[0]]
        if any(u.op_type != "MatMulInteger" for u in users):
            raise ValueError(f"{dql.name}: expected only MatMulInteger consumers")
        for mm in users:
            _, w, _, w_zero = mm.input
            cast = _only(consumers[mm.output[0]], "Cast")
            rescale = _only(consumers[cast.output[0]], "Mul")
            scales = producer[next(i for i in rescale.input if i != cast.output[0])]
            w_scale = next(i for i in scales.input if i in weights)
            new += [
                helper.make_node(
                    "MatMulIntegerToFloat",
                    [p + "_q", w, INV_127, w_scale, ZERO_POINT, w_zero],
                    [mm.name + "_per_token"],
                    domain="com.microsoft",
                ),
                helper.make_node(
                    "Mul", [mm.name + "_per_token", p + "_scale"], [rescale.output[0]]
                ),
            ]
            dropped.update({mm.name, cast.name, rescale.name, scales.name})
        replacement[dql.name] = new
    if not replacement:
        raise ValueError("no DynamicQuantizeLinear in the graph: not a dynamic-int8 model")

    rewritten: list[Any] = []
    for n in nodes:
        if n.name in replacement:
            rewritten += replacement[n.name]
        elif n.name not in dropped:
            rewritten.append(n)
    del graph.node[:]
    graph.node.extend(rewritten)
    used = {name for n in rewritten for name in n.input}
    kept = [i for i in list(graph.initializer) + added if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return model


def _only(nodes: list[Any], op_type: str) -> Any:
    if len(nodes) != 1 or nodes[0].op_type != op_type:
        raise ValueError(f"expected one {op_type}, found {[n.op_type for n in nodes]}")
    return nodes[0]


def main() -> None:
    import onnx

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path, help="a graph made by quantize_dynamic")
    ap.add_argument("dest", type=Path)
    args = ap.parse_args()
    onnx.save(rewrite(onnx.load(str(args.source))), str(args.dest))


if __name__ == "__main__":
    main()
