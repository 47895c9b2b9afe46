"""Does a quantized variant run as int8 in onnxruntime? Counts from the optimized graph.

For a QDQ file, `quantized` is the number of Conv/Gemm/MatMul nodes that read a
DequantizeLinear output (what the quantizer meant to run in int8). onnxruntime's optimized
graph at ORT_ENABLE_ALL (irc.backends.onnx.ort_kernels) then gives the int8 compute kernels it
made (QLinearConv, QGemm, QLinearMatMul, MatMulIntegerToFloat, ...), the float Conv/Gemm/MatMul
left, and the Q/DQ nodes left. All quantized compute fused means int8_compute == quantized.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import onnx

COMPUTE = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul"})
INT8_COMPUTE = frozenset({"QLinearConv", "NhwcQLinearConv", "QLinearConvTranspose", "ConvInteger", "QGemm",
                          "QLinearMatMul", "MatMulInteger", "MatMulIntegerToFloat", "DynamicQuantizeMatMul"})


def count_compute(model: onnx.ModelProto) -> int:
    """Conv/Gemm/MatMul nodes of a model (before onnxruntime's optimizations)."""
    return sum(1 for n in model.graph.node if n.op_type in COMPUTE and n.domain in ("", "ai.onnx"))


def count_quantized_compute(model: onnx.ModelProto) -> int:
    """Conv/Gemm/MatMul nodes that read at least one DequantizeLinear output."""
    dq_out = {o for n in model.graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    return sum(1 for n in model.graph.node if n.op_type in COMPUTE and any(i in dq_out for i in n.input))


def kernel_check(path: Path | str) -> dict:
    """{"quantized", "int8_compute", "int8_kernels", "float_compute", "float_nodes", "q", "dq", "ops"}."""
    from irc.backends.onnx.ort_kernels import ort_kernel_report

    model = onnx.load(str(path))
    rep = ort_kernel_report(model, levels=("all",))["all"]
    ops = Counter(rep["op_counts"])
    return {
        "quantized": count_quantized_compute(model),
        "int8_compute": sum(c for k, c in ops.items() if k in INT8_COMPUTE),
        "int8_kernels": rep["int8_total"],
        "float_compute": rep["float_total"],
        "float_nodes": [f"{n['op_type']}:{n['name']}" for n in rep["float_compute_nodes"]],
        "q": rep["quantize_linear"],
        "dq": rep["dequantize_linear"],
        "ops": rep["op_counts"],
    }
