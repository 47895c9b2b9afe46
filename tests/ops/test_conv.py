"""Conv and pooling ops end to end: ONNX import, interpreter vs onnxruntime, text, export.

Convolutions sum hundreds of products in float32 in another order than onnxruntime's MLAS, so
outputs (O(1) with the weight scaling used here) are compared with atol=1e-5 besides rtol=1e-5.
"""

import numpy as np
import onnx
import pytest
from onnx import helper

from irc.backends.numpy_interp import run_graph
from irc.backends.numpy_interp.kernels import conv as conv_kernels
from irc.backends.onnx import export_onnx, import_onnx
from irc.ir import IRError, parse_text, print_graph
from irc.ir.registry import VerifyError, get_op
from irc.ir.types import tensor

from .onnx_check import assert_close, check_model, check_node, make_node_model, run_ort

ATOL = 1e-5


def data(seed, *shape, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def weight(seed, *shape):
    """Conv weights scaled by 1/sqrt(fan-in), so outputs stay O(1)."""
    return data(seed, *shape, scale=1.0 / np.sqrt(np.prod(shape[1:])))


def conv_case(seed, x_shape, w_shape, attrs=None, bias=True, symbolic_batch=False, const_w=True):
    inputs = {"x": data(seed, *x_shape), "w": weight(seed + 1, *w_shape)}
    if bias:
        inputs["b"] = data(seed + 2, w_shape[0])
    return check_node("Conv", inputs, attrs, constants=("w", "b") if const_w else (), atol=ATOL,
                      symbolic_batch=symbolic_batch)


# -- Conv -----------------------------------------------------------------------------------------

def test_conv_defaults_import_without_attributes():
    g = conv_case(0, (1, 3, 8, 8), (4, 3, 3, 3), bias=False)
    op = g.find("y0")
    assert op.name == "conv" and op.attrs == {}
    assert str(op.result.type) == "tensor<1x4x6x6xf32>"


def test_conv_pads_strides_dilations_symbolic_batch():
    g = conv_case(1, (2, 3, 11, 9), (5, 3, 3, 2),
                  {"pads": [1, 0, 2, 1], "strides": [2, 1], "dilations": [2, 3]}, symbolic_batch=True)
    op = g.find("y0")
    assert op.attrs == {"pads": (1, 0, 2, 1), "strides": (2, 1), "dilations": (2, 3)}
    assert str(op.result.type) == "tensor<[N]x5x5x7xf32>"


@pytest.mark.parametrize("x_shape,w_shape,attrs", [
    ((2, 4, 17), (6, 4, 5), {"pads": [2, 1], "strides": [3]}),                       # 1-D
    ((1, 3, 7, 8, 9), (4, 3, 3, 2, 3), {"pads": [1, 0, 1, 1, 1, 0], "strides": [1, 2, 2]}),  # 3-D
    ((1, 8, 10, 10), (8, 2, 3, 3), {"group": 4, "pads": [1, 1, 1, 1]}),              # grouped
    ((2, 6, 9, 9), (12, 1, 3, 3), {"group": 6, "strides": [2, 2]}),                  # depthwise x2
    ((2, 16, 7, 7), (8, 16, 1, 1), {}),                                              # pointwise
    ((1, 16, 9, 9), (8, 8, 1, 1), {"group": 2, "strides": [2, 2], "pads": [1, 1, 0, 0]}),
])
def test_conv_shapes_groups_and_ranks(x_shape, w_shape, attrs):
    conv_case(2, x_shape, w_shape, attrs)


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID"])
@pytest.mark.parametrize("strides", [[1, 1], [2, 3]])
def test_conv_auto_pad_resolves_to_explicit_pads(auto_pad, strides):
    g = conv_case(3, (1, 2, 10, 8), (3, 2, 4, 3), {"auto_pad": auto_pad, "strides": strides})
    assert "auto_pad" not in g.find("y0").attrs


def test_conv_weight_as_graph_input():
    conv_case(4, (2, 3, 6, 6), (4, 3, 3, 3), {"pads": [1, 1, 1, 1]}, const_w=False)


def dynamic_model(node, initializers=()):
    """A one-node model whose input x is N x 3 x H x W with symbolic N, H, W."""
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", 3, "H", "W"])
    out = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)
    model = helper.make_model(helper.make_graph([node], "g", [x], [out], list(initializers)),
                              opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    return model


def test_conv_same_pads_with_unknown_spatial_sizes_stay_auto_pad():
    w = onnx.numpy_helper.from_array(weight(5, 4, 3, 3, 3), "w")
    model = dynamic_model(helper.make_node("Conv", ["x", "w"], ["y"], auto_pad="SAME_LOWER", strides=[2, 2]), [w])
    for shape in ((1, 3, 9, 8), (2, 3, 10, 7)):
        g = check_model(model, {"x": data(6, *shape)}, atol=ATOL)
    op = g.find("y")
    assert op.attrs == {"auto_pad": "SAME_LOWER", "strides": (2, 2)}
    assert str(op.result.type) == "tensor<[N]x4x?x?xf32>"


@pytest.mark.parametrize("op_type", ["MaxPool", "AveragePool"])
def test_pool_same_pads_with_unknown_spatial_sizes_stay_auto_pad(op_type):
    node = helper.make_node(op_type, ["x"], ["y"], kernel_shape=[3, 2], auto_pad="SAME_UPPER", strides=[2, 2])
    for shape in ((1, 3, 9, 8), (2, 3, 10, 7)):
        g = check_model(dynamic_model(node), {"x": data(6, *shape)})
    assert g.find("y").attrs == {"auto_pad": "SAME_UPPER", "kernel_shape": (3, 2), "strides": (2, 2)}


def test_float16_conv_and_pools_compute_in_float32():
    x, w = data(11, 1, 3, 8, 8).astype(np.float16), weight(12, 4, 3, 3, 3).astype(np.float16)
    check_node("Conv", {"x": x, "w": w}, {"pads": [1, 1, 1, 1]}, constants=("w",), rtol=1e-3, atol=1e-3)
    check_node("AveragePool", {"x": x}, {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}, rtol=1e-3, atol=1e-3)
    check_node("MaxPool", {"x": x}, {"kernel_shape": [3, 3], "strides": [2, 2]})


@pytest.mark.parametrize("x_shape,w_shape,attrs", [
    ((1, 64, 56, 56), (64, 64, 3, 3), {"pads": [1, 1, 1, 1]}),
    ((1, 32, 112, 112), (32, 1, 3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2], "group": 32}),
    ((1, 3, 224, 224), (64, 3, 7, 7), {"pads": [3, 3, 3, 3], "strides": [2, 2]}),
])
def test_conv_realistic_sizes(x_shape, w_shape, attrs):
    conv_case(7, x_shape, w_shape, attrs)


def test_conv_large_batch_is_cut_into_bounded_slices(monkeypatch):
    x, w, b = data(8, 5, 4, 9, 9), weight(9, 6, 2, 3, 3), data(10, 6)
    model = make_node_model("Conv", {"x": x, "w": w, "b": b}, {"group": 2, "pads": [1, 1, 1, 1]},
                            constants=("w", "b"))
    g = import_onnx(model)
    whole = run_graph(g, {"x": x})["y0"]
    # room for the columns of two samples only: the batch of 5 runs as 2 + 2 + 1
    monkeypatch.setattr(conv_kernels, "COL_CHUNK_ELEMENTS", 2 * 4 * 9 * 81)
    np.testing.assert_array_equal(run_graph(g, {"x": x})["y0"], whole)
    check_model(model, {"x": x}, atol=ATOL)


def test_conv_verify_errors():
    defn = get_op("conv")
    with pytest.raises(VerifyError, match=r"input has 4 channels but the weight .* takes 3 per group x 1"):
        defn.infer_types([tensor((1, 4, 8, 8)), tensor((2, 3, 3, 3))], {})
    with pytest.raises(VerifyError, match="6 output channels do not split into 4 groups"):
        defn.infer_types([tensor((1, 8, 8, 8)), tensor((6, 2, 3, 3))], {"group": 4})
    with pytest.raises(VerifyError, match="does not fit the input of size 4"):
        defn.infer_types([tensor((1, 3, 4, 8)), tensor((2, 3, 5, 3))], {})
    with pytest.raises(VerifyError, match="pads has 2 entries, expected 4"):
        defn.infer_types([tensor((1, 3, 8, 8)), tensor((2, 3, 3, 3))], {"pads": (1, 1)})
    with pytest.raises(VerifyError, match="bias must be a vector of 2"):
        defn.infer_types([tensor((1, 3, 8, 8)), tensor((2, 3, 3, 3)), tensor((3,))], {})
    with pytest.raises(VerifyError, match="element types differ"):
        defn.infer_types([tensor((1, 3, 8, 8)), tensor((2, 3, 3, 3), "f64")], {})
    with pytest.raises(VerifyError, match="rank 3 or more"):
        defn.infer_types([tensor((3, 8)), tensor((2, 3))], {})
    # symbolic and unknown sizes flow through
    t, = defn.infer_types([tensor(("N", 3, "H", 8)), tensor((2, 3, 3, 3))], {"pads": (1, 1, 1, 1)})
    assert t == tensor(("N", 2, None, 8))


def test_conv_text_error_is_located():
    with pytest.raises(IRError, match="takes 3 per group"):
        parse_text("""func @main(%x: tensor<1x4x8x8xf32>, %w: tensor<2x3x3x3xf32>) -> (tensor<1x2x6x6xf32>) {
  %y = conv(%x, %w) : tensor<1x2x6x6xf32>
  return %y
}
""")


# -- ConvTranspose --------------------------------------------------------------------------------

def conv_transpose_case(seed, x_shape, w_shape, attrs=None, bias=True, symbolic_batch=False):
    inputs = {"x": data(seed, *x_shape), "w": weight(seed + 1, *w_shape)}
    if bias:
        inputs["b"] = data(seed + 2, w_shape[1] * (attrs or {}).get("group", 1))
    return check_node("ConvTranspose", inputs, attrs, constants=("w", "b"), atol=ATOL,
                      symbolic_batch=symbolic_batch)


@pytest.mark.parametrize("x_shape,w_shape,attrs", [
    ((2, 4, 5, 6), (4, 3, 3, 3), {}),
    ((2, 4, 5, 6), (4, 3, 4, 4), {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    ((1, 4, 5, 6), (4, 3, 3, 2), {"strides": [3, 2], "pads": [1, 0, 2, 1], "output_padding": [2, 1]}),
    ((1, 4, 5, 5), (4, 2, 3, 3), {"strides": [2, 2], "dilations": [2, 3]}),
    ((2, 6, 5, 5), (6, 2, 3, 3), {"group": 3, "strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]}),
    ((2, 3, 7), (3, 2, 4), {"strides": [2], "pads": [1, 2]}),                                # 1-D
    ((1, 2, 3, 4, 3), (2, 2, 2, 3, 2), {"strides": [2, 1, 2], "pads": [0, 1, 0, 0, 1, 1]}),  # 3-D
])
def test_conv_transpose_attributes(x_shape, w_shape, attrs):
    conv_transpose_case(20, x_shape, w_shape, attrs, symbolic_batch=True)


@pytest.mark.parametrize("attrs,pads,out_pad", [
    # natural size 11: output 10 crops one position at the begin (ONNX: more at the begin)
    ({"strides": [2, 2], "output_shape": [10, 10]}, (1, 1, 0, 0), None),
    ({"strides": [2, 2], "output_shape": [10, 9], "auto_pad": "SAME_UPPER"}, (0, 1, 1, 1), None),
    # longer than natural: the tail is implicit output padding
    ({"strides": [2, 3], "output_shape": [12, 16]}, None, (1, 1)),
    ({"strides": [2, 2], "auto_pad": "SAME_UPPER"}, (0, 0, 1, 1), None),
    ({"strides": [2, 2], "auto_pad": "SAME_LOWER"}, (1, 1, 0, 0), None),
    ({"strides": [4, 4], "auto_pad": "SAME_UPPER"}, None, None),  # onnxruntime keeps the natural size
])
def test_conv_transpose_output_shape_and_auto_pad_become_pads(attrs, pads, out_pad):
    g = conv_transpose_case(21, (1, 2, 5, 5), (2, 3, 3, 3), attrs)
    op = g.find("y0")
    assert op.attrs.get("pads") == pads and op.attrs.get("output_padding") == out_pad


def test_conv_transpose_inconsistent_output_shape_is_an_import_error():
    model = make_node_model("ConvTranspose", {"x": data(22, 1, 2, 5, 5), "w": weight(23, 2, 3, 3, 3)},
                            {"strides": [2, 2], "output_shape": [11, 13]}, constants=("w",))
    with pytest.raises(IRError, match=r"output_shape \[11, 13\] is inconsistent"):
        import_onnx(model)


def test_conv_transpose_verify_errors():
    defn = get_op("conv_transpose")
    with pytest.raises(VerifyError, match="input has 4 channels but the weight"):
        defn.infer_types([tensor((1, 4, 5, 5)), tensor((3, 2, 3, 3))], {})
    with pytest.raises(VerifyError, match="output_padding must be 2 non-negative entries"):
        defn.infer_types([tensor((1, 3, 5, 5)), tensor((3, 2, 3, 3))], {"output_padding": (1,)})
    with pytest.raises(VerifyError, match="leave no output"):
        defn.infer_types([tensor((1, 3, 1, 1)), tensor((3, 2, 1, 1))], {"pads": (1, 0, 0, 0)})
    t, = defn.infer_types([tensor(("N", 4, 5, 5)), tensor((4, 3, 3, 3))], {"group": 2, "strides": (2, 2)})
    assert t == tensor(("N", 6, 11, 11))


# -- MaxPool / AveragePool ------------------------------------------------------------------------

POOL_CASES = [
    ((1, 3, 9, 9), {"kernel_shape": [3, 3]}),
    ((2, 3, 10, 11), {"kernel_shape": [3, 2], "pads": [1, 0, 1, 1], "strides": [2, 3]}),
    ((1, 2, 11, 10), {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}),
    ((1, 2, 6, 7), {"kernel_shape": [2, 3], "pads": [1, 1, 1, 2], "strides": [3, 3], "ceil_mode": 1}),
    ((1, 2, 9, 10), {"kernel_shape": [2, 2], "dilations": [2, 3], "strides": [2, 1], "ceil_mode": 1}),
    ((1, 2, 10, 9), {"kernel_shape": [3, 3], "strides": [2, 3], "auto_pad": "SAME_UPPER"}),
    ((1, 2, 10, 9), {"kernel_shape": [4, 3], "strides": [3, 2], "auto_pad": "SAME_LOWER", "ceil_mode": 1}),
    ((1, 2, 10, 9), {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "VALID", "ceil_mode": 1}),
    ((2, 3, 13), {"kernel_shape": [4], "strides": [3], "pads": [1, 2], "ceil_mode": 1}),          # 1-D
    ((1, 2, 6, 7, 5), {"kernel_shape": [2, 3, 2], "strides": [2, 2, 1], "pads": [0, 1, 1, 1, 1, 0]}),  # 3-D
    ((1, 64, 112, 112), {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),  # ResNet stem
]


def check_pool(op_type, x, attrs):
    """check_node for a pool, also where onnx's shape inference gets the output size wrong.

    onnx's shape inference keeps a ceil_mode window that starts inside the end padding; the
    spec, onnxruntime and onnx's own node cases drop it. A model declaring the right size then
    fails onnx.checker's full check, so those cases skip that one step (and say so).
    """
    model = make_node_model(op_type, {"x": x}, attrs, symbolic_batch=True)
    expected = run_ort(model, {"x": x})[0]
    onnx_dims = [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim]
    if onnx_dims[2:] == list(expected.shape[2:]):
        return check_model(model, {"x": x}), False
    graph = import_onnx(model)
    assert_close(run_graph(graph, {"x": x})["y0"], expected, 1e-5, 1e-6, "interpreter")
    text = print_graph(graph)
    assert print_graph(parse_text(text)) == text
    exported = export_onnx(graph)
    onnx.checker.check_model(exported)
    assert_close(run_ort(exported, {"x": x})[0], expected, 1e-5, 1e-6, "onnxruntime on the export")
    return graph, True


@pytest.mark.parametrize("shape,attrs", POOL_CASES)
def test_max_pool(shape, attrs):
    check_pool("MaxPool", data(30, *shape), attrs)


@pytest.mark.parametrize("count_include_pad", [0, 1])
@pytest.mark.parametrize("shape,attrs", POOL_CASES)
def test_average_pool(shape, attrs, count_include_pad):
    check_pool("AveragePool", data(31, *shape), {**attrs, "count_include_pad": count_include_pad})


def test_ceil_mode_drops_a_window_starting_in_the_end_padding():
    # width 7 padded by (1, 2), kernel 3, stride 3: windows start at -1, 2, 5 and 8 (dropped);
    # height 6 padded by (0, 1), kernel 2, stride 3: at 0, 3 and 6, right on the padding (dropped)
    for op_type in ("MaxPool", "AveragePool"):
        g, dropped = check_pool(op_type, data(36, 1, 2, 6, 7),
                                {"kernel_shape": [2, 3], "pads": [0, 1, 1, 2], "strides": [3, 3], "ceil_mode": 1})
        assert dropped and g.find("y0").result.type.shape == ("N", 2, 2, 3)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_max_pool_integers_pad_with_the_lowest_value(dtype):
    x = np.random.default_rng(32).integers(np.iinfo(dtype).min, np.iinfo(dtype).max, (1, 2, 7, 7), dtype=dtype)
    check_node("MaxPool", {"x": x}, {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "strides": [2, 2]})


def test_pool_canonical_attributes():
    g = check_node("MaxPool", {"x": data(33, 1, 2, 9, 9)},
                   {"kernel_shape": [3, 3], "strides": [1, 1], "pads": [0, 0, 0, 0], "ceil_mode": 0,
                    "storage_order": 0})
    assert g.find("y0").attrs == {"kernel_shape": (3, 3)}
    g = check_node("AveragePool", {"x": data(34, 1, 2, 9, 9)},
                   {"kernel_shape": [2, 2], "strides": [2, 2], "auto_pad": "SAME_UPPER", "ceil_mode": 1})
    assert g.find("y0").attrs == {"kernel_shape": (2, 2), "strides": (2, 2), "pads": (0, 0, 1, 1)}


def test_max_pool_indices_output_is_an_import_error_when_read():
    x = data(35, 1, 1, 4, 4)
    model = make_node_model("MaxPool", {"x": x}, {"kernel_shape": [2, 2]}, n_outputs=2)
    with pytest.raises(IRError, match=r"\(MaxPool\): output 1 \('y1'\) is not supported"):
        import_onnx(model)
    # an Indices output nothing reads is fine
    del model.graph.output[1]
    check_model(model, {"x": x})


def test_pool_verify_errors():
    defn = get_op("max_pool")
    with pytest.raises(VerifyError, match="kernel_shape must be 2 positive entries"):
        defn.infer_types([tensor((1, 3, 8, 8))], {"kernel_shape": (3,)})
    with pytest.raises(VerifyError, match="needs attribute 'kernel_shape'"):
        defn.infer_types([tensor((1, 3, 8, 8))], {})
    with pytest.raises(VerifyError, match="does not fit the input of size 2"):
        defn.infer_types([tensor((1, 3, 2, 8))], {"kernel_shape": (3, 3)})
    with pytest.raises(VerifyError, match="either pads or auto_pad=SAME_UPPER"):
        defn.infer_types([tensor((1, 3, 8, 8))], {"kernel_shape": (3, 3), "pads": (1, 1, 1, 1),
                                                  "auto_pad": "SAME_UPPER"})
    with pytest.raises(VerifyError, match="ceil_mode must be 0 or 1, got 2"):
        defn.infer_types([tensor((1, 3, 8, 8))], {"kernel_shape": (3, 3), "ceil_mode": 2})
    with pytest.raises(VerifyError, match="element type i8 is not supported"):
        get_op("average_pool").infer_types([tensor((1, 3, 8, 8), "i8")], {"kernel_shape": (3, 3)})
    # ceil mode: 8 = 1 + 2 + 2 + 3 gives a 4th window that starts inside the input
    t, = defn.infer_types([tensor(("N", 3, 8, 8))], {"kernel_shape": (2, 2), "strides": (3, 3), "ceil_mode": 1})
    assert t == tensor(("N", 3, 3, 3))


# -- global pools and LRN -------------------------------------------------------------------------

@pytest.mark.parametrize("op_type", ["GlobalAveragePool", "GlobalMaxPool"])
@pytest.mark.parametrize("shape", [(2, 3, 7), (2, 8, 7, 7), (1, 3, 4, 5, 6)])
def test_global_pools(op_type, shape):
    g = check_node(op_type, {"x": data(40, *shape)}, symbolic_batch=True)
    assert g.find("y0").result.type.shape == ("N", shape[1]) + (1,) * (len(shape) - 2)


def test_lrn_even_size_against_the_formula():
    # onnxruntime takes odd sizes only (and onnx's reference LRN loops over the batch axis where
    # it means channels), so an even size is checked against the ONNX formula written out:
    # channel c sums squares over [c - 1, c + 2] for size 4
    x = data(42, 2, 6, 3, 3, scale=3.0)
    size, alpha, beta, bias = 4, 1e-2, 0.6, 1.0
    expected = np.empty_like(x)
    for c in range(x.shape[1]):
        sq = np.sum(x[:, max(0, c - 1):c + 3] ** 2, axis=1)
        expected[:, c] = x[:, c] / (bias + alpha / size * sq) ** beta
    model = make_node_model("LRN", {"x": x}, {"size": size, "alpha": alpha, "beta": beta})
    np.testing.assert_allclose(run_graph(import_onnx(model), {"x": x})["y0"], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("attrs", [
    {"size": 3},
    {"size": 5, "alpha": 2e-3, "beta": 0.5, "bias": 2.0},
    {"size": 1, "alpha": 1e-3},
])
def test_lrn(attrs):
    g = check_node("LRN", {"x": data(41, 2, 7, 5, 6, scale=3.0)}, attrs, symbolic_batch=True)
    # attributes at their default (alpha 1e-4, beta 0.75, bias 1.0) are left out
    assert g.find("y0").attrs == {k: pytest.approx(v) for k, v in attrs.items()}


def test_lrn_and_global_verify_errors():
    with pytest.raises(VerifyError, match="size must be at least 1"):
        get_op("lrn").infer_types([tensor((1, 3, 4, 4))], {"size": 0})
    with pytest.raises(VerifyError, match="rank 3 or more"):
        get_op("global_average_pool").infer_types([tensor((4, 3))], {})
    with pytest.raises(VerifyError, match="must be a float tensor"):
        get_op("global_max_pool").infer_types([tensor((1, 3, 4, 4), "i64")], {})
