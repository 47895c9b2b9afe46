"""A user's own metric, named `module:attribute` on the command line.

The module is an importable module name (`mypkg.metrics`) or a path to a Python file
(`my_metrics.py`). The attribute is either

* a function `fn(outputs, labels, reference) -> per-sample scores` called once per batch:
  `outputs` and `reference` are dicts {output name: array with a leading batch axis}
  (`reference` is None without --reference), `labels` is the int64 class-index array of the
  batch (None when the data has no labels; for VOC data, a list of GroundTruth objects). It
  returns an array of one score per sample (or a scalar, taken as the batch's mean); the
  metric is the mean over all samples; or
* a class with `update(outputs, labels, reference)` and `compute() -> float`, instantiated
  once with no arguments, for metrics that are not a mean of per-sample scores.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from irc.ir.diagnostics import IRError

from .base import Metric, MetricResult, Step


def load_object(spec: str):
    """Resolve `module:attribute` (module may be a .py path) or raise IRError."""
    mod_name, sep, attr = spec.rpartition(":")
    if not sep or not mod_name or not attr:
        raise IRError(f"custom metric {spec!r}: expected module:function")
    try:
        if mod_name.endswith(".py") or "/" in mod_name or "\\" in mod_name:
            path = Path(mod_name)
            if not path.is_file():
                raise IRError(f"custom metric {spec!r}: file {path} does not exist")
            name = f"irc_user_metric_{abs(hash(str(path.resolve())))}"
            module_spec = importlib.util.spec_from_file_location(name, path)
            if module_spec is None or module_spec.loader is None:
                raise IRError(f"custom metric {spec!r}: {path} cannot be loaded as a Python module")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(mod_name)
    except IRError:
        raise
    except ModuleNotFoundError as e:
        raise IRError(f"custom metric {spec!r}: cannot import {mod_name!r}: {e}") from None
    except Exception as e:  # the user's module failed while importing
        raise IRError(f"custom metric {spec!r}: importing {mod_name!r} failed: {type(e).__name__}: {e}") from None
    obj = getattr(module, attr, None)
    if obj is None:
        raise IRError(f"custom metric {spec!r}: {mod_name!r} has no attribute {attr!r}")
    if not callable(obj):
        raise IRError(f"custom metric {spec!r}: {attr!r} is not a function or class")
    return obj


class CustomMetric(Metric):
    """Wraps a user function (mean of per-sample scores) or a user streaming class."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.name = spec.rpartition(":")[2]
        obj = load_object(spec)
        self.instance: Any  # the user's streaming metric object, or None
        if inspect.isclass(obj):
            try:
                self.instance = obj()
            except Exception as e:
                raise IRError(f"custom metric {spec!r}: creating {obj.__name__}() failed: {e}") from None
            for m in ("update", "compute"):
                if not callable(getattr(self.instance, m, None)):
                    raise IRError(f"custom metric {spec!r}: class {obj.__name__} has no {m}() method")
            self.fn = None
        else:
            self.instance = None
            self.fn = obj
        self.total = 0.0
        self.count = 0

    def _call(self, what, *args):
        try:
            return what(*args)
        except IRError:
            raise
        except Exception as e:
            raise IRError(f"custom metric {self.spec!r} raised {type(e).__name__}: {e}") from None

    def update(self, step: Step) -> None:
        b = step.batch
        labels = b.labels if b.objects is None else b.objects
        outputs = dict(step.outputs)
        reference = dict(step.reference) if step.reference is not None else None
        if self.instance is not None:
            self._call(self.instance.update, outputs, labels, reference)
            return
        r = self._call(self.fn, outputs, labels, reference)
        try:
            scores = np.asarray(r, dtype=np.float64)
        except (TypeError, ValueError):
            raise IRError(f"custom metric {self.spec!r} returned {type(r).__name__}, not numbers") from None
        n = len(b)
        if scores.ndim == 0:
            scores = np.full(n, float(scores))
        if scores.shape != (n,):
            raise IRError(f"custom metric {self.spec!r} returned shape {list(scores.shape)}; expected one "
                          f"score per sample ({n}) or a scalar")
        if not np.all(np.isfinite(scores)):
            raise IRError(f"custom metric {self.spec!r} returned NaN or infinity")
        self.total += float(scores.sum())
        self.count += n

    def compute(self) -> MetricResult:
        if self.instance is not None:
            v = self._call(self.instance.compute)
            try:
                value = float(v)
            except (TypeError, ValueError):
                raise IRError(f"custom metric {self.spec!r}: compute() returned {v!r}, not a number") from None
            return MetricResult(self.name, value, {"source": self.spec})
        if self.count == 0:
            raise IRError(f"custom metric {self.spec!r}: no samples were evaluated")
        value = self.total / self.count
        if not math.isfinite(value):
            raise IRError(f"custom metric {self.spec!r}: the result is not finite")
        return MetricResult(self.name, value, {"source": self.spec, "samples": self.count})
