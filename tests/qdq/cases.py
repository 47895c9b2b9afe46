"""The quantized test graphs of the onnx-qdq backend, each with the int8 kernels onnxruntime must use.

Every case is a function returning a Case: the graph, its feeds, and the optimized node types
(at level ALL) that must appear beyond the one int8 kernel per conv / gemm / matmul that
check_qdq already demands.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from irc.ir.graph import Graph

from .qdq_graphs import QBuilder

RELU = ("relu", 0.0, np.inf)
RELU6 = ("clip", 0.0, 6.0)


@dataclass
class Case:
    graph: Graph
    feeds: dict[str, np.ndarray]
    kernels: dict[str, int] = field(default_factory=dict)
    """op type -> least count in onnxruntime's optimized graph (level ALL)."""
    warnings: bool = False
    verify_exempt: tuple[str, ...] = ()
    """labels of ops the IR verifier is known to reject although the spec allows them."""


CASES: dict[str, Callable[[], Case]] = {}


def case(fn: Callable[[], Case]) -> Callable[[], Case]:
    CASES[fn.__name__] = fn
    return fn


@case
def conv_relu() -> Case:
    b = QBuilder(seed=1)
    q = b.quantize(b.input((3, 10, 10), "x"), "xq")
    c = b.conv(q, 8, 3, "conv1", pad=1, activation=RELU)
    return Case(b.finish([b.dequantize(c, "y")]), b.feeds, {"QLinearConv": 1})


@case
def depthwise_relu6() -> Case:
    b = QBuilder(seed=2)
    q = b.quantize(b.input((4, 9, 9), "x"), "xq")
    c = b.conv(q, 16, 1, "expand", activation=RELU6)
    d = b.conv(c, 16, 3, "dw", group=16, pad=1, stride=2, activation=RELU6)
    p = b.conv(d, 8, 1, "project", bias=False)
    return Case(b.finish([b.dequantize(p, "y")]), b.feeds, {"QLinearConv": 3})


@case
def conv_pool_reshape_gemm() -> Case:
    b = QBuilder(seed=3)
    q = b.quantize(b.input((3, 8, 8), "x"), "xq")
    c = b.conv(q, 8, 3, "conv1", pad=1, activation=RELU)
    p = b.op("max_pool", [c], "pool", {"kernel_shape": [2, 2], "strides": [2, 2]})
    r = b.op("reshape", [p], "flat", {"shape": [2, -1]})
    f1 = b.gemm(r, 16, "fc1", activation=RELU)
    f2 = b.gemm(f1, 10, "fc2", trans_b=0)
    return Case(b.finish([b.dequantize(f2, "y")]), b.feeds, {"QGemm": 2})


@case
def symbolic_batch_chain() -> Case:
    """A batch dim `N` unknown until run time: the int8 kernels do not depend on it."""
    b = QBuilder(seed=11, batch=3, symbolic_batch=True)
    q = b.quantize(b.input((3, 8, 8), "x"), "xq")
    c = b.conv(q, 8, 3, "conv1", pad=1, stride=2, activation=RELU)
    p = b.op("max_pool", [c], "pool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]})
    r = b.op("reshape", [p], "flat", {"shape": [0, -1]})
    fc = b.gemm(r, 10, "fc")
    return Case(b.finish([b.dequantize(fc, "y")]), b.feeds, {"QGemm": 1, "QLinearConv": 1})


@case
def residual_add() -> Case:
    """Two quantized branches added (QLinearAdd); conv1's result has two readers."""
    b = QBuilder(seed=4)
    q = b.quantize(b.input((8, 6, 6), "x"), "xq")
    c1 = b.conv(q, 8, 3, "conv1", pad=1, activation=RELU)
    c2 = b.conv(c1, 8, 3, "conv2", pad=1)
    s = b.op("add", [c1, c2], "sum", result="requant")
    c3 = b.conv(s, 4, 1, "conv3", activation=RELU)
    return Case(b.finish([b.dequantize(c3, "y")]), b.feeds, {"QLinearAdd": 1})


@case
def concat_branches() -> Case:
    """Branches with different parameters joined by a requantizing concat (QLinearConcat)."""
    b = QBuilder(seed=5)
    q = b.quantize(b.input((4, 8, 8), "x"), "xq")
    c1 = b.conv(q, 6, 1, "branch1", activation=RELU)
    c2 = b.conv(q, 6, 3, "branch2", pad=1)
    cat = b.op("concat", [c1, c2], "cat", {"axis": 1}, result="requant")
    c3 = b.conv(cat, 4, 1, "fuse", activation=RELU)
    return Case(b.finish([b.dequantize(c3, "y")]), b.feeds, {"QLinearConcat": 1}, verify_exempt=("cat",))


@case
def global_average_pool_head() -> Case:
    b = QBuilder(seed=6)
    q = b.quantize(b.input((3, 8, 8), "x"), "xq")
    c = b.conv(q, 16, 3, "conv1", pad=1, stride=2, activation=RELU)
    a = b.op("average_pool", [c], "avg", {"kernel_shape": [2, 2]}, result="requant")
    gap = b.op("global_average_pool", [a], "gap", result="requant")
    f = b.op("flatten", [gap], "flat")
    fc = b.gemm(f, 10, "fc")
    return Case(b.finish([b.dequantize(fc, "y")]), b.feeds,
                {"QLinearGlobalAveragePool": 1, "QLinearAveragePool": 1})


@case
def float_ops_between_int8() -> Case:
    """sigmoid and softmax stay f32 in the IR between int8 regions (dequantize .. quantize)."""
    b = QBuilder(seed=7)
    q = b.quantize(b.input((4, 6, 6), "x"), "xq")
    c1 = b.conv(q, 8, 3, "conv1", pad=1)
    sig = b.op("sigmoid", [b.dequantize(c1, "c1f")], "gate", result="float")
    c2 = b.conv(b.quantize(sig, "gate_q"), 8, 3, "conv2", stride=2, activation=RELU)
    r = b.op("reshape", [c2], "flat", {"shape": [2, -1]})
    fc = b.gemm(r, 10, "fc")
    sm = b.op("softmax", [b.dequantize(fc, "logits")], "probs", {"axis": 1}, result="float")
    m = b.matmul(b.quantize(sm, "probs_q"), 6, "mm")
    return Case(b.finish([b.dequantize(m, "y")]), b.feeds, {"QLinearMatMul": 1})


@case
def shared_value_and_quantized_outputs() -> Case:
    """One quantized value read by two convs, a transpose and returned as it is; a second output
    is the quantized result of a conv (each graph output reads its own DQ)."""
    b = QBuilder(seed=8)
    q = b.quantize(b.input((4, 5, 5), "x"), "xq")
    c = b.conv(q, 8, 3, "stem", pad=1, activation=RELU)
    left = b.conv(c, 4, 1, "left")
    right = b.conv(c, 4, 3, "right", pad=1, activation=RELU)
    t = b.op("transpose", [c], "stem_t", {"perm": [0, 2, 3, 1]})
    return Case(b.finish([c, b.dequantize(left, "left_f"), right, b.dequantize(t, "stem_t_f")]), b.feeds)


@case
def matmul_and_float_results() -> Case:
    """matmul on a 3-D activation (QLinearMatMul); a matmul and a gemm whose results stay f32
    (MatMulIntegerToFloat, QGemm with a float output)."""
    b = QBuilder(seed=9)
    q = b.quantize(b.input((5, 12), "x"), "xq")
    m1 = b.matmul(q, 8, "mm1")
    m2 = b.matmul(m1, 6, "mm2", result="float")
    r = b.op("reshape", [m1], "rows", {"shape": [10, 8]})
    g = b.gemm(r, 4, "fc", result="float")
    return Case(b.finish([m2, g]), b.feeds, {"QLinearMatMul": 1, "MatMulIntegerToFloat": 1})


@case
def i8_activations_relu_kept() -> Case:
    """Symmetric i8 results cannot express relu by saturation: the backend clamps after the Q."""
    b = QBuilder(seed=10, activations="i8")
    q = b.quantize(b.input((3, 6, 6), "x"), "xq")
    c = b.conv(q, 8, 3, "conv1", pad=1, activation=RELU)
    return Case(b.finish([b.dequantize(c, "y")]), b.feeds, {}, warnings=True)


@case
def activation_matmuls() -> Case:
    """Attention's q k^T and p v: matmuls of two int8 activations (u8 with zero points other than
    0), batched over 4-D heads; onnxruntime runs both as QLinearMatMul."""
    b = QBuilder(seed=11)
    q = b.quantize(b.input((3, 5, 8), "q", lo=-2.0, hi=1.0), "q_q")
    k = b.quantize(b.input((3, 8, 5), "kt", lo=-1.0, hi=3.0), "kt_q")
    scores = b.compute("matmul", [q, k], "scores", {})
    p = b.op("softmax", [b.dequantize(scores, "scores_f")], "p", {"axis": -1}, result="float")
    v = b.quantize(b.input((3, 5, 8), "v", lo=-0.5, hi=2.0), "v_q")
    out = b.compute("matmul", [b.quantize(p, "p_q"), v], "context", {})
    return Case(b.finish([b.dequantize(out, "y")]), b.feeds, {"QLinearMatMul": 2})
