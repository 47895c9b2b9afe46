"""How close a model's outputs are to a reference model's: cosine similarity and SQNR."""

from __future__ import annotations

import math

import numpy as np

from irc.ir.diagnostics import IRError

from .base import Metric, MetricResult, Step


def _pairs(step: Step, output: str | None, metric: str) -> list[tuple[np.ndarray, np.ndarray]]:
    if step.reference is None:
        raise IRError(f"{metric} needs a reference model (--reference fp32.onnx)")
    names = [output] if output is not None else list(step.outputs)
    pairs = []
    for n in names:
        if n not in step.outputs or n not in step.reference:
            raise IRError(f"{metric}: output {n!r} is missing from the model or the reference")
        a = np.asarray(step.outputs[n], dtype=np.float64)
        b = np.asarray(step.reference[n], dtype=np.float64)
        if a.shape != b.shape:
            raise IRError(f"{metric}: output {n!r} has shape {list(a.shape)} but the reference's is {list(b.shape)}")
        pairs.append((a.reshape(len(a), -1), b.reshape(len(b), -1)))
    return pairs


class Cosine(Metric):
    """Mean over samples of cos(model output, reference output).

    Each sample's outputs (all of them, or the one named) are flattened and concatenated into
    one vector. Two all-zero vectors count as 1, one all-zero vector as 0.
    """

    name = "cosine"
    needs_reference = True

    def __init__(self, output: str | None = None) -> None:
        self.output = output
        self.total = 0.0
        self.count = 0

    def update(self, step: Step) -> None:
        pairs = _pairs(step, self.output, self.name)
        a = np.concatenate([p[0] for p in pairs], 1)
        b = np.concatenate([p[1] for p in pairs], 1)
        na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
        dot = (a * b).sum(1)
        cos = np.where((na > 0) & (nb > 0), dot / np.where((na > 0) & (nb > 0), na * nb, 1), 0.0)
        cos = np.where((na == 0) & (nb == 0), 1.0, cos)
        self.total += float(cos.sum())
        self.count += len(cos)

    def compute(self) -> MetricResult:
        if self.count == 0:
            raise IRError("cosine: no samples were evaluated")
        return MetricResult(self.name, self.total / self.count, {"samples": self.count})


class SQNR(Metric):
    """Signal-to-quantization-noise ratio in dB over the whole data set:
    10 * log10( sum(ref^2) / sum((out - ref)^2) ); +inf when the outputs are identical."""

    name = "sqnr"
    needs_reference = True

    def __init__(self, output: str | None = None) -> None:
        self.output = output
        self.signal = 0.0
        self.noise = 0.0
        self.count = 0

    def update(self, step: Step) -> None:
        for a, b in _pairs(step, self.output, self.name):
            self.signal += float((b * b).sum())
            self.noise += float(((a - b) ** 2).sum())
        self.count += len(step.batch)

    def compute(self) -> MetricResult:
        if self.count == 0:
            raise IRError("sqnr: no samples were evaluated")
        if self.noise == 0:
            value = math.inf
        elif self.signal == 0:
            value = -math.inf
        else:
            value = 10.0 * math.log10(self.signal / self.noise)
        return MetricResult(self.name, value, {"signal": self.signal, "noise": self.noise, "samples": self.count})
