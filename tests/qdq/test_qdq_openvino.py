"""The onnx-qdq file in OpenVINO (openvino comes with the test extra, so CI runs these; an
environment without it skips them).

OpenVINO reads the same QDQ file, runs its convolutions and fully connected layers in u8/i8
(the runtime model's `runtimePrecision`) and computes what onnxruntime computes within one
quantum. The f32 inference-precision hint keeps OpenVINO's float parts out of bf16, which some
CPUs would otherwise pick for them.
"""

from __future__ import annotations

import numpy as np
import pytest

from irc.backends.onnx import save_onnx
from irc.backends.onnx.qdq import export_qdq

from .cases import CASES
from .qdq_check import assert_within_quantum, output_quant, quantized_compute_ops, run_ort

ov = pytest.importorskip("openvino")

INT8 = {"u8", "i8"}
COMPUTE_LAYERS = ("Convolution", "GroupConvolution", "FullyConnected", "MatMul")


def _layers(compiled) -> list[tuple[str, str, str]]:
    """(name, layer type, runtime precision) of each layer of OpenVINO's executable graph."""
    out = []
    for op in compiled.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        kind = info["layerType"].astype(str) if "layerType" in info else op.get_type_name()
        prec = info["runtimePrecision"].astype(str) if "runtimePrecision" in info else ""
        out.append((op.get_friendly_name(), kind, prec))
    return out


@pytest.mark.parametrize("name", ["depthwise_relu6", "conv_pool_reshape_gemm", "residual_add",
                                  "global_average_pool_head", "shared_value_and_quantized_outputs",
                                  "matmul_and_float_results"])
def test_openvino_runs_the_qdq_file_in_int8(name, tmp_path):
    c = CASES[name]()
    model = export_qdq(c.graph)
    path = tmp_path / f"{name}.int8.onnx"
    save_onnx(model, path)
    compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    layers = _layers(compiled)
    compute = [(n, k, p) for n, k, p in layers if k in COMPUTE_LAYERS]
    assert len(compute) == len(quantized_compute_ops(c.graph)), layers
    # a float-result matmul with constant weights is written MatMulInteger -> Cast -> Mul (the
    # form onnxruntime fuses with its bias add), which OpenVINO runs as an f32 FullyConnected
    # of the stored integers: the same values, not an int8 layer
    integer = {f"n_{n.output[0]}" for n in model.graph.node if n.op_type == "MatMulInteger"}
    assert all(p in INT8 for n, _, p in compute if n not in integer), compute
    assert all(p == "f32" for n, _, p in compute if n in integer), compute
    result = compiled(c.feeds)
    want = run_ort(model, c.feeds)
    for v, port, w in zip(c.graph.outputs, compiled.outputs, want):
        got = np.asarray(result[port])
        assert_within_quantum(got, w, output_quant(v), f"{name}: OpenVINO vs onnxruntime, output {v.name}", 1e-5)
