"""Index ops: sequences, running sums, selection, gather and scatter by index tensors.

    %r = range(%start, %limit, %delta) : tensor<?xi64>          length known only at run time
    %c = cumsum(%x) {axis=1, exclusive=1} : tensor<[N]x8xf32>
    %n = nonzero(%x) : tensor<2x?xi64>                           one row per dim of x
    %v, %i = topk(%x) {axis=1, k=5} : tensor<[N]x5xf32>, tensor<[N]x5xi64>
    %g = gather_elements(%data, %idx) {axis=1} : tensor<2x3xf32>
    %g = gather_nd(%data, %idx) {batch_dims=1} : tensor<2x4xf32>
    %s = scatter_nd(%data, %idx, %updates) {reduction="add"} : tensor<4x4xf32>
    %s = scatter_elements(%data, %idx, %updates) {axis=1} : tensor<3x3xf32>
    %h = one_hot(%idx, %values) {axis=1, depth=10} : tensor<[N]x10xf32>
    %t = trilu(%x) {k=1, upper=0} : tensor<4x4xf32>

Parameters ONNX passes as inputs but that fix the result's shape or meaning (TopK's k, CumSum's
axis, OneHot's depth, Trilu's k) are attributes; axes are non-negative. Index operands are i32
or i64 and may count from the end (negative), as in ONNX. Rules keep symbolic dims wherever the
result dim is an operand's dim; the lengths of range and nonzero depend on data and are `?`.
"""

from __future__ import annotations


import numpy as np

from ..registry import Signature, VerifyError, attr, define_op, expressed
from ..types import Dim, TensorType
from ._infer import same_element
from .elementwise import BOOL, NUMERIC, require_elements
from .shape import carry

FAMILY = "index"
PURE = ["pure"]
MOVE = ["data_movement", "pure"]
INDEX_ELEMENTS = ("i32", "i64")
RANGE_ELEMENTS = frozenset({"i16", "i32", "i64", "f32", "f64"})
"""Range's element types in the opsets irc reads and writes (float16 needs opset 27)."""
REDUCTIONS = ("none", "add", "mul", "max", "min")


# -- shared checks --------------------------------------------------------------------------------

def check_axis(s: Signature, key: str, rank: int) -> int:
    axis = s.attr(key)
    if not 0 <= axis < rank:
        raise VerifyError(f"{s.defn.name}: {key} {axis} must be non-negative and within rank {rank}")
    return axis


def check_flag(s: Signature, key: str) -> None:
    if s.attr(key) not in (0, 1):
        raise VerifyError(f"{s.defn.name}: {key} must be 0 or 1, got {s.attr(key)}")


def check_indices(s: Signature, key: str = "indices") -> TensorType:
    t = s[key]
    if t.element not in INDEX_ELEMENTS:
        raise VerifyError(f"{s.defn.name}: {key} must be i32 or i64, got {t}")
    return t


def merge_dim(a: Dim, b: Dim, what: str) -> Dim:
    """Two dims that must be the same size: the better known one (VerifyError if sizes differ)."""
    if isinstance(a, int) and isinstance(b, int) and a != b:
        raise VerifyError(f"{what}: {a} != {b}")
    if isinstance(a, int) or b is None:
        return a
    if isinstance(b, int) or a is None:
        return b
    return a if a == b else None


def _no_axis(_: int) -> None:
    return None


def _bounded(s: Signature, small: TensorType, big: TensorType, skip: int, what: str) -> None:
    """Known dims of `small` (an index tensor) must not exceed those of `big`, except at `skip`."""
    for i, (a, b) in enumerate(zip(small.dims, big.dims)):
        if i != skip and isinstance(a, int) and isinstance(b, int) and a > b:
            raise VerifyError(f"{s.defn.name}: dimension {i} of {what} {small} exceeds that of {big}")


# -- range ----------------------------------------------------------------------------------------

def range_length(start, limit, delta) -> int:
    """How many elements range(start, limit, delta) has, counted as onnxruntime counts them:
    ceil((limit - start) / delta) with the three converted to float64 first, at least 0. A count
    that is not finite (nan or inf operands) is 0."""
    with np.errstate(all="ignore"):
        n = np.ceil((np.float64(limit) - np.float64(start)) / np.float64(delta))
    if not np.isfinite(n) or n <= 0:
        return 0
    return int(n)


def _verify_range(s: Signature) -> None:
    for key in ("start", "limit", "delta"):
        t = s[key]
        if t.rank > 1 or (t.rank == 1 and isinstance(t.dims[0], int) and t.dims[0] != 1):
            raise VerifyError(f"range: {key} must be a scalar (or hold one element), got {t}")
        if expressed(t.element) not in RANGE_ELEMENTS or t.is_quantized:
            raise VerifyError(f"range takes i16, i32, i64, f32 or f64 operands, got {key} {t}")
    same_element(s)


define_op(
    "range", operands=["start", "limit", "delta"], verify=_verify_range,
    infer=lambda s: [TensorType((None,), s["start"].element)], family=FAMILY, traits=PURE,
    doc="y = [start, start + delta, start + 2 delta, ...] while before limit: "
        "max(ceil((limit - start) / delta), 0) elements, each the previous plus delta in the "
        "operands' type; delta 0 is an error")


# -- cumsum ---------------------------------------------------------------------------------------

def _verify_cumsum(s: Signature) -> None:
    x = s["x"]
    require_elements(s, NUMERIC, "numeric", [x])
    if x.rank == 0:
        raise VerifyError(f"cumsum needs an operand of rank >= 1, got {x}")
    check_axis(s, "axis", x.rank)
    check_flag(s, "exclusive")
    check_flag(s, "reverse")


define_op(
    "cumsum", operands=["x"],
    attrs={"axis": attr("int", doc="the summed axis, non-negative"),
           "exclusive": attr("int", 0, "1: each sum leaves out its own element"),
           "reverse": attr("int", 0, "1: sums run from the end of the axis")},
    infer=lambda s: [s["x"]], verify=_verify_cumsum, family=FAMILY, traits=PURE,
    doc="y[..., i, ...] = x[..., 0, ...] + ... + x[..., i, ...] along `axis` (exclusive: up to i-1; "
        "reverse: from the end down to i), summed in order in x's type (float16 in float32)")


# -- nonzero --------------------------------------------------------------------------------------

def _infer_nonzero(s: Signature):
    x = s["x"]
    count: Dim = 0 if 0 in x.dims else None
    return [TensorType((max(x.rank, 1), count), "i64")]  # a scalar has one row, as onnxruntime


def _verify_nonzero(s: Signature) -> None:
    require_elements(s, NUMERIC | BOOL, "numeric or bool", [s["x"]])


define_op(
    "nonzero", operands=["x"], infer=_infer_nonzero, verify=_verify_nonzero, family=FAMILY,
    traits=PURE,
    doc="y (i64) = the indices of the non-zero elements of x in row-major order, one row per dim "
        "(a scalar counts as one dim of size 1), one column per element found")


# -- topk -----------------------------------------------------------------------------------------

def _verify_topk(s: Signature) -> None:
    x = s["x"]
    require_elements(s, NUMERIC, "numeric", [x])
    if x.rank == 0:
        raise VerifyError(f"topk needs an operand of rank >= 1, got {x}")
    axis = check_axis(s, "axis", x.rank)
    k, d = s.attr("k"), x.dims[axis]
    if k < 0 or (isinstance(d, int) and k > d):
        raise VerifyError(f"topk: k={k} must lie in [0, {d}], the size of axis {axis} of {x}")
    check_flag(s, "largest")
    check_flag(s, "sorted")


def _infer_topk(s: Signature):
    x, axis, k = s["x"], s.attr("axis"), s.attr("k")
    shape = list(x.dims)
    shape[axis] = k
    values = carry(x, shape, lambda a: None if a == axis else a, "topk")
    return [values, TensorType(tuple(shape), "i64")]


define_op(
    "topk", operands=["x"],
    attrs={"k": attr("int", doc="how many elements to keep along the axis"),
           "axis": attr("int", doc="non-negative axis"),
           "largest": attr("int", 1, "1: the k largest, 0: the k smallest"),
           "sorted": attr("int", 1, "1: in order of value; 0: any order (irc's is the sorted one)")},
    infer=_infer_topk, verify=_verify_topk, results=2, family=FAMILY, traits=PURE,
    doc="values, indices (i64) = the k largest (or smallest) elements along `axis`, largest first "
        "(smallest first), equal values in order of their index")


# -- gather_elements / gather_nd ------------------------------------------------------------------

def _verify_gather_elements(s: Signature) -> None:
    data, idx = s["data"], check_indices(s)
    if data.rank == 0 or idx.rank != data.rank:
        raise VerifyError(f"gather_elements needs data and indices of one rank >= 1, got {data} and {idx}")
    axis = check_axis(s, "axis", data.rank)
    _bounded(s, idx, data, axis, "indices")


def _infer_gather_elements(s: Signature):
    data, idx = s["data"], s["indices"]
    return [carry(data, idx.dims, _no_axis, "gather_elements")]


define_op(
    "gather_elements", operands=["data", "indices"], attrs={"axis": attr("int", 0)},
    infer=_infer_gather_elements, verify=_verify_gather_elements, family=FAMILY, traits=MOVE,
    doc="y[i...] = data[i...] with index `axis` replaced by indices[i...] (negative counts from the "
        "end); y has the shape of indices")


def _gather_nd_parts(s: Signature) -> tuple[int, int]:
    """(batch_dims, m): the batch dims and how many data dims one index row addresses."""
    data, idx = s["data"], check_indices(s)
    b = s.attr("batch_dims")
    if idx.rank == 0 or data.rank == 0:
        raise VerifyError(f"gather_nd needs data and indices of rank >= 1, got {data} and {idx}")
    if not 0 <= b < min(data.rank, idx.rank):
        raise VerifyError(f"gather_nd: batch_dims {b} must be in [0, {min(data.rank, idx.rank)})")
    m = idx.dims[-1]
    if not isinstance(m, int):
        raise VerifyError(f"gather_nd needs the last dim of indices {idx} known to tell the result's rank")
    if not 1 <= m <= data.rank - b:
        raise VerifyError(f"gather_nd: the last dim of indices {idx} must be in [1, {data.rank - b}]")
    return b, m


def _infer_gather_nd(s: Signature):
    data, idx = s["data"], s["indices"]
    b, m = _gather_nd_parts(s)
    batch = [merge_dim(p, q, f"gather_nd batch dimension {i} of {data} and {idx}")
             for i, (p, q) in enumerate(zip(data.dims[:b], idx.dims[:b]))]
    shape = batch + list(idx.dims[b:-1]) + list(data.dims[b + m:])

    def new_axis(a: int) -> int | None:
        if a < b:
            return a
        return a - b - m + idx.rank - 1 if a >= b + m else None

    return [carry(data, shape, new_axis, "gather_nd")]


define_op(
    "gather_nd", operands=["data", "indices"], attrs={"batch_dims": attr("int", 0)},
    infer=_infer_gather_nd, family=FAMILY, traits=MOVE,
    doc="y[b..., j...] = data[b..., indices[b..., j..., :], ...]: each row of the last axis of "
        "indices addresses the dims after the batch_dims leading ones (negative counts from the end)")


# -- scatter_nd / scatter_elements ----------------------------------------------------------------

def _check_reduction(s: Signature) -> None:
    red = s.attr("reduction")
    if red not in REDUCTIONS:
        raise VerifyError(f"{s.defn.name}: reduction must be one of {', '.join(REDUCTIONS)}, got {red!r}")
    if red != "none" and s["data"].storage == "bool":
        raise VerifyError(f"{s.defn.name}: reduction {red!r} does not take bool tensors")
    same_element(s, ["data", "updates"])


def _verify_scatter_nd(s: Signature) -> None:
    data, idx, upd = s["data"], check_indices(s), s["updates"]
    _check_reduction(s)
    if idx.rank == 0:
        raise VerifyError(f"scatter_nd needs indices of rank >= 1, got {idx}")
    m = idx.dims[-1]
    if not isinstance(m, int):
        return  # the shape of updates is checked when the op runs
    if not 1 <= m <= data.rank:
        raise VerifyError(f"scatter_nd: the last dim of indices {idx} must be in [1, {data.rank}]")
    want = list(idx.dims[:-1]) + list(data.dims[m:])
    for i, (u, w) in enumerate(zip(upd.dims, want)):
        merge_dim(u, w, f"scatter_nd: dimension {i} of updates {upd}")
    if upd.rank != len(want):
        raise VerifyError(f"scatter_nd: updates {upd} must have rank {len(want)} "
                          f"(indices.shape[:-1] + data.shape[{m}:])")


define_op(
    "scatter_nd", operands=["data", "indices", "updates"],
    attrs={"reduction": attr("str", "none", "none, add, mul, max or min")},
    infer=lambda s: [s["data"]], verify=_verify_scatter_nd, family=FAMILY, traits=PURE,
    doc="y = data with y[indices[j..., :], ...] = updates[j..., ...] for each index row j in order "
        "(combined with the element there by `reduction`; none: the last write wins)")


def _verify_scatter_elements(s: Signature) -> None:
    data, idx, upd = s["data"], check_indices(s), s["updates"]
    _check_reduction(s)
    if data.rank == 0 or not data.rank == idx.rank == upd.rank:
        raise VerifyError(f"scatter_elements needs data, indices and updates of one rank >= 1, got "
                          f"{data}, {idx} and {upd}")
    axis = check_axis(s, "axis", data.rank)
    for i, (a, b) in enumerate(zip(idx.dims, upd.dims)):
        merge_dim(a, b, f"scatter_elements: dimension {i} of indices {idx} and updates {upd}")
    _bounded(s, idx, data, axis, "indices")


define_op(
    "scatter_elements", operands=["data", "indices", "updates"],
    attrs={"axis": attr("int", 0), "reduction": attr("str", "none", "none, add, mul, max or min")},
    infer=lambda s: [s["data"]], verify=_verify_scatter_elements, family=FAMILY, traits=PURE,
    doc="y = data with y[i...] (index `axis` replaced by indices[i...]) = updates[i...], in "
        "row-major order of i (combined by `reduction`; none: the last write wins)")


# -- one_hot --------------------------------------------------------------------------------------

def _verify_one_hot(s: Signature) -> None:
    idx, values = s["indices"], s["values"]
    require_elements(s, NUMERIC, "numeric indices", [idx])
    if values.rank != 1 or (isinstance(values.dims[0], int) and values.dims[0] != 2):
        raise VerifyError(f"one_hot: values must be [off, on], a tensor of 2 elements, got {values}")
    if s.attr("depth") < 1:
        raise VerifyError(f"one_hot: depth must be >= 1, got {s.attr('depth')}")
    check_axis(s, "axis", idx.rank + 1)


def _infer_one_hot(s: Signature):
    idx, values, axis = s["indices"], s["values"], s.attr("axis")
    shape = list(idx.dims[:axis]) + [s.attr("depth")] + list(idx.dims[axis:])
    return [carry(values, shape, _no_axis, "one_hot")]


define_op(
    "one_hot", operands=["indices", "values"],
    attrs={"depth": attr("int", doc="the size of the new axis"),
           "axis": attr("int", doc="where the new axis goes, non-negative (in the result's rank)")},
    infer=_infer_one_hot, verify=_verify_one_hot, family=FAMILY, traits=PURE,
    doc="y = values[1] where the position along `axis` equals the index (truncated toward zero; "
        "negative counts from depth), values[0] elsewhere; an index outside [-depth, depth) is all "
        "values[0]")


# -- trilu ----------------------------------------------------------------------------------------

def _verify_trilu(s: Signature) -> None:
    x = s["x"]
    if x.rank < 2:
        raise VerifyError(f"trilu needs an operand of rank >= 2, got {x}")
    check_flag(s, "upper")
    if x.is_quantized:
        raise VerifyError(f"trilu fills with 0 and does not take quantized tensors, got {x}")


define_op(
    "trilu", operands=["x"],
    attrs={"upper": attr("int", 1, "1: keep the upper triangle, 0: the lower"),
           "k": attr("int", 0, "the diagonal: 0 the main one, > 0 above it, < 0 below")},
    infer=lambda s: [s["x"]], verify=_verify_trilu, family=FAMILY, traits=PURE,
    doc="y = x on the last two dims with the elements below diagonal k (upper=1; j - i < k) or "
        "above it (upper=0; j - i > k) set to 0")
