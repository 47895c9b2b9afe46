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
