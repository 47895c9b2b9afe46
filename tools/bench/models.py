"""What the benchmark runs: models named on the command line, their inputs, calibration data.

A MODEL argument is a zoo name (irc.zoo.ZOO_MODELS, built with realistic random weights and
written to the work folder) or the path of an .onnx file (used where it is, never written to).
Every model input must be a float tensor whose dimensions are all fixed except the first (the
batch); calibration data and timing inputs are random-normal arrays of that shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from irc.ir.diagnostics import IRError


@dataclass
class InputInfo:
    name: str
    shape: tuple[int, ...]          # without the batch dimension
    fixed_batch: int | None         # the batch the model pins, or None when symbolic


@dataclass
class BenchModel:
    name: str                       # table label
    source: str                     # "zoo" or the given path
    fp32_path: Path
    inputs: list[InputInfo] = field(default_factory=list)

    @property
    def fixed_batch(self) -> int | None:
        fixed = {i.fixed_batch for i in self.inputs if i.fixed_batch is not None}
        return fixed.pop() if len(fixed) == 1 else None

    def feeds(self, batch: int, seed: int) -> dict[str, np.ndarray]:
        """One random-normal batch for every input."""
        rng = np.random.default_rng(seed)
        return {i.name: rng.standard_normal((batch, *i.shape)).astype(np.float32) for i in self.inputs}

    def calibration(self, samples: int, seed: int) -> dict[str, np.ndarray]:
        """`samples` random-normal samples per input, stacked on a leading axis."""
        return self.feeds(samples, seed)


def _input_infos(model, where: str) -> list[InputInfo]:
    from onnx import TensorProto

    inits = {t.name for t in model.graph.initializer}
    infos = []
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        if tt.elem_type != TensorProto.FLOAT:
            raise IRError(f"{where}: input {vi.name!r} is not float32; irc bench feeds random-normal float inputs")
        dims = list(tt.shape.dim)
        if not dims:
            raise IRError(f"{where}: input {vi.name!r} has no shape; the benchmark needs [batch, ...] inputs")
        rest = []
        for d in dims[1:]:
            if not d.HasField("dim_value") or d.dim_value <= 0:
                raise IRError(f"{where}: input {vi.name!r} has a symbolic dimension after the batch "
                              f"({d.dim_param or '?'}); the benchmark needs fixed sizes there")
            rest.append(d.dim_value)
        fixed = dims[0].dim_value if dims[0].HasField("dim_value") and dims[0].dim_value > 0 else None
        infos.append(InputInfo(vi.name, tuple(rest), fixed))
    if not infos:
        raise IRError(f"{where}: the model has no inputs")
    return infos


def _load(path: Path):
    import onnx

    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as e:  # a truncated or non-ONNX file
        raise IRError(f"{path}: not a readable ONNX model ({type(e).__name__}: {e})") from None


def resolve_models(names: list[str]) -> list[tuple[str, str]]:
    """(label, source) for each MODEL argument, checked before any work starts."""
    from irc.zoo import ZOO_MODELS

    out = []
    for n in names:
        if n in ZOO_MODELS:
            out.append((n, "zoo"))
            continue
        p = Path(n)
        if p.suffix == ".onnx" or p.exists():
            if not p.is_file():
                raise IRError(f"{n}: model file not found")
            _input_infos(_load(p), n)  # a bad file or input fails now, not after hours of other models
            out.append((p.stem, str(p)))
            continue
        raise IRError(f"unknown model {n!r}: give an .onnx file or a zoo name ({', '.join(ZOO_MODELS)})")
    labels = [label for label, _ in out]
    if len(set(labels)) != len(labels):
        raise IRError(f"two models share a name ({', '.join(labels)}); give each once")
    return out


def prepare_model(label: str, source: str, folder: Path, seed: int) -> BenchModel:
    """Write a zoo model's fp32 file into `folder` (or check a given file) and read its inputs."""
    if source == "zoo":
        from irc.ir.weights_io import atomic_write_bytes
        from irc.zoo import zoo_model

        model = zoo_model(label, seed=seed)
        path = folder / "fp32.onnx"
        atomic_write_bytes(path, model.SerializeToString())
    else:
        path = Path(source)
        model = _load(path)
    return BenchModel(label, source, path, _input_infos(model, source if source != "zoo" else label))
