"""Convolution and pooling ops, for 1-D, 2-D and 3-D (any number of) spatial axes, layout NC...

    %y = conv(%x, %w, %b) {group=32, pads=[1, 1, 1, 1], strides=[2, 2]}
    %y = conv_transpose(%x, %w) {output_padding=[1, 1], strides=[2, 2]}
    %y = max_pool(%x) {kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]}
    %y = average_pool(%x) {ceil_mode=1, count_include_pad=1, kernel_shape=[2, 2]}
    %y = global_average_pool(%x)      %y = global_max_pool(%x)      %y = lrn(%x) {size=5}

Per-axis attributes (strides, dilations, output_padding) hold one entry per spatial axis and
`pads` holds [begin..., end...]. Canonical form: an attribute equal to its default is absent
(strides/dilations all ones, pads/output_padding all zeros, group 1, ...); a present list is
full length. `auto_pad` is absent (NOTSET) except when a SAME_* padding depends on a spatial
size unknown at import; the kernel then pads from the actual shape. Window arithmetic lives in
_conv_shapes.py; specs/ops/conv.md states each op's semantics.
"""

from __future__ import annotations

from ..registry import Signature, VerifyError, attr, define_op, expressed
from ..types import Dim, TensorType, known_product
from ._activation import FUSED_ACTIVATION_ATTRS, check_fused_activation
from ._conv_shapes import axis_lists, pads_list, spatial_out, transpose_size

FAMILY = "conv"
FLOATS = ("f16", "f32", "f64")


def _spatial_rank(sig: Signature) -> int:
    x = sig["x"]
    if x.rank < 3:
        raise VerifyError(f"{sig.defn.name}: input must be N x C x spatial... (rank 3 or more), got {x}")
    return x.rank - 2


def _known(d: Dim) -> bool:
    return isinstance(d, int)


def _check_float(sig: Signature, key: str) -> None:
    t = sig[key]
    if not t.is_quantized and t.element not in FLOATS:
        raise VerifyError(f"{sig.defn.name}: operand {key} must be a float tensor, got {t}")


def _check_weights(sig: Signature, in_axis: int) -> tuple[int, Dim]:
    """Checks shared by conv and conv_transpose; returns (spatial rank, input channels per group)."""
    n = _spatial_rank(sig)
    x, w = sig["x"], sig["w"]
    if w.rank != x.rank:
        raise VerifyError(f"{sig.defn.name}: weight {w} must have the rank of the input {x}")
    for key in ("x", "w"):
        _check_float(sig, key)
    if not x.is_quantized and not w.is_quantized and x.element != w.element:
        raise VerifyError(f"{sig.defn.name}: input and weight element types differ ({x.element} vs {w.element})")
    group = sig.attr("group")
    if group < 1:
        raise VerifyError(f"{sig.defn.name}: group must be at least 1, got {group}")
    return n, w.dims[in_axis]


def _check_bias(sig: Signature, channels: Dim) -> None:
    b = sig.get("b")
    if b is None:
        return
    if b.rank != 1 or (_known(b.dims[0]) and _known(channels) and b.dims[0] != channels):
        raise VerifyError(f"{sig.defn.name}: bias must be a vector of {channels} (output channels), got {b}")
    if not b.is_quantized and not sig["x"].is_quantized and b.element != sig["x"].element:
        raise VerifyError(f"{sig.defn.name}: bias element type {b.element} differs from the input's {sig['x'].element}")


# -- conv -----------------------------------------------------------------------------------------

def _verify_conv(sig: Signature) -> None:
    n, w_in = _check_weights(sig, 1)
    group = sig.attr("group")
    c, m = sig["x"].dims[1], sig["w"].dims[0]
    if _known(c) and _known(w_in) and c != w_in * group:
        raise VerifyError(f"conv: the input has {c} channels but the weight {sig['w']} takes {w_in} per group "
                          f"x {group} group(s) = {w_in * group}")
    if _known(m) and m % group:
        raise VerifyError(f"conv: {m} output channels do not split into {group} groups")
    _check_bias(sig, m)
    axis_lists(sig, n)
    pads_list(sig, n)
    check_fused_activation(sig)


def _infer_conv(sig: Signature) -> list[TensorType]:
    x, w = sig["x"], sig["w"]
    n = x.rank - 2
    strides, dilations = axis_lists(sig, n)
    out = spatial_out(sig, x.dims[2:], w.dims[2:], strides, dilations, pads_list(sig, n))
    return [TensorType((x.dims[0], w.dims[0], *out), expressed(x.element))]


CONV_ATTRS = {
    "strides": attr("ints", ()),
    "pads": attr("ints", ()),
    "dilations": attr("ints", ()),
    "group": attr("int", 1),
    "auto_pad": attr("str", "NOTSET"),
}


def _conv_macs(sig: Signature) -> int:
    """Per output element: C/G * prod(K) (a symbolic dim counts as 1)."""
    return known_product(sig["w"].dims[1:])


define_op(
    "conv", operands=["x", "w", "b?"], attrs={**CONV_ATTRS, **FUSED_ACTIVATION_ATTRS}, infer=_infer_conv, verify=_verify_conv,
    family=FAMILY, traits=["pure"], quant="compute", weight_axis=lambda s: 0, macs_per_output=_conv_macs,
    doc="y[n,g*M/G+m,o] = b[.] + sum_{c<C/G, k} x_pad[n, g*C/G+c, o*s + k*d] * w[g*M/G+m, c, k]; "
        "x: N x C x D..., w: M x C/G x K..., G = group.")


# -- conv_transpose -------------------------------------------------------------------------------

def _output_padding(sig: Signature, n: int) -> list[int]:
    op = list(sig.attr("output_padding")) or [0] * n
    if len(op) != n or any(p < 0 for p in op):
        raise VerifyError(f"conv_transpose: output_padding must be {n} non-negative entries, got {op}")
    return op


def _verify_conv_transpose(sig: Signature) -> None:
    n, w_in = _check_weights(sig, 0)
    group = sig.attr("group")
    c = sig["x"].dims[1]
    if _known(c) and _known(w_in) and c != w_in:
        raise VerifyError(f"conv_transpose: the input has {c} channels but the weight {sig['w']} "
                          f"(C x M/group x K...) takes {w_in}")
    if _known(w_in) and w_in % group:
        raise VerifyError(f"conv_transpose: {w_in} input channels do not split into {group} groups")
    m = sig["w"].dims[1] * group if _known(sig["w"].dims[1]) else None
    _check_bias(sig, m)
    axis_lists(sig, n)
    pads_list(sig, n)
    _output_padding(sig, n)


def _infer_conv_transpose(sig: Signature) -> list[TensorType]:
    x, w = sig["x"], sig["w"]
    n = x.rank - 2
    strides, dilations = axis_lists(sig, n)
    pads = pads_list(sig, n)
    out_pad = _output_padding(sig, n)
    out: list[Dim] = []
    for i in range(n):
        size, k = x.dims[2 + i], w.dims[2 + i]
        if not (isinstance(size, int) and isinstance(k, int)):
            out.append(None)
            continue
        o = transpose_size(size, k, strides[i], dilations[i], pads[i], pads[n + i], out_pad[i])
        if o < 1:
            raise VerifyError(f"conv_transpose: pads {pads} leave no output along spatial axis {i}")
        out.append(o)
    m = w.dims[1] * sig.attr("group") if _known(w.dims[1]) else None
    return [TensorType((x.dims[0], m, *out), expressed(x.element))]


define_op(
    "conv_transpose", operands=["x", "w", "b?"],
    attrs={"strides": attr("ints", ()), "pads": attr("ints", ()), "dilations": attr("ints", ()),
           "group": attr("int", 1), "output_padding": attr("ints", ())},
    infer=_infer_conv_transpose, verify=_verify_conv_transpose, family=FAMILY, traits=["pure"],
    doc="The gradient of conv: full[n, g*M/G+m, i*s + k*d] += x[n, g*C/G+c, i] * w[g*C/G+c, m, k], "
        "y = b + full cropped by pads (output_padding extends the end); w: C x M/G x K....")


# -- pools ----------------------------------------------------------------------------------------

def _kernel(sig: Signature, n: int) -> list[int]:
    k = list(sig.attr("kernel_shape"))
    if len(k) != n or any(v < 1 for v in k):
        raise VerifyError(f"{sig.defn.name}: kernel_shape must be {n} positive entries (one per spatial axis), "
                          f"got {k}")
    return k


def _verify_pool(sig: Signature) -> None:
    n = _spatial_rank(sig)
    x = sig["x"]
    allowed = FLOATS + (("i8", "u8") if sig.defn.name == "max_pool" else ())
    if not x.is_quantized and x.element not in allowed:
        raise VerifyError(f"{sig.defn.name}: element type {x.element} is not supported (takes {', '.join(allowed)})")
    _kernel(sig, n)
    for flag in ("ceil_mode", "count_include_pad"):
        if flag in sig.defn.attrs and sig.attr(flag) not in (0, 1):
            raise VerifyError(f"{sig.defn.name}: {flag} must be 0 or 1, got {sig.attr(flag)}")
    axis_lists(sig, n)
    pads_list(sig, n)


def _infer_pool(sig: Signature) -> list[TensorType]:
    x = sig["x"]
    n = x.rank - 2
    strides, dilations = axis_lists(sig, n)
    out = spatial_out(sig, x.dims[2:], _kernel(sig, n), strides, dilations, pads_list(sig, n),
                      ceil_mode=bool(sig.attr("ceil_mode")))
    return [x.with_shape((x.dims[0], x.dims[1], *out))]


POOL_ATTRS = {
    "kernel_shape": attr("ints"),
    "strides": attr("ints", ()),
    "pads": attr("ints", ()),
    "dilations": attr("ints", ()),
    "ceil_mode": attr("int", 0),
    "auto_pad": attr("str", "NOTSET"),
}

define_op(
    "max_pool", operands=["x"], attrs=POOL_ATTRS, infer=_infer_pool, verify=_verify_pool,
    family=FAMILY, traits=["pure"], quant="movement",
    doc="y[n,c,o] = max_k x[n, c, o*s + k*d - pad_begin]; padding never wins (it is -inf).")

define_op(
    "average_pool", operands=["x"], attrs={**POOL_ATTRS, "count_include_pad": attr("int", 0)},
    infer=_infer_pool, verify=_verify_pool, family=FAMILY, traits=["pure"], quant="requantize",
    doc="y[n,c,o] = sum_k x_pad[n, c, o*s + k*d] / count; count = taps inside the input, or inside "
        "input + explicit pads when count_include_pad=1.")


def _infer_global(sig: Signature) -> list[TensorType]:
    x = sig["x"]
    return [x.with_shape((x.dims[0], x.dims[1]) + (1,) * (x.rank - 2))]


def _verify_global(sig: Signature) -> None:
    _spatial_rank(sig)
    _check_float(sig, "x")


define_op(
    "global_average_pool", operands=["x"], infer=_infer_global, verify=_verify_global,
    family=FAMILY, traits=["pure"], quant="requantize", doc="y[n,c,1...] = mean over the spatial axes of x[n,c].")

define_op(
    "global_max_pool", operands=["x"], infer=_infer_global, verify=_verify_global,
    family=FAMILY, traits=["pure"], quant="movement", doc="y[n,c,1...] = max over the spatial axes of x[n,c].")


# -- lrn ------------------------------------------------------------------------------------------

def _verify_lrn(sig: Signature) -> None:
    _spatial_rank(sig)
    _check_float(sig, "x")
    if sig.attr("size") < 1:
        raise VerifyError(f"lrn: size must be at least 1, got {sig.attr('size')}")


define_op(
    "lrn", operands=["x"],
    attrs={"size": attr("int"), "alpha": attr("float", 1e-4), "beta": attr("float", 0.75),
           "bias": attr("float", 1.0)},
    infer=lambda s: [s["x"]], verify=_verify_lrn, family=FAMILY, traits=["pure"],
    doc="y = x / (bias + alpha/size * sum_{c' in [c-(size-1)//2, c+size//2]} x[n,c']^2) ** beta.")
