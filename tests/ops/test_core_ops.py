"""Core and quantization-cast ops end to end."""

import numpy as np

from irc.backends.numpy_interp import run_graph
from irc.ir import parse_text

from .onnx_check import check_node


def test_identity_keeps_output_name():
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    g = check_node("Identity", {"x": x}, symbolic_batch=True)
    assert [v.name for v in g.outputs] == ["y0"]


def test_quantize_dequantize_round_half_even_and_saturate():
    g = parse_text("""func @main(%x: tensor<6xf32>) -> (tensor<6xf32>) {
  %q = quantize(%x) : tensor<6x!q.u8<0.5:10>>
  %y = dequantize(%q) : tensor<6xf32>
  return %y
}
""")
    x = np.array([0.25, 0.75, -5.0, -6.0, 200.0, 1.0], dtype=np.float32)
    y = run_graph(g, {"x": x})["y"]
    # 0.25/0.5 = 0.5 -> 0 (ties to even), 0.75/0.5 = 1.5 -> 2, -10 -> 0, -12+10 saturates at 0
    np.testing.assert_array_equal(y, np.array([0.0, 1.0, -5.0, -5.0, 122.5, 1.0], dtype=np.float32))
