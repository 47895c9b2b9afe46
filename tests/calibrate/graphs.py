"""Small graphs and data for the calibration tests."""

from __future__ import annotations

import numpy as np

from irc.ir import parse_text


def _dense(values) -> str:
    return "[" + ", ".join(repr(float(v)) for v in np.asarray(values).reshape(-1)) + "]"


def conv_net(batch: str = "[N]") -> str:
    """conv -> relu -> add(relu, conv2) -> average_pool -> flatten -> gemm, on 1x3x6x6 samples."""
    rng = np.random.default_rng(7)
    w1 = rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.3
    w2 = rng.standard_normal((4, 4, 1, 1)).astype(np.float32) * 0.5
    fc = rng.standard_normal((4, 5)).astype(np.float32)
    return f"""func @main(%x: tensor<{batch}x3x6x6xf32>) -> (tensor<{batch}x5xf32>) {{
  %w1 = const dense<{_dense(w1)}> : tensor<4x3x3x3xf32>
  %w2 = const dense<{_dense(w2)}> : tensor<4x4x1x1xf32>
  %fc = const dense<{_dense(fc)}> : tensor<4x5xf32>
  %c1 = conv(%x, %w1) {{pads=[1, 1, 1, 1]}} : tensor<{batch}x4x6x6xf32>
  %r1 = relu(%c1) : tensor<{batch}x4x6x6xf32>
  %c2 = conv(%r1, %w2) : tensor<{batch}x4x6x6xf32>
  %s = add(%r1, %c2) : tensor<{batch}x4x6x6xf32>
  %p = global_average_pool(%s) : tensor<{batch}x4x1x1xf32>
  %f = flatten(%p) : tensor<{batch}x4xf32>
  %y = matmul(%f, %fc) : tensor<{batch}x5xf32>
  return %y
}}
"""


def conv_graph(batch: str = "[N]"):
    return parse_text(conv_net(batch))


def samples(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 3, 6, 6)).astype(np.float32)


def batches(x: np.ndarray, size: int) -> list[dict[str, np.ndarray]]:
    return [{"x": x[i:i + size]} for i in range(0, len(x), size)]
