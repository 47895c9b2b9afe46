"""One way to open an onnxruntime session on the CPU, with irc's error for a model it refuses."""

from __future__ import annotations

import onnx

from irc.ir.diagnostics import IRError

LEVELS = ("disabled", "basic", "extended", "all")


def ort_session(model: onnx.ModelProto, threads: int = 0, level: str = "all", what: str = "the exported graph"):
    """An onnxruntime CPU session for `model` (quiet logs; `threads` 0 = onnxruntime's default)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.graph_optimization_level = {
        "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}[level]
    if threads > 0:
        opts.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise IRError(f"onnxruntime cannot load {what}: {msg}") from None
