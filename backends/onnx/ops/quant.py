"""Converters of ONNX's quantization ops into irc's quantized types (specs/quantization.md §6).

Import only: irc writes quantized graphs through the onnx-qdq backend (backends/onnx/qdq.py).

    QuantizeLinear(x, s, z)            ->  %q = quantize(%x) : tensor<...x!q.u8<s:z>>
    DequantizeLinear(q, s, z)          ->  %x = dequantize(%q) : tensor<...xf32>
    DequantizeLinear(const ints, s, z) ->  %c = const @ints : tensor<...x!q.i8<axis=0, [...]>>
                                           %x = dequantize(%c)

Scale and zero point must be constants: a scalar (per tensor) or a 1-D tensor along `axis`
(per axis; a one-element vector counts as per tensor), float32 scales that are positive and
finite, and a storage type irc holds (u8, i8, i16, u16; i32 for DequantizeLinear of biases).
A DequantizeLinear reads a quantized value of exactly these parameters (the result of a
QuantizeLinear or of another int8 op), a constant, or a graph input of the storage type whose
every reader is a DequantizeLinear with these parameters (the input is then typed quantized).

QOperator forms become irc's int8 ops with quantized operand and result types, as the quantize
pass writes them (each operand given by data, scale, zero point must be a quantized value of
those parameters, or a constant):

    QLinearConv                 conv(x_q, w_q, b_q)        bias i32 at f32(s_x * s_w[c]), zero point 0
    QLinearMatMul               matmul(a_q, b_q)
    com.microsoft.QGemm         gemm(a_q, b_q, c_q)        with y_scale (a quantized result) only
    com.microsoft.QLinearAdd    add(a_q, b_q)
    com.microsoft.QLinearConcat concat(x_q, ...)
    com.microsoft.QLinearAveragePool / QLinearGlobalAveragePool   (channels_last=0)

MatMulInteger and ConvInteger (int32 accumulators without scales) have no int8 form in irc
that is bit-exact with onnxruntime, nor do blocked or 4-bit / float8 quantization: such nodes
stay generic ops (NotExpressible). The com.microsoft QLinear ops irc has no int8 op for
(QLinearMul, QLinearSigmoid, QLinearLeakyRelu, QLinearSoftmax, QLinearReduceMean, QLinearWhere)
are generic ops whose result is typed quantized from their output scale and zero point, so the
int8 ops that read them stay int8. So does every node that reads the integers of a quantized
value other than the ops above and the data-movement ops (`reads_quantized_integers`): a
generic op sees a quantized operand as its stored integers, which is what the ONNX node meant.
"""

from __future__ import annotations

import weakref

import numpy as np
import onnx

from irc.ir.graph import INLINE_LIMIT
from irc.ir.types import NUMPY_TO_ELEMENT, QuantType, TensorType
from irc.ir.value import Value

from ..registry import IMPORTERS, importer

MS = "com.microsoft"

# storages a QuantizeLinear may produce; DequantizeLinear also reads i32 (biases)
Q_STORAGES = ("u8", "i8", "i16", "u16")
DQ_STORAGES = Q_STORAGES + ("i32",)

MOVEMENT_NODES = frozenset({"Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "MaxPool",
                            "GlobalMaxPool", "Slice", "Split", "Gather", "Expand", "Tile"})
"""ONNX ops that only move integers: their IR op on a quantized operand keeps its type, which
is what the ONNX node does to the stored integers."""

TYPED_GENERIC = {f"{MS}:QLinearMul": (6, 7), f"{MS}:QLinearSigmoid": (3, 4), f"{MS}:QLinearLeakyRelu": (3, 4),
                 f"{MS}:QLinearSoftmax": (3, 4), f"{MS}:QLinearReduceMean": (3, 4), f"{MS}:QLinearWhere": (7, 8)}
"""com.microsoft QLinear ops irc has no int8 op for, with the inputs that hold their result's
scale and zero point: they stay generic ops, their result typed quantized from those."""

QUANT_NODES = frozenset({"DequantizeLinear", "QLinearConv", "QLinearMatMul", f"{MS}:QGemm", f"{MS}:QLinearAdd",
                         f"{MS}:QLinearConcat", f"{MS}:QLinearAveragePool", f"{MS}:QLinearGlobalAveragePool",
                         *TYPED_GENERIC})


def reads_quantized_integers(node: onnx.NodeProto, values: dict[str, Value]) -> str | None:
    """Why `node` cannot go through its converter: it reads a quantized value as integers, and
    its IR op would compute on the real values instead. None when the converter is right."""
    quantized = [i for i in node.input if i in values and values[i].type.is_quantized]
    if not quantized:
        return None
    default = node.domain in ("", "ai.onnx")
    key = node.op_type if default else f"{node.domain}:{node.op_type}"
    if key in QUANT_NODES:
        return None
    if default and node.op_type in MOVEMENT_NODES:
        return None
    if default and node.op_type == "Concat" and len({values[i].type.element for i in node.input if i in values}) == 1:
        return None
    return (f"input {quantized[0]!r} holds the integers of a quantized value "
            f"({values[quantized[0]].type.element}), which {node.op_type} computes on as integers")


# -- parameters -----------------------------------------------------------------------------------

def storage_of(ctx, dtype: np.dtype | None, storages: tuple[str, ...], what: str) -> str:
    element = NUMPY_TO_ELEMENT.get(np.dtype(dtype)) if dtype is not None else None
    if element is None:
        # no generic op can hold such a tensor either
        raise ctx.error(f"{what} is of type {dtype if dtype is not None else 'unknown'}, which irc's IR has no "
                        "element type for (4-bit, 2-bit and float8 tensors are not supported)")
    if element not in storages:
        raise ctx.unsupported(f"{what} is of type {dtype}; irc's quantized types store {', '.join(storages)}")
    return element


def quant_params(ctx, scale_i: int, zp_i: int, storage: str, shape, axis_attr: int | None,
                 what: str) -> QuantType:
    """The QuantType of the (scale, zero point) inputs `scale_i`, `zp_i` for a tensor of `shape`.

    `storage` is the element type the zero point must have (or implies, when absent); a 1-D
    scale is per axis along `axis_attr` (ONNX's default is 1).
    """
    scale = ctx.const(scale_i)
    if scale is None:
        raise ctx.not_constant(scale_i, f"{what} scale", "irc's quantized types need constant parameters")
    zp = ctx.const(zp_i) if ctx.has_input(zp_i) else None
    if ctx.has_input(zp_i) and zp is None:
        raise ctx.not_constant(zp_i, f"{what} zero point", "irc's quantized types need constant parameters")
    if scale.dtype != np.float32:
        raise ctx.unsupported(f"the {what} scale is {scale.dtype}; irc's quantized types have float32 scales")
    if zp is not None:
        if NUMPY_TO_ELEMENT.get(zp.dtype) != storage:
            raise ctx.unsupported(f"the {what} zero point is {zp.dtype} but the {what} is {storage}")
        if zp.size != scale.size:
            raise ctx.error(f"the {what} zero point has shape {list(zp.shape)}, its scale {list(scale.shape)}")
    if scale.ndim > 1 or ctx.attr("block_size", 0):
        raise ctx.unsupported(f"blocked quantization (a {scale.ndim}-D {what} scale) has no quantized type in irc")
    scales = scale.astype(np.float32).ravel()
    zps = (zp.astype(np.int64).ravel() if zp is not None else np.zeros(scales.shape, np.int64))
    if not np.all(np.isfinite(scales) & (scales > 0)):
        raise ctx.unsupported(f"the {what} scale {_preview(scales)} is not positive and finite everywhere")
    if scale.ndim == 0 or scales.size == 1:
        return QuantType.per_tensor(storage, float(scales[0]), int(zps[0]))
    rank = len(shape)
    axis = 1 if axis_attr is None else int(axis_attr)
    if not -rank <= axis < rank:
        raise ctx.error(f"axis {axis} is outside the rank {rank} of the {what}")
    axis %= rank
    dim = shape[axis]
    if isinstance(dim, int) and dim != scales.size:
        raise ctx.error(f"the {what} has {dim} entries along axis {axis} but {scales.size} scales")
    return QuantType.per_axis(storage, scales, zps, axis)


def _preview(a: np.ndarray, n: int = 4) -> str:
    items = ", ".join(f"{v:g}" for v in a.ravel()[:n])
    return f"[{items}{', ...' if a.size > n else ''}]"


# -- quantized operands ---------------------------------------------------------------------------

_consts: "weakref.WeakKeyDictionary[object, dict]" = weakref.WeakKeyDictionary()


def quantized_const(ctx, i: int, array: np.ndarray, qt: QuantType) -> Value:
    """Input `i` (a constant of stored integers) as a const of quantized type, one per
    initializer and type."""
    name = ctx.node.input[i]
    cache = _consts.setdefault(ctx.importer, {})
    v = cache.get((name, qt))
    if v is not None and v.producer is not None and v.producer.graph is ctx.graph:
        return v
    t = TensorType(tuple(int(d) for d in array.shape), qt)
    v = ctx.graph.const(np.asarray(array, dtype=qt.storage_dtype), name, type=t, inline=array.size <= INLINE_LIMIT)
    cache[(name, qt)] = v
    return v


def _retypable_input(ctx, x: Value, qt: QuantType) -> bool:
    """Whether graph input `x` (plain integers) may be typed `qt`: nothing read it yet, it is no
    graph output, and every node reading it is a DequantizeLinear with these parameters."""
    imp = ctx.importer
    if imp.parent is not None or x.producer is not None or x.uses or x not in ctx.graph.inputs:
        return False
    name = ctx.node.input[0]
    if any(o.name == name for o in imp.proto.output):
        return False
    mine = [imp.constants.get(n) for n in ctx.node.input[1:3]]
    for node in imp.proto.node:
        if name not in node.input:
            continue
        if node.op_type != "DequantizeLinear" or node.domain not in ("", "ai.onnx") or list(node.input).index(name) != 0:
            return False
        theirs = [imp.constants.get(n) for n in node.input[1:3]]
        if len(theirs) != len(mine) or any(a is None or b is None or a.dtype != b.dtype or not np.array_equal(a, b)
                                           for a, b in zip(mine, theirs)):
            return False
        axes = {a.name: a.i for a in node.attribute if a.name == "axis"}
        if axes.get("axis", 1) != {a.name: a.i for a in ctx.node.attribute if a.name == "axis"}.get("axis", 1):
            return False
    return True


def quantized_operand(ctx, i: int, scale_i: int, zp_i: int, what: str, axis: int | None = None,
                      storages: tuple[str, ...] = ("u8", "i8")) -> Value:
    """Input `i` of a QOperator node, whose parameters are inputs `scale_i`, `zp_i`, as a
    quantized value: a constant of stored integers becomes a quantized const; a value must
    already carry exactly these parameters."""
    data = ctx.const(i)
    if data is not None:
        qt = quant_params(ctx, scale_i, zp_i, storage_of(ctx, data.dtype, storages, what), data.shape, axis, what)
        return quantized_const(ctx, i, data, qt)
    x = ctx.input(i)
    qt = quant_params(ctx, scale_i, zp_i, storage_of(ctx, x.type.dtype, storages, what), x.type.shape, axis, what)
    if x.type.element != qt:
        held = "plain integers" if not x.type.is_quantized else f"quantized as {x.type.element}"
        raise ctx.unsupported(f"{what} ({ctx.node.input[i]!r}) holds {held}, not the {qt} its scale and zero point give")
    return x


# -- QuantizeLinear / DequantizeLinear ------------------------------------------------------------

@importer("QuantizeLinear")
def import_quantize(ctx, node):
    x = ctx.input(0)
    if x.type.element != "f32":
        raise ctx.unsupported(f"it quantizes {x.type.element} data; irc's quantize takes f32")
    zp = ctx.const(2) if ctx.has_input(2) else None
    out = int(ctx.attr("output_dtype", 0))
    if zp is not None:
        dtype = zp.dtype
    elif out:
        try:
            dtype = onnx.helper.tensor_dtype_to_np_dtype(out)
        except (KeyError, ValueError):
            dtype = None
    else:
        dtype = np.dtype(np.uint8)
    storage = storage_of(ctx, dtype, Q_STORAGES, "the quantized result")
    qt = quant_params(ctx, 1, 2, storage, x.type.shape, ctx.attr("axis", 1), "result")
    return ctx.emit("quantize", [x], types=[x.type.with_element(qt)])


@importer("DequantizeLinear")
def import_dequantize(ctx, node):
    out = int(ctx.attr("output_dtype", 0))
    if out not in (0, onnx.TensorProto.FLOAT):
        raise ctx.unsupported("it dequantizes to a type other than f32")
    data = ctx.const(0)
    if data is not None:
        qt = quant_params(ctx, 1, 2, storage_of(ctx, data.dtype, DQ_STORAGES, "the data"), data.shape,
                          ctx.attr("axis", 1), "data")
        return ctx.emit("dequantize", [quantized_const(ctx, 0, data, qt)])
    x = ctx.input(0)
    qt = quant_params(ctx, 1, 2, storage_of(ctx, x.type.dtype, DQ_STORAGES, "the data"), x.type.shape,
                      ctx.attr("axis", 1), "data")
    if not x.type.is_quantized and x.type.element == qt.storage and _retypable_input(ctx, x, qt):
        x.type = x.type.with_element(qt)
    if x.type.element != qt:
        held = "plain integers" if not x.type.is_quantized else f"quantized as {x.type.element}"
        raise ctx.unsupported(f"its data {node.input[0]!r} holds {held}, not the {qt} its scale and zero point give")
    return ctx.emit("dequantize", [x])


# -- QOperator forms ------------------------------------------------------------------------------

class OperandView:
    """What a float op's converter sees when it converts a QOperator node: the node's
    attributes, and the given quantized values as inputs 0, 1, ... (constants hidden, so the
    converter cannot fold stored integers as if they were real values)."""

    def __init__(self, ctx, operands: list[Value | None]) -> None:
        self._ctx = ctx
        self._operands = operands

    def __getattr__(self, name):
        return getattr(self._ctx, name)

    @property
    def num_inputs(self) -> int:
        return len(self._operands)

    def has_input(self, i: int) -> bool:
        return i < len(self._operands) and self._operands[i] is not None

    def input(self, i: int) -> Value | None:
        return self._operands[i] if i < len(self._operands) else None

    def inputs(self) -> list[Value]:
        return [v for v in self._operands if v is not None]

    def const(self, i: int):
        return None


def as_int8_op(ctx, float_importer: str, operands: list[Value | None], result: QuantType) -> list[Value]:
    """Convert the node with the converter of ONNX op `float_importer` on quantized `operands`
    and give its result the quantized type `result`."""
    results = IMPORTERS[float_importer](OperandView(ctx, operands), ctx.node)
    for r in results:
        r.type = r.type.with_element(result)
    return results


def result_params(ctx, scale_i: int, zp_i: int, like: Value) -> QuantType:
    """The per-tensor result type; the result stores what its first operand stores."""
    zp = ctx.const(zp_i) if ctx.has_input(zp_i) else None
    dtype = zp.dtype if zp is not None else like.type.dtype
    return quant_params(ctx, scale_i, zp_i, storage_of(ctx, dtype, ("u8", "i8"), "the result"), (), None, "result")


def _per_tensor(ctx, v: Value, what: str) -> Value:
    if v.type.quant.is_per_axis:
        raise ctx.unsupported(f"{what} is quantized per axis; irc's int8 {ctx.node.op_type} takes it per tensor")
    return v


def int32_bias(ctx, i: int, x: Value, w: Value, channels: int) -> Value:
    """A QLinearConv / QGemm bias: int32 at scale f32(s_x * s_w[c]) per output channel, zero point 0."""
    data = ctx.const(i)
    if data is None:
        raise ctx.not_constant(i, "bias")
    if data.dtype != np.int32 or data.ndim != 1 or data.shape[0] != channels:
        raise ctx.error(f"the bias must be {channels} int32 values, got {data.dtype} of shape {list(data.shape)}")
    w_scales = w.type.quant.scale_array()
    scales = np.float32(x.type.quant.scale) * np.broadcast_to(w_scales, (channels,)).astype(np.float32)
    qt = QuantType.per_axis("i32", scales, np.zeros(channels, np.int64), 0)
    return quantized_const(ctx, i, data, qt)


@importer("QLinearConv")
def import_qlinear_conv(ctx, node):
    if ctx.const(3) is None:
        raise ctx.not_constant(3, "weight w")
    x = _per_tensor(ctx, quantized_operand(ctx, 0, 1, 2, "input x"), "input x")
    w = quantized_operand(ctx, 3, 4, 5, "weight w", axis=0)
    y = result_params(ctx, 6, 7, x)
    b = int32_bias(ctx, 8, x, w, w.type.shape[0]) if ctx.has_input(8) else None
    return as_int8_op(ctx, "Conv", [x, w, b], y)


@importer("QLinearMatMul")
def import_qlinear_matmul(ctx, node):
    a = _per_tensor(ctx, quantized_operand(ctx, 0, 1, 2, "input a"), "input a")
    b_shape = ctx.const(3).shape if ctx.const(3) is not None else ctx.input(3).type.shape
    b = quantized_operand(ctx, 3, 4, 5, "input b", axis=len(b_shape) - 1)
    if b.type.quant.is_per_axis and ctx.const(3) is None:
        raise ctx.unsupported("input b is quantized per column but computed at run time")
    return as_int8_op(ctx, "MatMul", [a, b], result_params(ctx, 6, 7, a))


@importer(f"{MS}:QGemm")
def import_qgemm(ctx, node):
    if not ctx.has_input(7):
        raise ctx.unsupported("it has a float result (no y_scale); irc's int8 gemm has a quantized one")
    if ctx.attr("alpha", 1.0) != 1.0 or ctx.attr("transA", 0):
        raise ctx.unsupported("irc's int8 gemm takes alpha=1 and an untransposed a")
    if ctx.const(3) is None:
        raise ctx.not_constant(3, "input b")
    a = _per_tensor(ctx, quantized_operand(ctx, 0, 1, 2, "input a"), "input a")
    trans_b = int(ctx.attr("transB", 0))
    b = quantized_operand(ctx, 3, 4, 5, "input b", axis=0 if trans_b else 1)
    n = b.type.shape[0 if trans_b else 1]
    c = int32_bias(ctx, 6, a, b, n) if ctx.has_input(6) else None
    return as_int8_op(ctx, "Gemm", [a, b, c], result_params(ctx, 7, 8, a))


@importer(f"{MS}:QLinearAdd")
def import_qlinear_add(ctx, node):
    a = _per_tensor(ctx, quantized_operand(ctx, 0, 1, 2, "input A"), "input A")
    b = _per_tensor(ctx, quantized_operand(ctx, 3, 4, 5, "input B"), "input B")
    return as_int8_op(ctx, "Add", [a, b], result_params(ctx, 6, 7, a))


@importer(f"{MS}:QLinearConcat")
def import_qlinear_concat(ctx, node):
    n = ctx.num_inputs - 2
    if n < 1 or n % 3:
        raise ctx.error(f"QLinearConcat takes Y_scale, Y_zero_point and triples (X, scale, zero point), "
                        f"got {ctx.num_inputs} inputs")
    xs = [_per_tensor(ctx, quantized_operand(ctx, 2 + 3 * k, 3 + 3 * k, 4 + 3 * k, f"input {k}"), f"input {k}")
          for k in range(n // 3)]
    return as_int8_op(ctx, "Concat", xs, result_params(ctx, 0, 1, xs[0]))


def _pool(ctx, float_op: str) -> list[Value]:
    if ctx.attr("channels_last", 0):
        raise ctx.unsupported("channels_last=1 (NHWC) has no IR form")
    x = _per_tensor(ctx, quantized_operand(ctx, 0, 1, 2, "input X"), "input X")
    return as_int8_op(ctx, float_op, [x], result_params(ctx, 3, 4, x))


@importer(f"{MS}:QLinearAveragePool")
def import_qlinear_average_pool(ctx, node):
    return _pool(ctx, "AveragePool")


@importer(f"{MS}:QLinearGlobalAveragePool")
def import_qlinear_global_average_pool(ctx, node):
    return _pool(ctx, "GlobalAveragePool")


# -- QLinear ops without an int8 op in irc ----------------------------------------------------------

def _register_typed_generic(key: str, params: tuple[int, int]) -> None:
    @importer(key)
    def import_typed_generic(ctx, node):
        """The node as a generic op (it reads its operands' stored integers); its result is
        typed quantized from the node's output scale and zero point when they are constants."""
        from ..generic_import import import_generic

        qt = None
        scale_i, zp_i = params
        if ctx.const(scale_i) is not None and (not ctx.has_input(zp_i) or ctx.const(zp_i) is not None):
            zp = ctx.const(zp_i) if ctx.has_input(zp_i) else None
            dtype = zp.dtype if zp is not None else np.dtype(np.uint8)
            qt = quant_params(ctx, scale_i, zp_i, storage_of(ctx, dtype, ("u8", "i8"), "the result"), (), None, "result")
        import_generic(ctx.importer, node, "irc has no int8 op that computes it as onnxruntime does")
        op = ctx.graph.ops[-1]
        if qt is not None and len(op.results) == 1 and op.result.type.element == qt.storage:
            op.result.type = op.result.type.with_element(qt)
        return list(op.results)


for _key, _params in TYPED_GENERIC.items():
    _register_typed_generic(_key, _params)
