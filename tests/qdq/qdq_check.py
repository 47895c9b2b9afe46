"""The end-to-end check every onnx-qdq test graph goes through.

    check_qdq(graph, feeds) -> QDQResult

  1. export_qdq writes the graph (no QDQWarning unless `warnings_expected`);
  2. onnx.checker (full check) accepts the model and every DequantizeLinear output has exactly
     one reader (a node input or a graph output) — onnxruntime's QDQ groups need that;
  3. onnxruntime runs it with all optimizations (int8 kernels) and with none (the QDQ graph
     computed in float, the literal meaning of the file): the outputs agree within one quantum
     of each output's quantized type;
  4. the optimized graphs (EXTENDED and ALL) hold one int8 kernel per quantized conv / gemm /
     matmul of the IR and no float Conv/Gemm/MatMul for them;
  5. the numpy interpreter on the IR agrees with onnxruntime within one quantum — skipped while
     the interpreter has no quantized conv kernel.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from irc.backends.numpy_interp.interpreter import QUANT_KERNELS, run_graph
from irc.backends.numpy_interp.kernels.quant import dequantize_array
from irc.backends.onnx.ort_kernels import ort_kernel_report
from irc.backends.onnx.qdq import export_qdq
from irc.ir.graph import Graph
from irc.ir.types import QuantType
from irc.ir.value import Value
from irc.ir.verifier import verify_op

COMPUTE_OPS = ("conv", "conv_transpose", "gemm", "matmul")
INT8_COMPUTE = ("QLinearConv", "NhwcQLinearConv", "QLinearConvTranspose", "ConvInteger", "QGemm",
                "QLinearMatMul", "MatMulInteger", "MatMulIntegerToFloat")


@dataclass
class QDQResult:
    model: onnx.ModelProto
    report: dict
    outputs: list[np.ndarray]
    warnings: list[str] = field(default_factory=list)


def run_ort(model: onnx.ModelProto, feeds: dict[str, np.ndarray], optimize: bool = True) -> list[np.ndarray]:
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize
                                   else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def output_quant(v: Value) -> QuantType | None:
    """The quantized type whose grid an output's real values lie on (None: a float output)."""
    if v.type.is_quantized:
        return v.type.quant
    op = v.producer
    if op is not None and op.name == "dequantize":
        return op.operands[0].type.quant
    return None


def dq_readers(model: onnx.ModelProto) -> dict[str, int]:
    """For each DequantizeLinear output, how many node inputs and graph outputs read it."""
    reads = Counter(i for n in model.graph.node for i in n.input)
    reads.update(o.name for o in model.graph.output)
    return {n.output[0]: reads[n.output[0]] for n in model.graph.node if n.op_type == "DequantizeLinear"}


def quantized_compute_ops(graph: Graph) -> list[str]:
    return [op.label for op in graph.ops if op.name in COMPUTE_OPS
            and any(v.type.is_quantized for v in [*op.operands, *op.results])]


def assert_within_quantum(got: np.ndarray, want: np.ndarray, qt: QuantType | None, what: str,
                          float_atol: float) -> None:
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    tol = float_atol if qt is None else float(np.max(qt.scale_array())) * 1.001
    err = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)), initial=0.0))
    assert err <= tol, f"{what}: max difference {err} exceeds {tol} (one quantum)"


def interpreter_ready() -> bool:
    import irc.backends.numpy_interp.kernels  # noqa: F401

    return "conv" in QUANT_KERNELS


def verify(graph: Graph, exempt: tuple[str, ...] = ()) -> None:
    """The verifier's op checks on every op but those labelled in `exempt`."""
    for op in graph.ops:
        if op.label not in exempt:
            verify_op(op, graph)


def check_qdq(graph: Graph, feeds: dict[str, np.ndarray], warnings_expected: bool = False,
              float_atol: float = 1e-5, float_compute_expected: int = 0,
              verify_exempt: tuple[str, ...] = ()) -> QDQResult:
    verify(graph, verify_exempt)
    messages: list[str] = []
    model = export_qdq(graph, warn=messages.append)
    assert bool(messages) == warnings_expected, f"warnings: {messages}"
    onnx.checker.check_model(model, full_check=True)
    shared = {name: n for name, n in dq_readers(model).items() if n != 1}
    assert not shared, f"DequantizeLinear outputs read by other than one reader: {shared}"

    fast = run_ort(model, feeds, optimize=True)
    literal = run_ort(model, feeds, optimize=False)
    quants = [output_quant(v) for v in graph.outputs]
    for v, a, b, qt in zip(graph.outputs, fast, literal, quants):
        assert_within_quantum(a, b, qt, f"output {v.name}: int8 kernels vs the QDQ graph in float", float_atol)

    report = ort_kernel_report(model)
    expected = len(quantized_compute_ops(graph))
    for level in ("extended", "all"):
        rep = report[level]
        int8 = sum(rep["int8_kernels"].get(k, 0) for k in INT8_COMPUTE)
        assert int8 == expected, f"{level}: {int8} int8 compute kernels for {expected} quantized ops: {rep}"
        assert rep["float_total"] == float_compute_expected, f"{level}: float compute left: {rep['float_compute_nodes']}"
    return QDQResult(model, report, fast, messages)


def check_interpreter(graph: Graph, feeds: dict[str, np.ndarray], result: QDQResult,
                      float_atol: float = 1e-5) -> None:
    """Step 5: the interpreter on the IR against onnxruntime on the emitted model."""
    if not interpreter_ready():
        pytest.skip("irc.backends.numpy_interp has no quantized conv kernel yet "
                    "(backends/numpy_interp/kernels/int8_*.py): interpreter comparison not run")
    got = run_graph(graph, feeds)
    for v, want in zip(graph.outputs, result.outputs):
        a = got[v.name]
        qt = output_quant(v)
        if v.type.is_quantized:
            a = dequantize_array(a, v.type.quant)
        assert_within_quantum(a, want, qt, f"output {v.name}: interpreter vs onnxruntime", float_atol)
