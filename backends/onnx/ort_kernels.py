"""Which kernels onnxruntime actually runs for a model: int8 kernels against float compute left.

    ort_kernel_report(model, providers=("CPUExecutionProvider",)) -> dict

A QDQ model that onnxruntime does not fuse runs as float with extra Q/DQ work, slower than the
fp32 model. This builds a session per optimization level (EXTENDED: the QDQ fusions; ALL: also
the layout transforms, NCHWc and NHWC), lets onnxruntime save the optimized graph
(`SessionOptions.optimized_model_filepath`), reads it back and counts node types:

    {"providers": [...],
     "extended": LEVEL_REPORT, "all": LEVEL_REPORT}

    LEVEL_REPORT = {
      "int8_kernels":  {"QLinearConv": 3, "QGemm": 1, ...},   # integer compute kernels
      "int8_total":    4,
      "float_compute": {"Conv": 0, ...},                     # float Conv/Gemm/MatMul (+ fused forms)
      "float_total":   0,
      "float_compute_nodes": [{"name": "...", "op_type": "FusedConv"}, ...],
      "quantize_linear": 1, "dequantize_linear": 2,          # Q/DQ nodes left in the graph
      "op_counts": {"QLinearConv": 3, "Reshape": 1, ...},    # every node type
    }

Node types of onnxruntime's NCHWc domain are reported with an `Nchwc` prefix (its Conv is
"NchwcConv"); other domains by their op type alone.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from typing import Sequence

import onnx

INT8_KERNELS = frozenset({
    "QLinearConv", "QLinearConvTranspose", "NhwcQLinearConv", "ConvInteger", "QGemm", "QLinearMatMul",
    "MatMulInteger", "MatMulIntegerToFloat", "DynamicQuantizeMatMul", "QAttention", "QLinearAdd",
    "QLinearMul", "QLinearAveragePool", "QLinearGlobalAveragePool", "QLinearConcat", "QLinearSigmoid",
    "QLinearSoftmax", "QLinearLeakyRelu", "QLinearReduceMean", "QLinearWhere",
})
"""Node types that compute on integers."""

FLOAT_COMPUTE = frozenset({
    "Conv", "FusedConv", "NchwcConv", "ConvTranspose", "Gemm", "FusedGemm", "MatMul", "FusedMatMul",
    "Attention",
})
"""Float node types that int8 kernels should have replaced in a quantized region."""

LEVELS = ("extended", "all")

NCHWC_DOMAIN = "com.microsoft.nchwc"


def _kind(node: onnx.NodeProto) -> str:
    return f"Nchwc{node.op_type}" if node.domain == NCHWC_DOMAIN else node.op_type


def count_kernels(model: onnx.ModelProto) -> dict:
    """The LEVEL_REPORT of an (optimized) model's node types."""
    kinds = Counter(_kind(n) for n in model.graph.node)
    float_nodes = [{"name": n.name, "op_type": _kind(n)} for n in model.graph.node if _kind(n) in FLOAT_COMPUTE]
    int8 = {k: c for k, c in sorted(kinds.items()) if k in INT8_KERNELS}
    flt = {k: c for k, c in sorted(kinds.items()) if k in FLOAT_COMPUTE}
    return {
        "int8_kernels": int8,
        "int8_total": sum(int8.values()),
        "float_compute": flt,
        "float_total": sum(flt.values()),
        "float_compute_nodes": float_nodes,
        "quantize_linear": kinds.get("QuantizeLinear", 0),
        "dequantize_linear": kinds.get("DequantizeLinear", 0),
        "op_counts": dict(sorted(kinds.items())),
    }


def optimized_model(model: onnx.ModelProto | str | os.PathLike, level: str,
                    providers: Sequence[str] = ("CPUExecutionProvider",)) -> onnx.ModelProto:
    """The graph onnxruntime runs for `model` at optimization `level` ('basic', 'extended', 'all')."""
    import onnxruntime as ort

    levels = {"basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
              "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
              "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}
    if level not in levels:
        raise ValueError(f"unknown optimization level {level!r}; one of {', '.join(levels)}")
    source = model.SerializeToString() if isinstance(model, onnx.ModelProto) else os.fspath(model)
    with tempfile.TemporaryDirectory(prefix="irc-ort-") as tmp:
        so = ort.SessionOptions()
        so.graph_optimization_level = levels[level]
        so.optimized_model_filepath = os.path.join(tmp, f"optimized_{level}.onnx")
        so.log_severity_level = 3  # the NCHWc "hardware specific" notice is expected here
        ort.InferenceSession(source, so, providers=list(providers))
        return onnx.load(so.optimized_model_filepath)


def ort_kernel_report(model: onnx.ModelProto | str | os.PathLike,
                      providers: Sequence[str] = ("CPUExecutionProvider",),
                      levels: Sequence[str] = LEVELS) -> dict:
    """Counts of int8 kernels, float compute nodes and Q/DQ left, per optimization level."""
    report: dict = {"providers": list(providers)}
    for level in levels:
        report[level] = count_kernels(optimized_model(model, level, providers))
    return report
