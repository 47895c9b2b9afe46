"""Zero padding folded into the conv (passes/pad_into_conv.py): the same numbers in onnxruntime."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

import irc
from irc.backends.onnx import export_onnx
from irc.passes import PassContext, PassManager


def _model(value: float, mode: str = "constant") -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    pads = numpy_helper.from_array(np.array([0, 0, 1, 0, 0, 0, 1, 2], np.int64), "pads")
    val = numpy_helper.from_array(np.array(value, np.float32), "val")
    nodes = [helper.make_node("Pad", ["x", "pads", "val"], ["p"], mode=mode),
             helper.make_node("Conv", ["p", "w"], ["y"], pads=[1, 1, 1, 1], strides=[2, 1])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 3, 9, 7])],
                          [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)], [w, pads, val])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


def _fused(model: onnx.ModelProto):
    g = irc.import_onnx(model)
    PassManager("fuse").run(g, PassContext())
    return g


def test_zero_padding_moves_into_the_conv_with_the_same_result():
    model = _model(0.0)
    g = _fused(model)
    assert [op.name for op in g.ops if op.name != "const"] == ["conv"]
    assert g.find("y").attr("pads") == (2, 1, 2, 3)
    x = np.random.default_rng(1).standard_normal((2, 3, 9, 7)).astype(np.float32)
    np.testing.assert_allclose(_run(export_onnx(g), x), _run(model, x), rtol=1e-5, atol=1e-5)


def test_other_padding_stays():
    for model in (_model(1.0), _model(0.0, mode="reflect")):
        assert "pad" in [op.name for op in _fused(model).ops]
