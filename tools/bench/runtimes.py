"""Run a variant's file: an onnxruntime session or an OpenVINO compiled model, as a callable.

onnxruntime sessions use `threads` intra-op threads, one inter-op thread, sequential execution
and ORT_ENABLE_ALL (the QDQ fusions need at least EXTENDED). OpenVINO compiles for the CPU
plugin with PERFORMANCE_HINT=LATENCY, one stream, `threads` inference threads, and f32 precision
for the fp32 variant (the plugin would otherwise pick bf16 on CPUs that have it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np


def ort_session(path, threads: int):
    """A timing session (sequential, `threads` intra-op threads, ORT_ENABLE_ALL) of a model file
    or an onnx.ModelProto."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    source = path.SerializeToString() if hasattr(path, "SerializeToString") else str(path)
    return ort.InferenceSession(source, so, providers=["CPUExecutionProvider"])


def ov_compiled(path: Path | str, threads: int, feeds: dict[str, np.ndarray], f32: bool):
    """An OpenVINO compiled model reshaped to the feeds' static shapes."""
    import openvino as ov

    core = ov.Core()
    model = core.read_model(str(path))
    model.reshape({name: list(a.shape) for name, a in feeds.items()})
    config = {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": "1", "INFERENCE_NUM_THREADS": str(threads)}
    if f32:
        config["INFERENCE_PRECISION_HINT"] = "f32"
    return core.compile_model(model, "CPU", config)


class Runner:
    """Builds callables that run one variant on fixed feeds; sessions are reused per thread count."""

    def __init__(self, path: Path, runtime: str, name: str) -> None:
        self.path, self.runtime, self.name = path, runtime, name
        self._sessions: dict[int, Any] = {}  # onnxruntime sessions

    def bind(self, feeds: dict[str, np.ndarray], threads: int) -> Callable[[], Any]:
        """A no-argument callable that runs the variant once on `feeds` (what it returns varies)."""
        if self.runtime == "ort":
            sess = self._sessions.get(threads)
            if sess is None:
                self._sessions = {threads: ort_session(self.path, threads)}  # keep one in memory
                sess = self._sessions[threads]
            return lambda: sess.run(None, feeds)
        if self.runtime == "openvino":
            compiled = ov_compiled(self.path, threads, feeds, f32=self.name == "ov-fp32")
            request = compiled.create_infer_request()
            return lambda: request.infer(feeds)
        raise ValueError(f"unknown runtime {self.runtime!r}")

    def outputs(self, feeds: dict[str, np.ndarray], threads: int) -> list[np.ndarray]:
        """The variant's outputs on `feeds`, in the model's output order."""
        result = self.bind(feeds, threads)()
        if self.runtime == "openvino":
            return [np.array(v) for v in result.values()]
        return list(result)
