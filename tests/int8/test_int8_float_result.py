"""A quantized matmul with a float result (onnxruntime's MatMulIntegerToFloat), bit-exact.

    y[..., c] = f32(acc[..., c]) * f32(s_a * s_b[c])

The IR graph quantizes a float input, multiplies it by int8 weights (per tensor or per column)
or by a second quantized activation, and returns the float product. The QDQ export must run as
MatMulIntegerToFloat in onnxruntime (no float MatMul left) and give the interpreter's floats.
"""

import numpy as np
import pytest

from irc.backends.numpy_interp import run_graph
from irc.backends.onnx.qdq import export_qdq
from irc.ir import parse_text
from irc.ir.types import QuantType, TensorType

from .qdq_models import int8_matmul_weights, run_qdq


@pytest.mark.parametrize("a_shape, n, per_column", [
    ((2, 7, 384), 96, True),     # a batch of sequences, K < 512
    ((1, 5, 1536), 64, True),    # K > 512: chunked accumulation
    ((3, 200), 48, False),       # 2-D, per-tensor weights
])
def test_weight_matmul_with_float_result_matches_matmulintegertofloat(tmp_path, a_shape, n, per_column):
    rng = np.random.default_rng(sum(a_shape) + n)
    k = a_shape[-1]
    wq, w_qt = int8_matmul_weights(rng, k, n, per_column)
    x = (rng.standard_normal(a_shape) * 2).astype(np.float32)
    xt = TensorType(a_shape, "f32")
    qx = xt.with_element(QuantType.per_tensor("u8", np.float32(0.031), 121))
    yt = TensorType((*a_shape[:-1], n), "f32")
    text = (f"func @main(%x: {xt}) -> ({yt}) {{\n"
            f"  %xq = quantize(%x) : {qx}\n"
            f"  %w = const @w : {TensorType((k, n), w_qt)}\n"
            f"  %y = matmul(%xq, %w) : {yt}\n"
            f"  return %y\n}}\n")
    graph = parse_text(text, weights={"w": wq})
    ort_run = run_qdq(export_qdq(graph), {"x": x}, tmp_path)
    assert "MatMulIntegerToFloat" in ort_run.op_types and "MatMul" not in ort_run.op_types, ort_run.op_types
    got = run_graph(graph, {"x": x})["y"]
    ref = ort_run.outputs["y"]
    assert got.dtype == ref.dtype == np.float32
    np.testing.assert_array_equal(got, ref)


def test_activation_matmul_with_float_result_matches_onnxruntime(tmp_path):
    rng = np.random.default_rng(5)
    a = rng.standard_normal((2, 4, 16, 32)).astype(np.float32)
    b = rng.standard_normal((2, 4, 32, 16)).astype(np.float32)
    at, bt, yt = TensorType(a.shape, "f32"), TensorType(b.shape, "f32"), TensorType((2, 4, 16, 16), "f32")
    qa = at.with_element(QuantType.per_tensor("u8", np.float32(0.027), 128))
    qb = bt.with_element(QuantType.per_tensor("u8", np.float32(0.025), 125))
    text = (f"func @main(%a: {at}, %b: {bt}) -> ({yt}) {{\n"
            f"  %aq = quantize(%a) : {qa}\n  %bq = quantize(%b) : {qb}\n"
            f"  %y = matmul(%aq, %bq) : {yt}\n  return %y\n}}\n")
    graph = parse_text(text)
    ort_run = run_qdq(export_qdq(graph), {"a": a, "b": b}, tmp_path)
    assert "MatMulIntegerToFloat" in ort_run.op_types and "MatMul" not in ort_run.op_types, ort_run.op_types
    got = run_graph(graph, {"a": a, "b": b})["y"]
    np.testing.assert_array_equal(got, ort_run.outputs["y"])


@pytest.mark.parametrize("a_shape, n, per_column, bias_first, storage", [
    ((1, 32, 64), 64, True, True, "u8"),      # a projection of the corpus BERT at batch 1, bias first (TorchScript)
    ((8, 128, 384), 1536, True, False, "u8"),  # MiniLM's first FFN matmul at batch 8, seq 128
    ((2, 16, 1536), 384, True, True, "u8"),    # K > 512: chunked accumulation
    ((5, 200), 48, False, True, "u8"),         # 2-D, per-tensor weights
    ((2, 9, 96), 80, True, True, "i8"),        # i8 activations
])
def test_weight_matmul_and_bias_add_match_fused_matmulintegertofloat(tmp_path, a_shape, n, per_column,
                                                                     bias_first, storage):
    """matmul (float result) + add of a constant bias: written MatMulInteger -> Cast -> Mul -> Add,
    one MatMulIntegerToFloat with the bias in onnxruntime, equal to the interpreter's two float ops."""
    rng = np.random.default_rng(sum(a_shape) + n + bias_first)
    k = a_shape[-1]
    wq, w_qt = int8_matmul_weights(rng, k, n, per_column)
    x = (rng.standard_normal(a_shape) * 2).astype(np.float32)
    bias = (rng.standard_normal(n) * 0.3).astype(np.float32)
    xt = TensorType(a_shape, "f32")
    zp = 121 if storage == "u8" else -7
    qx = xt.with_element(QuantType.per_tensor(storage, np.float32(0.031), zp))
    yt = TensorType((*a_shape[:-1], n), "f32")
    operands = "%b, %y0" if bias_first else "%y0, %b"
    text = (f"func @main(%x: {xt}) -> ({yt}) {{\n"
            f"  %xq = quantize(%x) : {qx}\n"
            f"  %w = const @w : {TensorType((k, n), w_qt)}\n"
            f"  %b = const @b : {TensorType((n,), 'f32')}\n"
            f"  %y0 = matmul(%xq, %w) : {yt}\n"
            f"  %y = add({operands}) : {yt}\n"
            f"  return %y\n}}\n")
    graph = parse_text(text, weights={"w": wq, "b": bias})
    model = export_qdq(graph)
    written = [n.op_type for n in model.graph.node]
    assert "MatMulInteger" in written and "MatMul" not in written, written
    ort_run = run_qdq(model, {"x": x}, tmp_path)
    kernels = [t for t in ort_run.op_types if t not in ("QuantizeLinear", "DequantizeLinear", "Relu")]
    assert kernels == ["MatMulIntegerToFloat"], ort_run.op_types  # the bias Add is inside it
    got = run_graph(graph, {"x": x})["y"]
    np.testing.assert_array_equal(got, ort_run.outputs["y"])


def test_weight_matmul_form_without_fusions_computes_the_same(tmp_path):
    """At ORT_ENABLE_BASIC nothing fuses: the standard ops alone give the interpreter's floats."""
    import onnxruntime as ort

    rng = np.random.default_rng(11)
    wq, w_qt = int8_matmul_weights(rng, 64, 32, True)
    x = rng.standard_normal((3, 64)).astype(np.float32)
    xt, yt = TensorType((3, 64), "f32"), TensorType((3, 32), "f32")
    qx = xt.with_element(QuantType.per_tensor("u8", np.float32(0.02), 130))
    text = (f"func @main(%x: {xt}) -> ({yt}) {{\n  %xq = quantize(%x) : {qx}\n"
            f"  %w = const @w : {TensorType((64, 32), w_qt)}\n  %y = matmul(%xq, %w) : {yt}\n  return %y\n}}\n")
    graph = parse_text(text, weights={"w": wq})
    ort_run = run_qdq(export_qdq(graph), {"x": x}, tmp_path, level=ort.GraphOptimizationLevel.ORT_ENABLE_BASIC)
    assert "MatMulInteger" in ort_run.op_types, ort_run.op_types
    np.testing.assert_array_equal(run_graph(graph, {"x": x})["y"], ort_run.outputs["y"])


@pytest.mark.parametrize("m, k, n, trans_b, bias", [
    (1, 64, 64, True, True),      # the corpus BERT's pooler (trans_b, bias)
    (32, 64, 192, False, True),   # GPT-2's Conv1D as a gemm (weight K x N)
    (7, 600, 48, True, False),    # K > 512, no bias
])
def test_gemm_with_float_result_matches_matmulintegertofloat(tmp_path, m, k, n, trans_b, bias):
    """gemm(x_q, w_q[, c]) with a float result and float bias: y = f32(acc) * f32(s_x * s_w[c]) + c,
    one MatMulIntegerToFloat (bias included) in onnxruntime, bit for bit."""
    rng = np.random.default_rng(m + k + n)
    wq, w_qt = int8_matmul_weights(rng, k, n, True)
    if trans_b:
        wq = np.ascontiguousarray(wq.T)
        w_qt = QuantType.per_axis("i8", w_qt.scale_array(), [0] * n, 0)
    x = (rng.standard_normal((m, k)) * 1.5).astype(np.float32)
    xt, yt = TensorType((m, k), "f32"), TensorType((m, n), "f32")
    qx = xt.with_element(QuantType.per_tensor("u8", np.float32(0.027), 126))
    weights = {"w": wq}
    lines = [f"  %w = const @w : {TensorType(wq.shape, w_qt)}"]
    operands = "%xq, %w"
    if bias:
        weights["c"] = (rng.standard_normal(n) * 0.2).astype(np.float32)
        lines.append(f"  %c = const @c : {TensorType((n,), 'f32')}")
        operands += ", %c"
    text = (f"func @main(%x: {xt}) -> ({yt}) {{\n  %xq = quantize(%x) : {qx}\n" + "\n".join(lines) +
            f"\n  %y = gemm({operands}) {{trans_b={int(trans_b)}}} : {yt}\n  return %y\n}}\n")
    graph = parse_text(text, weights=weights)
    ort_run = run_qdq(export_qdq(graph), {"x": x}, tmp_path)
    kernels = [t for t in ort_run.op_types if t not in ("QuantizeLinear", "DequantizeLinear", "Relu")]
    assert kernels == ["MatMulIntegerToFloat"], ort_run.op_types
    np.testing.assert_array_equal(run_graph(graph, {"x": x})["y"], ort_run.outputs["y"])
