"""Calibration data for passes: what `PassContext.calib` may hold, checked and cut into batches.

`ctx.calib` is one of

    a dict {input name: array}              one batch
    an iterable of such dicts               batches, any number of samples each
    a callable returning such an iterable   called with the keywords it accepts among
                                            batch_size, limit, seed
    an object with batches(batch_size=, limit=, seed=) and optionally __len__ (samples) and
    `description` (used in messages), as irc.data.calibration_files builds from a file or folder

Every array has a leading sample axis. Each incoming batch is checked against the graph's
inputs: the names, the rank, every dimension after the first, the kind of element (float data
for a float input, integers for an integer one, bools for a bool one; then cast to the input's
width), and for float inputs that every value is finite. Errors name the input, the batch and
the sample. The checked samples are then regrouped into batches the graph can run: of the
graph's own batch size when its inputs fix the leading dimension (the last batch padded by
repeating its last sample), else of `batch_size`.
"""

from __future__ import annotations

import inspect
from typing import Any, Iterator, Mapping

import numpy as np

from irc.ir.graph import Graph
from irc.ir.types import dims_compatible, format_dim

from .base import PassError


def _accepted_kwargs(fn, offered: dict[str, Any]) -> dict[str, Any]:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return {}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return dict(offered)
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return {k: v for k, v in offered.items() if k in names}


def kind_mismatch(have: np.dtype, want: np.dtype) -> str | None:
    """Why calibration data of dtype `have` cannot feed an input of dtype `want`, or None.

    The kinds must agree: float data for a float input (any width), integers (signed or not)
    for an integer input, bools for a bool input. Integer or bool arrays for a float input are
    refused rather than cast: they are labels, masks or raw pixels far more often than samples.
    """
    kind = {"f": "float", "i": "integer", "u": "integer", "b": "bool"}
    if kind.get(have.kind) == kind.get(want.kind):
        return None
    if want.kind == "f":
        return (f"calibration data for a float input must be float ({have} arrays are refused, not cast; "
                f"convert it, e.g. with .astype(np.float32), if it really holds samples)")
    return f"calibration data must hold {kind.get(want.kind, str(want))} values for it"


def graph_batch_size(graph: Graph) -> int | None:
    """The batch size the graph's inputs fix (their leading dimension), or None if dynamic."""
    fixed = {v.type.dims[0] for v in graph.inputs if v.type.rank and isinstance(v.type.dims[0], int)}
    if len(fixed) > 1:
        raise PassError("the graph's inputs fix different batch sizes "
                        f"({', '.join(f'{v.name}: {v.type}' for v in graph.inputs)}); cannot feed them together")
    return fixed.pop() if fixed else None


class CalibrationStream:
    """Checked, regrouped calibration batches for one graph; iterate once."""

    def __init__(self, calib: Any, graph: Graph, *, batch_size: int = 32, limit: int = 0, seed: int = 0) -> None:
        if calib is None:
            raise PassError("pass 'calibrate' needs calibration data: give `--calib FILE.npz` to irc opt, or set "
                            "PassContext.calib to batches {input name: array}")
        if batch_size < 1:
            raise PassError(f"batch size must be at least 1, got {batch_size}")
        self.graph = graph
        self.inputs = list(graph.inputs)
        for v in self.inputs:
            if v.type.rank == 0:
                raise PassError(f"graph input {v.name!r} is a scalar ({v.type}); calibration data needs "
                                "a leading sample axis on every input")
        fixed = graph_batch_size(graph)
        self.batch = fixed or batch_size
        self.fixed = fixed is not None
        self.limit = limit if limit and limit > 0 else None
        self.description = getattr(calib, "description", None) or "calibration data"
        self.samples = 0
        """Samples delivered so far (padding not counted)."""
        self.padded = 0
        self.total: int | None = None
        """Samples expected, when the source says."""
        self._source = self._open(calib, seed)

    def _open(self, calib: Any, seed: int):
        offered = {"batch_size": self.batch, "limit": self.limit, "seed": seed}
        if isinstance(calib, Mapping):
            batches = [calib]
        elif callable(getattr(calib, "batches", None)):
            batches = calib.batches(**_accepted_kwargs(calib.batches, offered))
            if hasattr(calib, "__len__"):
                self.total = len(calib)
        elif callable(calib):
            batches = calib(**_accepted_kwargs(calib, offered))
        else:
            batches = calib
        if isinstance(batches, (str, bytes)) or not hasattr(batches, "__iter__"):
            raise PassError(f"{self.description}: expected batches {{input name: array}}, got {type(batches).__name__}")
        if isinstance(batches, (list, tuple)):
            try:
                self.total = sum(len(next(iter(b.values()))) for b in batches)
            except Exception:  # malformed entries are reported, with their index, while iterating
                self.total = None
        if self.total is not None and self.limit is not None:
            self.total = min(self.total, self.limit)
        return iter(batches)

    # -- checking -----------------------------------------------------------------------------
    def _check(self, feed: Any, index: int) -> dict[str, np.ndarray]:
        where = f"{self.description}, batch {index}"
        if not isinstance(feed, Mapping):
            raise PassError(f"{where}: expected a dict {{input name: array}}, got {type(feed).__name__}")
        names = [v.name for v in self.inputs]
        missing = [n for n in names if n not in feed]
        extra = [str(n) for n in feed if n not in names]
        if missing or extra:
            parts = ([f"no array for input(s) {', '.join(map(repr, missing))}"] if missing else []) + \
                    ([f"unknown name(s) {', '.join(map(repr, extra))}"] if extra else [])
            raise PassError(f"{where}: {'; '.join(parts)} (the graph's inputs: {', '.join(map(repr, names))})")
        out: dict[str, np.ndarray] = {}
        rows = None
        for v in self.inputs:
            a = feed[v.name]
            try:
                a = np.asarray(a)
            except Exception as e:
                raise PassError(f"{where}: input {v.name!r} is not an array ({type(e).__name__}: {e})") from None
            t = v.type
            want = "[" + ", ".join(format_dim(d) for d in t.dims[1:]) + "]"
            if a.dtype.kind not in "biuf":
                raise PassError(f"{where}: input {v.name!r} has dtype {a.dtype}, not numbers")
            if a.ndim != t.rank or not all(dims_compatible(d, int(s)) for d, s in zip(t.dims[1:], a.shape[1:])):
                raise PassError(f"{where}: input {v.name!r} has shape {list(a.shape)}, but the graph expects "
                                f"samples of shape {want} (input type {t})")
            if rows is None:
                rows = a.shape[0]
            elif a.shape[0] != rows:
                raise PassError(f"{where}: inputs have different numbers of samples "
                                f"({', '.join(f'{n}: {len(x)}' for n, x in out.items())}, {v.name}: {len(a)})")
            mismatch = kind_mismatch(a.dtype, t.dtype)
            if mismatch:
                raise PassError(f"{where}: input {v.name!r} has dtype {a.dtype}, but the graph's input is "
                                f"{t.storage}: {mismatch}")
            if a.dtype != t.dtype:
                with np.errstate(over="ignore", invalid="ignore"):
                    a = a.astype(t.dtype)
            if a.dtype.kind == "f" and a.size:
                finite = np.isfinite(a.reshape(len(a), -1)).all(axis=1)
                if not finite.all():
                    k = int(np.argmin(finite))
                    raise PassError(f"{where}: input {v.name!r} holds NaN or infinity in sample {k} of the batch "
                                    f"(sample {self._seen + k} overall)")
            out[v.io_name] = a
        return out

    # -- regrouping ---------------------------------------------------------------------------
    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        pending: list[dict[str, np.ndarray]] = []
        held = 0
        self._seen = 0
        for index, feed in enumerate(self._source):
            if self.limit is not None and self._seen >= self.limit:
                break
            checked = self._check(feed, index)
            n = len(next(iter(checked.values()))) if checked else 0
            if self.limit is not None and self._seen + n > self.limit:
                n = self.limit - self._seen
                checked = {k: a[:n] for k, a in checked.items()}
            self._seen += n
            if n == 0:
                continue
            pending.append(checked)
            held += n
            while held >= self.batch:
                batch, pending, held = _take(pending, self.batch)
                self.samples += self.batch
                yield batch
        if held:
            batch, pending, _ = _take(pending, held)
            self.samples += held
            if self.fixed:
                pad = self.batch - held
                self.padded += pad
                batch = {k: np.concatenate([a, np.repeat(a[-1:], pad, axis=0)]) for k, a in batch.items()}
            yield batch
        if self.samples == 0:
            raise PassError(f"{self.description}: no calibration samples (the data is empty)")


def _take(pending: list[dict[str, np.ndarray]], n: int):
    """The first n samples of the pending chunks as one batch, and what is left."""
    parts: list[dict[str, np.ndarray]] = []
    got = 0
    rest = list(pending)
    while got < n:
        chunk = rest.pop(0)
        m = len(next(iter(chunk.values())))
        if got + m <= n:
            parts.append(chunk)
            got += m
        else:
            k = n - got
            parts.append({key: a[:k] for key, a in chunk.items()})
            rest.insert(0, {key: a[k:] for key, a in chunk.items()})
            got = n
    left = sum(len(next(iter(c.values()))) for c in rest)
    if len(parts) == 1:
        return parts[0], rest, left
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}, rest, left
