"""Quantized ONNX nodes import as quantized types (backends/onnx/ops/quant.py): QuantizeLinear /
DequantizeLinear as casts and quantized constants, the QOperator forms as irc's int8 ops; what
irc cannot hold stays a generic op. Every model runs in the interpreter like onnxruntime (int8
kernels at the default optimization level) and re-exports to a model onnxruntime runs the same."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto as T
from onnx import helper, numpy_helper

from irc.backends.numpy_interp import run_graph
from irc.onnx_import import import_onnx
from irc.backends.onnx.qdq import export_qdq
from irc.ir import parse_text, print_graph
from irc.ir.diagnostics import IRError
from irc.passes.quantize import Quantize

RNG = np.random.default_rng(11)
WQ = Quantize().weight_qmax
"""Weight magnitude the quantize pass stores on this host (7 bits on x86 without VNNI, whose
onnxruntime kernels saturate pairs of full-range products)."""
MS = "com.microsoft"
MIN_AGREEMENT = 0.999  # specs/quantization.md §3: 100% on x86-64 with VNNI, one quantum elsewhere


def _vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def _init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def _model(nodes, inputs, outputs, inits=(), ms=False) -> onnx.ModelProto:
    opsets = [helper.make_opsetid("", 21)] + ([helper.make_opsetid(MS, 1)] if ms else [])
    m = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, list(inits)), opset_imports=opsets)
    m.ir_version = 10
    return m


def _ort(model, feeds):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, feeds)


def _quantum(output_name: str, model: onnx.ModelProto) -> float:
    """The scale of the DequantizeLinear that makes a graph output (0: a float output)."""
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for n in model.graph.node:
        if n.output[0] == output_name and n.op_type == "DequantizeLinear":
            return float(np.max(inits[n.input[1]]))
    return 0.0


def assert_runs_like_onnxruntime(model: onnx.ModelProto, feeds: dict, exact: bool = False) -> None:
    """The imported graph prints and parses back to its text, computes what onnxruntime computes
    (integers: >= 99.9% equal and within one quantum; `exact`: all equal) and exports to a QDQ
    model onnxruntime runs to the same outputs."""
    graph = import_onnx(model)
    text = print_graph(graph)
    assert print_graph(parse_text(text, weights=graph.weights)) == text
    want = _ort(model, feeds)
    got = run_graph(graph, feeds)
    for v, w, o in zip(graph.outputs, want, model.graph.output):
        a = got[v.name]
        assert a.shape == w.shape, (v.name, a.shape, w.shape)
        if exact or a.dtype.kind in "iub":
            np.testing.assert_array_equal(a, w, err_msg=v.name)
            continue
        q = _quantum(o.name, model)
        equal = float(np.mean(a == w))
        worst = float(np.max(np.abs(a.astype(np.float64) - w), initial=0.0))
        assert equal >= MIN_AGREEMENT and worst <= max(q * 1.001, 1e-6), (v.name, equal, worst, q)
    again = _ort(export_qdq(graph, warn=lambda m: None), feeds)
    for w, a in zip(want, again):
        np.testing.assert_array_equal(a, w)


# -- QuantizeLinear / DequantizeLinear ------------------------------------------------------------

def test_casts_and_quantized_constants_import_as_quantized_types():
    w = np.array([[1, -2, 3], [4, 5, -6]], np.int8)
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["x_q"]),
             helper.make_node("DequantizeLinear", ["x_q", "xs", "xz"], ["x_dq"]),
             helper.make_node("DequantizeLinear", ["w", "ws", "wz"], ["w_dq"], axis=0),
             helper.make_node("DequantizeLinear", ["b", "bs"], ["b_dq"]),
             helper.make_node("QuantizeLinear", ["x", "ps", "pz"], ["p_q"], axis=1),
             helper.make_node("DequantizeLinear", ["p_q", "ps", "pz"], ["p"], axis=1),
             helper.make_node("Add", ["x_dq", "p"], ["s"])]
    inits = [_init("xs", np.float32(0.5)), _init("xz", np.uint8(3)), _init("w", w),
             _init("ws", np.array([0.25, 0.125], np.float32)), _init("wz", np.zeros(2, np.int8)),
             _init("b", np.array([7, -7], np.int32)), _init("bs", np.float32(0.01)),
             _init("ps", np.array([0.1, 0.2, 0.3], np.float32)), _init("pz", np.array([-1, 0, 1], np.int8))]
    model = _model(nodes, [_vi("x", T.FLOAT, ["N", 3])],
                   [_vi("s", T.FLOAT, ["N", 3]), _vi("w_dq", T.FLOAT, [2, 3]), _vi("b_dq", T.FLOAT, [2])], inits)
    text = print_graph(import_onnx(model, fuse_qdq=False))
    assert "%x_q = quantize(%x) : tensor<[N]x3x!q.u8<0.5:3>>" in text
    assert "%x_dq = dequantize(%x_q) : tensor<[N]x3xf32>" in text
    assert "%w = const dense<[1, -2, 3, 4, 5, -6]> : tensor<2x3x!q.i8<axis=0, [0.25:0, 0.125:0]>>" in text
    assert "%b = const dense<[7, -7]> : tensor<2x!q.i32<0.01:0>>" in text
    assert "%p_q = quantize(%x) : tensor<[N]x3x!q.i8<axis=1, [0.1:-1, 0.2:0, 0.3:1]>>" in text
    assert_runs_like_onnxruntime(model, {"x": RNG.standard_normal((4, 3)).astype(np.float32) * 40}, exact=True)


def test_a_graph_input_read_only_by_dequantize_is_typed_quantized():
    nodes = [helper.make_node("DequantizeLinear", ["q", "s", "z"], ["a"]),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["b"]),
             helper.make_node("Mul", ["a", "b"], ["y"])]
    inits = [_init("s", np.float32(0.1)), _init("z", np.uint8(128))]
    model = _model(nodes, [_vi("q", T.UINT8, [2, 5])], [_vi("y", T.FLOAT, [2, 5])], inits)
    graph = import_onnx(model)
    assert str(graph.inputs[0].type) == "tensor<2x5x!q.u8<0.1:128>>"
    assert_runs_like_onnxruntime(model, {"q": RNG.integers(0, 256, (2, 5)).astype(np.uint8)}, exact=True)


def _dq_case(kind: str) -> tuple[onnx.ModelProto, dict]:
    """A Q -> DQ pair irc cannot type, and its feeds."""
    x = RNG.standard_normal((2, 4)).astype(np.float32)
    inputs, feeds = [_vi("x", T.FLOAT, [2, 4])], {"x": x}
    s, z = _init("s", np.float32(0.05)), _init("z", np.uint8(120))
    q_attrs, dq_attrs, inits = {}, {}, [s, z]
    if kind == "scale at run time":
        inputs.append(_vi("s", T.FLOAT, []))
        feeds["s"] = np.array(0.05, np.float32)
        inits = [z]
    elif kind == "blocked":
        inits = [_init("s", np.full((2, 2), 0.05, np.float32)), _init("z", np.full((2, 2), 120, np.uint8))]
        q_attrs = dq_attrs = {"axis": 1, "block_size": 2}
    elif kind == "float16 scale":
        inits = [_init("s", np.float16(0.05)), z]
        inputs, x = [_vi("x", T.FLOAT16, [2, 4])], x.astype(np.float16)
        feeds = {"x": x}
    elif kind == "int4":
        inits = [s, helper.make_tensor("z", T.INT4, [], [1])]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], **q_attrs),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], **dq_attrs)]
    out = T.FLOAT16 if kind == "float16 scale" else T.FLOAT
    return _model(nodes, inputs, [_vi("y", out, [2, 4])], inits), feeds


@pytest.mark.parametrize("kind", ["scale at run time", "blocked", "float16 scale"])
def test_parameters_irc_cannot_type_keep_the_nodes_generic(kind):
    model, feeds = _dq_case(kind)
    graph = import_onnx(model)
    assert [op.name for op in graph.ops if op.name != "const"] == ["onnx.QuantizeLinear", "onnx.DequantizeLinear"]
    assert any("(QuantizeLinear)" in n for n in graph.import_notes), graph.import_notes
    assert_runs_like_onnxruntime(model, feeds, exact=True)


def test_a_4_bit_zero_point_is_refused_naming_the_node():
    model, _ = _dq_case("int4")
    with pytest.raises(IRError, match=r"\(QuantizeLinear\): the quantized result is of type int4, which irc's IR "
                                      r"has no element type for"):
        import_onnx(model)


# -- the integers of a quantized value --------------------------------------------------------------

def test_ops_that_compute_on_the_integers_of_a_quantized_value_stay_generic():
    """Cast of a QuantizeLinear's integers, a com.microsoft QLinearSigmoid, MatMulInteger and
    ConvInteger: the ONNX nodes compute on stored integers, so they stay generic ops (reading
    the stored integers) instead of irc ops on the real values. QLinearSigmoid's result is typed
    from its output parameters, so the DequantizeLinear after it is a dequantize."""
    w = RNG.integers(-50, 50, (4, 3)).astype(np.int8)
    cw = RNG.integers(-50, 50, (2, 1, 3, 3)).astype(np.int8)
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
             helper.make_node("Cast", ["q"], ["qf"], to=T.FLOAT),
             helper.make_node("QLinearSigmoid", ["q", "s", "z", "ys", "yz"], ["sg"], domain=MS),
             helper.make_node("DequantizeLinear", ["sg", "ys", "yz"], ["sig"]),
             helper.make_node("MatMulInteger", ["q", "w", "z"], ["acc"]),
             helper.make_node("QuantizeLinear", ["img", "s", "z"], ["img_q"]),
             helper.make_node("ConvInteger", ["img_q", "cw", "z"], ["cacc"])]
    inits = [_init("s", np.float32(0.02)), _init("z", np.uint8(128)), _init("ys", np.float32(1 / 256)),
             _init("yz", np.uint8(0)), _init("w", w), _init("cw", cw)]
    model = _model(nodes, [_vi("x", T.FLOAT, [5, 4]), _vi("img", T.FLOAT, [1, 1, 6, 6])],
                   [_vi("qf", T.FLOAT, [5, 4]), _vi("sig", T.FLOAT, [5, 4]), _vi("acc", T.INT32, [5, 3]),
                    _vi("cacc", T.INT32, [1, 2, 4, 4])], inits, ms=True)
    graph = import_onnx(model)
    kinds = [op.name for op in graph.ops if op.name != "const"]
    assert kinds == ["quantize", "onnx.Cast", "com.microsoft.QLinearSigmoid", "dequantize",
                     "onnx.MatMulInteger", "quantize", "onnx.ConvInteger"], kinds
    sigmoid = graph.ops[[op.name for op in graph.ops].index("com.microsoft.QLinearSigmoid")]
    assert str(sigmoid.result.type) == "tensor<5x4x!q.u8<0.00390625:0>>"
    assert any("holds the integers of a quantized value" in n and "(Cast)" in n for n in graph.import_notes)
    feeds = {"x": RNG.standard_normal((5, 4)).astype(np.float32), "img": RNG.standard_normal((1, 1, 6, 6)).astype(np.float32)}
    assert_runs_like_onnxruntime(model, feeds, exact=True)


# -- QOperator forms ------------------------------------------------------------------------------

def _qop_inputs(names_and_arrays):
    return [_init(n, a) for n, a in names_and_arrays]


def test_qlinear_conv_imports_as_an_int8_conv():
    wq = RNG.integers(-WQ, WQ + 1, (8, 4, 3, 3)).astype(np.int8)
    w_scales = (RNG.uniform(0.5, 1.5, 8) * 0.004).astype(np.float32)
    bias = RNG.integers(-3000, 3000, 8).astype(np.int32)
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["x_q"]),
             helper.make_node("QLinearConv", ["x_q", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["y_q"],
                              pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("DequantizeLinear", ["y_q", "ys", "yz"], ["y"])]
    inits = _qop_inputs([("xs", np.float32(0.03)), ("xz", np.uint8(120)), ("w", wq), ("ws", w_scales),
                         ("wz", np.zeros(8, np.int8)), ("ys", np.float32(0.05)), ("yz", np.uint8(100)), ("b", bias)])
    model = _model(nodes, [_vi("x", T.FLOAT, ["N", 4, 9, 9])], [_vi("y", T.FLOAT, ["N", 8, 5, 5])], inits)
    text = print_graph(import_onnx(model))
    assert "%y_q = conv(%x_q, %w, %b) {pads=[1, 1, 1, 1], strides=[2, 2]} : tensor<[N]x8x5x5x!q.u8<0.05:100>>" in text
    assert "%b = const dense<" in text and "tensor<8x!q.i32<axis=0, [" in text
    assert_runs_like_onnxruntime(model, {"x": RNG.standard_normal((2, 4, 9, 9)).astype(np.float32)})


def test_qlinear_matmul_and_qgemm_import_as_int8_ops():
    a = RNG.standard_normal((3, 6)).astype(np.float32)
    wq = RNG.integers(-WQ, WQ + 1, (6, 5)).astype(np.int8)
    gq = RNG.integers(-WQ, WQ + 1, (4, 6)).astype(np.int8)
    g_scales = (RNG.uniform(0.5, 1.5, 4) * 0.01).astype(np.float32)
    c = RNG.integers(-500, 500, 4).astype(np.int32)
    nodes = [helper.make_node("QuantizeLinear", ["a", "as", "az"], ["a_q"]),
             helper.make_node("QLinearMatMul", ["a_q", "as", "az", "w", "ws", "wz", "ms", "mz"], ["m_q"]),
             helper.make_node("QLinearMatMul", ["a_q", "as", "az", "m_t", "ms", "mz", "ns", "nz"], ["n_q"]),
             helper.make_node("QGemm", ["a_q", "as", "az", "g", "gs", "gz", "c", "ys", "yz"], ["g_q"], domain=MS,
                              transB=1),
             helper.make_node("QGemm", ["a_q", "as", "az", "g", "gs", "gz", "c"], ["g_f"], domain=MS, transB=1),
             helper.make_node("DequantizeLinear", ["m_q", "ms", "mz"], ["m"]),
             helper.make_node("DequantizeLinear", ["n_q", "ns", "nz"], ["n"]),
             helper.make_node("DequantizeLinear", ["g_q", "ys", "yz"], ["g_y"])]
    # m_t: a quantized activation read as QLinearMatMul's second operand (a x a^T-like product)
    nodes.insert(1, helper.make_node("QuantizeLinear", ["t", "ms", "mz"], ["m_t"]))
    inits = _qop_inputs([("as", np.float32(0.02)), ("az", np.uint8(128)), ("w", wq), ("ws", np.float32(0.01)),
                         ("wz", np.int8(0)), ("ms", np.float32(0.04)), ("mz", np.uint8(110)),
                         ("ns", np.float32(0.3)), ("nz", np.uint8(90)), ("g", gq), ("gs", g_scales),
                         ("gz", np.zeros(4, np.int8)), ("c", c), ("ys", np.float32(0.06)), ("yz", np.uint8(125))])
    model = _model(nodes, [_vi("a", T.FLOAT, [3, 6]), _vi("t", T.FLOAT, [6, 2])],
                   [_vi("m", T.FLOAT, [3, 5]), _vi("n", T.FLOAT, [3, 2]), _vi("g_y", T.FLOAT, [3, 4]),
                    _vi("g_f", T.FLOAT, [3, 4])], inits, ms=True)
    graph = import_onnx(model)
    kinds = [op.name for op in graph.ops if op.name not in ("const", "quantize", "dequantize")]
    assert kinds == ["matmul", "matmul", "gemm", "com.microsoft.QGemm"], kinds
    assert any("float result" in n for n in graph.import_notes)
    feeds = {"a": a, "t": RNG.standard_normal((6, 2)).astype(np.float32)}
    assert_runs_like_onnxruntime(model, feeds)


def test_qlinear_add_concat_and_pools_import_as_int8_ops():
    nodes = [helper.make_node("QuantizeLinear", ["a", "as", "az"], ["a_q"]),
             helper.make_node("QuantizeLinear", ["b", "bs", "bz"], ["b_q"]),
             helper.make_node("QLinearAdd", ["a_q", "as", "az", "b_q", "bs", "bz", "ys", "yz"], ["s_q"], domain=MS),
             helper.make_node("QLinearConcat", ["ys", "yz", "s_q", "ys", "yz", "b_q", "bs", "bz"], ["c_q"], domain=MS,
                              axis=1),
             helper.make_node("QLinearGlobalAveragePool", ["c_q", "ys", "yz", "gs", "gz"], ["g_q"], domain=MS),
             helper.make_node("QLinearAveragePool", ["c_q", "ys", "yz", "ps", "pz"], ["p_q"], domain=MS,
                              kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("DequantizeLinear", ["g_q", "gs", "gz"], ["g"]),
             helper.make_node("DequantizeLinear", ["p_q", "ps", "pz"], ["p"])]
    inits = _qop_inputs([("as", np.float32(0.03)), ("az", np.uint8(128)), ("bs", np.float32(0.07)),
                         ("bz", np.uint8(90)), ("ys", np.float32(0.09)), ("yz", np.uint8(120)),
                         ("gs", np.float32(0.01)), ("gz", np.uint8(128)), ("ps", np.float32(0.05)),
                         ("pz", np.uint8(128))])
    model = _model(nodes, [_vi("a", T.FLOAT, [2, 3, 8, 8]), _vi("b", T.FLOAT, [2, 3, 8, 8])],
                   [_vi("g", T.FLOAT, [2, 6, 1, 1]), _vi("p", T.FLOAT, [2, 6, 4, 4])], inits, ms=True)
    graph = import_onnx(model)
    kinds = [op.name for op in graph.ops if op.name not in ("const", "quantize", "dequantize")]
    assert kinds == ["add", "concat", "global_average_pool", "average_pool"], kinds
    assert all(op.results[0].type.is_quantized for op in graph.ops if op.name in kinds)
    feeds = {"a": RNG.standard_normal((2, 3, 8, 8)).astype(np.float32) * 3,
             "b": RNG.standard_normal((2, 3, 8, 8)).astype(np.float32) * 5}
    assert_runs_like_onnxruntime(model, feeds)


def test_a_qoperator_input_with_other_parameters_stays_generic():
    """QLinearAdd of a value quantized with other parameters than the node states: irc's add
    would read the value's own parameters, so the node stays generic (on the stored integers)."""
    nodes = [helper.make_node("QuantizeLinear", ["a", "as", "az"], ["a_q"]),
             helper.make_node("QLinearAdd", ["a_q", "bs", "az", "a_q", "as", "az", "as", "az"], ["s_q"], domain=MS),
             helper.make_node("DequantizeLinear", ["s_q", "as", "az"], ["s"])]
    inits = _qop_inputs([("as", np.float32(0.03)), ("az", np.uint8(128)), ("bs", np.float32(0.06))])
    model = _model(nodes, [_vi("a", T.FLOAT, [4, 4])], [_vi("s", T.FLOAT, [4, 4])], inits, ms=True)
    graph = import_onnx(model)
    assert [op.name for op in graph.ops if op.name != "const"] == ["quantize", "com.microsoft.QLinearAdd",
                                                                   "onnx.DequantizeLinear"]
    assert_runs_like_onnxruntime(model, {"a": RNG.standard_normal((4, 4)).astype(np.float32)}, exact=True)


def test_int8_ops_around_a_qlinear_op_irc_has_no_kernel_for_stay_int8():
    """QLinearConv -> QLinearSigmoid -> QLinearMul -> QLinearConv (a SiLU between convs, as
    quantize_static writes it in the QOperator format): the sigmoid and the mul are generic ops
    with quantized results, the convs int8 convs."""
    w1 = RNG.integers(-WQ, WQ + 1, (4, 3, 3, 3)).astype(np.int8)
    w2 = RNG.integers(-WQ, WQ + 1, (2, 4, 1, 1)).astype(np.int8)
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["x_q"]),
             helper.make_node("QLinearConv", ["x_q", "xs", "xz", "w1", "ws", "wz", "cs", "cz"], ["c_q"], pads=[1, 1, 1, 1]),
             helper.make_node("QLinearSigmoid", ["c_q", "cs", "cz", "ss", "sz"], ["s_q"], domain=MS),
             helper.make_node("QLinearMul", ["c_q", "cs", "cz", "s_q", "ss", "sz", "ms", "mz"], ["m_q"], domain=MS),
             helper.make_node("QLinearConv", ["m_q", "ms", "mz", "w2", "ws", "wz", "ys", "yz"], ["y_q"]),
             helper.make_node("DequantizeLinear", ["y_q", "ys", "yz"], ["y"])]
    inits = _qop_inputs([("xs", np.float32(0.02)), ("xz", np.uint8(128)), ("w1", w1), ("w2", w2),
                         ("ws", np.float32(0.005)), ("wz", np.int8(0)), ("cs", np.float32(0.05)), ("cz", np.uint8(120)),
                         ("ss", np.float32(1 / 256)), ("sz", np.uint8(0)), ("ms", np.float32(0.03)),
                         ("mz", np.uint8(20)), ("ys", np.float32(0.04)), ("yz", np.uint8(128))])
    model = _model(nodes, [_vi("x", T.FLOAT, [1, 3, 6, 6])], [_vi("y", T.FLOAT, [1, 2, 6, 6])], inits, ms=True)
    graph = import_onnx(model)
    kinds = [op.name for op in graph.ops if op.name not in ("const", "quantize", "dequantize")]
    assert kinds == ["conv", "com.microsoft.QLinearSigmoid", "com.microsoft.QLinearMul", "conv"], kinds
    assert all(op.result.type.is_quantized for op in graph.ops if op.name in kinds)
    assert_runs_like_onnxruntime(model, {"x": RNG.standard_normal((1, 3, 6, 6)).astype(np.float32)})


def test_fake_quantized_float_weights_fold_into_quantized_constants():
    """A quantization-aware-trained export: float weights through QuantizeLinear ->
    DequantizeLinear (import folds the QuantizeLinear of the constant, so the DequantizeLinear
    reads stored integers), activations through Q -> DQ. The conv with a quantized bias becomes
    an int8 conv; the one whose bias stayed float stays float, as onnxruntime leaves it."""
    w = (RNG.standard_normal((4, 2, 3, 3)) * 0.3).astype(np.float32)
    w_scales = (np.abs(w).reshape(4, -1).max(axis=1) / WQ).astype(np.float32)
    bias_q = RNG.integers(-200, 200, 4).astype(np.int32)
    nodes = [helper.make_node("QuantizeLinear", ["w", "ws", "wz"], ["w_q"], axis=0),
             helper.make_node("DequantizeLinear", ["w_q", "ws", "wz"], ["w_dq"], axis=0),
             helper.make_node("DequantizeLinear", ["b_q", "bs"], ["b_dq"], axis=0),
             helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["x_q"]),
             helper.make_node("DequantizeLinear", ["x_q", "xs", "xz"], ["x_dq"]),
             helper.make_node("Conv", ["x_dq", "w_dq", "b_dq"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("QuantizeLinear", ["c", "ys", "yz"], ["c_q"]),
             helper.make_node("DequantizeLinear", ["c_q", "ys", "yz"], ["y"]),
             helper.make_node("Conv", ["x_dq", "w_dq", "bf"], ["d"], pads=[1, 1, 1, 1]),
             helper.make_node("QuantizeLinear", ["d", "ys", "yz"], ["d_q"]),
             helper.make_node("DequantizeLinear", ["d_q", "ys", "yz"], ["z"])]
    inits = _qop_inputs([("w", w), ("ws", w_scales), ("wz", np.zeros(4, np.int8)), ("b_q", bias_q),
                         ("bs", (np.float32(0.02) * w_scales).astype(np.float32)), ("xs", np.float32(0.02)),
                         ("xz", np.uint8(128)), ("ys", np.float32(0.03)), ("yz", np.uint8(128)),
                         ("bf", np.linspace(-1, 1, 4).astype(np.float32))])
    model = _model(nodes, [_vi("x", T.FLOAT, [1, 2, 7, 7])], [_vi("y", T.FLOAT, [1, 4, 7, 7]),
                                                              _vi("z", T.FLOAT, [1, 4, 7, 7])], inits)
    graph = import_onnx(model)
    convs = [op for op in graph.ops if op.name == "conv"]
    assert [str(op.result.type) for op in convs] == ["tensor<1x4x7x7x!q.u8<0.03:128>>", "tensor<1x4x7x7xf32>"]
    assert str(convs[0].operands[1].type).startswith("tensor<4x2x3x3x!q.i8<axis=0, [")
    assert_runs_like_onnxruntime(model, {"x": RNG.standard_normal((1, 2, 7, 7)).astype(np.float32)})
