"""Converters of the unary elementwise ops (activations and math functions).

Most are one ONNX node <-> one IR op with the same attributes and defaults (the table below);
an attribute at its default is left out at import (one canonical form) and written explicitly
at export. Clip is the exception: its `min`/`max` inputs must be constants and
become float attributes; export writes them back as scalar initializers of x's type.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..registry import exporter, importer

# ONNX op type -> (IR op, {attribute: ONNX default})
UNARY: dict[str, tuple[str, dict[str, Any]]] = {
    "Relu": ("relu", {}),
    "LeakyRelu": ("leaky_relu", {"alpha": 0.01}),
    "Sigmoid": ("sigmoid", {}),
    "HardSigmoid": ("hard_sigmoid", {"alpha": 0.2, "beta": 0.5}),
    "HardSwish": ("hard_swish", {}),
    "Tanh": ("tanh", {}),
    "Gelu": ("gelu", {"approximate": "none"}),
    "Erf": ("erf", {}),
    "Exp": ("exp", {}),
    "Log": ("log", {}),
    "Sqrt": ("sqrt", {}),
    "Reciprocal": ("reciprocal", {}),
    "Softplus": ("softplus", {}),
    "Elu": ("elu", {"alpha": 1.0}),
    "Neg": ("neg", {}),
    "Abs": ("abs", {}),
}


def _same(value, default) -> bool:
    if isinstance(default, float):
        return np.float32(value).tobytes() == np.float32(default).tobytes()
    return value == default


def _register(onnx_type: str, ir_name: str, defaults: dict) -> None:
    @importer(onnx_type)
    def import_unary(ctx, node):
        # canonical form: an attribute at its default is left out
        attrs = {k: ctx.attr(k, d) for k, d in defaults.items()}
        attrs = {k: v for k, v in attrs.items() if not _same(v, defaults[k])}
        return ctx.emit(ir_name, [ctx.input(0)], attrs)

    @exporter(ir_name)
    def export_unary(ctx, op):
        ctx.node(onnx_type, op.operands, op.results, **{k: op.attr(k) for k in defaults})


for _t, (_name, _defaults) in UNARY.items():
    _register(_t, _name, _defaults)


@importer("PRelu")
def import_prelu(ctx, node):
    return ctx.emit("prelu", [ctx.input(0), ctx.input(1)])


@exporter("prelu")
def export_prelu(ctx, op):
    ctx.node("PRelu", op.operands, op.results)


def _clip_bound(ctx, i: int, what: str) -> float | None:
    if not ctx.has_input(i):
        return None
    a = ctx.const(i)
    if a is None:
        raise ctx.not_constant(i, what)
    if a.size != 1:
        raise ctx.error(f"the {what} bound must be a scalar, got shape {list(a.shape)}")
    return float(a.reshape(()))


@importer("Clip")
def import_clip(ctx, node):
    ctx.require_constants({1: "min", 2: "max"})
    attrs = {}
    for i, key in ((1, "min"), (2, "max")):
        b = _clip_bound(ctx, i, key)
        if b is not None:
            attrs[key] = b
    return ctx.emit("clip", [ctx.input(0)], attrs)


def _bound_array(bound: float, dtype: np.dtype, lower: bool) -> np.ndarray:
    """A float bound as a scalar of x's dtype that clips the same (integers: ceil/floor, saturated)."""
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        b = np.ceil(bound) if lower else np.floor(bound)
        return np.array(min(max(b, info.min), info.max), dtype=dtype)
    return np.array(bound, dtype=dtype)


@exporter("clip")
def export_clip(ctx, op):
    x = op.operands[0]
    inputs = [x]
    for key in ("min", "max"):
        b = op.attr(key)
        if b is None or (x.type.dtype.kind in "iu" and np.isnan(b)):
            inputs.append("")
        else:
            arr = _bound_array(b, x.type.dtype, key == "min")
            inputs.append(ctx.initializer(arr, f"{ctx.name(op.result)}_{key}"))
    while inputs[-1] == "":
        inputs.pop()
    ctx.node("Clip", inputs, op.results)
