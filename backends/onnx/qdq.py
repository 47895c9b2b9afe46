"""Quantized IR -> ONNX QDQ model (target onnx-qdq), the form onnxruntime fuses into int8 kernels.

    export_qdq(graph, warn=None) -> onnx.ModelProto      (opset 21, passes onnx.checker)

How each part of a quantized graph is written (specs/quantization.md §5):
  - a quantized value `v` is one tensor of its storage type (u8 / i8 / i32) named after `v`;
    scales are float32 and zero points tensors of the storage type (0-D per tensor, 1-D with an
    `axis` attribute per axis); values with equal quantized types share these initializers;
  - quantized constants (weights, biases) are initializers of their stored integers;
  - `quantize` is a QuantizeLinear; `dequantize` writes nothing where it stands: each reader of
    its float result gets its own DequantizeLinear (onnxruntime's QDQ groups want a DQ per node);
  - every other op is written by its fp32 exporter (EXPORTERS) between a DequantizeLinear per
    quantized operand (one per reader, never shared) and a QuantizeLinear per quantized result;
    `shape` and `size` read the stored integers of a quantized (or dequantized) operand instead;
    a generic op reads and writes the stored integers of quantized values instead (no
    DequantizeLinear, no QuantizeLinear).
    The fp32 exporter sees a float op: during its call the quantized operand and result types
    read as f32 and ctx.name() / ctx.node() resolve those values to the DQ outputs and to the
    float tensor the Q reads;
  - a fused activation (`activation` = relu / clip with activation_min / activation_max) on an
    op with a quantized result writes no node when the result's range makes it redundant
    (q(lo) <= qmin and q(hi) >= qmax). Otherwise the op is quantized to its result type first and
    then clamped, op -> Q -> DQ -> Relu/Clip -> Q, which equals the spec's clamp to
    [max(qmin, q(lo)), min(qmax, q(hi))] and keeps the op fusable; a warning says so. On a float
    result the Relu/Clip follows the op;
  - a matmul of a quantized input and quantized constant weights with a float result is written
    MatMulInteger -> Cast -> Mul by f32(s_x * s_w[c]), the scale taken through one run-time
    factor of 1.0 (DequantizeLinear -> Relu, shared by every such matmul) so that onnxruntime's
    constant folding keeps the scale Mul and its MatMulIntegerToFloat fusion (bias included)
    applies; an `add` of a constant and such a result is written Add(result, constant), the
    operand order that fusion takes the bias from;
  - a quantized graph output is a float output of the same name, read through its own DQ;
  - an i8 per-tensor activation that more than one DequantizeLinear reads is written as u8 with
    zero point z + 128 (the same real values, every stored value + 128). onnxruntime on x86 runs
    int8 activations only after turning each i8 Q -> DQ pair into u8 itself, which it does only
    for a QuantizeLinear with a single reader; left i8, the ops around such a value stay float.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Callable, Iterator

import numpy as np
import onnx
from onnx import numpy_helper

from irc.ir.diagnostics import IRError
from irc.ir.generic import is_generic_name
from irc.ir.ops._activation import fused_activation
from irc.ir.graph import Graph
from irc.ir.op import Op
from irc.ir.types import QuantType
from irc.ir.value import Value

from .exporter import ExportContext, assemble_model, export_const, value_info
from .registry import missing_exporters, require_exporter

ACTIVATION_KEYS = ("activation", "activation_min", "activation_max")
SHAPE_ONLY = ("shape", "size")
"""Ops that read only their operand's shape: they read a quantized value's integers directly."""


class QDQWarning(UserWarning):
    """Something in the graph is written correctly but will not run as fast as it could."""


class QDQContext(ExportContext):
    """ExportContext that knows the stored-integer tensor of each quantized value.

    `bind(names)` makes ctx.name(v) / ctx.node(...) resolve the given values to other tensors
    while one op's fp32 exporter runs: a value read twice by one node gets its k-th name at its
    k-th occurrence (add(%q, %q) reads two DQs).
    """

    def __init__(self, graph: Graph, warn: Callable[[str], None] | None = None) -> None:
        super().__init__(graph)
        self.warn = warn or _default_warn
        self.storage_names: dict[int, str] = {}
        self.param_names: dict[QuantType, tuple[str, str]] = {}
        self.dq_source: dict[int, Value] = {}
        self._bound: dict[int, list[str]] = {}
        self.shifted: set[int] = set()
        """Values whose i8 activation type is written as u8 (zero point + 128): several readers."""
        self.shifted_names: set[str] = set()
        self.integer_matmuls: set[int] = set()
        """Results of matmuls written as MatMulInteger -> Cast -> Mul (float results)."""
        self._one: str | None = None
        self.matmul_weights: dict[tuple[int, bool], tuple[str, str]] = {}
        """(id(quantized weight), transposed) -> (its tensor, zero point) for MatMulInteger."""

    # -- names --------------------------------------------------------------------------------
    def name(self, v: Value | None) -> str:
        if v is not None and id(v) in self._bound:
            return self._bound[id(v)][0]
        return super().name(v)

    def _storage(self, v: Value) -> str:
        """The tensor holding the stored integers of quantized value `v`."""
        key = id(v)
        if key not in self.storage_names:
            self.storage_names[key] = super().name(v)
        return self.storage_names[key]

    @contextlib.contextmanager
    def bind(self, names: dict[int, list[str]]) -> Iterator[None]:
        self._bound = names
        try:
            yield
        finally:
            self._bound = {}

    def node(self, op_type, inputs, outputs, domain="", name=None, **attrs):
        if self._bound:
            seen: dict[int, int] = {}

            def resolve(x):
                if isinstance(x, Value) and id(x) in self._bound:
                    names = self._bound[id(x)]
                    k = seen.get(id(x), 0)
                    seen[id(x)] = k + 1
                    return names[min(k, len(names) - 1)]
                return x

            inputs = [resolve(i) for i in inputs]
            outputs = [resolve(o) for o in outputs]
        return super().node(op_type, inputs, outputs, domain=domain, name=name, **attrs)

    def export_op(self, op: Op) -> None:
        if op.name == "const":
            if op.result.type.is_quantized and _only_integer_matmul_weight(self.graph, op.result):
                return  # written by the matmuls that read it (_matmul_weight)
            (export_quantized_const if op.result.type.is_quantized else export_const)(self, op)
        elif op.name == "quantize":
            export_quantize(self, op)
        elif op.name == "dequantize":
            self.dq_source[id(op.result)] = op.operands[0]
        elif op.name == "dynamic_matmul":
            export_dynamic_matmul(self, op)
        elif is_integer_matmul(self.graph, op):
            export_integer_matmul(self, op)
        elif is_bias_add(self, op):
            ExportContext.node(self, "Add", [self.name(op.operands[1]), self.name(op.operands[0])],
                               [self.name(op.result)])
        else:
            export_op(self, op, self.warn)

    # -- quantization nodes -------------------------------------------------------------------
    def params(self, qt: QuantType, base: str) -> tuple[str, str]:
        """Names of the scale and zero-point initializers of `qt` (shared by equal types)."""
        if qt not in self.param_names:
            scale, zp = qt.scale_array(), qt.zero_point_array()
            if qt.axis is None:
                scale, zp = scale.reshape(()), zp.reshape(())
            self.param_names[qt] = (self.initializer(scale, f"{base}_scale"),
                                    self.initializer(zp, f"{base}_zero_point"))
        return self.param_names[qt]

    def written_type(self, v: Value) -> QuantType:
        """The quantized type `v`'s stored tensor is written with (see shifted)."""
        qt = v.type.quant
        if id(v) in self.shifted:
            return QuantType.per_tensor("u8", float(qt.scale_array()[0]), int(qt.zero_points[0]) + 128)
        return qt

    def storage(self, v: Value) -> str:
        name = self._storage(v)
        if id(v) in self.shifted:
            self.shifted_names.add(name)
        return name

    def quantize_node(self, src: str, qt: QuantType, out: str) -> None:
        scale, zp = self.params(qt, out)
        ExportContext.node(self, "QuantizeLinear", [src, scale, zp], [out], axis=qt.axis)

    def dequantize_node(self, stored: str, qt: QuantType, out: str) -> None:
        scale, zp = self.params(qt, stored)
        ExportContext.node(self, "DequantizeLinear", [stored, scale, zp], [out], axis=qt.axis)

    def read(self, src: Value, out: str | None = None) -> str:
        """A new DequantizeLinear of quantized value `src` (for one reader); returns its output."""
        stored = self.storage(src)
        out = out or self.fresh(f"{stored}_dq")
        self.dequantize_node(stored, self.written_type(src), out)
        return out

    def runtime_one(self) -> str:
        """A float 1.0 that onnxruntime does not treat as a constant: DequantizeLinear(1, 1.0) -> Relu.

        onnxruntime folds a Mul of two initializers before its MatMulIntegerToFloat fusion runs,
        and that fusion needs the scale Mul as a node. It does not constant-fold a
        DequantizeLinear, and duplicates one per reader, so a single Relu after it carries the
        value to every scale Mul (one DQ and one Relu of a scalar per model).
        """
        if self._one is None:
            q = self.initializer(np.array(1, np.int8), "irc_one_q")
            s = self.initializer(np.array(1.0, np.float32), "irc_one_scale")
            dq = self.fresh("irc_one_dq")
            ExportContext.node(self, "DequantizeLinear", [q, s], [dq])
            self._one = self.fresh("irc_one")
            ExportContext.node(self, "Relu", [dq], [self._one])
        return self._one

    def quant_source(self, v: Value) -> Value | None:
        """The quantized value a reader of `v` dequantizes: `v` itself, or a dequantize's operand."""
        return v if v.type.is_quantized else self.dq_source.get(id(v))

    def float_input(self, v: Value) -> str:
        """The name of a float tensor holding `v`'s real values, for one reader."""
        src = self.quant_source(v)
        return self.read(src) if src is not None else self.name(v)


# -- fused activations ----------------------------------------------------------------------------

def _activation_node(ctx: QDQContext, kind: str, lo: float, hi: float, src: str, out: str) -> None:
    if kind == "relu" and lo == 0.0 and hi == np.inf:
        ExportContext.node(ctx, "Relu", [src], [out])
        return
    inputs = [src]
    for bound, key in ((lo, "min"), (hi, "max")):
        inputs.append("" if np.isinf(bound) else ctx.initializer(np.array(bound, np.float32), f"{out}_{key}"))
    while inputs[-1] == "":
        inputs.pop()
    ExportContext.node(ctx, "Clip", inputs, [out])


# -- ops ------------------------------------------------------------------------------------------

@contextlib.contextmanager
def float_view(op: Op) -> Iterator[None]:
    """Show `op` to an fp32 exporter as a float op: quantized types read as f32, no activation.

    The exporter reads types (ranks, dtypes of fill values) and attributes from the IR op
    itself, so they are swapped in place for the duration of the call and always put back.
    """
    saved_types = []
    for v in {id(v): v for v in [*op.operands, *op.results]}.values():
        if v.type.is_quantized:
            saved_types.append((v, v.type))
            v.type = v.type.with_element("f32")
    saved_attrs = {k: op.attrs.pop(k) for k in ACTIVATION_KEYS if k in op.attrs}
    try:
        yield
    finally:
        for v, t in saved_types:
            v.type = t
        op.attrs.update(saved_attrs)


def _fit_for_fusion(node: onnx.NodeProto, op: Op) -> None:
    """Adjust a node of a quantized op so that onnxruntime's fused int8 form accepts it.

    onnxruntime copies an AveragePool's attributes onto QLinearAveragePool, which has no
    `dilations`: the session fails to load unless the (default) dilations are left out.
    """
    if node.op_type != "AveragePool":
        return
    for i, a in enumerate(node.attribute):
        if a.name == "dilations":
            if any(d != 1 for d in a.ints):
                raise IRError(f"{op.name} {op.label}: a dilated average pool on quantized values has no int8 "
                              "form in onnxruntime (QLinearAveragePool takes no dilations); keep it in f32")
            del node.attribute[i]
            return


def stored_values(graph: Graph, v: Value) -> np.ndarray:
    """The stored integers of quantized constant `v`, in its storage dtype (checked to fit)."""
    qt = v.type.quant
    arr = np.asarray(graph.const_value(v))
    want = qt.storage_dtype
    if arr.dtype != want:
        if arr.dtype.kind not in "iu" or arr.size and (arr.min() < qt.qmin or arr.max() > qt.qmax):
            label = v.producer.label if v.producer is not None else v.name
            raise IRError(f"constant {label}: stored values of dtype {arr.dtype} do not fit its type {v.type}")
        arr = arr.astype(want)
    return arr


def export_quantized_const(ctx: QDQContext, op: Op) -> None:
    v = op.result
    ctx.initializers.append(numpy_helper.from_array(stored_values(ctx.graph, v), ctx.storage(v)))


def export_quantize(ctx: QDQContext, op: Op) -> None:
    r = op.result
    ctx.quantize_node(ctx.float_input(op.operands[0]), ctx.written_type(r), ctx.storage(r))


def export_dynamic_matmul(ctx: QDQContext, op: Op) -> None:
    """dynamic_matmul(x, w_q, [bias]) as the standard ONNX ops onnxruntime fuses into one
    DynamicQuantizeMatMul kernel (bias included):

        DynamicQuantizeLinear(x) -> x_q, s_x, z_x
        MatMulInteger(x_q, w_q, z_x, z_w) -> acc (i32)
        Mul(Cast(acc, f32), Mul(s_x, s_w)) [-> Add(bias)]
    """
    x, w = op.operands[0], op.operands[1]
    y = ctx.name(op.result)
    base = ctx.fresh(f"{y}_x")
    xq, xs, xz = (ctx.fresh(f"{base}_{k}") for k in ("q", "scale", "zero_point"))
    ExportContext.node(ctx, "DynamicQuantizeLinear", [ctx.float_input(x)], [xq, xs, xz])
    w_stored = ctx.storage(w)
    w_scale, w_zp = ctx.params(w.type.quant, w_stored)
    scale = ctx.fresh(f"{y}_scale")
    ExportContext.node(ctx, "Mul", [xs, w_scale], [scale])
    acc = ctx.fresh(f"{y}_acc")
    ExportContext.node(ctx, "MatMulInteger", [xq, w_stored, xz, w_zp], [acc])
    accf = ctx.fresh(f"{y}_acc_f32")
    ExportContext.node(ctx, "Cast", [acc], [accf], to=onnx.TensorProto.FLOAT)
    if len(op.operands) > 2:
        scaled = ctx.fresh(f"{y}_nobias")
        ExportContext.node(ctx, "Mul", [accf, scale], [scaled])
        ExportContext.node(ctx, "Add", [scaled, ctx.float_input(op.operands[2])], [y])
    else:
        ExportContext.node(ctx, "Mul", [accf, scale], [y])


def _quantized_input(v: Value) -> Value | None:
    """The quantized value an operand reads: itself, or the operand of the dequantize it is."""
    if v.type.is_quantized:
        return v
    p = v.producer
    return p.operands[0] if p is not None and p.name == "dequantize" else None


def is_integer_matmul(graph: Graph, op: Op) -> bool:
    """A matmul (or gemm with trans_a 0, alpha and beta 1 and an optional float vector bias) of
    a quantized per-tensor input and quantized constant 2-D weights with a float result
    (specs/quantization.md §3's float result)."""
    if op.name not in ("matmul", "gemm") or op.results[0].type.is_quantized:
        return False
    if any(k in op.attrs for k in ACTIVATION_KEYS):
        return False
    x, w = op.operands[0], op.operands[1]
    src = _quantized_input(x)
    if src is None or src.type.quant.axis is not None or src.type.quant.storage not in ("u8", "i8"):
        return False
    if not w.type.is_quantized or graph.const_value(w) is None or w.type.rank != 2:
        return False
    qw = w.type.quant
    if qw.storage not in ("u8", "i8"):
        return False
    if op.name == "matmul":
        return len(op.operands) == 2 and (qw.axis is None or qw.axis == 1)
    if op.attr("trans_a") or op.attr("alpha") != 1.0 or op.attr("beta") != 1.0 or x.type.rank != 2:
        return False
    if len(op.operands) > 2:
        c = op.operands[2]
        if c.type.is_quantized or graph.const_value(c) is None or c.type.rank != 1:
            return False
    return qw.axis is None or qw.axis == (0 if op.attr("trans_b") else 1)


def _only_integer_matmul_weight(graph: Graph, v: Value) -> bool:
    uses = list(v.uses)
    return bool(uses) and all(u.index == 1 and u.op is not graph.return_op and is_integer_matmul(graph, u.op)
                              for u in uses)


def _matmul_weight(ctx: QDQContext, w: Value, transposed: bool = False) -> tuple[str, str]:
    """(stored weights, their zero point or '' for none) of quantized constant `w` as K x N
    (`transposed` for a gemm's trans_b weight), for MatMulInteger: one tensor per weight,
    however many matmuls read it. A zero point of 0 (irc's symmetric weights) is left out."""
    key = (id(w), transposed)
    if key not in ctx.matmul_weights:
        qw = w.type.quant
        arr = stored_values(ctx.graph, w)
        if transposed:
            arr = np.ascontiguousarray(arr.T)
        base = ctx.name(w)
        if not transposed and not _only_integer_matmul_weight(ctx.graph, w):
            stored = ctx.storage(w)  # other readers: export_quantized_const wrote it
        else:
            stored = ctx.initializer(arr, f"{base}_kn" if transposed else base)
        zp = qw.zero_point_array()
        if not np.any(zp != 0):
            ctx.matmul_weights[key] = (stored, "")
        else:
            zp_arr = np.asarray(zp.flat[0], zp.dtype) if np.all(zp == zp.flat[0]) else zp
            ctx.matmul_weights[key] = (stored, ctx.initializer(zp_arr, f"{base}_zero_point"))
    return ctx.matmul_weights[key]


def export_integer_matmul(ctx: QDQContext, op: Op) -> None:
    """matmul(x_q, w_q) or gemm(x_q, w_q[, c]) -> f32 as the standard ONNX ops onnxruntime
    fuses into one MatMulIntegerToFloat (with the bias of an Add that reads only it; a gemm's
    float bias c is such an Add, its trans_b weight written transposed):

        MatMulInteger(x_q, w_q, z_x[, z_w]) -> acc (i32)
        Mul(Cast(acc, f32), Mul(one, f32(s_x * s_w[c])))        one: runtime_one(), 1.0

    f32(acc) * (1.0 * m[c]) is f32(acc) * m[c], §3's float result. An i8 input is read as its
    u8 form (shifted, zero point + 128): u8 x i8 is the pair every x86 kernel takes.
    """
    x, w = op.operands[0], op.operands[1]
    bias = op.operands[2] if len(op.operands) > 2 else None
    src = _quantized_input(x)
    assert src is not None
    x_stored = ctx.storage(src)
    x_qt = ctx.written_type(src)
    _, x_zp = ctx.params(x_qt, x_stored)
    qw = w.type.quant
    w_scales = qw.scale_array() if qw.axis is not None else qw.scale_array().reshape(())
    y = ctx.name(op.result)
    scale = np.float32(x_qt.scale_array()[0]) * np.asarray(w_scales, dtype=np.float32)
    comb = ctx.initializer(scale.astype(np.float32), f"{y}_multiplier")
    w_stored, w_zp = _matmul_weight(ctx, w, transposed=op.name == "gemm" and bool(op.attr("trans_b")))
    acc = ctx.fresh(f"{y}_acc")
    ExportContext.node(ctx, "MatMulInteger", [x_stored, w_stored, x_zp] + ([w_zp] if w_zp else []), [acc])
    accf = ctx.fresh(f"{y}_acc_f32")
    ExportContext.node(ctx, "Cast", [acc], [accf], to=onnx.TensorProto.FLOAT)
    m = ctx.fresh(f"{y}_scale")
    ExportContext.node(ctx, "Mul", [ctx.runtime_one(), comb], [m])
    if bias is None:
        ExportContext.node(ctx, "Mul", [accf, m], [y])
        ctx.integer_matmuls.add(id(op.result))
    else:  # a gemm's float bias: the Add the fusion takes in
        scaled = ctx.fresh(f"{y}_nobias")
        ExportContext.node(ctx, "Mul", [accf, m], [scaled])
        ExportContext.node(ctx, "Add", [scaled, ctx.name(bias)], [y])


def is_bias_add(ctx: QDQContext, op: Op) -> bool:
    """add(c, y): a float constant and the float result of an integer matmul, in that order."""
    if op.name != "add" or len(op.operands) != 2 or any(k in op.attrs for k in ACTIVATION_KEYS):
        return False
    c, y = op.operands
    return (id(y) in ctx.integer_matmuls and id(c) not in ctx.integer_matmuls and not c.type.is_quantized
            and not op.result.type.is_quantized and ctx.graph.const_value(c) is not None)


def export_op(ctx: QDQContext, op: Op, warn: Callable[[str], None]) -> None:
    """DQ per quantized operand -> the fp32 exporter's nodes -> [activation] -> Q per quantized result."""
    bound: dict[int, list[str]] = {}
    generic = is_generic_name(op.name)
    for v in op.operands:
        src = ctx.quant_source(v)
        if src is not None and op.name in SHAPE_ONLY:
            # the shape of the integers is the shape of the dequantized value: no DequantizeLinear
            bound.setdefault(id(v), []).append(ctx.storage(src))
        elif src is not None:
            # a generic op reads a quantized operand as its stored integers, as its ONNX node did
            bound.setdefault(id(v), []).append(ctx.storage(v) if generic and src is v else ctx.read(src))
    act = fused_activation(op)
    pending = []
    for r in op.results:
        if generic and r.type.is_quantized:
            bound[id(r)] = [ctx.storage(r)]  # a generic op writes the stored integers itself
        elif r.type.is_quantized or act is not None:
            base = ctx.storage(r) if r.type.is_quantized else ctx.name(r)
            f = ctx.fresh(f"{base}_float")
            bound[id(r)] = [f]
            pending.append((r, f))
    first = len(ctx.nodes)
    with float_view(op), ctx.bind(bound):
        require_exporter(op.name)(ctx, op)
    if pending and any(r.type.is_quantized for r in op.results):
        for node in ctx.nodes[first:]:
            _fit_for_fusion(node, op)
    for r, f in pending:
        if not r.type.is_quantized:
            if act is None:  # a float result is pending only for its fused activation
                raise IRError(f"{op.name}: float result {r!r} pending without an activation")
            _activation_node(ctx, *act, f, ctx.name(r))
            continue
        qt = r.type.quant
        if act is not None and not qt.saturation_clamps(act[1], act[2]):
            kind, lo, hi = act
            warn(f"{op.name} {op.label}: its result type {qt} does not make the fused {kind} "
                 f"[{lo}, {hi}] redundant; written as Q -> DQ -> {kind.capitalize()} -> Q after the op")
            stored = ctx.fresh(f"{ctx.storage(r)}_unclamped")
            ctx.quantize_node(f, qt, stored)
            deq = ctx.fresh(f"{stored}_dq")
            ctx.dequantize_node(stored, qt, deq)
            f = ctx.fresh(f"{ctx.storage(r)}_clamped")
            _activation_node(ctx, kind, lo, hi, deq, f)
        ctx.quantize_node(f, ctx.written_type(r), ctx.storage(r))


def _shifted_values(graph: Graph) -> set[int]:
    """i8 per-tensor activations (not constants) that more than one DequantizeLinear will read,
    or that an integer matmul reads."""
    readers: dict[int, int] = {}
    dq_of: dict[int, Value] = {}
    values: dict[int, Value] = {}
    raw: set[int] = set()

    def count(v: Value) -> None:
        src = v if v.type.is_quantized else dq_of.get(id(v))
        if src is not None:
            readers[id(src)] = readers.get(id(src), 0) + 1
            values[id(src)] = src

    for op in graph.ops:
        if op.name == "const":
            continue
        if op.name == "dequantize":
            dq_of[id(op.result)] = op.operands[0]
            continue
        if is_generic_name(op.name):
            # reads (and writes) the stored integers as they are: keep those values i8
            raw.update(id(v) for v in [*op.operands, *op.results])
            continue
        for v in op.operands:
            count(v)
        if is_integer_matmul(graph, op):  # MatMulInteger takes its u8 form
            src = _quantized_input(op.operands[0])
            if src is not None:
                readers[id(src)] = readers.get(id(src), 0) + 2
                values[id(src)] = src
    for v in graph.outputs:
        count(v)
    consts = {id(op.result) for op in graph.ops if op.name == "const"}
    inputs = {id(v) for v in graph.inputs}
    return {k for k, n in readers.items() if n > 1 and k not in consts and k not in inputs and k not in raw
            and values[k].type.quant.storage == "i8" and values[k].type.quant.axis is None}


# -- the model ------------------------------------------------------------------------------------

def _default_warn(message: str) -> None:
    warnings.warn(message, QDQWarning, stacklevel=3)


def _outputs(ctx: QDQContext, graph: Graph) -> list[onnx.ValueInfoProto]:
    """Graph outputs: quantized ones (or dequantize results) through their own DQ, as float."""
    used = {ctx.name(v) for v in graph.inputs}
    infos = []
    for v in graph.outputs:
        name = ctx.name(v)
        src = ctx.quant_source(v)
        if name in used or (src is not None and name == ctx.storage(src)):
            name = ctx.fresh(f"{name}_out")
            if src is None:  # ONNX needs distinct graph outputs that nodes produce
                ExportContext.node(ctx, "Identity", [ctx.name(v)], [name])
        if src is not None:
            ctx.read(src, out=name)
        used.add(name)
        t = v.type.with_element("f32") if v.type.is_quantized else v.type
        infos.append(value_info(name, t))
    return infos


def export_qdq(graph: Graph, warn: Callable[[str], None] | None = None,
               producer: str = "irc") -> onnx.ModelProto:
    """Write a quantized graph as an ONNX QDQ model; `warn(message)` hears about slow spots
    (default: warnings.warn with QDQWarning)."""
    missing = missing_exporters(graph, ("const", "quantize", "dequantize", "dynamic_matmul"))
    if missing:
        raise IRError(f"no ONNX exporter for op(s): {', '.join(missing)}")
    ctx = QDQContext(graph, warn)
    ctx.shifted = _shifted_values(graph)
    for v in graph.inputs:
        if v.type.is_quantized:
            ctx.storage(v)
        else:
            ctx.name(v)
    # outputs keep their IR names; a quantized output's integers get a name of their own
    for v in graph.outputs:
        ctx.name(v)
    for v in graph.outputs:
        if v.type.is_quantized and id(v) not in ctx.storage_names:
            ctx.storage_names[id(v)] = ctx.fresh(f"{ctx.name(v)}_q")
    for op in graph.ops:
        ctx.export_op(op)
    inputs = [value_info(ctx.storage(v) if v.type.is_quantized else ctx.name(v), v.type) for v in graph.inputs]
    outputs = _outputs(ctx, graph)
    return assemble_model(ctx, inputs, outputs, producer)
