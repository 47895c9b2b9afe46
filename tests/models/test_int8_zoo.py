"""int8 end to end on the CNN zoo: irc's interpreter equals onnxruntime on the emitted QDQ model,
and every quantized conv/gemm/matmul runs as an int8 kernel in onnxruntime.

The comparison is made on every int8 tensor that leaves the int8 region (each `dequantize`
operand), made a graph output for the check: identical on at least 99.9% of elements and
never more than one quantum apart (specs/quantization.md).
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

import irc
from irc.backends.numpy_interp import run_graph
from irc.backends.onnx.ort_kernels import ort_kernel_report
from irc.backends.onnx.qdq import export_qdq
from irc.zoo import realistic_light_model

MODELS = ["squeezenet", "resnet50", "inception_v1", "densenet121", "shufflenet"]


def _expose_int8_exits(graph):
    """Make the dequantized form of every int8 tensor leaving the int8 region a graph output."""
    outs = list(graph.outputs)
    for op in graph.ops:
        if op.name == "dequantize" and op.result not in outs:
            outs.append(op.result)
    graph.set_outputs(outs)
    return [op for op in graph.ops if op.name == "dequantize"]


@pytest.mark.parametrize("name, activations", [(m, "u8") for m in MODELS]
                         + [("resnet50", "i8"), ("densenet121", "i8"), ("squeezenet", "i8-sym")])
def test_interpreter_equals_onnxruntime_and_kernels_are_int8(name, activations):
    model = realistic_light_model(name)
    inp = model.graph.input[0]
    shape = [d.dim_value or 1 for d in inp.type.tensor_type.shape.dim]
    rng = np.random.default_rng(0)
    calib = {inp.name: rng.standard_normal([8] + shape[1:]).astype(np.float32)}
    result = irc.quantize(model, calib, batch_size=8, activations=activations)
    graph = result.graph

    report = ort_kernel_report(result.model)["all"]
    quantized_compute = sum(1 for op in graph.ops if op.name in ("conv", "gemm", "matmul")
                            and op.results[0].type.is_quantized)
    assert report["float_total"] == 0, report["float_compute_nodes"]
    assert quantized_compute > 0
    assert sum(report["int8_kernels"].get(k, 0) for k in ("QLinearConv", "QGemm", "QLinearMatMul")) == quantized_compute

    exits = _expose_int8_exits(graph)
    qdq = export_qdq(graph, warn=lambda m: None)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(qdq.SerializeToString(), so, providers=["CPUExecutionProvider"])
    x = rng.standard_normal([1] + shape[1:]).astype(np.float32)
    names = [o.name for o in sess.get_outputs()]
    got_ort = dict(zip(names, sess.run(None, {inp.name: x})))
    got_irc = run_graph(graph, {inp.name: x})
    for d in exits:
        scale = d.operands[0].type.quant.scale
        a, b = got_irc[d.result.name], got_ort[d.result.name]
        quanta = np.abs(a.astype(np.float64) - b) / scale
        assert quanta.max() <= 1.0 + 1e-3, f"{d.result.name}: {quanta.max()} quanta apart"
        assert (quanta < 0.5).mean() >= 0.999, f"{d.result.name}: only {(quanta < 0.5).mean():.4%} identical"
