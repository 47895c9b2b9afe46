"""Converters of Pad and Resize (Upsample models reach Resize through onnx's version converter).

Import resolves every constant input into attributes: Pad's pads/axes/constant_value become
explicit per-axis pads and a float fill value; Resize's scales/sizes/roi/axes become the resized
axes with their output sizes and coordinate scales (both, when the input shape is static; see
specs/ops/resample.md). Attributes that cannot change the result under the chosen mode are left
out, so the IR has one spelling per computation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import onnx
from onnx import helper

from irc.ir.diagnostics import IRError
from irc.ir.ops.resample import resolve_resize

from ..registry import exporter, importer


def not_constant(ctx, i: int, what: str) -> IRError:
    """The error for an input that must be known at import but is not (see ctx.not_constant)."""
    return ctx.not_constant(i, what)


def known_input(ctx, i: int) -> np.ndarray | None:
    """Input i's array when import knows it: a constant, or a tensor whose static shape holds no
    element (its only possible value is the empty one). None when absent or unknown."""
    if not ctx.has_input(i):
        return None
    arr = ctx.const(i)
    if arr is None and ctx.input(i).type.numel == 0:
        arr = np.zeros(ctx.input(i).type.static_shape(), dtype=ctx.input(i).type.dtype)
    return arr


def _const_input(ctx, i: int, what: str):
    """Input i as a numpy array, None when absent or empty; an error when it is computed."""
    if not ctx.has_input(i):
        return None
    arr = known_input(ctx, i)
    if arr is None:
        raise not_constant(ctx, i, what)
    return arr if arr.size else None


def _resize_sizes(ctx, rank: int):
    """Resize's sizes input: a constant, or a shape vector whose unknown entries are the
    input's own symbolic dims (the exporters' Concat(Shape(x)[:2], [h, w]) pattern)."""
    if not ctx.has_input(3):
        return None
    arr = known_input(ctx, 3)
    if arr is not None:
        return arr.reshape(-1).tolist() if arr.size else None
    from ._shape_values import plain, shape_elements

    elems = shape_elements(ctx.graph, ctx.input(3))
    elems = None if elems is None else [plain(e) for e in elems]
    if elems is None or any(e is None for e in elems):
        raise not_constant(ctx, 3, "sizes")
    return elems


def _axes(ctx, raw, rank: int, what: str = "axes") -> list[int]:
    out = []
    for a in np.asarray(raw).reshape(-1).tolist():
        if not -rank <= a < rank:
            raise ctx.error(f"{what} value {a} is out of range for rank {rank}")
        out.append(a % rank)
    if len(set(out)) != len(out):
        raise ctx.error(f"{what} {list(np.asarray(raw).reshape(-1))} repeats an axis")
    return out


def _f32_bits(v: float) -> bytes:
    return np.float32(v).tobytes()


# -- Pad ------------------------------------------------------------------------------------------

@importer("Pad")
def import_pad(ctx, node):
    x = ctx.input(0)
    rank = x.type.rank
    ctx.require_constants({1: "pads", 3: "axes"} if ctx.attr("mode", "constant") != "constant"
                          else {1: "pads", 2: "constant_value", 3: "axes"})
    pads = _const_input(ctx, 1, "pads")
    if pads is None:
        pads = np.zeros(2 * rank, dtype=np.int64) if ctx.has_input(1) else None
    if pads is None:
        raise ctx.error("pads (input 1) is required")
    axes = _const_input(ctx, 3, "axes")
    axes = list(range(rank)) if axes is None else _axes(ctx, axes, rank)
    pads = [int(p) for p in np.asarray(pads).reshape(-1)]
    if len(pads) != 2 * len(axes):
        raise ctx.error(f"pads has {len(pads)} values but {len(axes)} axes need {2 * len(axes)}")
    full = [0] * (2 * rank)
    for i, a in enumerate(axes):
        full[a], full[a + rank] = pads[i], pads[i + len(axes)]
    mode = ctx.attr("mode", "constant")
    attrs: dict = {"pads": full}
    if mode != "constant":
        attrs["mode"] = mode
    else:
        value = _const_input(ctx, 2, "constant_value")
        if value is not None:
            if value.size != 1:
                raise ctx.error(f"constant_value must hold one value, got shape {list(value.shape)}")
            v = value.reshape(-1)[0]
            fill = float(np.float32(v))
            if value.dtype.kind in "iub" and fill != float(v):
                raise ctx.unsupported(f"constant_value {v} has no exact float32 form (the IR keeps the fill value as f32)")
            if _f32_bits(fill) != _f32_bits(0.0):
                attrs["value"] = fill
    return ctx.emit("pad", [x], attrs)


@exporter("pad")
def export_pad(ctx, op):
    x = op.operands[0]
    pads = ctx.initializer(np.asarray(op.attr("pads"), dtype=np.int64), f"{ctx.name(op.result)}_pads")
    inputs = [x, pads]
    mode = op.attr("mode")
    if mode == "constant" and _f32_bits(op.attr("value")) != _f32_bits(0.0):
        fill = np.array(op.attr("value")).astype(x.type.dtype)
        inputs.append(ctx.initializer(fill, f"{ctx.name(op.result)}_value"))
    ctx.node("Pad", inputs, op.results, mode=None if mode == "constant" else mode)


# -- Resize ---------------------------------------------------------------------------------------

RESIZE_DEFAULTS: dict[str, Any] = {
    "mode": "nearest", "coordinate_transformation_mode": "half_pixel", "nearest_mode": "round_prefer_floor",
    "cubic_coeff_a": -0.75, "exclude_outside": 0, "extrapolation_value": 0.0, "antialias": 0,
}


def _resize_options(ctx) -> dict:
    """The attributes that can change the result under the node's mode, non-default ones only."""
    mode = ctx.attr("mode", "nearest")
    coord = ctx.attr("coordinate_transformation_mode", "half_pixel")
    antialias = int(ctx.attr("antialias", 0)) and mode != "nearest"  # nearest has no filter to widen
    relevant = {"mode": mode, "coordinate_transformation_mode": coord, "antialias": int(bool(antialias))}
    if mode == "nearest":
        relevant["nearest_mode"] = ctx.attr("nearest_mode", "round_prefer_floor")
    if mode == "cubic":
        relevant["cubic_coeff_a"] = float(ctx.attr("cubic_coeff_a", -0.75))
    if mode == "cubic" or antialias:
        relevant["exclude_outside"] = int(bool(ctx.attr("exclude_outside", 0)))
    if coord == "tf_crop_and_resize":
        relevant["extrapolation_value"] = float(ctx.attr("extrapolation_value", 0.0))
    return {k: v for k, v in relevant.items()
            if not (v == RESIZE_DEFAULTS[k] if not isinstance(v, float)
                    else _f32_bits(v) == _f32_bits(RESIZE_DEFAULTS[k]))}


@importer("Resize")
def import_resize(ctx, node):
    x = ctx.input(0)
    rank = x.type.rank
    options = _resize_options(ctx)
    coord = options.get("coordinate_transformation_mode", "half_pixel")
    ctx.require_constants({1: "roi", 2: "scales", 3: "sizes"} if coord == "tf_crop_and_resize"
                          else {2: "scales", 3: "sizes"})
    roi = _const_input(ctx, 1, "roi") if coord == "tf_crop_and_resize" else None
    scales = _const_input(ctx, 2, "scales")
    sizes = _resize_sizes(ctx, rank)
    if (scales is None) == (sizes is None):
        raise ctx.error("exactly one of scales (input 2) and sizes (input 3) must be given")
    axes_attr = ctx.attr("axes", None)
    axes = list(range(rank)) if axes_attr is None else _axes(ctx, axes_attr, rank)
    given = scales.reshape(-1).tolist() if scales is not None else sizes
    if len(given) != len(axes):
        which = "scales" if scales is not None else "sizes"
        raise ctx.error(f"{which} has {len(given)} values for {len(axes)} axes")
    n = len(axes)
    roi_list = [0.0] * n + [1.0] * n
    if roi is not None:
        roi_list = [float(np.float32(v)) for v in roi.reshape(-1)]
        if len(roi_list) != 2 * n:
            raise ctx.error(f"roi has {len(roi_list)} values, expected {2 * n} ([starts..., ends...])")
    # the IR lists axes in ascending order: permute the per-axis values along
    order = sorted(range(n), key=lambda i: axes[i])
    axes = [axes[i] for i in order]
    given = [given[i] for i in order]
    roi_list = [roi_list[i] for i in order] + [roi_list[n + i] for i in order]
    in_dims = [x.type.shape[a] for a in axes]
    policy = ctx.attr("keep_aspect_ratio_policy", "stretch")
    if scales is not None:
        if any(not (v > 0 and np.isfinite(v)) for v in given):
            raise ctx.error(f"scales must be positive, got {given}")
        sc, sz = [float(np.float32(v)) for v in given], None
        policy = "stretch"
    else:
        # a symbolic entry can only be the input's own dim on that axis (an unchanged extent)
        if any(isinstance(v, str) and v != d for v, d in zip(given, in_dims)) or (
                policy != "stretch" and any(isinstance(v, str) for v in given)):
            raise not_constant(ctx, 3, "sizes")
        if any(isinstance(v, int) and v < 0 for v in given):
            raise ctx.error(f"sizes must not be negative, got {given}")
        sc, sz = None, [v if isinstance(v, str) else int(v) for v in given]
    # an axis with scale exactly 1 is copied one to one (no coordinate transform): drop it
    keep = [i for i in range(n)
            if policy != "stretch" or not (
                (sc is not None and sc[i] == 1.0) or (sc is None and sz[i] == in_dims[i]))]
    axes, in_dims = [axes[i] for i in keep], [in_dims[i] for i in keep]
    sc = None if sc is None else [sc[i] for i in keep]
    sz = None if sz is None else [sz[i] for i in keep]
    roi_list = [roi_list[i] for i in keep] + [roi_list[n + i] for i in keep]
    if all(isinstance(d, int) for d in in_dims):
        # static: resolve both sizes and scales now; the policy is folded into them
        sz, sc = resolve_resize(in_dims, sc, sz, policy)
        policy = "stretch"
        if sz == in_dims:
            return [x]  # onnxruntime copies the input when no extent changes
        keep = [i for i in range(len(axes)) if sc[i] != 1.0]
        axes, sz, sc = [axes[i] for i in keep], [sz[i] for i in keep], [sc[i] for i in keep]
        roi_list = [roi_list[i] for i in keep] + [roi_list[len(in_dims) + i] for i in keep]
    attrs: dict = {"axes": axes, **options}
    if sc is not None:
        attrs["scales"] = sc
    if sz is not None:
        attrs["sizes"] = sz
    if policy != "stretch":
        attrs["keep_aspect_ratio_policy"] = policy
    if coord == "tf_crop_and_resize" and roi_list != [0.0] * len(axes) + [1.0] * len(axes):
        attrs["roi"] = roi_list
    return ctx.emit("resize", [x], attrs)


def _export_form(op):
    """Which ONNX inputs express this resize: ('scales', values) or ('sizes', values, policy)."""
    x = op.operands[0]
    axes = op.attr("axes")
    scales, sizes = op.attr("scales"), op.attr("sizes")
    policy = op.attr("keep_aspect_ratio_policy")
    if sizes is None:
        return "scales", list(scales), "stretch"
    if scales is None:
        return "sizes", list(sizes), policy
    in_dims = [x.type.shape[a] for a in axes]
    if not all(isinstance(d, int) for d in in_dims):
        return "scales", list(scales), "stretch"
    want = (list(sizes), [float(np.float32(s)) for s in scales])
    # sizes first: onnx's shape inference derives the output extent from scales in double
    # precision, which can disagree with onnxruntime's float32 product by one
    for p in ("stretch", "not_larger", "not_smaller"):
        if resolve_resize(in_dims, None, sizes, p) == want:
            return "sizes", list(sizes), p
    if resolve_resize(in_dims, scales, None) == want:
        return "scales", list(scales), "stretch"
    raise IRError(f"resize {op.label}: sizes {list(sizes)} with scales {list(scales)} on input extents "
                  f"{in_dims} cannot be written as an ONNX Resize (neither input reproduces both)")


@exporter("resize")
def export_resize(ctx, op):
    x = op.operands[0]
    axes = list(op.attr("axes"))
    if not axes:
        ctx.node("Identity", [x], op.results)
        return
    base = ctx.name(op.result)
    kind, values, policy = _export_form(op)
    others_static = all(isinstance(d, int) for i, d in enumerate(x.type.shape) if i not in axes)
    if kind == "sizes" and not others_static and op.attr("scales") is not None and policy == "stretch":
        in_dims = [x.type.shape[a] for a in axes]
        scales = [float(np.float32(v)) for v in op.attr("scales")]
        if resolve_resize(in_dims, scales, None) == (list(op.attr("sizes")), scales):
            kind, values = "scales", scales  # the full-rank form needs scales here
    coord = op.attr("coordinate_transformation_mode")
    roi_values = list(op.attr("roi") or [0.0] * len(axes) + [1.0] * len(axes))
    full = _full_rank_form(x.type, axes, kind, values, roi_values, policy)
    if full is not None:  # every axis listed: onnxruntime's layout optimizer needs this form
        (values, roi_values), axes = full, None
    roi = ""
    if coord == "tf_crop_and_resize":
        roi = ctx.initializer(np.asarray(roi_values, dtype=np.float32), f"{base}_roi")
    if kind == "scales":
        inputs = [x, roi, ctx.initializer(np.asarray(values, dtype=np.float32), f"{base}_scales")]
    else:
        inputs = [x, roi, "", ctx.initializer(np.asarray(values, dtype=np.int64), f"{base}_sizes")]
    attrs = {k: op.attr(k) for k in RESIZE_DEFAULTS}
    if op.attr("mode") != "cubic" and not op.attr("antialias"):
        attrs["exclude_outside"] = None  # no effect there, and onnxruntime refuses it
    ctx.node("Resize", inputs, op.results, axes=axes,
             keep_aspect_ratio_policy=None if policy == "stretch" else policy, **attrs)


def _full_rank_form(x_type, axes, kind, values, roi, policy):
    """(values, roi) over every axis of x (unlisted axes scale by 1 / keep their size, roi [0, 1]),
    or None where that is not the same resize: a keep_aspect_ratio_policy other than stretch
    works over the listed axes only, and sizes need the other axes' extents.

    onnxruntime's layout transformer (ORT_ENABLE_ALL, on the NHWC int8 kernels) mis-handles a
    Resize with an `axes` attribute and fewer scales than the rank ("Gather ... indices element
    out of data bounds" at load), so the exporter writes the full-rank form whenever it exists.
    """
    rank = x_type.rank
    if axes == list(range(rank)) or policy != "stretch":
        return None
    n = len(axes)
    starts, ends = [0.0] * rank, [1.0] * rank
    for a, lo, hi in zip(axes, roi[:n], roi[n:]):
        starts[a], ends[a] = lo, hi
    if kind == "scales":
        full = [1.0] * rank
    else:
        if not all(isinstance(d, int) for d in x_type.shape):
            return None
        full = list(x_type.shape)
    for a, v in zip(axes, values):
        full[a] = v
    return full, starts + ends


# -- opset upgrade of Upsample (7-9) and Resize-10 ------------------------------------------------

def _legacy_nearest_modes(model: onnx.ModelProto) -> dict[str, str]:
    """Output name -> nearest rounding, for every Upsample / Resize-10 node of an opset < 11 model.

    Those ops sample at x / scale (asymmetric) and round nearest pixels down when enlarging, up
    when shrinking (an axis's scale below 1). onnx's Resize 10 -> 11 adapter adds no attributes, so
    the node it makes would use Resize-11's defaults (half_pixel, round_prefer_floor) instead.
    """
    version = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
    if version >= 11:
        return {}
    from ..importer import tensor_array

    consts = {t.name: tensor_array(t, "initializer") for t in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
            consts[n.output[0]] = tensor_array(n.attribute[0].t, f"Constant node {n.name!r}: value")
    found = {}
    for n in model.graph.node:
        if n.op_type not in ("Upsample", "Resize") or n.domain not in ("", "ai.onnx"):
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        scales = attrs.get("scales")
        if scales is None and len(n.input) > 1:
            scales = consts.get(n.input[1])
        changed = [] if scales is None else [float(v) for v in np.asarray(scales).ravel() if float(v) != 1.0]
        shrinking = bool(changed) and all(v < 1.0 for v in changed)
        found[n.output[0]] = "ceil" if shrinking else "floor"
    return found


def upgrade_opset(model: onnx.ModelProto, target: int) -> onnx.ModelProto:
    """onnx's version converter, with Upsample / Resize-10 keeping their sampling positions.

    The converted Resize nodes get coordinate_transformation_mode=asymmetric and the nearest
    rounding of the old ops (floor when enlarging, ceil when every resized axis shrinks).
    """
    from onnx import version_converter

    legacy = _legacy_nearest_modes(model)
    model = version_converter.convert_version(model, target)
    for n in model.graph.node:
        if n.op_type != "Resize" or not n.output or n.output[0] not in legacy:
            continue
        kept = [a for a in n.attribute if a.name not in ("coordinate_transformation_mode", "nearest_mode")]
        del n.attribute[:]
        n.attribute.extend(kept)
        n.attribute.append(helper.make_attribute("coordinate_transformation_mode", "asymmetric"))
        n.attribute.append(helper.make_attribute("nearest_mode", legacy[n.output[0]]))
    return model


@importer("Upsample")
def import_upsample(ctx, node):
    # models of opsets 7-9 reach the importer with Upsample already rewritten as Resize
    raise ctx.error("Upsample was removed in opset 10; a model that declares opset 10 or newer must use Resize")
