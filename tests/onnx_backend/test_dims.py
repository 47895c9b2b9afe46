"""Every dimension form of an ONNX model imports, and --input-shape specializes a model.

Converters write a dynamic dim as a dim_param, as -1, as 0 (on graph inputs) or as a dim with
neither field; irc reads them as symbolic or unknown dims that print and round-trip."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import irc
from irc.backends.onnx import import_onnx
from irc.cli import main
from irc.ir import IRError, parse_text, print_graph

RNG = np.random.default_rng(5)


def _conv_model(dims) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    x.type.tensor_type.shape.ClearField("dim")
    for d in dims:
        dim = x.type.tensor_type.shape.dim.add()
        if isinstance(d, str):
            dim.dim_param = d
        elif d is not None:
            dim.dim_value = d  # may be -1 or 0, as some converters write "dynamic"
    w = numpy_helper.from_array(RNG.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["y"])]
    g = helper.make_graph(nodes, "g", [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


@pytest.mark.parametrize("dims, text", [
    ([-1, 3, 8, 8], "tensor<?x3x8x8xf32>"),
    ([0, 3, -1, -1], "tensor<?x3x?x?xf32>"),
    ([None, 3, 8, None], "tensor<?x3x8x?xf32>"),
    (["batch", 3, "h", "w"], "tensor<[batch]x3x[h]x[w]xf32>"),
])
def test_dynamic_dims_import_print_and_quantize(dims, text):
    model = _conv_model(dims)
    graph = import_onnx(model)
    assert str(graph.inputs[0].type) == text
    printed = print_graph(graph)
    assert print_graph(parse_text(printed, weights=graph.weights)) == printed
    result = irc.quantize(model, {"x": RNG.standard_normal((4, 3, 8, 8)).astype(np.float32)})
    assert result.check.cosine["y"] > 0.99


def _shape_code_model() -> onnx.ModelProto:
    """y = reshape(x, [shape(x)[1], shape(x)[0] * 8]) through Shape -> Gather -> Unsqueeze -> Mul
    -> Concat: with x : [N, M, 8] a target irc cannot spell with 0 and -1 at import."""
    consts = [numpy_helper.from_array(np.array(0, np.int64), "zero"),
              numpy_helper.from_array(np.array(1, np.int64), "one"),
              numpy_helper.from_array(np.array([0], np.int64), "axes0"),
              numpy_helper.from_array(np.array([8], np.int64), "eight")]
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "zero"], ["n"]),
             helper.make_node("Gather", ["s", "one"], ["m"]),
             helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"]),
             helper.make_node("Unsqueeze", ["m", "axes0"], ["m1"]),
             helper.make_node("Mul", ["n1", "eight"], ["n8"]),
             helper.make_node("Concat", ["m1", "n8"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["y"], name="reshape")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", "M", 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], consts)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_input_shape_folds_the_shape_code():
    model = _shape_code_model()
    dynamic = import_onnx(model)
    assert "shape" in [op.name for op in dynamic.ops] and dynamic.ops[-1].name in ("reshape", "onnx.Reshape")
    static = import_onnx(model, input_shapes={"x": "2x6x8"})
    assert [op.name for op in static.ops] == ["reshape"]
    assert static.ops[0].attrs["shape"] == (6, 16) and str(static.outputs[0].type) == "tensor<6x16xf32>"
    assert str(import_onnx(model, input_shapes={None: (3, 5, 8)}).outputs[0].type) == "tensor<5x24xf32>"


def test_cli_import_with_input_shape(tmp_path, capsys):
    path = tmp_path / "m.onnx"
    onnx.save(_shape_code_model(), path)
    out = tmp_path / "m.ir"
    assert main(["import", str(path), "-o", str(out), "--input-shape", "x=2x6x8"]) == 0
    assert "%y = reshape(%x) {shape=[6, 16]} : tensor<6x16xf32>" in out.read_text()


@pytest.mark.parametrize("spec, message", [
    ("x=2x6", "--input-shape x: 2 dims for an input of rank 3"),
    ("x=2x5x9", "--input-shape x: dim 2 is 8 in the model, not 9"),
    ("y=2x6x8", "--input-shape names 'y', which the model has no input of (its inputs: 'x')"),
    ("x=2x6x8.5", "--input-shape: '2x6x8.5' is not a shape like 1x3x224x224"),
    ("x=2x6x8,x=1x6x8", "--input-shape gives input 'x' twice"),
])
def test_bad_input_shapes_are_one_clear_error(tmp_path, capsys, spec, message):
    path = tmp_path / "m.onnx"
    onnx.save(_shape_code_model(), path)
    assert main(["import", str(path), "-o", str(tmp_path / "m.ir"), "--input-shape", spec]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "m.ir").exists()


def test_unranked_graph_input_asks_for_its_shape():
    model = _conv_model([1, 3, 8, 8])
    model.graph.input[0].type.tensor_type.ClearField("shape")
    with pytest.raises(IRError, match=r"graph input 'x' has no rank; irc needs ranked inputs \(give its shape "
                                      r"with --input-shape\)"):
        import_onnx(model)
    assert str(import_onnx(model, input_shapes={"x": "1x3x8x8"}).inputs[0].type) == "tensor<1x3x8x8xf32>"
