"""ort_kernel_report: what onnxruntime's optimized graph runs, int8 against float."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import pytest
from onnx import helper

from irc.backends.onnx import export_onnx, save_onnx
from irc.backends.onnx.ort_kernels import count_kernels, optimized_model, ort_kernel_report
from irc.backends.onnx.qdq import export_qdq

from .cases import CASES
from .qdq_graphs import QBuilder


def _float_graph():
    """conv -> relu -> reshape -> gemm in f32: the report must list the float compute it keeps."""
    b = QBuilder(seed=20)
    x = b.input((3, 6, 6), "x")
    w = b.const(b.rng.normal(0, 0.3, (4, 3, 3, 3)).astype(np.float32), "conv1.weight")
    c = b.op("conv", [x, w], "conv1", result="float")
    r = b.op("relu", [c], "act", result="float")
    f = b.op("reshape", [r], "flat", {"shape": [2, -1]}, result="float")
    fw = b.const(b.rng.normal(0, 0.1, (64, 5)).astype(np.float32), "fc.weight")
    y = b.op("gemm", [f, fw], "fc", result="float")
    return b.finish([y])


def test_float_model_reports_its_float_compute():
    report = ort_kernel_report(export_onnx(_float_graph()))
    assert report["providers"] == ["CPUExecutionProvider"]
    ext, full = report["extended"], report["all"]
    assert ext["int8_total"] == 0 and full["int8_total"] == 0
    assert ext["float_total"] == 2
    assert {n["op_type"] for n in ext["float_compute_nodes"]} <= {"Conv", "FusedConv", "Gemm", "FusedGemm"}
    assert all(n["name"] for n in ext["float_compute_nodes"])
    # level ALL rewrites the conv into onnxruntime's NCHWc layout: still float compute
    assert full["float_total"] >= 2 and any(k.startswith("Nchwc") for k in full["op_counts"])


def test_report_of_a_qdq_model_from_memory_and_from_a_file(tmp_path):
    model = export_qdq(CASES["conv_pool_reshape_gemm"]().graph)
    path = tmp_path / "m.int8.onnx"
    save_onnx(model, path)
    from_file, in_memory = ort_kernel_report(path), ort_kernel_report(model)
    assert from_file == in_memory
    full = in_memory["all"]
    assert full["int8_kernels"] == {"QGemm": 2, "QLinearConv": 1}
    assert full["float_total"] == 0 and full["float_compute_nodes"] == []
    assert (full["quantize_linear"], full["dequantize_linear"]) == (1, 1)


def test_count_kernels_names_nchwc_nodes():
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="c1", domain="com.microsoft.nchwc"),
             helper.make_node("QLinearConv", ["a"], ["b"], name="q1", domain="com.microsoft"),
             helper.make_node("DequantizeLinear", ["b", "s"], ["c"], name="d1")]
    g = helper.make_graph(nodes, "g", [], [])
    counts = count_kernels(helper.make_model(g))
    assert counts["float_compute"] == {"NchwcConv": 1}
    assert counts["float_compute_nodes"] == [{"name": "c1", "op_type": "NchwcConv"}]
    assert counts["int8_kernels"] == {"QLinearConv": 1}
    assert counts["dequantize_linear"] == 1 and counts["quantize_linear"] == 0


def test_unknown_level_is_refused():
    with pytest.raises(ValueError, match="unknown optimization level 'fast'"):
        optimized_model(onnx.ModelProto(), "fast")


def test_i8_activations_with_several_readers_are_written_u8_and_run_int8(tmp_path):
    """onnxruntime on x86 turns an i8 Q -> DQ pair into u8 only when the Q has one reader; the
    backend writes an i8 activation that several nodes read as u8 (zero point + 128) itself."""
    from pathlib import Path

    import irc

    model = Path(__file__).resolve().parents[2] / "examples" / "models" / "digits_resnet.onnx"
    rng = np.random.default_rng(0)
    calib = {"input": rng.uniform(-1, 1, (8, 1, 32, 32)).astype(np.float32)}
    result = irc.quantize(model, calib, batch_size=8, activations="i8")
    types = {t.data_type for n in result.model.graph.node if n.op_type == "QuantizeLinear"
             for t in result.model.graph.initializer if t.name == n.input[2]}
    assert types == {onnx.TensorProto.INT8, onnx.TensorProto.UINT8}
    shifted = [t for t in result.model.graph.initializer
               if t.data_type == onnx.TensorProto.UINT8 and t.name.endswith("zero_point")]
    assert shifted
    # every shifted zero point is an i8 one plus 128, and the IR types stay i8
    assert all(op.results[0].type.quant.storage == "i8" for op in result.graph.ops
               if op.name == "conv" and op.results[0].type.is_quantized)
    report = ort_kernel_report(result.model)["extended"]
    assert report["float_total"] == 0, report["float_compute_nodes"]
    assert report["int8_kernels"]["QLinearConv"] == 13 and report["int8_kernels"]["QLinearAdd"] == 5


def test_bert_weight_matmuls_run_as_matmulintegertofloat_with_their_bias():
    """The committed TorchScript BERT (2 layers, hidden 64): every weight matmul of irc's static
    model, and the pooler's gemm, is one MatMulIntegerToFloat holding its bias in onnxruntime's
    optimized graph (no separate bias Add, no MatMulInteger left), and the float fusions around
    them are the fp32 model's: its LayerNormalizations, and its BiasGelus as Gelus after the
    matmuls now holding the biases; attention's two matmuls per layer stay float as in fp32."""
    from pathlib import Path

    import irc

    folder = Path(__file__).resolve().parents[1] / "data" / "corpus" / "bert_ts"
    result = irc.quantize(str(folder / "model.onnx"), str(folder / "calib.npz"))
    written = Counter(n.op_type for n in result.model.graph.node)
    assert written["MatMulInteger"] == 13 and written["MatMul"] == 4 and "Gemm" not in written, written
    assert not any(n.domain not in ("", "ai.onnx") for n in result.model.graph.node)  # standard ONNX only

    fp32 = Counter(n.op_type for n in optimized_model(folder / "model.onnx", "all").graph.node)
    opt = optimized_model(result.model, "all")
    kinds = Counter(n.op_type for n in opt.graph.node)
    mif = [n for n in opt.graph.node if n.op_type == "MatMulIntegerToFloat"]
    assert len(mif) == 13 and all(len(n.input) == 7 and n.input[6] for n in mif), [list(n.input) for n in mif]
    assert "MatMulInteger" not in kinds and "QGemm" not in kinds and fp32["FusedGemm"] == 1  # the pooler
    assert kinds["LayerNormalization"] == fp32["LayerNormalization"] == 5
    assert kinds["Gelu"] == fp32["BiasGelu"] == 2 and "BiasGelu" not in kinds
    assert kinds["FusedMatMul"] + kinds["MatMul"] == fp32["FusedMatMul"] + 2 == 4  # q k^T and p v
    # fp32 keeps 10 bias Adds (the other 2 are in its BiasGelus, the pooler's in its FusedGemm):
    # here they are inside the MatMulIntegerToFloats; the run-time 1.0 (qdq.py runtime_one)
    # costs one DQ and one Relu
    assert kinds["Add"] == fp32["Add"] - 10 and kinds["Relu"] == 1
