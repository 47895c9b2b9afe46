"""Shape / data-movement ops end to end (import, interpreter vs onnxruntime, text, export)."""

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from irc.backends.numpy_interp import run_graph
from irc.backends.onnx import import_onnx
from irc.ir import IRError, VerifyError, get_op, parse_text, print_graph, tensor
from irc.ir.types import QuantType

from .onnx_check import check_model, check_node

RNG = np.random.default_rng(7)
I64 = np.int64
INT64_MAX, INT64_MIN = 2**63 - 1, -(2**63)


def rand(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def ints(*values):
    return np.array(values, dtype=I64)


def ops_of(g):
    return [op.name for op in g.ops if op.name != "const"]


def infer(name, types, attrs):
    return get_op(name).infer_types(types, attrs)


# -- concat / split -------------------------------------------------------------------------------

def test_concat_three_inputs_symbolic_batch():
    g = check_node("Concat", {"a": rand(2, 3, 4), "b": rand(2, 5, 4), "c": rand(2, 1, 4)}, {"axis": 1},
                   symbolic_batch=True)
    assert g.outputs[0].type == tensor(["N", 9, 4])


def test_concat_negative_axis_with_constant_and_ints():
    a, b = np.arange(6, dtype=np.int32).reshape(2, 3), np.arange(4, dtype=np.int32).reshape(2, 2)
    g = check_node("Concat", {"a": a, "b": b}, {"axis": -1}, constants=("b",))
    assert g.ops[-1].attrs["axis"] == 1  # normalized at import


def test_concat_mismatched_dims_is_a_verify_error():
    with pytest.raises(VerifyError, match="differ in dimension 0"):
        infer("concat", [tensor([2, 3]), tensor([4, 3])], {"axis": 1})


def test_split_explicit_sizes_symbolic_batch():
    g = check_node("Split", {"x": rand(2, 10, 3), "split": ints(3, 7)}, {"axis": 1}, n_outputs=2,
                   constants=("split",), symbolic_batch=True)
    assert [str(v.type) for v in g.outputs] == ["tensor<[N]x3x3xf32>", "tensor<[N]x7x3xf32>"]


def test_split_num_outputs_uneven_and_negative_axis():
    g = check_node("Split", {"x": rand(2, 7)}, {"axis": -1, "num_outputs": 3}, n_outputs=3)
    assert g.ops[-1].attrs["split"] == (3, 3, 1)


def test_split_sizes_must_add_up():
    with pytest.raises(VerifyError, match="add up to 5 but dimension 1"):
        infer("split", [tensor([2, 6])], {"axis": 1, "split": (2, 3)})


# -- slice ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("starts, ends, axes, steps", [
    ([1, 0], [3, INT64_MAX], [0, 2], [1, 2]),                # out-of-range end clamps
    ([-1], [INT64_MIN], [1], [-1]),                         # whole axis reversed
    ([-3, 10], [-1, 2], [-1, 1], [1, -3]),                  # negative indices and axis
    ([5], [1], [0], [1]),                                   # empty result
])
def test_slice_bounds(starts, ends, axes, steps):
    inputs = {"x": rand(4, 6, 5), "starts": ints(*starts), "ends": ints(*ends), "axes": ints(*axes),
              "steps": ints(*steps)}
    check_node("Slice", inputs, constants=("starts", "ends", "axes", "steps"))


def test_slice_default_axes_and_steps_keep_symbolic_dim():
    g = check_node("Slice", {"x": rand(3, 8), "starts": ints(0, 2), "ends": ints(INT64_MAX, -2)},
                   constants=("starts", "ends"), symbolic_batch=True)
    op = g.ops[-1]
    assert op.attrs["axes"] == (0, 1) and op.attrs["steps"] == (1, 1)
    assert g.outputs[0].type == tensor(["N", 4])


# -- reshape / flatten ----------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(0, -1), (4, 0, -1), (-1,), (2, 12), (2, 3, 2, 2)])
def test_reshape_zero_and_minus_one(shape):
    check_node("Reshape", {"x": rand(2, 3, 4), "shape": ints(*shape)}, constants=("shape",))


def test_reshape_allowzero_keeps_a_literal_zero():
    g = check_node("Reshape", {"x": rand(0, 3, 4), "shape": ints(3, 4, 0)}, {"allowzero": 1},
                   constants=("shape",))
    assert g.outputs[0].type == tensor([3, 4, 0])


def test_reshape_symbolic_batch_keeps_the_name():
    g = check_node("Reshape", {"x": rand(2, 3, 4), "shape": ints(0, -1)}, constants=("shape",),
                   symbolic_batch=True)
    assert g.outputs[0].type == tensor(["N", 12])


def test_reshape_infer_rules_on_symbolic_dims():
    assert infer("reshape", [tensor(["N", 3, 4])], {"shape": (12, -1)})[0] == tensor([12, "N"])
    assert infer("reshape", [tensor(["N", 3, 4])], {"shape": (-1, 3)})[0] == tensor([None, 3])
    assert infer("reshape", [tensor([None, 3])], {"shape": (3, -1)})[0] == tensor([3, None])


def test_reshape_element_counts_that_cannot_match_are_verify_errors():
    with pytest.raises(VerifyError, match="24 elements, the target 25"):
        infer("reshape", [tensor([2, 3, 4])], {"shape": (5, 5)})
    with pytest.raises(VerifyError, match="not a multiple of 5"):
        infer("reshape", [tensor([2, 3, 4])], {"shape": (5, -1)})
    with pytest.raises(VerifyError, match="more than one -1"):
        infer("reshape", [tensor([2, 3, 4])], {"shape": (-1, -1)})


@pytest.mark.parametrize("axis", [0, 2, 4, -1])
def test_flatten(axis):
    g = check_node("Flatten", {"x": rand(2, 3, 4, 5)}, {"axis": axis}, symbolic_batch=True)
    if axis == 2:
        assert g.outputs[0].type == tensor([None, 20])
    if axis == 0:
        assert g.outputs[0].type == tensor([1, None])


# -- transpose / squeeze / unsqueeze --------------------------------------------------------------

def test_transpose_default_and_explicit_perm():
    g = check_node("Transpose", {"x": rand(2, 3, 4)}, symbolic_batch=True)
    assert g.ops[-1].attrs["perm"] == (2, 1, 0)
    check_node("Transpose", {"x": rand(2, 3, 4, 5).astype(np.float64)}, {"perm": [0, 2, 3, 1]})


def test_transpose_bad_perm():
    with pytest.raises(VerifyError, match="not a permutation"):
        infer("transpose", [tensor([2, 3])], {"perm": (0, 0)})


def test_squeeze_axes_and_no_axes():
    g = check_node("Squeeze", {"x": rand(2, 1, 3, 1), "axes": ints(-1)}, constants=("axes",),
                   symbolic_batch=True)
    assert g.ops[-1].attrs["axes"] == (3,)
    g = check_node("Squeeze", {"x": rand(1, 3, 1)})
    assert g.outputs[0].type == tensor([3])


def test_squeeze_of_a_dim_other_than_one():
    with pytest.raises(VerifyError, match="has size 3, not 1"):
        infer("squeeze", [tensor([2, 3])], {"axes": (1,)})


def test_unsqueeze_unsorted_negative_axes():
    g = check_node("Unsqueeze", {"x": rand(3, 4), "axes": ints(-1, 0)}, constants=("axes",),
                   symbolic_batch=True)
    assert g.ops[-1].attrs["axes"] == (0, 3)
    assert g.outputs[0].type == tensor([1, "N", 4, 1])


# -- expand / tile / gather -----------------------------------------------------------------------

def test_expand_broadcasts_and_adds_dims():
    check_node("Expand", {"x": rand(3, 1), "shape": ints(2, 1, 4)}, constants=("shape",))
    g = check_node("Expand", {"x": rand(2, 1, 5), "shape": ints(1, 4, 1)}, constants=("shape",),
                   symbolic_batch=True)
    assert g.outputs[0].type == tensor(["N", 4, 5])


def test_tile_repeats():
    check_node("Tile", {"x": rand(2, 3).astype(np.int64), "r": ints(2, 3)}, constants=("r",))


@pytest.mark.parametrize("indices, axis", [(ints(0, -1, 2), 0), (np.array([[1, 0], [-2, 2]], dtype=I64), 1), (ints(-1), 2)])
def test_gather_constant_indices(indices, axis):
    check_node("Gather", {"x": rand(3, 4, 5), "i": indices}, {"axis": axis},
               constants=("i",))


def test_gather_computed_indices_and_scalar_index():
    g = check_node("Gather", {"table": rand(10, 4), "ids": np.array([[1, 9, -1]], dtype=I64)}, constants=("table",))
    assert g.outputs[0].type == tensor([1, 3, 4])
    check_node("Gather", {"x": rand(3, 5), "i": np.array(-2, dtype=I64)}, {"axis": 1}, constants=("i",))


def test_gather_index_out_of_range_is_reported():
    g = import_onnx(_one_node("Gather", {"x": rand(3, 2), "i": ints(0)}))
    with pytest.raises(IRError, match="gather index 3 out of range"):
        run_graph(g, {"x": rand(3, 2), "i": ints(3)})


# -- shape / size / constant_of_shape -------------------------------------------------------------

def test_shape_of_static_dims_folds_and_symbolic_one_runs():
    assert ops_of(check_node("Shape", {"x": rand(2, 3, 4)})) == []
    # dims 1.. are static even with a symbolic batch: a constant, no shape op
    assert ops_of(check_node("Shape", {"x": rand(2, 3, 4)}, {"start": -2}, symbolic_batch=True)) == []
    g = check_node("Shape", {"x": rand(2, 3, 4)}, {"end": -1}, symbolic_batch=True)
    assert ops_of(g) == ["shape"] and g.outputs[0].type == tensor([2], "i64")


def test_size_symbolic():
    g = check_node("Size", {"x": rand(2, 3)}, symbolic_batch=True)
    assert "size" in ops_of(g)


def test_constant_of_shape_from_run_time_shape():
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", 3])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.INT32, None)
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("ConstantOfShape", ["s"], ["y"],
                              value=numpy_helper.from_array(np.array([7], dtype=np.int32)))]
    model = _model(nodes, [x], [y])
    g = check_model(model, {"x": rand(5, 3)})
    assert g.outputs[0].type == tensor(["N", 3], "i32")


def test_constant_of_shape_shape_as_graph_input():
    g = check_node("ConstantOfShape", {"s": ints(2, 3)})
    assert g.outputs[0].type == tensor([None, None])


# -- shape vectors computed from symbolic dims ----------------------------------------------------

def test_exported_flatten_chain_imports_as_static_reshape():
    """Shape -> Gather -> Unsqueeze -> Concat -> Reshape with a symbolic batch dim."""
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", 2, 3, 4])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)
    inits = [numpy_helper.from_array(ints(0), "zero"), numpy_helper.from_array(ints(-1), "minus1"),
             numpy_helper.from_array(np.array(0, dtype=I64), "i0")]
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "i0"], ["n"], axis=0),
             helper.make_node("Unsqueeze", ["n", "zero"], ["n1"]),
             helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["y"])]
    g = check_model(_model(nodes, [x], [y], inits), {"x": rand(3, 2, 3, 4)})
    reshape = next(op for op in g.ops if op.name == "reshape")
    assert reshape.attrs["shape"] == (0, -1)
    assert g.outputs[0].type == tensor(["N", 24])


def test_expand_to_computed_symbolic_shape():
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", 1])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)
    inits = [numpy_helper.from_array(ints(0), "i0"), numpy_helper.from_array(ints(6), "six")]
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "i0"], ["n"], axis=0),
             helper.make_node("Concat", ["n", "six"], ["target"], axis=0),
             helper.make_node("Expand", ["x", "target"], ["y"])]
    g = check_model(_model(nodes, [x], [y], inits), {"x": rand(4, 1)})
    assert g.outputs[0].type == tensor(["N", 6])


def test_reshape_to_a_graph_input_shape_takes_it_as_an_operand():
    feeds = {"x": rand(2, 3), "shape": ints(3, 2)}
    graph = check_model(_one_node("Reshape", feeds), feeds)
    assert print_graph(graph).splitlines()[1] == "  %y = reshape(%x, %shape) : tensor<?x?xf32>"


@pytest.mark.parametrize("op_type, feeds, line", [
    ("Expand", {"x": rand(3, 1), "shape": ints(2, 1, 4)}, "%y = expand(%x, %shape) : tensor<?x3x?xf32>"),
    ("Tile", {"x": rand(2, 3), "repeats": ints(2, 1)}, "%y = tile(%x, %repeats) : tensor<?x?xf32>"),
    ("Slice", {"x": rand(5, 6), "starts": ints(1, -4), "ends": ints(4, 9)},
     "%y = slice(%x, %starts, %ends, %y_axes, %y_steps) : tensor<?x?xf32>"),
    ("Slice", {"x": rand(5, 6), "starts": ints(-1), "ends": ints(-9), "axes": ints(1), "steps": ints(-2)},
     "%y = slice(%x, %starts, %ends, %axes, %steps) : tensor<?x?xf32>"),
])
def test_run_time_parameters_are_operands(op_type, feeds, line):
    graph = check_model(_one_node(op_type, feeds), feeds)
    assert line in print_graph(graph)


@pytest.mark.parametrize("op_type, feeds, message", [
    ("Reshape", {"x": rand(2, 3), "shape": ints(4, 2)}, "cannot reshape an input of shape [2, 3] (6 elements) to [4, 2]"),
    ("Reshape", {"x": rand(2, 3), "shape": ints(-1, -1)}, "reshape target [-1, -1] is not a valid shape"),
    ("Expand", {"x": rand(3, 2), "shape": ints(4, 1)}, "cannot expand an input of shape [3, 2] to [4, 1]"),
    ("Tile", {"x": rand(2, 3), "repeats": ints(2, -1)}, "tile needs one repeat count >= 0 per dim"),
])
def test_a_run_time_shape_that_contradicts_the_model_is_one_clear_error(op_type, feeds, message):
    graph = import_onnx(_one_node(op_type, feeds))
    with pytest.raises(IRError, match=r"while executing `%y = " + op_type.lower() + r"\(") as info:
        run_graph(graph, feeds)
    assert message in str(info.value)


# -- quantized operands ---------------------------------------------------------------------------

def test_quantized_tensors_move_with_their_scale():
    g = parse_text("""func @main(%x: tensor<2x3xf32>) -> (tensor<6xf32>) {
  %q = quantize(%x) : tensor<2x3x!q.u8<0.1:128>>
  %t = transpose(%q) {perm=[1, 0]} : tensor<3x2x!q.u8<0.1:128>>
  %r = reshape(%t) {shape=[-1]} : tensor<6x!q.u8<0.1:128>>
  %y = dequantize(%r) : tensor<6xf32>
  return %y
}
""")
    x = rand(2, 3)
    q = np.clip(np.round(x / np.float32(0.1)) + 128, 0, 255)
    want = (np.float32(0.1) * (q - 128)).astype(np.float32).T.reshape(-1)
    np.testing.assert_allclose(run_graph(g, {"x": x})["y"], want, rtol=1e-6)


def test_quantized_concat_is_all_or_nothing_and_per_axis_follows_transpose():
    a = tensor([2, 3], QuantType.per_tensor("u8", 0.1, 128))
    b = tensor([2, 3], QuantType.per_tensor("u8", 0.2, 128))
    assert infer("concat", [a, b], {"axis": 0})[0].shape == (4, 3)  # mixed scales: requantized
    with pytest.raises(VerifyError, match="all quantized or all float"):
        infer("concat", [a, tensor([2, 3], "f32")], {"axis": 0})
    w = tensor([4, 3], QuantType.per_axis("i8", [0.1, 0.2, 0.3, 0.4], [0] * 4, 0))
    assert infer("transpose", [w], {"perm": (1, 0)})[0].quant.axis == 1
    with pytest.raises(VerifyError, match="does not survive"):
        infer("reshape", [w], {"shape": (-1,)})


def test_text_round_trip_of_every_op():
    text = """func @main(%x: tensor<[N]x4x6xf32>, %i: tensor<2xi64>) -> (tensor<[N]x2x6xf32>, tensor<[N]x4x3xf32>, tensor<3xi64>, tensor<?x?x?xf32>) {
  %c = concat(%x, %x) {axis=1} : tensor<[N]x8x6xf32>
  %a, %b = split(%c) {axis=2, split=[3, 3]} : tensor<[N]x8x3xf32>, tensor<[N]x8x3xf32>
  %s = slice(%a) {axes=[1], ends=[9223372036854775807], starts=[4], steps=[1]} : tensor<[N]x4x3xf32>
  %g = gather(%x, %i) {axis=1} : tensor<[N]x2x6xf32>
  %sh = shape(%x) : tensor<3xi64>
  %z = constant_of_shape(%sh) {dtype=f32, value=dense<[0.5]>} : tensor<?x?x?xf32>
  return %g, %s, %sh, %z
}
"""
    g = parse_text(text)
    assert print_graph(parse_text(print_graph(g))) == print_graph(g)
    out = run_graph(g, {"x": rand(2, 4, 6), "i": ints(3, -4)})
    assert out["z"].shape == (2, 4, 6) and out["z"].dtype == np.float32 and out["sh"].tolist() == [2, 4, 6]


# -- helpers --------------------------------------------------------------------------------------

def _model(nodes, inputs, outputs, inits=()):
    m = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, list(inits)),
                          opset_imports=[helper.make_opsetid("", 21)])
    m.ir_version = 10
    return m


def _one_node(op_type, inputs):
    graph_inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), list(a.shape))
                    for n, a in inputs.items()]
    node = helper.make_node(op_type, list(inputs), ["y"])
    return _model([node], graph_inputs, [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)])
