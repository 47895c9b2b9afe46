"""Padding and resizing: pad, resize.

    %y = pad(%x) {pads=[0, 0, 1, 1, 0, 0, 1, 1], mode="reflect"} : tensor<1x3x34x34xf32>
    %y = resize(%x) {axes=[2, 3], mode="linear", scales=[2.0, 2.0], sizes=[64, 64]} : tensor<1x3x64x64xf32>

`pad` takes explicit pads over every axis ([begin..., end...]; negative values crop). `resize`
names the axes it resizes; per axis it holds the output extent (`sizes`) and the factor the
coordinate transform divides by (`scales`). The importer writes both when shapes are static;
with dynamic shapes one of them may be missing and the kernel completes it at run time, exactly
as onnxruntime does (see specs/ops/resample.md).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..registry import Signature, VerifyError, attr, define_op, expressed
from ..types import Dim, FLOAT_ELEMENTS

PAD_MODES = ("constant", "reflect", "edge", "wrap")
RESIZE_MODES = ("nearest", "linear", "cubic")
COORDINATE_MODES = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
                    "asymmetric", "tf_crop_and_resize", "tf_half_pixel_for_nn")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
ASPECT_POLICIES = ("stretch", "not_larger", "not_smaller")


def _choice(s: Signature, key: str, allowed: Sequence[str]) -> str:
    v = s.attr(key)
    if v not in allowed:
        raise VerifyError(f"{s.defn.name}: {key} must be one of {', '.join(allowed)}, got {v!r}")
    return v


# -- pad ------------------------------------------------------------------------------------------

def _verify_pad(s: Signature) -> None:
    x = s["x"]
    pads = s.attr("pads")
    mode = _choice(s, "mode", PAD_MODES)
    if len(pads) != 2 * x.rank:
        raise VerifyError(f"pad: pads has {len(pads)} values but a rank-{x.rank} operand needs {2 * x.rank} "
                          f"([begin..., end...] per axis)")
    for i, d in enumerate(x.dims):
        b, e = pads[i], pads[i + x.rank]
        if not isinstance(d, int):
            continue
        kept = d + min(b, 0) + min(e, 0)  # what is left after cropping
        if d + b + e < 0 or kept < 0:
            raise VerifyError(f"pad: pads ({b}, {e}) on axis {i} of size {d} crop more than the axis holds")
        if mode != "constant" and (b > 0 or e > 0) and kept == 0:
            raise VerifyError(f"pad: {mode} padding of axis {i} needs a non-empty axis")
        if mode == "reflect" and max(b, e) > kept - 1:
            raise VerifyError(f"pad: reflect pads ({b}, {e}) on axis {i} must be at most {kept - 1} "
                              f"(the axis size after cropping minus one)")


def _infer_pad(s: Signature):
    x = s["x"]
    pads = s.attr("pads")
    out: list[Dim] = []
    for i, d in enumerate(x.dims):
        total = pads[i] + pads[i + x.rank]
        if isinstance(d, int):
            out.append(d + total)
        else:
            out.append(d if total == 0 else None)
    return [x.with_shape(out)]


define_op(
    "pad", operands=["x"],
    attrs={"pads": attr("ints", doc="[begin_0, ..., begin_n-1, end_0, ..., end_n-1]; negative crops"),
           "mode": attr("str", "constant", doc="constant | reflect | edge | wrap"),
           "value": attr("float", 0.0, doc="fill value of constant mode")},
    infer=_infer_pad, verify=_verify_pad, family="resample", traits=["data_movement", "pure"],
    doc="Crop by the negative pads, then y = x extended by pads[i] before and pads[i+rank] after axis i, "
        "filled with `value` (constant), the mirror without the edge (reflect), the edge (edge) or the "
        "opposite end (wrap).")


# -- resize ---------------------------------------------------------------------------------------

def output_extent(in_dim: int, scale: float) -> int:
    """The output size a scale gives (float32 product, truncated, as onnxruntime computes it)."""
    return int(np.float32(scale) * np.float32(in_dim))


def resolve_resize(in_dims: Sequence[int], scales: Sequence[float] | None, sizes: Sequence[int] | None,
                   policy: str = "stretch") -> tuple[list[int], list[float]]:
    """Per resized axis: (output sizes, coordinate scales), from whichever of the two are given.

    With sizes only, scales are sizes / in (float32) and `policy` may replace them by one common
    scale (the min for not_larger, the max for not_smaller) with sizes round(scale * in).
    """
    if sizes is not None and scales is not None:
        return list(sizes), [float(np.float32(v)) for v in scales]
    if scales is not None:
        return [output_extent(d, sc) for d, sc in zip(in_dims, scales)], [float(np.float32(v)) for v in scales]
    assert sizes is not None
    out = [int(v) for v in sizes]
    sc = [1.0 if d == 0 else float(np.float32(o) / np.float32(d)) for d, o in zip(in_dims, out)]
    if policy != "stretch" and sc:
        common = min(sc) if policy == "not_larger" else max(sc)
        sc = [common] * len(sc)
        # std::round: halves away from zero
        out = [int(np.floor(float(np.float32(common) * np.float32(d)) + 0.5)) for d in in_dims]
    return out, sc


def _verify_resize(s: Signature) -> None:
    x = s["x"]
    mode = _choice(s, "mode", RESIZE_MODES)
    coord = _choice(s, "coordinate_transformation_mode", COORDINATE_MODES)
    _choice(s, "nearest_mode", NEAREST_MODES)
    policy = _choice(s, "keep_aspect_ratio_policy", ASPECT_POLICIES)
    axes = s.attr("axes")
    if list(axes) != sorted(set(axes)) or any(not 0 <= a < x.rank for a in axes):
        raise VerifyError(f"resize: axes {list(axes)} must be distinct, ascending and within rank {x.rank}")
    scales, sizes = s.attr("scales"), s.attr("sizes")
    if scales is None and sizes is None:
        raise VerifyError("resize needs `scales` or `sizes` (or both)")
    for key, vals in (("scales", scales), ("sizes", sizes)):
        if vals is not None and len(vals) != len(axes):
            raise VerifyError(f"resize: {key} has {len(vals)} values for {len(axes)} axes")
    if scales is not None and any(not (v > 0 and np.isfinite(v)) for v in scales):
        raise VerifyError(f"resize: scales must be positive and finite, got {list(scales)}")
    if sizes is not None and any(v < 0 for v in sizes):
        raise VerifyError(f"resize: sizes must not be negative, got {list(sizes)}")
    if policy != "stretch" and (sizes is None or scales is not None):
        raise VerifyError("resize: keep_aspect_ratio_policy applies only when sizes are given without scales")
    roi = s.attr("roi")
    if roi is not None:
        if coord != "tf_crop_and_resize":
            raise VerifyError("resize: roi is used only by coordinate_transformation_mode tf_crop_and_resize")
        if len(roi) != 2 * len(axes):
            raise VerifyError(f"resize: roi has {len(roi)} values, expected {2 * len(axes)} ([starts..., ends...])")
    if s.attr("antialias") and mode == "nearest":
        raise VerifyError("resize: antialias applies to linear and cubic modes only")
    if mode != "nearest" and expressed(x.element) not in FLOAT_ELEMENTS:
        raise VerifyError(f"resize: {mode} mode takes a float tensor, got {x.element}")


def _infer_resize(s: Signature):
    x = s["x"]
    axes = s.attr("axes")
    scales, sizes = s.attr("scales"), s.attr("sizes")
    policy = s.attr("keep_aspect_ratio_policy")
    in_dims = [x.dims[a] for a in axes]
    out = list(x.dims)
    if sizes is not None and (scales is not None or policy == "stretch"):
        new: list[Dim] = list(sizes)
    elif all(isinstance(d, int) for d in in_dims):
        new = list(resolve_resize(in_dims, scales, sizes, policy)[0])
    else:
        new = [None] * len(axes)
        if scales is not None:
            new = [output_extent(d, sc) if isinstance(d, int) else None for d, sc in zip(in_dims, scales)]
    for a, d in zip(axes, new):
        out[a] = d
    return [x.with_shape(out)]


define_op(
    "resize", operands=["x"],
    attrs={"axes": attr("ints", doc="the resized axes, ascending; other axes are copied"),
           "scales": attr("floats", None, doc="per axis: the factor the coordinate transform divides by"),
           "sizes": attr("ints", None, doc="per axis: the output extent"),
           "mode": attr("str", "nearest", doc="nearest | linear | cubic"),
           "coordinate_transformation_mode": attr("str", "half_pixel"),
           "nearest_mode": attr("str", "round_prefer_floor"),
           "cubic_coeff_a": attr("float", -0.75),
           "exclude_outside": attr("int", 0),
           "extrapolation_value": attr("float", 0.0),
           "roi": attr("floats", None, doc="tf_crop_and_resize only: [starts..., ends...] per axis"),
           "keep_aspect_ratio_policy": attr("str", "stretch"),
           "antialias": attr("int", 0)},
    infer=_infer_resize, verify=_verify_resize, family="resample", traits=["pure"],
    doc="Per resized axis a, output index o reads input coordinate c = T(o) of the coordinate transform; "
        "y is x sampled at c separably per axis (nearest pixel, 2-tap linear or 4-tap cubic weights).")
