"""Values at the edges of float32: weights that are not finite, calibration ranges near
float32's limits, ranges that are not finite. Each either works exactly or is one error."""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import irc
from irc.cli import main
from irc.ir import parse_text
from irc.passes import PassContext, PassManager
from irc.passes.qparams import activation_type

F32_MAX = float(np.finfo(np.float32).max)


@pytest.mark.parametrize("lo, hi", [(-F32_MAX, F32_MAX), (-3e38, 3e38), (-F32_MAX, 1.0)])
def test_a_u8_range_near_the_float32_limits_gets_its_scale(lo, hi):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        qt = activation_type(lo, hi, "u8")
    s = np.float32(qt.scale)
    assert np.isfinite(s) and s == np.float32((np.float64(np.float32(hi)) - np.float64(np.float32(lo))) / 255)
    assert qt.zero_point == int(np.rint(-np.float32(lo) / s))
    # the ends of the range quantize to the ends of u8 (the quantize formula, in float32)
    ends = np.clip(np.rint(np.array([lo, hi], np.float32) / s) + qt.zero_point, 0, 255)
    assert ends.tolist() == [0, 255]


def test_a_range_of_ordinary_width_keeps_the_float32_formula():
    qt = activation_type(-1.5, 2.25, "u8")
    assert np.float32(qt.scale) == np.float32(np.float32(2.25) - np.float32(-1.5)) / np.float32(255)


def _halving_model() -> onnx.ModelProto:
    """A 1x1 conv by 0.5: its results stay finite where a sum of such inputs would overflow."""
    w = numpy_helper.from_array(np.full((1, 1, 1, 1), 0.5, np.float32), "w")
    g = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 4, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1, 4, 4])], [w])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_calibration_near_float32_max_quantizes_and_runs():
    rng = np.random.default_rng(0)
    x = (rng.uniform(-1, 1, (8, 1, 4, 4)) * 3.3e38).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        result = irc.quantize(_halving_model(), {"x": x})
    (conv,) = [op for op in result.graph.ops if op.name == "conv"]
    in_scale = conv.operands[0].type.quant.scale
    out_scale = conv.results[0].type.quant.scale
    assert 2e36 < in_scale < 3e36 and 1e36 < out_scale < 1.5e36
    session = ort.InferenceSession(result.model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {"x": x})[0].astype(np.float64)
    want = x.astype(np.float64) * 0.5
    assert np.all(np.abs(got - want) <= in_scale + out_scale)


def _conv_model(w: np.ndarray, b: np.ndarray) -> onnx.ModelProto:
    g = helper.make_graph([helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1], name="conv1")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 5, 5])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2, 5, 5])],
                          [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("where, value, message", [
    ("w", np.nan, "its weight %w holds NaN at index [1, 0, 2, 0] (1 non-finite value(s))"),
    ("b", -np.inf, "its bias %b holds infinity at index [1] (1 non-finite value(s))"),
])
def test_weights_that_are_not_finite_are_one_error(tmp_path, capsys, where, value, message):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((2, 1, 3, 3)).astype(np.float32)
    b = np.zeros(2, np.float32)
    (w if where == "w" else b)[(1, 0, 2, 0) if where == "w" else 1] = value
    onnx.save(_conv_model(w, b), tmp_path / "m.onnx")
    np.savez(tmp_path / "calib.npz", x=rng.random((4, 1, 5, 5)).astype(np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        code = main(["quantize", str(tmp_path / "m.onnx"), "--calib", str(tmp_path / "calib.npz"),
                     "-o", str(tmp_path / "q.onnx")])
    err = capsys.readouterr().err
    assert code == 2 and f"pass 'quantize': conv 'y': {message}" in err and "skip=y" in err
    assert not (tmp_path / "q.onnx").exists()
    # keeping that op in float is the way out the message names
    assert main(["quantize", str(tmp_path / "m.onnx"), "--calib", str(tmp_path / "calib.npz"), "--skip", "y",
                 "-o", str(tmp_path / "q.onnx"), "--quiet"]) == 0


@pytest.mark.parametrize("pair", ["[-inf, inf]", "[nan, 1.0]", "[0.0, inf]"])
def test_a_range_that_is_not_finite_counts_as_no_range(pair):
    text = (f"func @main(%x: tensor<2x3xf32> {{q.range={pair}}}) -> (tensor<2x3xf32>) {{\n"
            f"  %y = add(%x, %x) {{q.range=[-1.0, 1.0]}} : tensor<2x3xf32>\n  return %y\n}}\n")
    graph = parse_text(text)
    ctx = PassContext(quiet=True)
    PassManager("quantize").run(graph, ctx)
    assert [op.name for op in graph.ops] == ["add"]
    assert ctx.stats["quantize"]["quantized ops"] == 0
