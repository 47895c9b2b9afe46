"""irc emit --target=onnx-qdq through the command line."""

from __future__ import annotations

import numpy as np
import onnx

from irc.backends.onnx.qdq import export_qdq
from irc.cli import main
from irc.ir import load_ir
from irc.ir.types import QuantType
from irc.ir.weights_io import save_ir

from .qdq_check import check_qdq, run_ort
from .qdq_graphs import QBuilder


def _quantized_ir(tmp_path, activation=None, qt=None):
    b = QBuilder(seed=30)
    q = b.quantize(b.input((3, 6, 6), "x"), "xq")
    c = b.conv(q, 8, 3, "conv1", pad=1, activation=activation, qt=qt)
    p = b.op("max_pool", [c], "pool", {"kernel_shape": [2, 2], "strides": [2, 2]})
    r = b.op("reshape", [p], "flat", {"shape": [2, -1]})
    y = b.dequantize(b.gemm(r, 5, "fc"), "y")
    graph = b.finish([y])
    path = tmp_path / "model.q.ir"
    save_ir(graph, path)
    return path, graph, b.feeds


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_emit_onnx_qdq_writes_the_int8_model(tmp_path, capsys):
    path, graph, feeds = _quantized_ir(tmp_path)
    out = tmp_path / "model.int8.onnx"
    code, _, err = run_cli(capsys, "emit", "--target=onnx-qdq", path, "-o", out)
    assert code == 0, err
    assert err == ""
    model = onnx.load(out)
    onnx.checker.check_model(model, full_check=True)
    result = check_qdq(load_ir(path), feeds)
    assert result.report["all"]["int8_kernels"] == {"QGemm": 1, "QLinearConv": 1}
    np.testing.assert_array_equal(run_ort(model, feeds)[0], run_ort(export_qdq(graph), feeds)[0])


def test_fp32_target_refuses_a_quantized_graph(tmp_path, capsys):
    path, _, _ = _quantized_ir(tmp_path)
    out = tmp_path / "model.onnx"
    code, _, err = run_cli(capsys, "emit", "--target=onnx", path, "-o", out)
    assert code == 2
    assert "irc emit: error: the graph has quantized ops (xq, conv1.weight, " in err
    assert "--target=onnx-qdq" in err and "Traceback" not in err
    assert not out.exists()


def test_unknown_target_lists_the_targets(tmp_path, capsys):
    path, _, _ = _quantized_ir(tmp_path)
    code, _, err = run_cli(capsys, "emit", "--target=onnx-int4", path, "-o", tmp_path / "m.onnx")
    assert code == 2 and "unknown target 'onnx-int4'; targets: onnx, onnx-qdq" in err


def test_emit_warns_about_a_clamp_the_int8_op_cannot_absorb(tmp_path, capsys):
    """clip(-0.25, 0.5) on a result whose range is wider: the clamp stays a node, with a warning."""
    path, _, feeds = _quantized_ir(tmp_path, activation=("clip", -0.25, 0.5),
                                   qt=QuantType.per_tensor("u8", 0.01, 100))
    out = tmp_path / "m.onnx"
    code, _, err = run_cli(capsys, "emit", "--target=onnx-qdq", path, "-o", out)
    assert code == 0
    assert err.startswith("irc emit: warning: conv conv1: its result type !q.u8<0.01:100> does not make "
                          "the fused clip [-0.25, 0.5] redundant")
    assert [n.op_type for n in onnx.load(out).graph.node].count("Clip") == 1
