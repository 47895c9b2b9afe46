"""gemm and matmul end to end: ONNX import, interpreter vs onnxruntime, text, export."""

import numpy as np
import pytest

from irc.ir import IRError, parse_text
from irc.ir.registry import VerifyError, get_op
from irc.ir.types import tensor

from .onnx_check import check_node

RNG = np.random.default_rng(7)


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


# -- Gemm -----------------------------------------------------------------------------------------

def test_gemm_defaults_with_matrix_bias():
    g = check_node("Gemm", {"a": rand(3, 5), "b": rand(5, 4), "c": rand(3, 4)})
    op = g.find("y0")
    assert op.name == "gemm" and op.attrs == {}


@pytest.mark.parametrize("trans_a,trans_b", [(0, 1), (1, 0), (1, 1)])
def test_gemm_transposes(trans_a, trans_b):
    a = rand(6, 3) if trans_a else rand(3, 6)
    b = rand(4, 6) if trans_b else rand(6, 4)
    g = check_node("Gemm", {"a": a, "b": b, "c": rand(4)}, {"transA": trans_a, "transB": trans_b},
                   constants=("b", "c"))
    assert g.find("y0").attrs == {k: 1 for k, v in (("trans_a", trans_a), ("trans_b", trans_b)) if v}


def test_gemm_alpha_beta_and_bias_shapes():
    for c in (rand(1, 4), rand(3, 1), rand(1), np.array(0.5, dtype=np.float32)):
        check_node("Gemm", {"a": rand(3, 5), "b": rand(5, 4), "c": c}, {"alpha": 0.25, "beta": 0.35})


def test_gemm_without_bias_and_symbolic_batch():
    g = check_node("Gemm", {"x": rand(2, 10), "w": rand(3, 10), "bias": rand(3)}, {"transB": 1},
                   constants=("w", "bias"), symbolic_batch=True)
    assert str(g.find("y0").result.type) == "tensor<[N]x3xf32>"
    check_node("Gemm", {"a": rand(2, 10), "b": rand(10, 3)})


def test_gemm_beta_zero_ignores_c():
    c = np.full((1, 4), np.inf, dtype=np.float32)
    check_node("Gemm", {"a": rand(3, 5), "b": rand(5, 4), "c": c}, {"beta": 0.0})


def test_gemm_verify_errors():
    defn = get_op("gemm")
    with pytest.raises(VerifyError, match="inner dims differ"):
        defn.infer_types([tensor((3, 5)), tensor((4, 4))], {})
    with pytest.raises(VerifyError, match=r"operand c of shape \[3\] does not broadcast to \[2,4\]"):
        defn.infer_types([tensor((2, 5)), tensor((5, 4)), tensor((3,))], {})
    with pytest.raises(VerifyError, match="must be a matrix"):
        defn.infer_types([tensor((2, 3, 5)), tensor((5, 4))], {})
    with pytest.raises(VerifyError, match="share an element type"):
        defn.infer_types([tensor((2, 5)), tensor((5, 4), "f64")], {})
    # symbolic dims are accepted and carried through
    t, = defn.infer_types([tensor((5, "N")), tensor((4, 5))], {"trans_a": 1, "trans_b": 1})
    assert t == tensor(("N", 4))


def test_gemm_text_form_error_is_located():
    with pytest.raises(IRError, match="inner dims differ"):
        parse_text("""func @main(%a: tensor<2x3xf32>, %b: tensor<4x5xf32>) -> (tensor<2x5xf32>) {
  %y = gemm(%a, %b) : tensor<2x5xf32>
  return %y
}
""")


# -- MatMul ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("sa,sb", [
    ((3, 4), (4, 5)),
    ((2, 3, 4), (2, 4, 5)),
    ((3, 1, 3, 4), (1, 2, 4, 2)),   # batch dims broadcast both ways
    ((2, 3, 4), (4, 5)),            # a weight shared by the batch
    ((4,), (2, 4, 3)),              # 1-D a: a row vector, its dim dropped
    ((1, 2, 4, 3), (3,)),           # 1-D b: a column vector, its dim dropped
    ((3,), (3,)),                   # dot product: a scalar
])
def test_matmul_shapes(sa, sb):
    g = check_node("MatMul", {"a": rand(*sa), "b": rand(*sb)})
    assert g.find("y0").result.type.shape == np.matmul(np.zeros(sa), np.zeros(sb)).shape


def test_matmul_symbolic_batch_constant_weight():
    g = check_node("MatMul", {"x": rand(2, 7, 16), "w": rand(16, 8)}, constants=("w",), symbolic_batch=True)
    assert str(g.find("y0").result.type) == "tensor<[N]x7x8xf32>"


def test_matmul_large_k():
    # K = 2048: BLAS and onnxruntime's MLAS sum in different orders, so float32 rounding
    # differs by more than 1e-5 relative on entries near zero; 1e-4 / 1e-4 still catches a
    # wrong product (an error would be of the order of the entries, ~45).
    check_node("MatMul", {"a": rand(4, 2048), "b": rand(2048, 16)}, rtol=1e-4, atol=1e-4)


def test_matmul_verify_errors():
    defn = get_op("matmul")
    with pytest.raises(VerifyError, match=r"inner dims differ: a is \[2,3\] \(K=3\), b is \[4,5\] \(K=4\)"):
        defn.infer_types([tensor((2, 3)), tensor((4, 5))], {})
    with pytest.raises(VerifyError, match="batch dims of .* do not broadcast"):
        defn.infer_types([tensor((2, 3, 4)), tensor((3, 4, 5))], {})
    with pytest.raises(VerifyError, match="rank 1 or more"):
        defn.infer_types([tensor(()), tensor((4, 5))], {})
    t, = defn.infer_types([tensor(("N", 1, 3, 4)), tensor((6, 4, None))], {})
    assert t == tensor(("N", 6, 3, None))


def test_gemm_old_opset_is_upgraded():
    # opset 9 Gemm: c required, otherwise the same
    check_node("Gemm", {"a": rand(3, 5), "b": rand(4, 5), "c": rand(4)}, {"transB": 1, "alpha": 2.0}, opset=9)
