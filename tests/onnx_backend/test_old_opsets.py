"""Models of any opset are upgraded to opset 21 by onnx's version converter before import.

onnxruntime does not run opsets this old, so results are checked against numpy; models the
converter cannot upgrade are refused with one message naming the op.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from irc.backends.numpy_interp import run_graph
from irc.backends.onnx import import_onnx
from irc.cli import main
from irc.ir import IRError

RNG = np.random.default_rng(5)


def _model(nodes, inputs, outputs, opset: int, inits=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 3
    return m


def _f32(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def test_opset1_model_imports_and_runs():
    # opset-1 forms: Reshape's shape is an attribute, Add broadcasts only with broadcast=1,
    # Relu/Tanh carry the long-gone consumed_inputs attribute
    b = RNG.standard_normal(3).astype(np.float32)
    nodes = [helper.make_node("Add", ["x", "b"], ["a"], broadcast=1),
             helper.make_node("Reshape", ["a"], ["r"], shape=[6]),
             helper.make_node("Tanh", ["r"], ["t"], consumed_inputs=[0]),
             helper.make_node("Relu", ["t"], ["y"], consumed_inputs=[0])]
    m = _model(nodes, [_f32("x", [2, 3]), _f32("b", [3])], [_f32("y", [6])], 1,
               [numpy_helper.from_array(b, "b")])
    x = RNG.standard_normal((2, 3)).astype(np.float32)
    g = import_onnx(m)
    assert sorted(op.name for op in g.ops if op.name != "const") == ["add", "relu", "reshape", "tanh"]
    np.testing.assert_allclose(run_graph(g, {"x": x})["y"], np.maximum(np.tanh((x + b).ravel()), 0),
                               rtol=1e-6)


@pytest.mark.parametrize("opset", [1, 6])
def test_opset_below_7_not(opset):
    m = _model([helper.make_node("Not", ["x"], ["y"])],
               [helper.make_tensor_value_info("x", TensorProto.BOOL, [2, 3])],
               [helper.make_tensor_value_info("y", TensorProto.BOOL, [2, 3])], opset)
    x = RNG.standard_normal((2, 3)) > 0
    np.testing.assert_array_equal(run_graph(import_onnx(m), {"x": x})["y"], ~x)


def test_no_adapter_is_one_clear_error(tmp_path, capsys):
    # onnx's converter has no adapter for Split-1 (its sizes could be a second input)
    m = _model([helper.make_node("Split", ["x"], ["y", "z"], axis=0, split=[1, 1])],
               [_f32("x", [2, 3])], [_f32("y", [1, 3]), _f32("z", [1, 3])], 1)
    with pytest.raises(IRError, match=r"^cannot upgrade the model from opset 1 to 21 with onnx's version "
                                      r"converter: it has no adapter for Split from opset 1$"):
        import_onnx(m)
    path = tmp_path / "split1.onnx"
    path.write_bytes(m.SerializeToString())
    assert main(["import", str(path), "-o", str(tmp_path / "out.ir")]) == 2
    err = capsys.readouterr().err
    assert "irc import: error: cannot upgrade the model from opset 1" in err and "Traceback" not in err


def test_removed_ops_are_named():
    m = _model([helper.make_node("ImageScaler", ["x"], ["y"], scale=2.0)],
               [_f32("x", [1, 3, 2, 2])], [_f32("y", [1, 3, 2, 2])], 6)
    with pytest.raises(IRError, match=r"opset 6 to 21: op type\(s\) ImageScaler are not defined by ONNX"):
        import_onnx(m)


def test_opset_zero_is_refused():
    m = _model([helper.make_node("Relu", ["x"], ["y"])], [_f32("x", [2])], [_f32("y", [2])], 0)
    with pytest.raises(IRError, match="declares default-domain opset 0"):
        import_onnx(m)
