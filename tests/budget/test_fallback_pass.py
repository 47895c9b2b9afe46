"""The fallback pass: marking, name errors, the quantized-graph refusal, and the emitted model."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

import irc
from irc.backends.onnx.ort_kernels import ort_kernel_report
from irc.cli import main
from irc.ir import print_graph, save_ir
from irc.passes import PassContext, PassError, PassManager

from .graphs import DATA, OUTLIER, PREPROCESS, residual_graph


def _run(pipeline, graph=None):
    g = graph or residual_graph()
    PassManager(pipeline).run(g, PassContext(quiet=True))
    return g


def test_marks_named_ops_and_patterns():
    g = _run("fallback{ops=a,s}")
    assert [op.label for op in g.ops if "q.fallback" in op.attrs] == ["a", "s"]
    g = _run("fallback{ops=?}")  # every one-letter op name
    assert [op.label for op in g.ops if "q.fallback" in op.attrs] == ["a", "b", "s", "y"]


def test_unknown_name_lists_close_names():
    with pytest.raises(PassError, match=r"no op named 'ss'.*closest names: s"):
        _run("fallback{ops=ss}")
    with pytest.raises(PassError, match=r"'w1'.*a constant, not an op"):
        _run("fallback{ops=w1}")
    with pytest.raises(PassError, match=r"pattern 'conv_\*' matches no op"):
        _run("fallback{ops=conv_*}")
    with pytest.raises(PassError, match="give the ops"):
        _run("fallback")


def test_refuses_a_quantized_graph_and_says_where_it_goes():
    with pytest.raises(PassError, match=r"already quantized.*calibrate,fallback\{ops=\.\.\.\},quantize"):
        _run("quantize,fallback{ops=s}")


def test_cli_unknown_op_is_exit_2(tmp_path, capsys):
    p = tmp_path / "m.ir"
    save_ir(residual_graph(), p)
    code = main(["opt", str(p), "--pipeline=fallback{ops=bb},quantize", "-o", str(tmp_path / "o.ir")])
    err = capsys.readouterr().err
    assert code == 2 and "no op named 'bb'" in err and "closest names: b" in err and "Traceback" not in err
    assert not (tmp_path / "o.ir").exists()


@pytest.fixture(scope="module")
def mixed():
    """The outlier example with a conv, an add and the conv after it in fp32, emitted as QDQ."""
    back = ["/features/features.5/body/body.2/body.2.0/Conv_output_0", "/features/features.5/Add_output_0",
            "/features/features.6/body/body.0/body.0.0/Conv_output_0"]
    pipeline = (f"fold,fuse,dce,calibrate{{samples=96}},fallback{{ops={','.join(back)}}},quantize")
    return irc.quantize(OUTLIER, DATA / "calib", preprocess=str(PREPROCESS), pipeline=pipeline), back


def test_mixed_model_keeps_int8_kernels(mixed):
    result, back = mixed
    int8_compute = [op for op in result.graph.ops if op.name in ("conv", "gemm", "matmul")
                    and op.results[0].type.is_quantized]
    float_compute = [op for op in result.graph.ops if op.name in ("conv", "gemm", "matmul")
                     and not op.results[0].type.is_quantized]
    assert len(float_compute) == 2 and len(int8_compute) == 19
    rep = ort_kernel_report(result.model)
    for level in ("extended", "all"):
        k = rep[level]
        assert k["int8_kernels"].get("QLinearConv", 0) == 18 and k["int8_kernels"].get("QGemm", 0) == 1
        assert k["float_total"] == 2  # exactly the two fp32 convs
        assert k["int8_kernels"].get("QLinearAdd", 0) == 2  # the fp32 add is not one of them
    names = " ".join(n["name"] for n in rep["extended"]["float_compute_nodes"])
    assert back[0] in names and back[2] in names


def test_irc_run_agrees_with_onnxruntime_on_the_mixed_model(mixed, tmp_path):
    result, _ = mixed
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (16, 1, 32, 32)).astype(np.float32)
    save_ir(result.graph, tmp_path / "mixed.ir")
    np.savez(tmp_path / "x.npz", input=x)
    assert main(["run", str(tmp_path / "mixed.ir"), "--inputs", str(tmp_path / "x.npz"),
                 "-o", str(tmp_path / "y.npz")]) == 0
    with np.load(tmp_path / "y.npz") as z:
        ours = z["logits"]
    sess = ort.InferenceSession(result.model.SerializeToString(), providers=["CPUExecutionProvider"])
    theirs = sess.run(None, {"input": x})[0]
    gemm = next(op for op in result.graph.ops if op.name == "gemm")
    quantum = gemm.results[0].type.quant.scale
    assert np.abs(ours - theirs).max() <= quantum * 1.0001
    assert print_graph(result.graph).count('q.fallback="manual"') == 3
