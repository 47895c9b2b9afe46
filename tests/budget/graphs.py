"""Small graphs and example paths shared by the budget tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from irc.ir import parse_text

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "examples" / "models"
DATA = REPO / "examples" / "data" / "digits-cls"
PREPROCESS = MODELS / "digits_cls.toml"
OUTLIER = MODELS / "digits_mobilenetv2_outlier.onnx"

# a residual block a -> b -> s = add(a, b) -> y, calibrated; channel 1 of %b is 40x wider than
# channel 0, so the per-tensor int8 type of %b (and of %s) leaves channel 0 a few levels
RESIDUAL = """func @main(%x: tensor<[N]x2x4x4xf32> {q.range=[-1.0, 1.0]}) -> (tensor<[N]x2x4x4xf32>) {
  %w1 = const dense<[0.5, -0.25, 0.125, 1.0]> : tensor<2x2x1x1xf32>
  %w2 = const dense<[0.02, 0.01, 2.0, 1.5]> : tensor<2x2x1x1xf32>
  %w3 = const dense<[1.0, 0.01, 0.5, 0.01]> : tensor<2x2x1x1xf32>
  %a = conv(%x, %w1) {q.range=[-1.2, 1.2]} : tensor<[N]x2x4x4xf32>
  %b = conv(%a, %w2) {q.range=[-4.0, 4.0]} : tensor<[N]x2x4x4xf32>
  %s = add(%a, %b) {q.range=[-5.0, 5.0]} : tensor<[N]x2x4x4xf32>
  %y = conv(%s, %w3) {q.range=[-1.0, 1.0]} : tensor<[N]x2x4x4xf32>
  return %y
}
"""


def residual_graph():
    return parse_text(RESIDUAL)


def residual_batches(n: int = 2, size: int = 8, seed: int = 0) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [{"x": rng.uniform(-1, 1, (size, 2, 4, 4)).astype(np.float32)} for _ in range(n)]
