"""Converters of the shape / data-movement ops (see specs/ops/shape.md).

Import: ONNX shape-like inputs (Reshape's shape, Slice's starts/ends/axes/steps, Squeeze and
Unsqueeze axes, Expand's shape, Tile's repeats, Split sizes) become attributes when they are
known at import: a constant, or a shape vector computed from symbolic dims that _shape_values
can express in ONNX's own "copy this dim" spelling. Otherwise Reshape, Expand, Slice and Tile
take them as run-time operands (the other ops stay generic). Defaults are made explicit and axes
non-negative (transpose perm, slice axes and steps, split sizes, squeeze axes).

Export: the opset-21 forms, attributes that ONNX wants as inputs written as int64 initializers,
run-time operands as they are.
"""

from __future__ import annotations

import numpy as np
from onnx import numpy_helper

from irc.ir.ops.shape import dim_product, shape_range
from irc.ir.registry import get_op
from irc.ir.types import ELEMENT_DTYPES, NUMPY_TO_ELEMENT, TensorType

from ..importer import NotExpressible
from ..registry import exporter, importer
from ._shape_values import plain, same_dim, shape_elements

INT64_MAX = 2**63 - 1


# -- import helpers -------------------------------------------------------------------------------

def known_ints(ctx, i: int, what: str, symbolic: bool = False) -> list | None:
    """Input `i` as a list of ints (None when absent). With `symbolic`, entries that are symbolic
    dims come back as their names (or None when unknown) for the caller to translate."""
    if not ctx.has_input(i):
        return None
    c = ctx.const(i)
    if c is not None:
        return [int(v) for v in np.asarray(c).ravel()]
    elems = shape_elements(ctx.graph, ctx.input(i))
    if elems is not None:  # a dim of known size is that size
        elems = [plain(e) if isinstance(plain(e), int) else e for e in elems]
    if elems is None or not (symbolic or all(isinstance(e, int) for e in elems)):
        raise not_constant(ctx, i, what, elems)
    return elems


def not_constant(ctx, i: int, what: str, elems: list | None) -> Exception:
    """The error for a shape-like input that import time cannot pin down (ctx.not_constant)."""
    if elems is None or all(plain(e) is None for e in elems):
        return ctx.not_constant(i, what)
    shown = ", ".join("?" if plain(e) is None else str(plain(e)) for e in elems)
    return ctx.not_constant(i, what, f"it is computed at run time as [{shown}], which irc cannot "
                                     f"express with the dims known at import")


def emit(ctx, name: str, operands, attrs: dict | None = None, **kw):
    """ctx.emit with attributes equal to their declared default left out (the canonical form)."""
    specs = get_op(name).attrs
    attrs = {k: v for k, v in (attrs or {}).items() if specs[k].required or v != specs[k].default}
    return ctx.emit(name, operands, attrs, **kw)


def _norm(ctx, axis: int, rank: int, what: str) -> int:
    if not -rank <= axis < rank:
        raise ctx.error(f"{what} {axis} out of range for rank {rank}")
    return axis % rank


# -- importers ------------------------------------------------------------------------------------

@importer("Concat")
def import_concat(ctx, node):
    xs = ctx.inputs()
    return emit(ctx, "concat", xs, {"axis": _norm(ctx, ctx.attr("axis"), xs[0].type.rank, "axis")})


@importer("Split")
def import_split(ctx, node):
    x = ctx.input(0)
    axis = _norm(ctx, ctx.attr("axis", 0), x.type.rank, "axis")
    sizes = known_ints(ctx, 1, "split")
    n_out = len(node.output)
    if sizes is None:
        n = ctx.attr("num_outputs", n_out)
        d = x.type.shape[axis]
        if not isinstance(d, int):
            raise ctx.unsupported(f"splitting dimension {axis} of {x.type} into equal parts needs its size at import")
        chunk = -(-d // n)  # ceil: every part but the last has this size, the last is smaller
        sizes = [chunk] * (n - 1) + [d - chunk * (n - 1)]
        if sizes[-1] < 0:
            raise ctx.unsupported(f"cannot split dimension {axis} of size {d} into {n} parts of ceil({d}/{n})")
    if len(sizes) != n_out:
        raise ctx.error(f"{len(sizes)} split sizes for {n_out} outputs")
    return emit(ctx, "split", [x], {"axis": axis, "split": sizes})


def run_time_form(ctx, name: str, x, params: dict[str, int], defaults: dict | None = None, attrs=None,
                  dims=None):
    """The op with its shape-like parameters as run-time i64 operands (ir/ops/shape.py): the
    ONNX inputs `params` (name -> input index) in order, an absent optional one made a constant
    by `defaults[name](ctx)`; `dims`, what import knows of the result's dims, types it."""
    operands = [x]
    for key, i in params.items():
        v = ctx.input(i)
        if v is None:
            if defaults is None:
                raise ctx.error(f"input {i} ({key}) is missing")
            v = defaults[key](ctx)
        operands.append(v)
    types = None
    if dims is not None:
        inferred = get_op(name).infer_types([v.type for v in operands], attrs or {})[0]
        if len(dims) == inferred.rank:
            types = [inferred.with_shape(d if d is not None else i for d, i in zip(dims, inferred.dims))]
    return emit(ctx, name, operands, attrs or {}, types=types)


def _target_dims(x, elems: list | None, allowzero: int) -> list | None:
    """The result dims a reshape to `elems` (what import knows of the target: ints, names of
    symbolic dims, None) certainly has: a known size, a copied dim (0), a symbolic dim."""
    if elems is None:
        return None
    dims = []
    for i, e in enumerate(elems):
        if e == 0 and not allowzero:
            dims.append(x.type.shape[i] if i < x.type.rank else None)
            continue
        d = plain(e)
        dims.append(d if isinstance(d, str) or (isinstance(d, int) and d >= 0) else None)
    return dims


def _length(ctx, i: int) -> int:
    n = ctx.input(i).type.shape[0] if ctx.input(i).type.is_ranked and ctx.input(i).type.rank == 1 else None
    if not isinstance(n, int):
        raise ctx.unsupported(f"input {i} has no static length, so the sliced axes are unknown")
    return n


_SLICE_DEFAULTS = {
    "axes": lambda ctx: ctx.graph.const(np.arange(_length(ctx, 1), dtype=np.int64), f"{ctx.node.output[0]}_axes"),
    "steps": lambda ctx: ctx.graph.const(np.ones(_length(ctx, 1), dtype=np.int64), f"{ctx.node.output[0]}_steps"),
}


@importer("Slice")
def import_slice(ctx, node):
    x = ctx.input(0)
    try:
        return _import_slice_attrs(ctx, x)
    except NotExpressible:
        return run_time_form(ctx, "slice", x, {"starts": 1, "ends": 2, "axes": 3, "steps": 4}, _SLICE_DEFAULTS)


def _import_slice_attrs(ctx, x):
    rank = x.type.rank
    ctx.require_constants({1: "starts", 2: "ends", 3: "axes", 4: "steps"})
    starts = known_ints(ctx, 1, "starts", symbolic=True)
    ends = known_ints(ctx, 2, "ends", symbolic=True)
    axes = known_ints(ctx, 3, "axes")
    steps = known_ints(ctx, 4, "steps")
    axes = list(range(len(starts))) if axes is None else [_norm(ctx, a, rank, "axis") for a in axes]
    steps = [1] * len(starts) if steps is None else steps

    def bound(vals: list, index: int, what: str) -> list[int]:
        out = []
        for v, a in zip(vals, axes):
            if isinstance(v, int):
                out.append(v)
            elif v is not None and same_dim(v, x, a):
                out.append(INT64_MAX)  # the dim itself: clamps exactly as the dim would
            else:
                raise not_constant(ctx, index, what, vals)
        return out

    attrs = {"starts": bound(starts, 1, "starts"), "ends": bound(ends, 2, "ends"), "axes": axes, "steps": steps}
    return emit(ctx, "slice", [x], attrs)


@importer("Reshape")
def import_reshape(ctx, node):
    x = ctx.input(0)
    try:
        return _import_reshape_attrs(ctx, x)
    except NotExpressible:
        allowzero = ctx.attr("allowzero", 0)
        dims = _target_dims(x, shape_elements(ctx.graph, ctx.input(1)), allowzero)
        return run_time_form(ctx, "reshape", x, {"shape": 1}, attrs={"allowzero": 1} if allowzero else None,
                             dims=dims)


def _import_reshape_attrs(ctx, x):
    allowzero = ctx.attr("allowzero", 0)
    elems = known_ints(ctx, 1, "shape", symbolic=True)
    target = []
    for i, e in enumerate(elems):
        if isinstance(e, int):
            target.append(e)
        elif e is not None and not allowzero and i < x.type.rank and same_dim(e, x, i):
            target.append(0)  # the operand's own dim at this place: copy it
        else:
            target.append(-1)
    if target.count(-1) > 1:
        raise not_constant(ctx, 1, "shape", elems)
    attrs = {"shape": target}
    if allowzero:
        attrs["allowzero"] = 1
    return emit(ctx, "reshape", [x], attrs)


@importer("Flatten")
def import_flatten(ctx, node):
    x = ctx.input(0)
    rank = x.type.rank
    axis = ctx.attr("axis", 1)
    if not -rank <= axis <= rank:
        raise ctx.error(f"axis {axis} out of range for rank {rank}")
    return emit(ctx, "flatten", [x], {"axis": axis + rank if axis < 0 else axis})


@importer("Transpose")
def import_transpose(ctx, node):
    x = ctx.input(0)
    perm = ctx.attr("perm", None)
    perm = list(range(x.type.rank))[::-1] if perm is None else list(perm)
    return emit(ctx, "transpose", [x], {"perm": perm})


@importer("Squeeze")
def import_squeeze(ctx, node):
    x = ctx.input(0)
    axes = known_ints(ctx, 1, "axes")
    if axes is None:
        unknown = [i for i, d in enumerate(x.type.shape) if not isinstance(d, int)]
        if unknown:
            raise ctx.unsupported(f"Squeeze without axes needs every dim of {x.type} known at import")
        axes = [i for i, d in enumerate(x.type.shape) if d == 1]
    else:
        axes = sorted(_norm(ctx, a, x.type.rank, "axis") for a in axes)
    return emit(ctx, "squeeze", [x], {"axes": axes})


@importer("Unsqueeze")
def import_unsqueeze(ctx, node):
    x = ctx.input(0)
    axes = known_ints(ctx, 1, "axes")
    if axes is None:
        raise ctx.error("input 1 (axes) is required")
    rank = x.type.rank + len(axes)
    return emit(ctx, "unsqueeze", [x], {"axes": sorted(_norm(ctx, a, rank, "axis") for a in axes)})


@importer("Expand")
def import_expand(ctx, node):
    x = ctx.input(0)
    try:
        return _import_expand_attrs(ctx, x)
    except NotExpressible:
        return run_time_form(ctx, "expand", x, {"shape": 1})


def _import_expand_attrs(ctx, x):
    elems = known_ints(ctx, 1, "shape", symbolic=True)
    lead = len(elems) - x.type.rank
    shape = []
    for j, e in enumerate(elems):
        if isinstance(e, int):
            shape.append(e)
        elif e is not None and j >= lead and same_dim(e, x, j - lead):
            shape.append(1)  # the operand's own dim: 1 keeps it
        else:
            raise not_constant(ctx, 1, "shape", elems)
    return emit(ctx, "expand", [x], {"shape": shape})


@importer("Tile")
def import_tile(ctx, node):
    try:
        repeats = known_ints(ctx, 1, "repeats")
    except NotExpressible:
        return run_time_form(ctx, "tile", ctx.input(0), {"repeats": 1})
    return emit(ctx, "tile", [ctx.input(0)], {"repeats": repeats})


@importer("Gather")
def import_gather(ctx, node):
    data, idx = ctx.input(0), ctx.input(1)
    return emit(ctx, "gather", [data, idx], {"axis": _norm(ctx, ctx.attr("axis", 0), data.type.rank, "axis")})


def _const_result(ctx, node, array: np.ndarray):
    return [ctx.graph.const(array, node.output[0])]


@importer("Shape")
def import_shape(ctx, node):
    x = ctx.input(0)
    start, end = shape_range(ctx.attr("start", 0), ctx.attr("end", None), x.type.rank)
    dims = x.type.shape[start:end]
    if all(isinstance(d, int) for d in dims):  # static in the IR even if onnx could not tell
        return _const_result(ctx, node, np.array(dims, dtype=np.int64))
    attrs = {}
    if start:
        attrs["start"] = start
    if end != x.type.rank:
        attrs["end"] = end
    return emit(ctx, "shape", [x], attrs)


@importer("Size")
def import_size(ctx, node):
    x = ctx.input(0)
    n = dim_product(x.type.shape)
    if isinstance(n, int):
        return _const_result(ctx, node, np.array(n, dtype=np.int64))
    return emit(ctx, "size", [x])


@importer("ConstantOfShape")
def import_constant_of_shape(ctx, node):
    shape = ctx.input(0)
    value = ctx.attr("value", None)
    value = np.zeros(1, np.float32) if value is None else np.asarray(value).reshape(-1)
    dtype = NUMPY_TO_ELEMENT.get(value.dtype)
    if dtype is None or value.size != 1:
        raise ctx.error(f"value must be one element of a supported type, got {value.size} of {value.dtype}")
    elems = shape_elements(ctx.graph, shape)
    types = None
    if elems is not None:  # the dims import time knows, for a more precise result type
        dims = [d if d is None or isinstance(d, str) or d >= 0 else None for d in map(plain, elems)]
        types = [TensorType(tuple(dims), dtype)]
    return emit(ctx, "constant_of_shape", [shape], {"value": value, "dtype": dtype}, types=types)


# -- exporters ------------------------------------------------------------------------------------

def _ints(ctx, op, values, what: str) -> str:
    return ctx.initializer(np.asarray(values, dtype=np.int64), f"{ctx.name(op.results[0])}_{what}")


@exporter("concat")
def export_concat(ctx, op):
    ctx.node("Concat", op.operands, op.results, axis=op.attr("axis"))


@exporter("split")
def export_split(ctx, op):
    ctx.node("Split", [op.operands[0], _ints(ctx, op, op.attr("split"), "split")], op.results,
             axis=op.attr("axis"))


def _param(ctx, op, key: str):
    """A shape-like parameter as an ONNX input: the run-time operand, or the attribute as an
    int64 initializer ('' when neither is there)."""
    v = op.operand(key)
    if v is not None:
        return v
    values = op.attr(key)
    return "" if values is None else _ints(ctx, op, values, key)


@exporter("slice")
def export_slice(ctx, op):
    ins = [op.operands[0]] + [_param(ctx, op, k) for k in ("starts", "ends", "axes", "steps")]
    while ins[-1] == "":
        ins.pop()
    ctx.node("Slice", ins, op.results)


@exporter("reshape")
def export_reshape(ctx, op):
    ctx.node("Reshape", [op.operands[0], _param(ctx, op, "shape")], op.results,
             allowzero=op.attr("allowzero") or None)


@exporter("flatten")
def export_flatten(ctx, op):
    ctx.node("Flatten", op.operands, op.results, axis=op.attr("axis"))


@exporter("transpose")
def export_transpose(ctx, op):
    ctx.node("Transpose", op.operands, op.results, perm=list(op.attr("perm")))


@exporter("squeeze", "unsqueeze")
def export_squeeze(ctx, op):
    ctx.node(op.name.capitalize(), [op.operands[0], _ints(ctx, op, op.attr("axes"), "axes")], op.results)


@exporter("expand")
def export_expand(ctx, op):
    ctx.node("Expand", [op.operands[0], _param(ctx, op, "shape")], op.results)


@exporter("tile")
def export_tile(ctx, op):
    ctx.node("Tile", [op.operands[0], _param(ctx, op, "repeats")], op.results)


@exporter("gather")
def export_gather(ctx, op):
    ctx.node("Gather", op.operands, op.results, axis=op.attr("axis"))


@exporter("shape")
def export_shape(ctx, op):
    start = op.attr("start")
    ctx.node("Shape", op.operands, op.results, start=start or None, end=op.attr("end"))


@exporter("size")
def export_size(ctx, op):
    ctx.node("Size", op.operands, op.results)


@exporter("constant_of_shape")
def export_constant_of_shape(ctx, op):
    value = np.asarray(op.attr("value")).reshape(-1)[:1].astype(ELEMENT_DTYPES[op.attr("dtype")])
    ctx.node("ConstantOfShape", op.operands, op.results, value=numpy_helper.from_array(value))
