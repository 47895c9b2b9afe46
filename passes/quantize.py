"""quantize: choose quantized types from calibrated ranges and rewrite the graph to int8.

Every op gets one treatment (specs/quantization.md §3):

    compute     conv, gemm, matmul with constant weights:
                    y = op(x, w, b)  ->  y_q = op(x_q, w_q, b_q) : !q.u8<s_y:z_y>
                weights i8 symmetric per output channel (matmul: per column), bias i32 at
                scale s_x * s_w, the result typed from its calibrated range; a matmul of two
                activations (attention's q k^T and p v) takes both as int8 activations
                (`activation_matmuls`, off by default); a matmul or gemm whose result only float ops
                read (maybe through reshapes, splits, transposes) keeps it float,
                y = f32(acc) * f32(s_x * s_w[c]) [+ gemm's float bias] (`float_results`,
                MatMulIntegerToFloat)
    requantize  add and mul (over CNN feature maps only: a transformer's residual and mask
                adds stay float), average_pool, global_average_pool, concat: int8 operands, own
                result type; relu, clip and sigmoid too, when their operand is already int8
    movement    reshape, transpose, max_pool, ... on an int8 operand: the result has the
                operand's type (no requantization)
    float       everything else, every op named in `skip`, and every op the fallback pass
                marked (attribute q.fallback)

A float value read by an int8 op gets one `quantize` (typed from its range); an int8 value read
by a float op or returned by the graph gets one `dequantize`. A value without a calibrated range,
or that held NaN or infinity in calibration (an attention mask of -inf), cannot be quantized: its
op stays float (counted in the statistics).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np

from irc.ir.ranges import get_range, holds_nonfinite
from irc.ir.graph import Graph
from irc.ir.host_cpu import u8s8_saturates
from irc.ir.op import Op
from irc.ir.registry import ops_with_role
from irc.ir.types import QuantType
from irc.ir.value import Value

from .base import Pass, PassContext, PassError, register_pass
from .dce import remove_dead_ops
from .dynamic import quantize_dynamic
from .feature_map import is_feature_map
from .fuse import only_user
from .fallback import FALLBACK_KEY, is_quantized_graph
from .qparams import (WEIGHT_QMAX, activation_type, bias_type_and_values, fit_bias, quantize_with_scales,
                      weight_qmax, weight_scales, weight_type)

# each op's role is part of its declaration (`quant=` in ir/ops/*)
COMPUTE = ops_with_role("compute")
REQUANTIZE = ops_with_role("requantize")
ACTIVATIONS = ops_with_role("activation")
MOVEMENT = ops_with_role("movement")
DEFAULT_OPS = COMPUTE + REQUANTIZE


def weight_axis(op: Op) -> int | None:
    """The output-channel axis of op's weight operand (None: per tensor), as its declaration
    gives it."""
    defn = op.defn
    if defn is None or defn.weight_axis is None:
        return None
    return defn.weight_axis(defn.signature([v.type for v in op.operands], op.attrs))


class _Plan:
    """The decisions of one run: which ops go int8 and the quantized type of every int8 value."""

    def __init__(self, graph: Graph, storage: str, ops: tuple[str, ...], skip: set[str],
                 per_channel: bool, activation_matmuls: bool = True, float_results: bool = True,
                 weight_qmax: int = WEIGHT_QMAX) -> None:
        self.graph = graph
        self.weight_qmax = weight_qmax
        self.activation_matmuls = activation_matmuls
        self.storage = storage
        self.ops = ops
        self.skip = skip
        self.per_channel = per_channel
        self.types: dict[int, QuantType | None] = {}  # id(value) -> its int8 type (None: no range)
        self.int8_ops: list[tuple[Op, str]] = []   # (op, treatment) in graph order
        self.no_range: list[str] = []
        self.absorbed: dict[int, Op] = {}  # id(concat) -> the relu its saturation implements
        self.float_results = float_results
        self.float_out: set[int] = set()   # id(matmul / gemm) whose result stays float

    def range_type(self, v: Value) -> QuantType | None:
        if id(v) in self.types:
            return self.types[id(v)]
        r = get_range(self.graph, v)
        if r is None or holds_nonfinite(self.graph, v):  # int8 cannot hold NaN or infinity
            return None
        return activation_type(r[0], r[1], self.storage)

    def decide(self) -> None:
        g = self.graph
        for op in g.ops:
            if op.name == "const" or op.label in self.skip or FALLBACK_KEY in op.attrs:
                continue
            treatment = self.treatment(op)
            if treatment is None:
                continue
            if treatment == "movement":
                first = op.operands[0]
                t = self.types.setdefault(id(first), self.range_type(first))
                if op.name == "concat":
                    for v in op.operands:
                        self.types.setdefault(id(v), t)
                for r in op.results:
                    self.types[id(r)] = t
            else:
                for v in self.activation_operands(op):
                    self.types.setdefault(id(v), self.range_type(v))
                relu = self.absorbed.get(id(op))
                for r in op.results:
                    self.types[id(r)] = self.range_type(relu.results[0] if relu is not None else r)
            self.int8_ops.append((op, treatment))
        if self.float_results:
            self.float_result_matmuls()

    def float_result_matmuls(self) -> None:
        """A matmul (or a gemm with constant weights) whose result no int8 op reads keeps a float
        result: y = s_a s_b[c] acc[c] (+ a gemm's float bias), no requantization and no
        dequantize after it (onnxruntime's MatMulIntegerToFloat). Data-movement ops between it
        and its float readers (a reshape, split or transpose whose results only float ops read)
        move the float result instead of its integers."""
        treatments = {id(op): t for op, t in self.int8_ops}
        to_float: set[int] = set()
        for op, treatment in self.int8_ops:
            if treatment != "compute" or op.name not in ("matmul", "gemm") or op.attrs.get("activation"):
                continue
            if op.name == "gemm" and any(u.op is self.graph.return_op for u in op.results[0].uses):
                # a classifier's logits stay QGemm -> DQ: irc import reads the MatMulInteger form
                # a float result is written in back as generic ops, not as an int8 gemm
                continue
            movers: list[Op] = []
            if not self._float_readers_only(op.results[0], treatments, movers):
                continue
            self.types.pop(id(op.results[0]), None)
            self.float_out.add(id(op))
            for m in movers:
                to_float.add(id(m))
                for r in m.results:
                    self.types.pop(id(r), None)
        if to_float:
            self.int8_ops = [(op, t) for op, t in self.int8_ops if id(op) not in to_float]

    def _float_readers_only(self, v: Value, treatments: dict[int, str], movers: list[Op]) -> bool:
        """Whether only float ops read `v`, through int8 data-movement ops (collected in `movers`)
        that only `v`'s chain feeds."""
        for u in v.uses:
            t = treatments.get(id(u.op))
            if t is None:
                continue
            if t != "movement" or u.index != 0 or u.op.name == "concat":
                return False
            if not all(self._float_readers_only(r, treatments, movers) for r in u.op.results):
                return False
            movers.append(u.op)
        return True

    def activation_operands(self, op: Op) -> list[Value]:
        if op.name in COMPUTE and not self.of_activations(op):
            return [op.operands[0]]
        return list(op.operands)

    def of_activations(self, op: Op) -> bool:
        """A matmul of two computed (non-constant) values."""
        return op.name == "matmul" and self.graph.const_value(op.operands[1]) is None

    def treatment(self, op: Op) -> str | None:
        g = self.graph
        if op.name in MOVEMENT and op.operands and id(op.operands[0]) in self.types:
            # the other operands are indices or run-time shape parameters (integers)
            if all(not v.type.is_float for v in op.operands[1:]):
                return "movement"
            return None
        if op.name in ACTIVATIONS and id(op.operands[0]) in self.types:
            if self.range_type(op.results[0]) is None:
                self.no_range.append(op.label)
                return None
            return "requantize"
        if op.name not in self.ops:
            return None
        if op.name in COMPUTE:
            if not self.compute_ok(op):
                return None
        elif op.name in REQUANTIZE:
            if any(g.const_value(v) is not None for v in op.operands):
                return None
            if "elementwise" in op.defn.traits and not all(is_feature_map(g, v) for v in op.operands):
                # a transformer's residual and mask adds and its GELU / norm muls stay float, in
                # the forms onnxruntime fuses (SkipLayerNormalization, Gelu)
                return None
        needed = self.activation_operands(op) + list(op.results)
        if any(self.range_type(v) is None for v in needed):
            self.no_range.append(op.label)
            return None
        relu = only_user(op)
        if (op.name == "concat" and self.storage in ("u8", "i8") and relu is not None and relu.name == "relu"
                and FALLBACK_KEY not in relu.attrs and relu.label not in self.skip
                and self.range_type(relu.results[0]) is not None):
            # concat -> relu: the concat requantizes to the relu's range, whose zero point is 0,
            # so its saturation is the relu (onnxruntime fuses the pair the same way)
            self.absorbed[id(op)] = relu
            return "requantize"
        if op.name == "concat" and len({str(self.range_type(v)) for v in op.operands}) == 1:
            return "movement"
        return "compute" if op.name in COMPUTE else "requantize"

    def compute_ok(self, op: Op) -> bool:
        g = self.graph
        if op.attrs.get("auto_pad") not in (None, "NOTSET"):
            return False
        if self.of_activations(op):
            return (self.activation_matmuls and all(v.type.is_float for v in op.operands)
                    and op.results[0].type.is_float)
        if g.const_value(op.operands[1]) is None:
            return False
        if len(op.operands) > 2 and g.const_value(op.operands[2]) is None:
            return False
        if op.name == "gemm":
            if op.attr("trans_a") or op.attr("alpha") != 1.0 or (len(op.operands) > 2 and op.attr("beta") != 1.0):
                return False
            if len(op.operands) > 2 and op.operands[2].type.rank != 1:
                return False
        if op.name == "matmul":
            if op.operands[1].type.rank != 2 or op.operands[0].type.rank < 2:
                return False
        return op.operands[0].type.is_float and op.results[0].type.is_float


def _rewrite(plan: _Plan) -> dict[str, int]:
    g = plan.graph
    int8_ids = {id(op) for op, _ in plan.int8_ops}
    quantized_of: dict[int, Value] = {}   # id(float value) -> its quantize result

    def quantized(v: Value, before: Op) -> Value:
        if v.type.is_quantized:
            return v
        q = quantized_of.get(id(v))
        if q is None:
            qt = plan.types[id(v)]
            assert qt is not None, f"quantize: no int8 type for %{v.name}"
            after: Op | None = v.producer  # an input's quantize goes first
            first: Op | None = None if after is not None else g.ops[0]
            q = g.create("quantize", [v], types=[v.type.with_element(qt)],
                         names=[f"{v.name}_q" if v.name else None], after=after, before=first).result
            quantized_of[id(v)] = q
        return q

    counts = {"quantized ops": 0, "quantize": 0, "dequantize": 0}
    for op, treatment in plan.int8_ops:
        if treatment == "compute" and not plan.of_activations(op):
            _quantize_weights(g, op, plan, quantized(op.operands[0], op), float_bias=id(op) in plan.float_out)
        else:
            n = 1 if treatment == "movement" and op.name != "concat" else len(op.operands)
            for i in range(n):
                op.set_operand(i, quantized(op.operands[i], op))
        if id(op) in plan.float_out:
            counts["float-result matmuls"] = counts.get("float-result matmuls", 0) + 1
        else:
            for r in op.results:
                qt = plan.types[id(r)]
                assert qt is not None, f"quantize: no int8 type for %{r.name}"
                r.type = r.type.with_element(qt)
        counts["quantized ops"] += 1
    counts["quantize"] = len(quantized_of)

    # a relu whose concat's saturation implements it goes away
    absorbed = {id(relu) for relu in plan.absorbed.values()}
    for relu in plan.absorbed.values():
        returned = any(u.op is g.return_op for u in relu.result.uses)
        name, source = relu.result.name, relu.operands[0]
        g.replace_op(relu, [source])
        if returned:
            source.name = name
    plan.int8_ops = [(op, t) for op, t in plan.int8_ops if id(op) not in absorbed]
    int8_ids -= absorbed
    counts["relus absorbed"] = len(absorbed)

    # int8 values read by float ops or returned: one dequantize each
    for op, _ in plan.int8_ops:
        for r in op.results:
            if not r.type.is_quantized:
                continue
            float_uses = [u for u in r.uses if id(u.op) not in int8_ids]
            if not float_uses:
                continue
            returned = any(u.op is g.return_op for u in float_uses)
            name = r.name
            d = g.create("dequantize", [r], after=op).result
            for u in float_uses:
                u.op.set_operand(u.index, d)
            if returned:  # graph outputs keep their names
                r.name, d.name = f"{name}_q", name
            else:
                d.name = f"{name}_dq" if name else None
            counts["dequantize"] += 1
    return counts


def _check_finite_constants(plan: _Plan) -> None:
    """A weight or bias holding NaN or infinity has no int8 form: an error naming the op, before any rewrite."""
    for op in plan.graph.ops:  # every candidate, whether or not its ranges would let it go int8
        if (op.name not in COMPUTE or op.name not in plan.ops or op.label in plan.skip or FALLBACK_KEY in op.attrs
                or plan.of_activations(op) or not plan.compute_ok(op)):
            continue
        for role, v in zip(("weight", "bias"), op.operands[1:3]):
            arr = plan.graph.const_value(v)
            if arr is None or arr.dtype.kind != "f":
                continue
            bad = ~np.isfinite(arr)
            if bad.any():
                where = [int(i) for i in np.argwhere(bad)[0]]
                what = "NaN" if np.isnan(arr[tuple(where)]) else "infinity"
                raise PassError(f"pass 'quantize': {op.name} {op.label!r}: its {role} %{v.name} holds {what} at "
                                f"index {where} ({int(bad.sum())} non-finite value(s)), which int8 cannot "
                                f"represent; fix the model, or keep the op in float (skip={op.label})")


def _quantize_weights(g: Graph, op: Op, plan: _Plan, xq: Value, float_bias: bool = False) -> None:
    """Replace op's input, weight and bias by their int8 / int32 forms (`float_bias`: a gemm
    with a float result keeps its bias in float, added after the scaling)."""
    s_x = xq.type.quant.scale
    w_val = op.operands[1]
    w_const = g.const_value(w_val)
    assert w_const is not None, f"quantize: {op.label}'s weight is not a constant"  # compute_ok checked it
    w = w_const.astype(np.float32)
    axis = weight_axis(op) if plan.per_channel else None
    scales = weight_scales(w, axis, plan.weight_qmax)
    b_val = op.operands[2] if len(op.operands) > 2 else None
    b_const = g.const_value(b_val) if b_val is not None else None
    b = b_const.astype(np.float32) if b_const is not None else None
    if b is not None and not float_bias:
        scales = fit_bias(b if axis is not None else np.abs(b).max(keepdims=True), s_x, scales)
    wq = quantize_with_scales(w, scales, axis, plan.weight_qmax)
    w_type = w_val.type.with_element(weight_type(scales, axis))
    new_w = g.const(wq, f"{w_val.name or 'w'}_q", type=w_type, inline=False, before=op)
    operands = [xq, new_w]
    if b_val is not None and float_bias:
        operands.append(b_val)
    elif b is not None and b_val is not None:
        bq, b_qt = bias_type_and_values(b, s_x, scales if axis is not None else np.full(b.shape, scales[0]), 0)
        new_b = g.const(bq, f"{b_val.name or 'b'}_q", type=b_val.type.with_element(b_qt), inline=False, before=op)
        operands.append(new_b)
    op.set_operands(operands)


@register_pass
@dataclass(frozen=True)
class Quantize(Pass):
    """Turn calibrated ops into int8: weights per channel, u8 activations, shared data-movement types."""

    name: ClassVar[str] = "quantize"
    activations: Literal["u8", "i8", "i8-sym"] = "u8"
    """Storage of activations: u8 or i8 with a zero point (both int8 kernels in onnxruntime on x86),
    or i8-sym (i8, zero point 0: a relu after a conv is no longer a saturation, so it stays a
    separate float Relu between Q/DQ and the conv is not fused)."""
    per_channel: bool = True
    """One weight scale per output channel of conv/gemm, per column of matmul weights."""
    ops: tuple[str, ...] = DEFAULT_OPS
    """Op kinds to quantize (data-movement ops follow their operand)."""
    skip: tuple[str, ...] = ()
    """Ops (by the name of their first result) to keep in float."""
    activation_matmuls: bool = False
    """Quantize matmuls of two computed values (attention's q k^T, p v) too. Off by default: on
    the models measured (MiniLM at sequence 32 and 128, the corpus transformers) onnxruntime ran
    them no faster in int8 than in float (FusedMatMul), and their Q nodes cost."""
    float_results: bool = True
    """A quantized matmul or gemm whose result only float ops read returns float (MatMulIntegerToFloat)."""
    reduce_range: bool = field(default_factory=u8s8_saturates)
    """7-bit weights (|q| <= 63) for x86 CPUs without VNNI, where onnxruntime's u8 x i8 kernels
    add pairs of products in saturating int16: exact there at the cost of one bit of weight
    precision (specs/quantization.md §3). Default: on exactly when this host is such a CPU."""
    mode: Literal["static", "dynamic"] = "static"
    """static: activations typed from calibrated ranges; dynamic: matmul / gemm weights int8,
    their inputs quantized at run time (dynamic_matmul, passes/dynamic.py; no ranges needed)."""

    @property
    def weight_qmax(self) -> int:
        return weight_qmax(self.reduce_range)

    def run(self, graph: Graph, ctx: PassContext) -> bool:
        unknown = [k for k in self.ops if k not in COMPUTE + REQUANTIZE]
        if unknown:
            raise PassError(f"pass 'quantize': cannot quantize op kind(s) {', '.join(unknown)}; "
                            f"quantizable: {', '.join(COMPUTE + REQUANTIZE)}")
        if is_quantized_graph(graph):
            raise PassError("pass 'quantize': the graph is already quantized (it has int8 ops or quantize "
                            "casts); quantize takes a float graph")
        labels = {op.label for op in graph.ops}
        missing = [s for s in self.skip if s not in labels]
        if missing:
            raise PassError(f"pass 'quantize': no op named {', '.join(map(repr, missing))} to skip")
        if self.mode == "dynamic":
            counts = quantize_dynamic(graph, set(self.skip), self.per_channel, self.weight_qmax)
            remove_dead_ops(graph, ("const",))
            for k, v in counts.items():
                ctx.record(self.name, k, v)
            return counts["dynamic matmuls"] > 0
        plan = _Plan(graph, self.activations, self.ops, set(self.skip), self.per_channel,
                     self.activation_matmuls, self.float_results, self.weight_qmax)
        plan.decide()
        _check_finite_constants(plan)
        if not plan.int8_ops:
            if not any(op.attrs.get("q.range") for op in graph.ops):
                raise PassError("pass 'quantize': the graph has no calibrated ranges; run calibrate first")
            ctx.record(self.name, "quantized ops", 0)
            return False
        counts = _rewrite(plan)
        remove_dead_ops(graph, ("const",))
        for k, v in counts.items():
            ctx.record(self.name, k, v)
        ctx.record(self.name, "float for want of a range", len(plan.no_range))
        return True
