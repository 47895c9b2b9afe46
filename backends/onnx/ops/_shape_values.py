"""What import time knows about small integer tensors computed at run time (shape vectors).

Exporters build a reshape target from the input's own shape: Shape -> Gather -> Unsqueeze ->
Concat -> Reshape. When the batch dim is symbolic, Shape is not folded at import, so the target
is a computed tensor. `shape_elements` walks back through such a chain in the IR and returns its
elements as dims: an int where the value is known, the name of a symbolic dim where it is one
(e.g. 'N' from shape(x) with x : tensor<[N]x...>), None where it is unknown. The converters then
turn a name that matches the operand's own dim into ONNX's "copy this dim" spelling (0 for
Reshape, 1 for Expand, "to the end" for Slice), so such a model imports with static attributes.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from irc.ir.graph import Graph
from irc.ir.ops.shape import dim_product, shape_range, slice_bounds
from irc.ir.types import Dim
from irc.ir.value import Value

MAX_DEPTH = 32


def shape_elements(graph: Graph, value: Value, depth: int = 0) -> list[Dim] | None:
    """Elements of a 0-D or 1-D integer value; None when even their count is unknown."""
    t = value.type
    if t.rank > 1 or t.storage not in ("i32", "i64"):
        return None
    known = _elements(graph, value, depth) if depth < MAX_DEPTH else None
    if known is not None:
        return known
    if t.rank == 0:
        return [None]
    n = t.shape[0]
    return [None] * n if isinstance(n, int) else None


def _elements(graph: Graph, value: Value, depth: int) -> list[Dim] | None:
    op = value.producer
    if op is None:
        return None
    if op.name == "const":
        arr = graph.const_value(value)
        return None if arr is None else [int(v) for v in np.asarray(arr).ravel()]
    if op.name == "shape":
        x = op.operands[0].type
        start, end = shape_range(op.attr("start"), op.attr("end"), x.rank)
        return list(x.shape[start:end])
    if op.name == "size":
        return [dim_product(op.operands[0].type.shape)]

    def arg(i: int) -> list[Dim] | None:
        return shape_elements(graph, op.operands[i], depth + 1)

    if op.name in ("identity", "squeeze", "unsqueeze", "reshape", "flatten", "cast"):
        return arg(0)  # same elements in the same order (a cast here is between integer types)
    if op.name == "concat" and op.attr("axis") in (0, -1):
        parts = [shape_elements(graph, v, depth + 1) for v in op.operands]
        return None if any(p is None for p in parts) else [e for p in parts for e in p]
    if op.name == "gather" and op.attr("axis") in (0, -1):
        data, idx = arg(0), arg(1)
        if data is None or idx is None or not all(isinstance(i, int) and -len(data) <= i < len(data) for i in idx):
            return None
        return [data[i] for i in idx]
    if op.name == "slice" and op.operands[0].type.rank == 1:
        data = arg(0)
        if data is None:
            return None
        s, e = slice_bounds(op.attr("starts")[0], op.attr("ends")[0], op.attr("steps")[0], len(data))
        return data[slice(s, e if e >= 0 else None, op.attr("steps")[0])]
    if op.name in _ARITH and len(op.operands) == 2:
        a, b = arg(0), arg(1)
        if a is None or b is None or (len(a) != len(b) and 1 not in (len(a), len(b))):
            return None
        n = max(len(a), len(b))
        a, b = a * n if len(a) == 1 else a, b * n if len(b) == 1 else b
        return [_ARITH[op.name](x, y) for x, y in zip(a, b)]
    return None


def _arith(fn: Callable[[int, int], int], unit: int | None, commutative: bool) -> Callable[[Dim, Dim], Dim]:
    """An elementwise rule: ints compute; a name combined with the unit stays that name."""
    def apply(x: Dim, y: Dim) -> Dim:
        if isinstance(x, int) and isinstance(y, int):
            try:
                return fn(x, y)
            except ZeroDivisionError:
                return None
        if unit is not None and y == unit:
            return x
        if commutative and unit is not None and x == unit:
            return y
        return None

    return apply


def _div(x: int, y: int) -> int:
    q = abs(x) // abs(y)  # ONNX integer division truncates toward zero
    return q if (x >= 0) == (y > 0) else -q


_ARITH = {
    "add": _arith(lambda x, y: x + y, 0, True),
    "sub": _arith(lambda x, y: x - y, 0, False),
    "mul": _arith(lambda x, y: x * y, 1, True),
    "div": _arith(_div, 1, False),
}
