"""Normalization ops (inference form): batch, instance and layer normalization, softmax.

    %y = batch_norm(%x, %scale, %bias, %mean, %var) {epsilon=0.001} : tensor<[N]x16x8x8xf32>
    %y = instance_norm(%x, %scale, %bias) : tensor<[N]x16x8x8xf32>
    %y = layer_norm(%x, %scale, %bias) {axis=2} : tensor<[N]x128x768xf32>
    %y, %mean, %inv_std_dev = layer_norm(%x, %scale) {axis=2, stats=1}
        : tensor<[N]x128x768xf32>, tensor<[N]x128x1xf32>, tensor<[N]x128x1xf32>
    %y = softmax(%x) {axis=1} : tensor<[N]x1000xf32>
    %y = log_softmax(%x) {axis=1} : tensor<[N]x1000xf32>

The normalized result has the type of `x`. layer_norm with `stats=1` also returns the mean and
the inverse standard deviation it normalized with: f32, the shape of `x` with dims axis.. set to 1
(ONNX LayerNormalization's Mean and InvStdDev outputs with the default stash_type). Channels are dim 1 of `x` for batch_norm and instance_norm
(their per-channel operands are 1-D of size C). layer_norm normalizes over dims axis..rank-1 and
its scale/bias broadcast one way onto those dims. softmax and log_softmax work along one axis.
The importer stores `axis` non-negative; negative values (counted from the end) are accepted too.
"""

from __future__ import annotations

from ..registry import Signature, VerifyError, attr, define_op, expressed
from ..types import TensorType
from ._infer import normalize_axis, same_element
from .linalg import check_broadcasts_to, dims_clash, fmt_shape

FLOATS = ("f32", "f64", "f16")


def _check_float(s: Signature, keys) -> None:
    elem = same_element(s, keys)
    if expressed(elem) not in FLOATS:
        raise VerifyError(f"{s.defn.name} takes float operands, got {elem}")


def _check_channel_params(s: Signature, keys, min_rank: int, layout: str) -> None:
    """x has rank >= min_rank; each operand in `keys` is 1-D with one entry per channel (dim 1)."""
    x = s["x"]
    if x.rank < min_rank:
        raise VerifyError(f"{s.defn.name}: x must be {layout} (rank {min_rank} or more), got {x}")
    _check_float(s, ["x", *keys])
    c = x.dims[1]
    for k in keys:
        t = s[k]
        if t.rank != 1 or dims_clash(t.dims[0], c):
            raise VerifyError(f"{s.defn.name}: operand {k} must have shape [{c if c is not None else '?'}] "
                              f"(one entry per channel of x {fmt_shape(x.dims)}), got {fmt_shape(t.dims)}")


def _check_epsilon(s: Signature) -> None:
    if not s.attr("epsilon") >= 0:  # also rejects nan
        raise VerifyError(f"{s.defn.name}: epsilon must be >= 0, got {s.attr('epsilon')}")


def _same_as_x(s: Signature):
    """The type of x (its expressed element type when x is quantized)."""
    x = s["x"]
    return [x.with_element(expressed(x.element))]


def _verify_batch_norm(s: Signature) -> None:
    _check_channel_params(s, ["scale", "bias", "mean", "var"], 2, "[N, C, ...]")
    _check_epsilon(s)


define_op(
    "batch_norm", operands=["x", "scale", "bias", "mean", "var"],
    attrs={"epsilon": attr("float", 1e-5, "added to var before the square root")},
    infer=_same_as_x, verify=_verify_batch_norm, family="norm", traits=["pure"],
    doc="y = (x - mean[c]) / sqrt(var[c] + epsilon) * scale[c] + bias[c], c = dim 1 of x "
        "(inference: running statistics are operands).")


def _verify_instance_norm(s: Signature) -> None:
    _check_channel_params(s, ["scale", "bias"], 3, "[N, C, D1, ...]")
    _check_epsilon(s)


define_op(
    "instance_norm", operands=["x", "scale", "bias"],
    attrs={"epsilon": attr("float", 1e-5, "added to the variance before the square root")},
    infer=_same_as_x, verify=_verify_instance_norm, family="norm", traits=["pure"],
    doc="y = (x - mu[n,c]) / sqrt(var[n,c] + epsilon) * scale[c] + bias[c]; mu, var: mean and "
        "biased variance of x[n, c] over dims 2.. .")


def _verify_layer_norm(s: Signature) -> None:
    x = s["x"]
    if x.rank < 1:
        raise VerifyError(f"layer_norm: x must have rank 1 or more, got {x}")
    axis = normalize_axis(s.attr("axis"), x.rank, "layer_norm: axis")
    keys = ["x", "scale"] + (["bias"] if s.has("bias") else [])
    _check_float(s, keys)
    target = x.dims[axis:]
    for k in keys[1:]:
        check_broadcasts_to("layer_norm", f"operand {k}", s[k].dims, target)
    _check_epsilon(s)
    if s.attr("stats") not in (0, 1):
        raise VerifyError(f"layer_norm: stats must be 0 (result y only) or 1 (y, mean, inv_std_dev), "
                          f"got {s.attr('stats')}")


def _infer_layer_norm(s: Signature):
    """y like x; with stats=1 also mean and inv_std_dev: f32, x's shape with dims axis.. set to 1."""
    y = _same_as_x(s)
    if not s.attr("stats"):
        return y
    x = s["x"]
    axis = normalize_axis(s.attr("axis"), x.rank, "layer_norm: axis")
    stat = TensorType(tuple(x.dims[:axis]) + (1,) * (x.rank - axis), "f32")
    return y + [stat, stat]


define_op(
    "layer_norm", operands=["x", "scale", "bias?"],
    attrs={"axis": attr("int", -1, "first normalized dim; dims axis.. are normalized"),
           "epsilon": attr("float", 1e-5, "added to the variance before the square root"),
           "stats": attr("int", 0, "1: also return mean and inv_std_dev (3 results)")},
    infer=_infer_layer_norm, verify=_verify_layer_norm, results=lambda s: 3 if s.attr("stats") else 1,
    family="norm", traits=["pure"],
    doc="y = (x - mu) / sqrt(var + epsilon) * scale + bias; mu, var: mean and biased variance "
        "of x over dims axis..rank-1; scale, bias broadcast onto those dims. With stats=1 the "
        "results are y, mu and 1 / sqrt(var + epsilon), the last two f32 with dims axis.. kept as 1.")


def _verify_softmax(s: Signature) -> None:
    x = s["x"]
    if x.rank < 1:
        raise VerifyError(f"{s.defn.name}: x must have rank 1 or more, got {x}")
    normalize_axis(s.attr("axis"), x.rank, f"{s.defn.name}: axis")
    _check_float(s, ["x"])


define_op(
    "softmax", operands=["x"], attrs={"axis": attr("int", -1, "the axis normalized over")},
    infer=_same_as_x, verify=_verify_softmax, family="norm", traits=["pure"],
    doc="y = exp(x - max(x)) / sum(exp(x - max(x))), max and sum along `axis`.")

define_op(
    "log_softmax", operands=["x"], attrs={"axis": attr("int", -1, "the axis normalized over")},
    infer=_same_as_x, verify=_verify_softmax, family="norm", traits=["pure"],
    doc="y = (x - max(x)) - log(sum(exp(x - max(x)))), max and sum along `axis`.")
