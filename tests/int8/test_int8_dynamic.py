"""dynamic_matmul (activations quantized at run time) against onnxruntime's DynamicQuantizeMatMul.

The IR graph multiplies a float input by int8 weights (per column or per tensor, with or without
a float bias); its QDQ export (DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul -> Add)
must become one DynamicQuantizeMatMul in onnxruntime's optimized graph and give the
interpreter's floats bit for bit, on transformer shapes (d = 384, 1536; batch 1 and 8).
"""

import numpy as np
import pytest

from irc.backends.numpy_interp import run_graph
from irc.backends.numpy_interp.kernels.int8_dynamic import dynamic_params
from irc.backends.onnx.qdq import export_qdq
from irc.ir import parse_text
from irc.ir.types import TensorType

from .qdq_models import int8_matmul_weights, run_qdq


def _graph(rng, x_shape, n, per_column, bias):
    k = x_shape[-1]
    wq, qt = int8_matmul_weights(rng, k, n, per_column)
    xt, yt = TensorType(x_shape, "f32"), TensorType((*x_shape[:-1], n), "f32")
    lines = [f"  %w = const @w : {TensorType((k, n), qt)}"]
    weights = {"w": wq}
    operands = "%x, %w"
    if bias:
        lines.append(f"  %b = const @b : {TensorType((n,), 'f32')}")
        weights["b"] = rng.standard_normal(n).astype(np.float32)
        operands += ", %b"
    text = (f"func @main(%x: {xt}) -> ({yt}) {{\n" + "\n".join(lines) +
            f"\n  %y = dynamic_matmul({operands}) : {yt}\n  return %y\n}}\n")
    return parse_text(text, weights=weights)


@pytest.mark.parametrize("x_shape, n, per_column, bias", [
    ((1, 32, 384), 384, True, True),       # a projection of MiniLM at batch 1, seq 32
    ((8, 128, 384), 1536, True, True),     # the FFN's first matmul at batch 8, seq 128
    ((2, 16, 1536), 384, True, False),     # K > 512: chunked accumulation, no bias
    ((5, 200), 48, False, True),           # 2-D, per-tensor weights
])
def test_dynamic_matmul_matches_dynamicquantizematmul(tmp_path, x_shape, n, per_column, bias):
    rng = np.random.default_rng(sum(x_shape) + n)
    graph = _graph(rng, x_shape, n, per_column, bias)
    x = (rng.standard_normal(x_shape) * 1.7 + 0.3).astype(np.float32)
    x.flat[3] = 9.5  # an outlier sets the run-time range
    ort_run = run_qdq(export_qdq(graph), {"x": x}, tmp_path)
    assert ort_run.op_types == ["DynamicQuantizeMatMul"], ort_run.op_types
    got = run_graph(graph, {"x": x})["y"]
    np.testing.assert_array_equal(got, ort_run.outputs["y"])


def test_run_time_parameters_cover_zero():
    assert dynamic_params(np.array([1.0, 2.0], np.float32)) == (np.float32(2.0 / 255), 0)
    s, z = dynamic_params(np.array([-3.0, -1.0], np.float32))
    assert s == np.float32(3.0 / 255) and z == 255
    assert dynamic_params(np.zeros(4, np.float32)) == (np.float32(1.0), 0)
