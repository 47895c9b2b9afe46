"""What import time knows about small integer tensors computed at run time (shape vectors).

Exporters build a reshape target from the input's own shape: Shape -> Gather -> Unsqueeze ->
Concat -> Reshape. When the batch dim is symbolic, Shape is not folded at import, so the target
is a computed tensor. `shape_elements` walks back through such a chain in the IR and returns its
elements: an int where the value is known, a DimOf where it is a dim of some tensor (shape(x)
gives DimOf(x, k) for each dim k, whose size may be an int, the name of a symbolic dim or
unknown), None where nothing is known. The converters then turn an element that is the operand's
own dim (`same_dim`: the same tensor's dim k, or the same symbolic name) into ONNX's "copy this
dim" spelling (0 for Reshape, 1 for Expand, "to the end" for Slice), so such a model imports with
static attributes even where the dim's size is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Union

import numpy as np

from irc.ir.graph import Graph
from irc.ir.ops.shape import dim_product, shape_range, slice_bounds
from irc.ir.types import Dim
from irc.ir.value import Value

MAX_DEPTH = 32


@dataclass(frozen=True, eq=False)
class DimOf:
    """An element of shape(value): its dim `index`, whose size is `dim` (int, name or None)."""

    value: Value
    index: int
    dim: Dim


Element = Union[int, str, None, DimOf]


def plain(e: Element) -> Dim:
    """An element as a dim: a DimOf stands for its size."""
    return e.dim if isinstance(e, DimOf) else e


def same_dim(e: Element, v: Value, i: int) -> bool:
    """Whether element `e` is dim `i` of value `v`: that very dim, or one of the same name."""
    if isinstance(e, DimOf) and e.value is v and e.index == i:
        return True
    d = plain(e)
    return isinstance(d, str) and v.type.dims[i] == d


def shape_elements(graph: Graph, value: Value, depth: int = 0) -> list[Element] | None:
    """Elements of a 0-D or 1-D integer value; None when even their count is unknown."""
    t = value.type
    if not t.is_ranked or t.rank > 1 or t.storage not in ("i32", "i64"):
        return None
    known = _elements(graph, value, depth) if depth < MAX_DEPTH else None
    if known is not None:
        return known
    if t.rank == 0:
        return [None]
    n = t.dims[0]
    return [None] * n if isinstance(n, int) else None


def _elements(graph: Graph, value: Value, depth: int) -> list[Element] | None:
    op = value.producer
    if op is None:
        return None
    if op.name == "const":
        arr = graph.const_value(value)
        return None if arr is None else [int(v) for v in np.asarray(arr).ravel()]
    if op.name == "shape":
        x = op.operands[0]
        start, end = shape_range(op.attr("start"), op.attr("end"), x.type.rank)
        return [DimOf(x, k, x.type.dims[k]) for k in range(start, end)]
    if op.name == "size":
        t = op.operands[0].type
        return [dim_product(t.dims) if t.is_ranked else None]

    def arg(i: int) -> list[Element] | None:
        return shape_elements(graph, op.operands[i], depth + 1)

    if op.name in ("identity", "squeeze", "unsqueeze", "reshape", "flatten", "cast"):
        return arg(0)  # same elements in the same order (a cast here is between integer types)
    if op.name == "concat" and op.attr("axis") in (0, -1):
        found = [shape_elements(graph, v, depth + 1) for v in op.operands]
        parts = [p for p in found if p is not None]
        return None if len(parts) < len(found) else [e for p in parts for e in p]
    if op.name == "gather" and op.attr("axis") in (0, -1):
        data, idx = arg(0), arg(1)
        if data is None or idx is None or not all(isinstance(i, int) and -len(data) <= i < len(data) for i in idx):
            return None
        return [data[i] for i in idx if isinstance(i, int)]  # all are (checked above)
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


def _arith(fn: Callable[[int, int], int], unit: int | None, commutative: bool) -> Callable[[Element, Element], Element]:
    """An elementwise rule: ints compute; an element combined with the unit stays that element."""
    def apply(x: Element, y: Element) -> Element:
        if unit is not None and plain(y) == unit:
            return x
        if commutative and unit is not None and plain(x) == unit:
            return y
        x, y = plain(x), plain(y)
        if isinstance(x, int) and isinstance(y, int):
            try:
                return fn(x, y)
            except ZeroDivisionError:
                return None
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
