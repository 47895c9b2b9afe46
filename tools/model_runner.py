"""Running a model on batches: onnxruntime for .onnx files, the numpy interpreter for .ir files.

Both give {output name: array} for a feed {input name: array}. A model whose batch axis is a
fixed number (say 1) is run in chunks of that size, the last chunk padded by repeating its last
sample, so callers may use any batch size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from irc.data.base import InputSpec
from irc.ir.diagnostics import IRError

_ORT_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
              "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int8)": np.int8,
              "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_}


def _dim(d) -> int | None:
    return int(d) if isinstance(d, (int, np.integer)) and d >= 0 else None


class ModelRunner:
    """A loaded model: `inputs` (InputSpec list), `output_names`, and run(feed) -> outputs."""

    path: Path
    inputs: list[InputSpec]
    output_names: list[str]

    def _run(self, feed: Mapping[str, np.ndarray]) -> list[np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def run(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        fixed = self.inputs[0].shape[0] if self.inputs and self.inputs[0].shape else None
        n = len(next(iter(feed.values())))
        if fixed is None or fixed == n:
            return dict(zip(self.output_names, self._run(feed)))
        parts: list[list[np.ndarray]] = []
        for start in range(0, n, fixed):
            chunk = {k: v[start:start + fixed] for k, v in feed.items()}
            short = fixed - len(next(iter(chunk.values())))
            if short:
                chunk = {k: np.concatenate([v, np.repeat(v[-1:], short, 0)]) for k, v in chunk.items()}
            outs = self._run(chunk)
            parts.append([o[:fixed - short] for o in outs])
        return {name: np.concatenate([p[i] for p in parts]) for i, name in enumerate(self.output_names)}


class OnnxRunner(ModelRunner):
    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        self.path = path
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types for bad files
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise IRError(f"{path}: onnxruntime cannot load the model: {msg}") from None
        self.inputs = [InputSpec(i.name, tuple(_dim(d) for d in i.shape), np.dtype(_ORT_TYPES.get(i.type, np.float32)))
                       for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

    def _run(self, feed):
        try:
            return self.session.run(self.output_names, dict(feed))
        except Exception as e:
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise IRError(f"{self.path}: onnxruntime failed to run the model: {msg}") from None


class IRRunner(ModelRunner):
    def __init__(self, path: Path) -> None:
        import irc
        from irc.backends.numpy_interp import Interpreter

        self.path = path
        graph = irc.load(path)
        self.interpreter = Interpreter(graph)
        self.inputs = [InputSpec(v.io_name, tuple(_dim(d) for d in v.type.dims), np.dtype(v.type.dtype))
                       for v in graph.inputs]
        self.output_names = [v.io_name for v in graph.outputs]

    def _run(self, feed):
        out = self.interpreter.run(feed)
        return [out[n] for n in self.output_names]


def open_model(path: str | Path) -> ModelRunner:
    """Load an .onnx (onnxruntime) or .ir (numpy interpreter) model for running."""
    path = Path(path)
    if not path.is_file():
        raise IRError(f"model file {path} does not exist")
    from irc.model_files import model_format

    return OnnxRunner(path) if model_format(path) == "onnx" else IRRunner(path)
