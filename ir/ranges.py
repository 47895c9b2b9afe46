"""Calibrated ranges in the IR.

The calibrate pass observes values and records, for each, the range [lo, hi] the quantize pass
should cover. Ranges live in the IR as the discardable attribute `q.range`, so a calibrated graph
can be saved, read, inspected and quantized later:

    on an op:          {q.range=[lo0, hi0, lo1, hi1, ...]}   one pair per result
    on a graph input:  %x: tensor<...> {q.range=[lo, hi]}

A result nobody observed has the pair [nan, nan]; a pair that is not finite (nan or inf, as a
hand-written text may hold) counts as no range.

A value that held NaN or infinity during calibration (an attention mask of -inf, log(0)) keeps
the range of its finite values and is marked, since int8 cannot hold what it holds:

    on an op:          {q.nonfinite=[0, ...]}     the indices of such results
    on a graph input:  %x: tensor<...> {q.nonfinite=[0]}
"""

from __future__ import annotations

import math

from .graph import Graph
from .value import Value

RANGE_KEY = "q.range"
NONFINITE_KEY = "q.nonfinite"


def get_range(graph: Graph, value: Value) -> tuple[float, float] | None:
    """The calibrated [lo, hi] of `value`, or None when it has none."""
    if value.producer is None:
        pair = graph.input_attrs.get(id(value), {}).get(RANGE_KEY)
        if not pair or len(pair) < 2:
            return None
        lo, hi = pair[0], pair[1]
    else:
        pairs = value.producer.attrs.get(RANGE_KEY)
        if not pairs or len(pairs) < 2 * (value.result_index + 1):
            return None
        lo, hi = pairs[2 * value.result_index], pairs[2 * value.result_index + 1]
    if not (isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and math.isfinite(lo) and math.isfinite(hi)):
        return None
    return lo, hi


def set_range(graph: Graph, value: Value, lo: float, hi: float) -> None:
    """Record the calibrated range of `value` (a graph input or an op result)."""
    from .attrs import f32

    lo, hi = f32(lo), f32(hi)
    if value.producer is None:
        graph.input_attrs.setdefault(id(value), {})[RANGE_KEY] = (lo, hi)
        return
    op = value.producer
    pairs = list(op.attrs.get(RANGE_KEY, ()))
    pairs += [math.nan] * (2 * len(op.results) - len(pairs))
    pairs[2 * value.result_index:2 * value.result_index + 2] = [lo, hi]
    op.attrs[RANGE_KEY] = tuple(pairs)


def mark_nonfinite(graph: Graph, value: Value) -> None:
    """Record that `value` held NaN or infinity during calibration."""
    if value.producer is None:
        graph.input_attrs.setdefault(id(value), {})[NONFINITE_KEY] = (0,)
        return
    op = value.producer
    op.attrs[NONFINITE_KEY] = tuple(sorted(set(op.attrs.get(NONFINITE_KEY, ())) | {value.result_index}))


def holds_nonfinite(graph: Graph, value: Value) -> bool:
    """Whether calibration saw NaN or infinity in `value`."""
    if value.producer is None:
        return bool(graph.input_attrs.get(id(value), {}).get(NONFINITE_KEY))
    return value.result_index in value.producer.attrs.get(NONFINITE_KEY, ())


def clear_ranges(graph: Graph) -> None:
    for op in graph.ops:
        op.attrs.pop(RANGE_KEY, None)
        op.attrs.pop(NONFINITE_KEY, None)
    for attrs in graph.input_attrs.values():
        attrs.pop(RANGE_KEY, None)
        attrs.pop(NONFINITE_KEY, None)
