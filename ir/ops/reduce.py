"""Reductions over axes, and arg-max / arg-min.

    %m = reduce_mean(%x) {axes=[2, 3]} : tensor<1x64x1x1xf32>
    %s = reduce_sum(%x) {axes=[1], keepdims=0} : tensor<8xf32>
    %i = argmax(%x) {axis=1, keepdims=0} : tensor<8xi64>

`axes` is always explicit: non-negative, distinct, ascending. An empty list reduces no axis, so
each element is its own group (reduce_sum_square then squares, reduce_l2 takes |x|, and so on);
that is what ONNX's noop_with_empty_axes=1 with empty axes computes. The result keeps the element
type of the operand (integer means and norms truncate toward zero, as onnxruntime does).
"""

from __future__ import annotations

from ..registry import Signature, VerifyError, attr, define_op
from ..types import Dim, TensorType
from ._infer import normalize_axis

# name -> the formula over the group G of elements reduced into one result
REDUCTIONS = {
    "reduce_sum": "sum(x over G)",
    "reduce_mean": "sum(x over G) / |G|",
    "reduce_max": "max(x over G)  (lowest value of the type when G is empty)",
    "reduce_min": "min(x over G)  (highest value of the type when G is empty)",
    "reduce_prod": "prod(x over G)",
    "reduce_l1": "sum(|x| over G)",
    "reduce_l2": "sqrt(sum(x^2 over G))",
    "reduce_sum_square": "sum(x^2 over G)",
    "reduce_log_sum": "log(sum(x over G))",
    "reduce_log_sum_exp": "log(sum(exp(x) over G))",
}


def _check_axes(s: Signature) -> tuple[int, ...]:
    x = s["x"]
    axes = tuple(s.attr("axes"))
    if list(axes) != sorted(set(axes)) or any(not 0 <= a < x.rank for a in axes):
        raise VerifyError(f"{s.defn.name}: axes {list(axes)} must be distinct, ascending and within rank {x.rank}")
    if s.attr("keepdims") not in (0, 1):
        raise VerifyError(f"{s.defn.name}: keepdims must be 0 or 1")
    return axes


def _reduced_shape(x: TensorType, axes, keepdims: int) -> tuple[Dim, ...]:
    out: list[Dim] = []
    for i, d in enumerate(x.dims):
        if i in axes:
            if keepdims:
                out.append(1)
        else:
            out.append(d)
    return tuple(out)


def _verify_reduce(s: Signature) -> None:
    _check_axes(s)
    if s["x"].storage == "bool" and s.defn.name not in ("reduce_max", "reduce_min"):
        raise VerifyError(f"{s.defn.name} does not take bool tensors")


def _infer_reduce(s: Signature):
    x = s["x"]
    return [x.with_shape(_reduced_shape(x, set(s.attr("axes")), s.attr("keepdims")))]


for _name, _formula in REDUCTIONS.items():
    define_op(
        _name, operands=["x"],
        attrs={"axes": attr("ints", doc="reduced axes: non-negative, distinct, ascending; [] reduces none"),
               "keepdims": attr("int", 1, doc="1 keeps reduced axes with size 1, 0 drops them")},
        infer=_infer_reduce, verify=_verify_reduce, family="reduce", traits=["pure"],
        doc=f"y = {_formula}, one result per index of the axes not in `axes`.")


def _verify_arg(s: Signature) -> None:
    x = s["x"]
    axis = s.attr("axis")
    if x.rank == 0 or not 0 <= axis < x.rank:
        raise VerifyError(f"{s.defn.name}: axis {axis} must be non-negative and within rank {x.rank}")
    for key in ("keepdims", "select_last_index"):
        if s.attr(key) not in (0, 1):
            raise VerifyError(f"{s.defn.name}: {key} must be 0 or 1")
    if x.storage == "bool":
        raise VerifyError(f"{s.defn.name} does not take bool tensors")


def _infer_arg(s: Signature):
    x = s["x"]
    axis = normalize_axis(s.attr("axis"), x.rank)
    return [TensorType(_reduced_shape(x, {axis}, s.attr("keepdims")), "i64")]


for _name, _word in (("argmax", "largest"), ("argmin", "smallest")):
    define_op(
        _name, operands=["x"],
        attrs={"axis": attr("int", 0, doc="non-negative axis"),
               "keepdims": attr("int", 1),
               "select_last_index": attr("int", 0, doc="1 picks the last of equal extremes, 0 the first")},
        infer=_infer_arg, verify=_verify_arg, family="reduce", traits=["pure"],
        doc=f"y (i64) = index along `axis` of the {_word} element (first one, or last with select_last_index).")
