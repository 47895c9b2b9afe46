"""smooth (SmoothQuant): the golden rewrite of a layer_norm and its readers, float equivalence on a
transformer block, and the per-layer alpha search on a layer with outlier channels."""

from __future__ import annotations

import numpy as np
import pytest

from irc.backends.numpy_interp import run_graph
from irc.ir import parse_text, print_graph
from irc.ir.graph import Weights
from irc.passes import PassContext, PassError, PassManager
from irc.passes.smooth import choose_scales, find_groups, quant_error, smoothing_scales

GOLDEN_IN = """func @main(%x: tensor<4x2xf32>) -> (tensor<4x2xf32>, tensor<4x2xf32>) {
  %g = const dense<[4.0, 1.0]> : tensor<2xf32>
  %b = const dense<[0.0, 0.0]> : tensor<2xf32>
  %w = const dense<[1.0, -0.5, 0.25, 4.0]> : tensor<2x2xf32>
  %y = layer_norm(%x, %g, %b) {axis=-1, epsilon=1e-12} : tensor<4x2xf32>
  %h = matmul(%y, %w) : tensor<4x2xf32>
  %r = add(%y, %x) : tensor<4x2xf32>
  return %h, %r
}
"""

# every row normalizes to (+-1, -+1), so max |y| = (4, 1); the weight rows' maxima are (1, 4):
# s = sqrt(4 / 1), sqrt(1 / 4) = (2, 0.5); g / s = (2, 2), W * s per row; the residual add reads
# y' * s, which is y again
GOLDEN_OUT = """func @main(%x: tensor<4x2xf32>) -> (tensor<4x2xf32>, tensor<4x2xf32>) {
  %y_smooth_scale = const dense<[2.0, 2.0]> : tensor<2xf32>
  %y_smooth_bias = const dense<[0.0, 0.0]> : tensor<2xf32>
  %y_smooth_undo = const dense<[2.0, 0.5]> : tensor<2xf32>
  %y = layer_norm(%x, %y_smooth_scale, %y_smooth_bias) {axis=-1, epsilon=1e-12} : tensor<4x2xf32>
  %y_unsmoothed = mul(%y, %y_smooth_undo) : tensor<4x2xf32>
  %w_smooth = const dense<[2.0, -1.0, 0.125, 2.0]> : tensor<2x2xf32>
  %h = matmul(%y, %w_smooth) : tensor<4x2xf32>
  %r = add(%y_unsmoothed, %x) : tensor<4x2xf32>
  return %h, %r
}
"""

CALIB = {"x": np.array([[1, -1], [3, 1], [-2, 0], [0.5, 2.5]], np.float32)}


def _run(text: str, pipeline: str, calib) -> tuple:
    g = parse_text(text)
    ctx = PassContext(quiet=True, calib=calib)
    PassManager(pipeline).run(g, ctx)
    return g, ctx


def test_golden_rewrite_with_a_given_alpha():
    g, ctx = _run(GOLDEN_IN, "smooth{alpha=0.5 backend=interpreter},dce", CALIB)
    assert print_graph(g) == GOLDEN_OUT
    assert ctx.stats["smooth"]["layer norms smoothed"] == 1


def _block(rng, d=16, n=24):
    """layer_norm -> q, k, v projections and a residual add, as in a transformer layer."""
    w = [rng.standard_normal((d, n)).astype(np.float32) for _ in range(3)]
    gamma = rng.uniform(0.5, 1.5, d).astype(np.float32)
    gamma[3] = 30.0  # an outlier channel
    beta = rng.standard_normal(d).astype(np.float32) * 0.1
    t, tn = f"tensor<2x5x{d}xf32>", f"tensor<2x5x{n}xf32>"
    text = (f"func @main(%x: {t}) -> ({tn}, {tn}, {tn}, {t}) {{\n"
            f"  %g = const @g : tensor<{d}xf32>\n  %b = const @b : tensor<{d}xf32>\n"
            + "".join(f"  %w{i} = const @w{i} : tensor<{d}x{n}xf32>\n" for i in range(3))
            + f"  %y = layer_norm(%x, %g, %b) {{axis=-1}} : {t}\n"
            + "".join(f"  %p{i} = matmul(%y, %w{i}) : {tn}\n" for i in range(3))
            + f"  %r = add(%y, %x) : {t}\n  return %p0, %p1, %p2, %r\n}}\n")
    return text, Weights({"g": gamma, "b": beta, **{f"w{i}": w[i] for i in range(3)}})


@pytest.mark.parametrize("alpha", ["0.5", "-1"])
def test_the_rewritten_graph_computes_the_same_in_float(alpha):
    rng = np.random.default_rng(3)
    text, weights = _block(rng)
    x = rng.standard_normal((32, 5, 16)).astype(np.float32)
    before = parse_text(text, weights=Weights(weights))
    after = parse_text(text, weights=Weights(weights))
    ctx = PassContext(quiet=True, calib={"x": x})
    PassManager(f"smooth{{alpha={alpha}}},dce").run(after, ctx)
    assert ctx.stats["smooth"]["layer norms smoothed"] == 1
    assert "mul(" in print_graph(after)  # the residual reads y' * s
    feeds = {"x": x[:2]}
    ref, got = run_graph(before, feeds), run_graph(after, feeds)
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=2e-5, atol=2e-5 * np.abs(ref[k]).max())


def test_the_search_lowers_the_simulated_int8_error_on_an_outlier_channel():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((512, 32)).astype(np.float32)
    x[:, 5] *= 40.0  # one channel far larger than the rest
    w = [rng.standard_normal((32, 48)).astype(np.float32) * 0.1]
    ones = np.ones(32, np.float32)
    text, weights = _block(rng, d=32, n=48)
    group = find_groups(parse_text(text, weights=weights))[0]
    group.absmax, group.rows = np.abs(x).max(axis=0), [x]
    s, a = choose_scales(group, w, -1.0, (0.3, 0.5, 0.7, 0.9))
    assert a is not None and s[5] > s[np.arange(32) != 5].max()
    assert quant_error(x, w, s) < 0.5 * quant_error(x, w, ones)


def test_no_smoothing_where_it_does_not_help():
    # flat activations and flat weights: s = 1 is already best, the search leaves the layer alone
    rng = np.random.default_rng(5)
    text, weights = _block(rng, d=8, n=8)
    weights["g"] = np.ones(8, np.float32)
    group = find_groups(parse_text(text, weights=weights))[0]
    x = np.sign(rng.standard_normal((256, 8))).astype(np.float32)
    group.absmax, group.rows = np.abs(x).max(axis=0), [x]
    w = [np.sign(rng.standard_normal((8, 8))).astype(np.float32)]
    assert choose_scales(group, w, -1.0, (0.3, 0.5, 0.7)) == (None, None)


def test_scales_are_bounded_and_one_where_a_channel_is_silent():
    s = smoothing_scales(np.array([0.0, 1e12, 4.0]), np.array([1.0, 1e-12, 1.0]), 0.5)
    assert s[0] == 1.0 and s[1] == np.float32(1e5) and s[2] == 2.0


def test_smooth_needs_calibration_data_when_there_is_a_layer_norm():
    with pytest.raises(PassError, match="needs calibration data"):
        _run(GOLDEN_IN, "smooth", None)
    # a graph without a candidate needs none
    g, ctx = _run("func @main(%x: tensor<2xf32>) -> (tensor<2xf32>) {\n  %y = relu(%x) : tensor<2xf32>\n"
                  "  return %y\n}\n", "smooth", None)
    assert "smooth" not in ctx.stats
