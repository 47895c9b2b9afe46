"""Shape manipulation and data movement ops.

    %y = concat(%a, %b) {axis=1} : tensor<[N]x48x8x8xf32>
    %p, %q = split(%x) {axis=1, split=[16, 32]} : tensor<...>, tensor<...>
    %y = slice(%x) {axes=[2], ends=[9223372036854775807], starts=[1], steps=[2]} : tensor<...>
    %y = reshape(%x) {shape=[0, -1]} : tensor<[N]x3072xf32>
    %y = transpose(%x) {perm=[0, 2, 3, 1]} : tensor<...>
    %y = gather(%table, %ids) {axis=0} : tensor<...>
    %s = shape(%x) : tensor<4xi64>

A shape-like parameter (reshape's and expand's shape, slice's starts/ends/axes/steps, tile's
repeats) is an attribute when it is known at compile time, and otherwise an i64 operand of the
same name computed at run time (MLIR's tensor.reshape takes its shape that way):

    %y = reshape(%x) {shape=[0, 4, -1, 24]} : tensor<[b]x4x?x24xf32>
    %y = reshape(%x, %target) : tensor<[b]x4x?x24xf32>          (target : tensor<4xi64>)

The type rule of the operand form knows what the operand's type says (its length gives the
rank); the importer declares more precise result types where shape inference knows them, and
`fold` turns a constant operand back into the attribute. Other shape-like ONNX inputs (split
sizes, squeeze axes) must be known at import (else the node stays a generic op). Ops that only
move or select elements
carry the trait "data_movement": their result has the element type of their data operand,
quantized types included (the quantization parameters are shared, never changed). A per-axis
quantized operand passes only when its axis survives the op (transpose, squeeze, ... move it).

Dims may be symbolic (a name) or unknown (None); each rule keeps a name where the result dim
is provably that same dim, and gives None where it cannot tell. Rules that can prove an op
impossible (mismatched concat dims, reshape element counts that cannot match, ...) raise
VerifyError saying why.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Callable, Sequence

import numpy as np

from ..registry import Signature, VerifyError, attr, define_op
from ..types import Dim, QuantType, TensorType
from ._infer import broadcast_dims, same_element

FAMILY = "shape"
MOVE = ["data_movement", "pure"]
INT_ELEMENTS = ("i32", "i64")
BIG = 2**31 - 1
"""Slice bounds at or past this mean "to the end" on a dim whose size is not known."""


# -- shared helpers -------------------------------------------------------------------------------

def fmt_shape(shape: Sequence[Dim]) -> str:
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def dim_product(dims: Sequence[Dim]) -> Dim:
    """Product of dims: an int when all are ints; a name when it is one name times 1."""
    ints = [d for d in dims if isinstance(d, int)]
    rest = [d for d in dims if not isinstance(d, int)]
    p = 1
    for d in ints:
        p *= d
    if not rest:
        return p
    if p == 0:
        return 0
    if len(rest) == 1 and p == 1 and isinstance(rest[0], str):
        return rest[0]
    return None


def carry(x: TensorType, shape: Sequence[Dim], new_axis: Callable[[int], int | None] | None = None,
          what: str = "", element=None) -> TensorType:
    """`x`'s element type (or `element`) on a new shape; a per-axis quantized element keeps its
    parameters only where `new_axis` says where the axis went."""
    el = x.element if element is None else element
    if isinstance(el, QuantType) and el.axis is not None:
        axis = new_axis(el.axis) if new_axis is not None else None
        if axis is None:
            raise VerifyError(f"{what}: the quantization axis {el.axis} of {x} does not survive this op")
        el = QuantType(el.storage, el.scales, el.zero_points, axis)
    try:
        return TensorType(tuple(shape), el)
    except ValueError as e:
        raise VerifyError(f"{what}: {e}") from None


def norm_axis(axis: int, rank: int, what: str) -> int:
    """`axis` in [-rank, rank) made non-negative."""
    if not -rank <= axis < rank:
        raise VerifyError(f"{what} {axis} out of range for rank {rank}")
    return axis % rank


def norm_axes(axes: Sequence[int], rank: int, what: str) -> list[int]:
    out = [norm_axis(a, rank, what) for a in axes]
    if len(set(out)) != len(out):
        raise VerifyError(f"{what}s {list(axes)} repeat an axis")
    return out


def _keep_if_untouched(touched: set[int]) -> Callable[[int], int | None]:
    return lambda a: None if a in touched else a


def run_time(s: Signature, *keys: str) -> bool:
    """Whether the parameters `keys` are given as operands (run-time values) rather than as
    attributes; exactly one form, and the same form for all of them, is allowed."""
    as_operands = [s.has_operand(k) for k in keys]
    as_attrs = [k in s.attrs for k in keys]
    if any(as_operands) and any(as_attrs):
        raise VerifyError(f"{s.defn.name}: {', '.join(keys)} are given as attributes or as operands, not both")
    for k, given in zip(keys, as_operands):
        t = s[k] if given else None
        if t is not None and (t.storage not in INT_ELEMENTS or not t.is_ranked or t.rank != 1):
            raise VerifyError(f"{s.defn.name}: operand {k} must be a 1-D i32/i64 tensor, got {t}")
    return any(as_operands)


def operand_length(s: Signature, key: str) -> int | None:
    """The static length of the 1-D operand `key`, if its type says."""
    n = s[key].dims[0]
    return n if isinstance(n, int) else None


# -- concat / split -------------------------------------------------------------------------------

def _merge_dims(dims: Sequence[Dim], axis: int, types: Sequence[TensorType]) -> Dim:
    ints = {d for d in dims if isinstance(d, int)}
    if len(ints) > 1:
        shapes = ", ".join(str(t) for t in types)
        raise VerifyError(f"concat operands differ in dimension {axis} (not the concat axis): {shapes}")
    if ints:
        return ints.pop()
    names = {d for d in dims}
    return names.pop() if len(names) == 1 else None


def _infer_concat(s: Signature):
    types = s.types
    if not types:
        raise VerifyError("concat needs at least one operand")
    ranks = {t.rank for t in types}
    if len(ranks) != 1:
        raise VerifyError(f"concat operands must have one rank, got {', '.join(str(t) for t in types)}")
    rank = ranks.pop()
    axis = norm_axis(s.attr("axis"), rank, "concat axis")
    same_element(s)
    if any(t.is_quantized for t in types) and not all(t.is_quantized for t in types):
        raise VerifyError("concat operands must be all quantized or all float; "
                          f"got {', '.join(str(t) for t in types)}")
    # quantized operands with different parameters are requantized to the result's type
    shape: list[Dim] = []
    for i in range(rank):
        dims = [t.dims[i] for t in types]
        if i == axis:
            known = [d for d in dims if d != 0]
            sizes = [d for d in dims if isinstance(d, int)]
            if len(sizes) == len(dims):
                shape.append(sum(sizes))
            elif len(known) == 1:
                shape.append(known[0])
            else:
                shape.append(None)
        else:
            shape.append(_merge_dims(dims, i, types))
    if len({t.element for t in types}) > 1:  # requantizing concat: the declared result type decides
        return [TensorType(tuple(shape), "f32")]
    return [carry(types[0], shape, _keep_if_untouched({axis}), "concat")]


define_op(
    "concat", quant="requantize", operands=["inputs*"], attrs={"axis": attr("int")}, infer=_infer_concat,
    family=FAMILY, traits=MOVE,
    doc="y = the operands joined along `axis`; all other dims must agree.")


def _verify_split(s: Signature) -> None:
    x = s["x"]
    axis = norm_axis(s.attr("axis"), x.rank, "split axis")
    sizes = s.attr("split")
    if not sizes:
        raise VerifyError("split needs at least one size in `split`")
    if any(n < 0 for n in sizes):
        raise VerifyError(f"split sizes must be >= 0, got {list(sizes)}")
    d = x.dims[axis]
    if isinstance(d, int) and sum(sizes) != d:
        raise VerifyError(f"split sizes {list(sizes)} add up to {sum(sizes)} but dimension {axis} of {x} is {d}")


def _infer_split(s: Signature):
    x = s["x"]
    axis = norm_axis(s.attr("axis"), x.rank, "split axis")
    out = []
    for n in s.attr("split"):
        shape = list(x.dims)
        shape[axis] = n
        out.append(carry(x, shape, _keep_if_untouched({axis}), "split"))
    return out


define_op(
    "split", quant="movement", operands=["x"], attrs={"axis": attr("int", 0), "split": attr("ints")},
    infer=_infer_split, verify=_verify_split, results=lambda s: len(s.attr("split")),
    family=FAMILY, traits=MOVE,
    doc="y_k = x[..., o_k : o_k + split[k], ...] along `axis`, o_k = split[0] + ... + split[k-1].")


# -- slice ----------------------------------------------------------------------------------------

def slice_bounds(start: int, end: int, step: int, dim: int) -> tuple[int, int]:
    """ONNX Slice bounds on a dim of size `dim`: negatives count from the end, then clamped
    to [0, dim] (step > 0) or start to [0, dim-1] and end to [-1, dim-1] (step < 0)."""
    if start < 0:
        start += dim
    if end < 0:
        end += dim
    if step > 0:
        return min(max(start, 0), dim), min(max(end, 0), dim)
    return min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)


def slice_length(start: int, end: int, step: int, dim: int) -> int:
    s, e = slice_bounds(start, end, step, dim)
    if step > 0:
        return max(0, -(-(e - s) // step))
    return max(0, -(-(s - e) // -step))


def _slice_params(s: Signature) -> list[tuple[int, int, int, int]]:
    """(axis, start, end, step) per sliced axis, checked."""
    x = s["x"]
    starts, ends, axes, steps = (s.attr(k) for k in ("starts", "ends", "axes", "steps"))
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise VerifyError(f"slice needs as many starts, ends, axes and steps, got {len(starts)}, "
                          f"{len(ends)}, {len(axes)}, {len(steps)}")
    if any(st == 0 for st in steps):
        raise VerifyError(f"slice steps must not be 0, got {list(steps)}")
    axes = norm_axes(axes, x.rank, "slice axis")
    return list(zip(axes, starts, ends, steps))


def _infer_slice(s: Signature):
    x = s["x"]
    if run_time(s, "starts", "ends", "axes", "steps"):
        if not (s.has_operand("starts") and s.has_operand("ends")):
            raise VerifyError("slice with run-time bounds takes starts and ends as operands")
        return [carry(x, (None,) * x.rank, lambda a: None, "slice")]
    for k in ("starts", "ends", "axes", "steps"):
        if k not in s.attrs:
            raise VerifyError(f"slice needs attribute {k!r}")
    shape = list(x.dims)
    touched = set()
    for axis, start, end, step in _slice_params(s):
        d = shape[axis]
        if isinstance(d, int):
            n = slice_length(start, end, step, d)
            if n != d:
                touched.add(axis)
            shape[axis] = n
        elif step == 1 and start == 0 and end >= BIG:
            pass  # the whole dim
        elif step == -1 and (start == -1 or start >= BIG) and end <= -BIG:
            pass  # the whole dim, reversed
        else:
            shape[axis] = None
            touched.add(axis)
    return [carry(x, shape, _keep_if_untouched(touched), "slice")]


define_op(
    "slice", quant="movement", operands=["x", "starts?", "ends?", "axes?", "steps?"],
    attrs={"starts": attr("ints", None), "ends": attr("ints", None), "axes": attr("ints", None),
           "steps": attr("ints", None)},
    infer=_infer_slice, family=FAMILY, traits=MOVE, shape_params=("starts", "ends", "axes", "steps"),
    doc="y = x[..., starts[i] : ends[i] : steps[i] on axis axes[i], ...], bounds clamped as ONNX Slice; "
        "the bounds are attributes, or operands computed at run time (axes default to 0, 1, ..., steps "
        "to 1).")


# -- reshape / flatten ----------------------------------------------------------------------------

_INFER = object()  # the -1 entry of a reshape target


def _verify_reshape(s: Signature) -> None:
    x, shape, allowzero = s["x"], s.attr("shape"), s.attr("allowzero")
    if allowzero not in (0, 1):
        raise VerifyError(f"reshape allowzero must be 0 or 1, got {allowzero}")
    if run_time(s, "shape"):
        return
    if shape is None:
        raise VerifyError("reshape needs its target shape, as the attribute `shape` or an operand")
    if any(d < -1 for d in shape):
        raise VerifyError(f"reshape target {list(shape)} has a dim below -1")
    if list(shape).count(-1) > 1:
        raise VerifyError(f"reshape target {list(shape)} has more than one -1")
    if allowzero and 0 in shape and -1 in shape:
        raise VerifyError(f"reshape target {list(shape)} with allowzero=1 cannot hold both 0 and -1")
    if not allowzero:
        for i, d in enumerate(shape):
            if d == 0 and i >= x.rank:
                raise VerifyError(f"reshape target {list(shape)}: 0 at index {i} copies a dim that {x} lacks")


def _infer_reshape(s: Signature):
    x, shape, allowzero = s["x"], s.attr("shape"), s.attr("allowzero")
    if run_time(s, "shape"):
        n = operand_length(s, "shape")
        if n is None:
            raise VerifyError(f"reshape needs a target of static length to know its rank, got {s['shape']}")
        return [carry(x, (None,) * n, None, "reshape")]
    out: list = []
    copied: set[int] = set()  # a copied dim (0) is the same factor on both sides, known or not
    for i, d in enumerate(shape):
        if d == -1:
            out.append(_INFER)
        elif d == 0 and not allowzero:
            out.append(x.dims[i])
            copied.add(i)
        else:
            out.append(d)
    rest_in = [d for i, d in enumerate(x.dims) if i not in copied]
    given = [d for i, d in enumerate(out) if d is not _INFER and i not in copied]
    # Cancel names common to both sides; what remains must multiply to the same count.
    ins, outs = Counter(d for d in rest_in if isinstance(d, str)), Counter(d for d in given if isinstance(d, str))
    common = ins & outs
    in_names, out_names = list((ins - common).elements()), list((outs - common).elements())
    in_unknown, out_unknown = None in rest_in, None in given
    in_count = math.prod(d for d in rest_in if isinstance(d, int))
    out_count = math.prod(d for d in given if isinstance(d, int))
    target = f"reshape cannot give {x} the shape {list(shape)}"
    if _INFER in out:
        fill: Dim = None
        if not (in_unknown or out_unknown or out_names):
            if out_count == 0:
                if in_count != 0 or in_names:
                    raise VerifyError(f"{target}: the other dims multiply to 0")
                raise VerifyError(f"{target}: -1 is ambiguous when the other dims multiply to 0")
            if not in_names:
                if in_count % out_count:
                    raise VerifyError(f"{target}: its {in_count} elements are not a multiple of {out_count}, "
                                      "the product of the other dims")
                fill = in_count // out_count
            elif in_count == out_count and len(in_names) == 1:
                fill = in_names[0]
        out = [fill if d is _INFER else d for d in out]
    elif not (in_unknown or out_unknown or in_names or out_names) and in_count != out_count:
        raise VerifyError(f"{target}: it has {in_count} elements, the target {out_count}")
    return [carry(x, out, None, "reshape")]


define_op(
    "reshape", quant="movement", operands=["x", "shape?"], attrs={"shape": attr("ints", None), "allowzero": attr("int", 0)},
    infer=_infer_reshape, verify=_verify_reshape, family=FAMILY, traits=MOVE, shape_params=("shape",),
    doc="y = x with dims `shape` (row-major order kept); 0 copies x's dim (unless allowzero=1), "
        "-1 takes the remaining count; `shape` is an attribute, or an operand computed at run time.")


def _infer_flatten(s: Signature):
    x = s["x"]
    axis = s.attr("axis")
    if not -x.rank <= axis <= x.rank:
        raise VerifyError(f"flatten axis {axis} out of range for rank {x.rank}")
    axis = axis + x.rank if axis < 0 else axis
    return [carry(x, (dim_product(x.dims[:axis]), dim_product(x.dims[axis:])), None, "flatten")]


define_op(
    "flatten", quant="movement", operands=["x"], attrs={"axis": attr("int", 1)}, infer=_infer_flatten,
    family=FAMILY, traits=MOVE,
    doc="y = reshape(x, [d_0*...*d_(axis-1), d_axis*...*d_(r-1)]).")


# -- transpose / squeeze / unsqueeze --------------------------------------------------------------

def _infer_transpose(s: Signature):
    x, perm = s["x"], list(s.attr("perm"))
    if sorted(perm) != list(range(x.rank)):
        raise VerifyError(f"transpose perm {perm} is not a permutation of the {x.rank} axes of {x}")
    return [carry(x, [x.dims[p] for p in perm], perm.index, "transpose")]


define_op(
    "transpose", quant="movement", operands=["x"], attrs={"perm": attr("ints")}, infer=_infer_transpose,
    family=FAMILY, traits=MOVE,
    doc="y[i_perm[0], ..., i_perm[r-1]] = x[i_0, ..., i_(r-1)]; y dim k = x dim perm[k].")


def _infer_squeeze(s: Signature):
    x = s["x"]
    axes = set(norm_axes(s.attr("axes"), x.rank, "squeeze axis"))
    for a in sorted(axes):
        if isinstance(x.dims[a], int) and x.dims[a] != 1:
            raise VerifyError(f"squeeze axis {a} of {x} has size {x.dims[a]}, not 1")
    keep = [i for i in range(x.rank) if i not in axes]
    return [carry(x, [x.dims[i] for i in keep], lambda a: keep.index(a) if a in keep else None, "squeeze")]


define_op(
    "squeeze", quant="movement", operands=["x"], attrs={"axes": attr("ints")}, infer=_infer_squeeze,
    family=FAMILY, traits=MOVE,
    doc="y = x without the size-1 dims listed in `axes`.")


def _infer_unsqueeze(s: Signature):
    x = s["x"]
    rank = x.rank + len(s.attr("axes"))
    axes = set(norm_axes(s.attr("axes"), rank, "unsqueeze axis"))
    kept = [i for i in range(rank) if i not in axes]  # output position of each x dim
    dims = iter(x.dims)
    shape = [1 if i in axes else next(dims) for i in range(rank)]
    return [carry(x, shape, lambda a: kept[a], "unsqueeze")]


define_op(
    "unsqueeze", quant="movement", operands=["x"], attrs={"axes": attr("ints")}, infer=_infer_unsqueeze,
    family=FAMILY, traits=MOVE,
    doc="y = x with a size-1 dim inserted at each of `axes` (positions in the result).")


# -- expand / tile --------------------------------------------------------------------------------

def _infer_expand(s: Signature):
    x = s["x"]
    if run_time(s, "shape"):
        n = operand_length(s, "shape")
        if n is None:
            raise VerifyError(f"expand needs a shape of static length to know its rank, got {s['shape']}")
        # a dim of x other than 1 stays (the shape can only be 1 or that dim there)
        lead = max(n - x.rank, 0)
        dims: list[Dim] = [None] * max(n, x.rank)
        for a, d in enumerate(x.dims):
            if d != 1 and d is not None:
                dims[a + lead] = d
        return [carry(x, dims, lambda a: a + lead if dims[a + lead] == x.dims[a] else None, "expand")]
    if s.attr("shape") is None:
        raise VerifyError("expand needs its shape, as the attribute `shape` or an operand")
    shape = list(s.attr("shape"))
    if any(d < 0 for d in shape):
        raise VerifyError(f"expand shape {shape} has a negative dim")
    out = broadcast_dims([x.dims, shape])
    lead = len(out) - x.rank

    def axis(a: int) -> int | None:
        return a + lead if out[a + lead] == x.dims[a] else None

    return [carry(x, out, axis, "expand")]


define_op(
    "expand", quant="movement", operands=["x", "shape?"], attrs={"shape": attr("ints", None)}, infer=_infer_expand,
    family=FAMILY, traits=MOVE, shape_params=("shape",),
    doc="y = x broadcast (numpy rules) against `shape`; y's shape is broadcast(x.shape, shape); `shape` "
        "is an attribute, or an operand computed at run time.")


def _infer_tile(s: Signature):
    x = s["x"]
    if run_time(s, "repeats"):
        n = operand_length(s, "repeats")
        if n is not None and n != x.rank:
            raise VerifyError(f"tile needs one repeat count per dim of {x}, got {s['repeats']}")
        return [carry(x, (None,) * x.rank, lambda a: None, "tile")]
    if s.attr("repeats") is None:
        raise VerifyError("tile needs its repeats, as the attribute `repeats` or an operand")
    reps = list(s.attr("repeats"))
    if len(reps) != x.rank:
        raise VerifyError(f"tile needs one repeat count per dim of {x}, got {reps}")
    if any(r < 0 for r in reps):
        raise VerifyError(f"tile repeats must be >= 0, got {reps}")
    shape = [dim_product([d, r]) for d, r in zip(x.dims, reps)]
    return [carry(x, shape, lambda a: a if reps[a] == 1 else None, "tile")]


define_op(
    "tile", quant="movement", operands=["x", "repeats?"], attrs={"repeats": attr("ints", None)}, infer=_infer_tile,
    family=FAMILY, traits=MOVE, shape_params=("repeats",),
    doc="y = x repeated repeats[k] times along each dim k: y[i] = x[i mod x.shape]; `repeats` is an "
        "attribute, or an operand computed at run time.")


# -- gather ---------------------------------------------------------------------------------------

def _infer_gather(s: Signature):
    data, idx = s["data"], s["indices"]
    if idx.element not in INT_ELEMENTS:
        raise VerifyError(f"gather indices must be i32 or i64, got {idx}")
    axis = norm_axis(s.attr("axis"), data.rank, "gather axis")
    shape = list(data.dims[:axis]) + list(idx.dims) + list(data.dims[axis + 1:])

    def new_axis(a: int) -> int | None:
        return a if a < axis else (None if a == axis else a + idx.rank - 1)

    return [carry(data, shape, new_axis, "gather")]


define_op(
    "gather", quant="movement", operands=["data", "indices"], attrs={"axis": attr("int", 0)}, infer=_infer_gather,
    family=FAMILY, traits=MOVE,
    doc="y[a..., j..., b...] = data[a..., indices[j...], b...] along `axis`; negative indices count "
        "from the end.")


# -- shape / size / constant_of_shape -------------------------------------------------------------

def shape_range(start: int, end: int | None, rank: int) -> tuple[int, int]:
    """ONNX Shape's start/end: negatives count from the end, both clamped to [0, rank]."""
    end = rank if end is None else end
    start, end = (v + rank if v < 0 else v for v in (start, end))
    return min(max(start, 0), rank), min(max(end, 0), rank)


def _infer_shape(s: Signature):
    start, end = shape_range(s.attr("start"), s.attr("end"), s["x"].rank)
    return [TensorType((max(0, end - start),), "i64")]


def _shape_from_types(s: Signature):
    x = s["x"]
    start, end = shape_range(s.attr("start"), s.attr("end"), x.rank)
    dims = x.dims[start:end]
    return np.array(dims, dtype=np.int64) if all(isinstance(d, int) for d in dims) else None


define_op(
    "shape", operands=["x"], attrs={"start": attr("int", 0), "end": attr("int", None)},
    infer=_infer_shape, family=FAMILY, traits=["pure"], from_types=_shape_from_types,
    doc="y = the dims of x (i64), x.shape[start:end] with ONNX clamping; only for shapes not "
        "static (static ones fold at import and in `fold`).")

define_op(
    "size", operands=["x"], infer=lambda s: [TensorType((), "i64")], family=FAMILY, traits=["pure"],
    from_types=lambda s: np.array(s["x"].numel, dtype=np.int64) if s["x"].is_static else None,
    doc="y = the number of elements of x, an i64 scalar.")


def _infer_constant_of_shape(s: Signature):
    shp = s["shape"]
    if shp.element not in INT_ELEMENTS or shp.rank != 1:
        raise VerifyError(f"constant_of_shape takes a 1-D i64 shape, got {shp}")
    if not isinstance(shp.dims[0], int):
        raise VerifyError(f"constant_of_shape needs a shape operand of static length to know its rank, got {shp}")
    value = s.attr("value")
    if value.size != 1:
        raise VerifyError(f"constant_of_shape value must hold one element, got {value.size}")
    return [TensorType((None,) * shp.dims[0], s.attr("dtype"))]


define_op(
    "constant_of_shape", operands=["shape"],
    attrs={"value": attr("tensor"), "dtype": attr("type")},
    infer=_infer_constant_of_shape, family=FAMILY, traits=["pure"],
    doc="y = a tensor of dims `shape` (read at run time) filled with value[0], element type `dtype`.")
