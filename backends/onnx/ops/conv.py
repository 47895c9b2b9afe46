"""Converters of the conv family: Conv, ConvTranspose, MaxPool, AveragePool, the global pools, LRN.

Import resolves ONNX's defaults and shorthands into the IR's canonical attributes:
  - an attribute equal to its default is left out (strides and dilations of all ones, pads and
    output_padding of all zeros, group 1, ceil_mode 0, ...); one that is present is in full;
  - auto_pad VALID becomes pads of zero, SAME_UPPER / SAME_LOWER become the explicit pads the
    input's spatial sizes give; only when a size is unknown does the IR op keep auto_pad;
  - ConvTranspose's output_shape and auto_pad become pads (and output_padding when the requested
    output is longer than the natural one), as onnxruntime computes them;
  - MaxPool's Indices output (and storage_order, which only affects it) is not supported: a
    model that reads it fails to import.
Export writes the opset-21 form with every attribute explicit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from irc.ir.ops._conv_shapes import AUTO_PADS, dilated, resolve_pads, split_total

from ..registry import exporter, importer


def _rank(ctx, x) -> int:
    n = x.type.rank - 2
    if n < 1:
        raise ctx.error(f"the input must be N x C x spatial... (rank 3 or more), got {x.type}")
    return n


def _ints(ctx, name: str, n: int, fill: int, length: int | None = None) -> list[int]:
    length = n if length is None else length
    v = [int(a) for a in ctx.attr(name, ())] or [fill] * length
    if len(v) != length:
        raise ctx.error(f"{name} has {len(v)} entries, expected {length} for {n} spatial axes")
    return v


def _kernel(ctx, w, n: int) -> list:
    """Kernel sizes: the kernel_shape attribute, checked against the weight's spatial dims."""
    from_w = list(w.type.shape[2:])
    given = ctx.attr("kernel_shape", None)
    if given is None:
        return from_w
    given = [int(k) for k in given]
    if len(given) != n or any(isinstance(d, int) and d != k for d, k in zip(from_w, given)):
        raise ctx.error(f"kernel_shape {given} does not match the weight {w.type}")
    return given


def _auto_pad(ctx) -> str:
    auto_pad = ctx.attr("auto_pad", "NOTSET") or "NOTSET"
    if auto_pad not in AUTO_PADS:
        raise ctx.error(f"auto_pad must be one of {', '.join(AUTO_PADS)}, got {auto_pad!r}")
    return auto_pad


def _padding(ctx, sizes, kernel, strides, dilations) -> dict:
    """{'pads': [...]} with explicit pads, or {'auto_pad': SAME_*} when a size is unknown."""
    n = len(sizes)
    auto_pad = _auto_pad(ctx)
    pads = _ints(ctx, "pads", n, 0, 2 * n) if auto_pad == "NOTSET" else []
    resolved = resolve_pads(auto_pad, pads, sizes, kernel, strides, dilations)
    return {"auto_pad": auto_pad} if resolved is None else {"pads": resolved}


# defaults of the IR attributes: a list default stands for "this value on every axis"
_FILL = {"strides": 1, "dilations": 1, "pads": 0, "output_padding": 0}
_SCALAR_DEFAULTS = {"group": 1, "ceil_mode": 0, "count_include_pad": 0, "auto_pad": "NOTSET"}


def _canonical(attrs: dict) -> dict:
    """Drop attributes equal to their defaults, so each op has one printed form."""
    out = {}
    for k, v in attrs.items():
        if k in _FILL and all(x == _FILL[k] for x in v):
            continue
        if k in _SCALAR_DEFAULTS and v == _SCALAR_DEFAULTS[k]:
            continue
        out[k] = v
    return out


def _operands(ctx) -> list:
    return [v for v in (ctx.input(0), ctx.input(1), ctx.input(2)) if v is not None]


@importer("Conv")
def import_conv(ctx, node):
    x, w = ctx.input(0), ctx.input(1)
    n = _rank(ctx, x)
    kernel = _kernel(ctx, w, n)
    strides, dilations = _ints(ctx, "strides", n, 1), _ints(ctx, "dilations", n, 1)
    attrs = {"strides": strides, "dilations": dilations, "group": int(ctx.attr("group", 1))}
    attrs.update(_padding(ctx, x.type.shape[2:], kernel, strides, dilations))
    return ctx.emit("conv", _operands(ctx), _canonical(attrs))


def _transpose_pads(ctx, sizes, kernel, strides, dilations, out_pad) -> tuple[list[int], list[int]]:
    """Explicit (pads, output_padding) of a ConvTranspose from pads, auto_pad or output_shape."""
    n = len(sizes)
    auto_pad = _auto_pad(ctx)
    output_shape = ctx.attr("output_shape", None)
    if output_shape is None and auto_pad in ("NOTSET", "VALID"):
        return (_ints(ctx, "pads", n, 0, 2 * n) if auto_pad == "NOTSET" else [0] * (2 * n)), out_pad
    if output_shape is not None:
        output_shape = [int(v) for v in output_shape][-n:]  # old models give N and C too
        if len(output_shape) != n:
            raise ctx.error(f"output_shape {list(ctx.attr('output_shape'))} needs {n} spatial sizes")
    begins, ends, out_pad = [], [], list(out_pad)
    for i in range(n):
        size, k = sizes[i], kernel[i]
        if not isinstance(k, int) or (output_shape is not None and not isinstance(size, int)):
            raise ctx.unsupported("output_shape / auto_pad need static spatial sizes of the input and the weight, "
                            f"got input dims {list(sizes)} and kernel {list(kernel)}")
        natural = strides[i] * (size - 1) + out_pad[i] + dilated(k, dilations[i]) if isinstance(size, int) else None
        if output_shape is not None:
            total = natural - output_shape[i]
        else:  # SAME_*: output = input * stride, which does not depend on the input size
            total = out_pad[i] + dilated(k, dilations[i]) - strides[i]
        if total < 0 and output_shape is not None:
            # a longer output than the kernel reaches: the tail is bias only (implicit output padding)
            out_pad[i] += -total
            if out_pad[i] >= strides[i]:
                raise ctx.error(f"output_shape {output_shape} is inconsistent with the input {list(sizes)}, "
                                f"kernel {list(kernel)} and strides {strides} along spatial axis {i}")
            total = 0
        total = max(0, total)  # onnxruntime keeps the natural size when SAME asks for more
        b, e = split_total(total, upper=auto_pad == "SAME_UPPER")
        begins.append(b)
        ends.append(e)
    return begins + ends, out_pad


@importer("ConvTranspose")
def import_conv_transpose(ctx, node):
    x, w = ctx.input(0), ctx.input(1)
    n = _rank(ctx, x)
    kernel = _kernel(ctx, w, n)
    strides, dilations = _ints(ctx, "strides", n, 1), _ints(ctx, "dilations", n, 1)
    out_pad = _ints(ctx, "output_padding", n, 0)
    pads, out_pad = _transpose_pads(ctx, x.type.shape[2:], kernel, strides, dilations, out_pad)
    attrs = {"strides": strides, "dilations": dilations, "group": int(ctx.attr("group", 1)),
             "pads": pads, "output_padding": out_pad}
    return ctx.emit("conv_transpose", _operands(ctx), _canonical(attrs))


def _pool_attrs(ctx, x) -> dict:
    n = _rank(ctx, x)
    kernel = [int(k) for k in ctx.attr("kernel_shape")]
    if len(kernel) != n:
        raise ctx.error(f"kernel_shape {kernel} needs {n} entries for the input {x.type}")
    strides, dilations = _ints(ctx, "strides", n, 1), _ints(ctx, "dilations", n, 1)
    attrs = {"kernel_shape": kernel, "strides": strides, "dilations": dilations,
             "ceil_mode": int(ctx.attr("ceil_mode", 0))}
    padding = _padding(ctx, x.type.shape[2:], kernel, strides, dilations)
    if _auto_pad(ctx) in ("SAME_UPPER", "SAME_LOWER") and "pads" in padding:
        attrs["ceil_mode"] = 0  # SAME pads give ceil(in / stride) outputs in either mode
    attrs.update(padding)
    return _canonical(attrs)


@importer("MaxPool")
def import_max_pool(ctx, node):
    # only the values: an Indices output is an import error when something reads it
    return ctx.emit("max_pool", [ctx.input(0)], _pool_attrs(ctx, ctx.input(0)))


@importer("AveragePool")
def import_average_pool(ctx, node):
    attrs = _pool_attrs(ctx, ctx.input(0))
    attrs["count_include_pad"] = int(ctx.attr("count_include_pad", 0))
    return ctx.emit("average_pool", [ctx.input(0)], _canonical(attrs))


@importer("GlobalAveragePool")
def import_global_average_pool(ctx, node):
    return ctx.emit("global_average_pool", [ctx.input(0)])


@importer("GlobalMaxPool")
def import_global_max_pool(ctx, node):
    return ctx.emit("global_max_pool", [ctx.input(0)])


@importer("LRN")
def import_lrn(ctx, node):
    attrs = {"size": int(ctx.attr("size"))}
    for key, default in (("alpha", 1e-4), ("beta", 0.75), ("bias", 1.0)):
        value = ctx.attr(key, default)
        if np.float32(value) != np.float32(default):
            attrs[key] = value
    return ctx.emit("lrn", [ctx.input(0)], attrs)


# -- export ---------------------------------------------------------------------------------------

def _axis(op, key: str, fill: int, length: int) -> list[int]:
    return list(op.attr(key)) or [fill] * length


def _window_attrs(op) -> dict:
    n = op.operands[0].type.rank - 2
    attrs: dict[str, Any] = {"strides": _axis(op, "strides", 1, n), "dilations": _axis(op, "dilations", 1, n)}
    auto_pad = op.attr("auto_pad") if "auto_pad" in op.defn.attrs else "NOTSET"
    if auto_pad != "NOTSET":
        attrs["auto_pad"] = auto_pad
    else:
        attrs["pads"] = _axis(op, "pads", 0, 2 * n)
    return attrs


@exporter("conv")
def export_conv(ctx, op):
    ctx.node("Conv", op.operands, op.results, group=op.attr("group"), **_window_attrs(op))


@exporter("conv_transpose")
def export_conv_transpose(ctx, op):
    n = op.operands[0].type.rank - 2
    ctx.node("ConvTranspose", op.operands, op.results, group=op.attr("group"),
             output_padding=_axis(op, "output_padding", 0, n), **_window_attrs(op))


@exporter("max_pool")
def export_max_pool(ctx, op):
    ctx.node("MaxPool", op.operands, op.results, kernel_shape=list(op.attr("kernel_shape")),
             ceil_mode=op.attr("ceil_mode"), **_window_attrs(op))


@exporter("average_pool")
def export_average_pool(ctx, op):
    ctx.node("AveragePool", op.operands, op.results, kernel_shape=list(op.attr("kernel_shape")),
             ceil_mode=op.attr("ceil_mode"), count_include_pad=op.attr("count_include_pad"),
             **_window_attrs(op))


@exporter("global_average_pool")
def export_global_average_pool(ctx, op):
    ctx.node("GlobalAveragePool", op.operands, op.results)


@exporter("global_max_pool")
def export_global_max_pool(ctx, op):
    ctx.node("GlobalMaxPool", op.operands, op.results)


@exporter("lrn")
def export_lrn(ctx, op):
    ctx.node("LRN", op.operands, op.results, size=op.attr("size"), alpha=op.attr("alpha"),
             beta=op.attr("beta"), bias=op.attr("bias"))
