"""bias-correct: fold the mean output shift of each int8 conv / gemm back into its bias.

With the calibrated ranges in place (after `calibrate`, before `quantize`), the pass quantizes a
copy of the graph the way `quantize` will (same activation type and weight granularity), runs
it and the float graph on the calibration data in onnxruntime, and compares, per output channel
c of every conv / gemm with constant weights, the mean of the int8 output with the float one
(over samples and positions):

    shift[c] = E[y_int8[c]] - E[y_float[c]]
    conv(x, W, b)  ->  conv(x, W, b - shift)          gemm(a, W, c)  ->  gemm(a, W, c - shift)

The shift holds everything int8 does to the mean: weight rounding, activation rounding and
clipping upstream. It is measured again on the corrected copy, `rounds` times in all (a
correction upstream moves the shifts below it), and the corrections add up. The float
reference is always the graph as it came in. An op with a fused relu / clip is measured after
the activation, which only approximates its pre-activation shift; the rounds absorb part of
that. The weights stay float (quantize rounds them as before); a conv without a bias gets one.
Ops quantize would keep float (fallback marks, dynamic weights, auto_pad, gemm with alpha/beta
other than 1 or trans_a) and matmuls are left alone, as is any op the int8 copy leaves float.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from irc.ir.evaluator import get_evaluator
from irc.ir.graph import Graph
from irc.ir.op import Op
from irc.ir.value import Value

from .base import Pass, PassContext, PassError, register_pass
from .calibration_stream import CalibrationStream
from .dce import remove_dead_ops
from .fallback import FALLBACK_KEY


def correctable(graph: Graph, op: Op) -> bool:
    if op.name not in ("conv", "gemm") or FALLBACK_KEY in op.attrs:
        return False
    if graph.const_value(op.operands[1]) is None or not op.operands[0].type.is_float:
        return False
    if len(op.operands) > 2 and graph.const_value(op.operands[2]) is None:
        return False
    if op.name == "conv":
        return op.attrs.get("auto_pad") in (None, "NOTSET") and op.operands[0].type.rank >= 3
    if op.attr("trans_a") or op.attr("alpha") != 1.0 or (len(op.operands) > 2 and op.attr("beta") != 1.0):
        return False
    return op.operands[0].type.rank == 2 and (len(op.operands) < 3 or op.operands[2].type.rank == 1)


class ChannelMeans:
    """Running per-channel (axis 1) means of one tensor."""

    def __init__(self) -> None:
        self.sums: np.ndarray | None = None
        self.count = 0

    def update(self, y: np.ndarray) -> None:
        y = np.asarray(y, np.float64)
        axes = tuple(i for i in range(y.ndim) if i != 1)
        part = y.sum(axis=axes)
        self.sums = part if self.sums is None else self.sums + part
        self.count += y.size // y.shape[1]

    @property
    def mean(self) -> np.ndarray:
        if self.sums is None:
            raise PassError("pass 'bias-correct': no calibration batch reached a corrected op")
        return self.sums / max(self.count, 1)


def _channel_means(graph: Graph, stream_batches, values: dict[str, Value]) -> dict[str, np.ndarray]:
    """Per-channel means of `values` (graph outputs of `graph`) over the batches, computed by
    onnxruntime on the model as it is written (fp32, or QDQ for a quantized graph)."""
    ev = get_evaluator("onnxruntime-qdq", level="all")
    try:
        means = {n: ChannelMeans() for n in values}
        for feeds in stream_batches():
            arrays = ev.run(graph, feeds, list(values.values()))
            for n, v in values.items():
                means[n].update(arrays[v])
    finally:
        ev.close()
    return {n: m.mean for n, m in means.items()}


@register_pass
@dataclass(frozen=True)
class BiasCorrect(Pass):
    """Fold the mean output shift of int8 weights (measured on the calibration data) into the bias."""

    name: ClassVar[str] = "bias-correct"
    activations: Literal["u8", "i8", "i8-sym"] = "u8"
    """The activation type quantize will use."""
    per_channel: bool = True
    """The weight granularity quantize will use (one scale per output channel)."""
    batch_size: int = 32
    """Samples per batch run."""
    samples: int = 0
    """Use at most this many calibration samples (0: all)."""
    seed: int = 0
    """Seed for choosing the `samples` subset when the data source can pick one at random."""

    def run(self, graph: Graph, ctx: PassContext) -> bool:
        from .clone import clone_graph
        from .quantize import Quantize

        if self.batch_size < 1 or self.samples < 0:
            raise PassError("pass 'bias-correct': batch-size must be at least 1 and samples 0 or more")
        if not any(op.attrs.get("q.range") for op in graph.ops):
            raise PassError("pass 'bias-correct': the graph has no calibrated ranges; run calibrate first")
        order = list(graph.ops)
        targets = [i for i, op in enumerate(order) if correctable(graph, op)]
        if not targets:
            ctx.record(self.name, "ops corrected", 0)
            return False

        def batches():
            return CalibrationStream(ctx.calib, graph, batch_size=self.batch_size, limit=self.samples,
                                     seed=self.seed)

        def copy() -> tuple[Graph, dict[int, Op]]:
            """A copy of the graph and, per target (its index in `order`), the copy's op."""
            g, ops = clone_graph(graph)
            where = {id(op): k for k, op in enumerate(graph.ops)}
            return g, {i: ops[where[id(order[i])]] for i in targets}

        def expose(g: Graph, ops: dict[int, Op], which: list[int]) -> dict[str, Value]:
            """Make the ops' results graph outputs; key (op index) -> the value."""
            outs = list(g.outputs)
            for i in which:
                if ops[i].results[0] not in outs:
                    outs.append(ops[i].results[0])
            g.set_outputs(outs)
            return {str(i): ops[i].results[0] for i in which}

        ref, ref_ops = copy()
        positions = expose(ref, ref_ops, targets)
        float_means = _channel_means(ref, batches, positions)
        total = {i: np.zeros_like(float_means[str(i)]) for i in targets}
        corrected: set[int] = set()
        waves = _waves(graph, order, targets)
        for wave in waves:
            q, q_ops = copy()
            Quantize(activations=self.activations, per_channel=self.per_channel).run(q, PassContext())
            int8 = [i for i in wave if q_ops[i].results[0].type.is_quantized]
            if not int8:
                continue
            positions = expose(q, q_ops, int8)
            int8_means = _channel_means(q, batches, positions)
            for i in int8:
                shift = int8_means[str(i)] - float_means[str(i)]
                total[i] += shift
                _set_bias(graph, order[i], -shift)
                corrected.add(i)
        remove_dead_ops(graph, ("const",))
        largest = max((float(np.abs(total[i]).max()) for i in corrected), default=0.0)
        ctx.record(self.name, "ops corrected", len(corrected))
        ctx.record(self.name, "waves", len(waves))
        ctx.record(self.name, "largest correction", round(largest, 6))
        return bool(corrected)


def _waves(graph: Graph, order: list[Op], targets: list[int]) -> list[list[int]]:
    """The targets grouped by depth: a target's wave comes after the waves of every target
    upstream of it, so each wave is measured with everything above it already corrected."""
    index = {id(order[i]): i for i in targets}
    depth: dict[int, int] = {}             # id(value) -> targets on the longest path to it
    waves: dict[int, list[int]] = {}
    for op in graph.ops:
        d = max((depth.get(id(v), 0) for v in op.operands), default=0)
        if id(op) in index:
            d += 1
            waves.setdefault(d, []).append(index[id(op)])
        for r in op.results:
            depth[id(r)] = d
    return [waves[k] for k in sorted(waves)]


def _set_bias(graph: Graph, op: Op, delta: np.ndarray) -> None:
    """op's bias += delta (a new constant; a conv or gemm without a bias gets one)."""
    n = delta.shape[0]
    b = graph.const_value(op.operands[2]) if len(op.operands) > 2 else None
    b0 = np.zeros(n, np.float64) if b is None else np.broadcast_to(b.astype(np.float64).reshape(-1), (n,))
    name = (op.operands[2].name if b is not None else None) or f"{op.operands[1].name or 'w'}_bias"
    nb = graph.const((b0 + delta).astype(np.float32), name.removesuffix("_corrected") + "_corrected", before=op)
    if b is None:
        op.set_operands([*op.operands, nb])
    else:
        op.set_operand(2, nb)
