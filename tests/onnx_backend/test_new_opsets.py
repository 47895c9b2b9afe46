"""Models that declare an opset newer than irc's canonical one (21).

Up to the newest opset the installed onnx defines, a model whose ops changed after opset 21
only by admitting more element types (opset 22 added bfloat16 to almost every op) imports as
its opset-21 twin; ops whose definition changed otherwise go through onnx's version converter.
An opset onnx does not define is refused: nothing says what its ops mean.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from irc.backends.numpy_interp import run_graph
from irc.backends.onnx import import_onnx
from irc.backends.onnx.registry import CANONICAL_OPSET
from irc.cli import main
from irc.ir import IRError, print_graph

NEWEST = onnx.defs.onnx_opset_version()
RNG = np.random.default_rng(3)
W = RNG.standard_normal((4, 2, 3, 3)).astype(np.float32)


def _conv_model(opset: int) -> onnx.ModelProto:
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),  # changed in 22: types only
             helper.make_node("Relu", ["c"], ["r"]),  # unchanged since 14
             helper.make_node("GlobalMaxPool", ["r"], ["p"]),  # changed in 22: types only, no converter adapter
             helper.make_node("Flatten", ["p"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 5, 5])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
                          [numpy_helper.from_array(W, "w")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


@pytest.mark.parametrize("opset", sorted({22, 23, 25, NEWEST}))
def test_type_only_changes_import_like_opset_21(opset):
    assert print_graph(import_onnx(_conv_model(opset))) == print_graph(import_onnx(_conv_model(CANONICAL_OPSET)))


def test_opset_22_matches_onnxruntime():
    model = _conv_model(22)
    x = RNG.standard_normal((2, 2, 5, 5)).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(run_graph(import_onnx(model), {"x": x})["y"], want, rtol=1e-5, atol=1e-6)


def test_an_op_whose_definition_changed_goes_through_the_converter():
    # Cast gained `round_mode` in opset 24 (besides new types): converted, then imported
    nodes = [helper.make_node("Cast", ["x"], ["y"], to=TensorProto.INT32)]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                          [helper.make_tensor_value_info("y", TensorProto.INT32, [4])])
    graph = import_onnx(helper.make_model(g, opset_imports=[helper.make_opsetid("", 24)]))
    x = np.array([1.5, -2.5, 3.9, -0.2], np.float32)
    np.testing.assert_array_equal(run_graph(graph, {"x": x})["y"], x.astype(np.int32))


@pytest.mark.parametrize("opset", [NEWEST + 1, 99])
def test_an_opset_onnx_does_not_define_is_refused(tmp_path, capsys, opset):
    with pytest.raises(IRError, match=rf"declares default-domain opset {opset}, which the installed onnx .* does "
                                      rf"not define \(its newest is {NEWEST}\)"):
        import_onnx(_conv_model(opset))
    path = tmp_path / "m.onnx"
    onnx.save(_conv_model(opset), path)
    assert main(["import", str(path), "-o", str(tmp_path / "m.ir")]) == 2
    assert f"opset {opset}" in capsys.readouterr().err
    assert not (tmp_path / "m.ir").exists()
