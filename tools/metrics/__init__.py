"""Streaming accuracy metrics: update per batch, compute at the end.

Built in: top1, top5 (labels), agreement (top-1 equal to a reference model's), cosine and sqnr
(outputs against a reference model), map / map_all (Pascal VOC mAP at IoU 0.5, 11-point or
all-point), and `module:function` for a user's own. Definitions and formulas are in
specs/data-and-metrics.md.
"""

from __future__ import annotations

from irc.ir.diagnostics import IRError

from .base import Metric, MetricResult, Step
from .classification import Agreement, TopK, topk_hits
from .custom import CustomMetric
from .similarity import SQNR, Cosine
from .voc_map import VOCMap, VOCMapAccumulator, average_precision, voc_iou

BUILTIN = ("top1", "top5", "agreement", "cosine", "sqnr", "map", "map11", "map_all")


def make_metric(name: str, *, output: str | None = None, detection=None, classes: list[str] | None = None,
                iou_threshold: float = 0.5) -> Metric:
    """A fresh metric by its command-line name (see BUILTIN) or `module:function`."""
    if ":" in name:
        return CustomMetric(name)
    key = name.lower().replace("-", "_")
    if key in ("top1", "top5"):
        return TopK(int(key[3:]), output)
    if key == "agreement":
        return Agreement(output)
    if key == "cosine":
        return Cosine(output)
    if key == "sqnr":
        return SQNR(output)
    if key in ("map", "map11", "map_all"):
        if detection is None:
            raise IRError(f"{name} needs the detector's decoding settings: give --detection cfg.toml "
                          "(or --priors / --box-encoding options)")
        return VOCMap(detection, "all" if key == "map_all" else "11point", iou_threshold, classes)
    raise IRError(f"unknown metric {name!r} (known: {', '.join(BUILTIN)}, or module:function)")


__all__ = ["Agreement", "BUILTIN", "Cosine", "CustomMetric", "Metric", "MetricResult", "SQNR", "Step",
           "TopK", "VOCMap", "VOCMapAccumulator", "average_precision", "make_metric", "topk_hits", "voc_iou"]
