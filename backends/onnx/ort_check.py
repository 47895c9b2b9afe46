"""What irc writes, it checks: the emitted model in onnxruntime with its default session options.

    report = check_emitted(model, feeds, reference)       # raises OutputRejected

The model is loaded the way a user loads it (`onnxruntime.InferenceSession(path)`: default
session options, so every graph optimization runs, the layout transformer for the int8 kernels
included), run on one batch, and each output compared with `reference(feeds)` (the fp32 model's
outputs, or the interpreter's): cosine of the flattened arrays. A model onnxruntime refuses, that
breaks onnx's checker, or whose outputs hold NaN or infinity where the reference's are finite, is
rejected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np
import onnx

from irc.ir.diagnostics import IRError


class OutputRejected(IRError):
    """The written model fails in onnxruntime; `model` is that model, to keep for a bug report."""

    def __init__(self, message: str, model: onnx.ModelProto) -> None:
        super().__init__(message)
        self.model = model


@dataclass
class EmittedCheck:
    """How the emitted model ran in onnxruntime next to its reference."""

    samples: int
    cosine: dict[str, float | None] = field(default_factory=dict)
    """Per output: cosine to the reference (None where the shapes differ, e.g. NMS indices)."""
    engine: str = ""

    def to_json(self) -> dict:
        return {"engine": self.engine, "samples": self.samples,
                "cosine": {k: (None if v is None else round(v, 6)) for k, v in self.cosine.items()}}

    def summary(self) -> str:
        parts = ", ".join(f"{k} {'shape differs' if v is None else f'{v:.4f}'}" for k, v in self.cosine.items())
        return f"check: {self.engine} ran it on {self.samples} sample(s); cosine to fp32: {parts}"


def default_session(model: onnx.ModelProto):
    """An onnxruntime CPU session with default session options (only the log level is quieted)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def _one_line(e: Exception) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text[:600]


def cosine(a: np.ndarray, b: np.ndarray) -> float | None:
    """Cosine of two arrays as flat float64 vectors over the elements finite in both (1 when both
    are zero; None if the shapes differ)."""
    if a.shape != b.shape:
        return None
    x = np.asarray(a, np.float64).ravel()
    y = np.asarray(b, np.float64).ravel()
    finite = np.isfinite(x) & np.isfinite(y)  # where the fp32 model itself gives inf, compare the rest
    x, y = x[finite], y[finite]
    nx, ny = np.linalg.norm(x), np.linalg.norm(y)
    if nx == 0 and ny == 0:
        return 1.0
    if nx == 0 or ny == 0:
        return 0.0
    return float(np.clip(np.dot(x, y) / (nx * ny), -1.0, 1.0))


def check_onnx_rules(model: onnx.ModelProto, what: str = "the written model") -> None:
    """onnx's checker on the written model (OutputRejected when it fails). Skipped for a model
    with an unranked output: the checker wants a shape on every graph output, and irc keeps an
    output unranked only where no shape inference could tell its rank."""
    if any(not o.type.tensor_type.HasField("shape") for o in model.graph.output):
        return
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as e:
        raise OutputRejected(f"{what} breaks ONNX's rules (onnx.checker): {_one_line(e)}", model) from None


def check_emitted(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray] | None,
                  reference: Callable[[Mapping[str, np.ndarray]], Mapping[str, np.ndarray]] | None,
                  what: str = "the written model") -> EmittedCheck:
    """Load `model` in onnxruntime (default options) and, with `feeds`, run it and compare each
    output with `reference(feeds)`. Raises OutputRejected when onnxruntime refuses the model or
    produces NaN/infinity where the reference does not."""
    import onnxruntime as ort

    engine = f"onnxruntime {ort.__version__} (default session options)"
    try:
        sess = default_session(model)
    except Exception as e:
        raise OutputRejected(f"onnxruntime refuses {what} at load (default session options): {_one_line(e)}",
                             model) from None
    check_onnx_rules(model, what)
    if feeds is None:
        return EmittedCheck(0, {}, engine)
    wanted = [i.name for i in sess.get_inputs()]
    missing = [n for n in wanted if n not in feeds]
    if missing:
        raise IRError(f"the inputs to check {what} with lack {', '.join(map(repr, missing))} "
                      f"(given: {', '.join(map(repr, feeds)) or 'none'})")
    feeds = {k: v for k, v in feeds.items() if k in wanted}
    try:
        outs = sess.run(None, feeds)
    except Exception as e:
        raise OutputRejected(f"onnxruntime fails running {what}: {_one_line(e)}", model) from None
    names = [o.name for o in sess.get_outputs()]
    expected = reference(feeds) if reference is not None else {}
    samples = len(next(iter(feeds.values()))) if feeds and np.ndim(next(iter(feeds.values()))) else 1
    report = EmittedCheck(samples, {}, engine)
    for name, got in zip(names, outs):
        got = np.asarray(got)
        ref = expected.get(name)
        if got.dtype.kind in "fc" and not np.isfinite(got).all():
            if ref is None or np.isfinite(np.asarray(ref, np.float64)).all():
                bad = int(np.size(got) - np.isfinite(got).sum())
                raise OutputRejected(f"{what} runs to NaN or infinity in onnxruntime: output {name!r} has "
                                     f"{bad} non-finite value(s) of {got.size}"
                                     + (" where the fp32 model's are finite" if ref is not None else ""), model)
        if ref is not None:
            report.cosine[name] = cosine(got, np.asarray(ref))
    return report
