"""Pascal VOC mean average precision at IoU 0.5, as the VOC devkit computes it.

Per class: detections from all images ranked by score; a detection is a true positive when its
best-overlapping ground-truth box of that class (IoU > threshold, pixel-inclusive "+1" areas)
is not difficult and not yet taken by a higher-scoring detection, a false positive otherwise;
a match to a difficult box counts as neither. Recall is over the non-difficult boxes. AP is
either the VOC2007 11-point interpolated average or the area under the monotone precision
envelope (the VOC2010+ "all points" rule); mAP is the mean over classes that have at least one
non-difficult box. Matching happens image by image as batches arrive, so memory grows only with
the number of kept detections.
"""

from __future__ import annotations

import math

import numpy as np

from irc.data.base import GroundTruth
from irc.detection.config import DetectionConfig
from irc.detection.decode import postprocess
from irc.ir.diagnostics import IRError

from .base import Metric, MetricResult, Step

METHODS = ("11point", "all")


def voc_iou(box: np.ndarray, gts: np.ndarray) -> np.ndarray:
    """IoU of one box with each of gts [n,4], VOC style: coordinates are inclusive pixels (+1)."""
    iw = np.minimum(box[2], gts[:, 2]) - np.maximum(box[0], gts[:, 0]) + 1.0
    ih = np.minimum(box[3], gts[:, 3]) - np.maximum(box[1], gts[:, 1]) + 1.0
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    union = ((box[2] - box[0] + 1.0) * (box[3] - box[1] + 1.0)
             + (gts[:, 2] - gts[:, 0] + 1.0) * (gts[:, 3] - gts[:, 1] + 1.0) - inter)
    return inter / union


def average_precision(tp: np.ndarray, fp: np.ndarray, npos: int, method: str) -> float:
    """AP of one class from tp/fp flags in descending score order and the number of positives."""
    ctp, cfp = np.cumsum(tp, dtype=np.float64), np.cumsum(fp, dtype=np.float64)
    rec = ctp / npos
    prec = ctp / np.maximum(ctp + cfp, np.finfo(np.float64).eps)
    if method == "11point":
        ap = 0.0
        for k in range(11):
            t = k / 10  # exact k/10, so a recall of exactly 0.3 reaches the 0.3 threshold
            above = prec[rec >= t]
            ap += (above.max() if above.size else 0.0) / 11.0
        return float(ap)
    mrec = np.concatenate([[0.0], rec, [1.0]])
    mpre = np.concatenate([[0.0], prec, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.nonzero(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


class VOCMapAccumulator:
    """Collects scored true/false positives image by image; compute() gives per-class AP and mAP."""

    def __init__(self, num_classes: int, iou_threshold: float = 0.5, method: str = "11point") -> None:
        if method not in METHODS:
            raise IRError(f"unknown AP method {method!r} (known: {', '.join(METHODS)})")
        self.num_classes = num_classes
        self.iou_threshold = iou_threshold
        self.method = method
        self.npos = np.zeros(num_classes, dtype=np.int64)
        self.scores: list[list[np.ndarray]] = [[] for _ in range(num_classes)]
        self.tps: list[list[np.ndarray]] = [[] for _ in range(num_classes)]
        self.images = 0

    def add_image(self, boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, gt: GroundTruth) -> None:
        """One image's detections (boxes in VOC pixel coordinates) against its ground truth."""
        self.images += 1
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        for c in np.unique(np.concatenate([labels, gt.labels])):
            c = int(c)
            if not 0 <= c < self.num_classes:
                raise IRError(f"mAP: class index {c} outside the {self.num_classes} classes")
            g = gt.labels == c
            gboxes, gdiff = gt.boxes[g], gt.difficult[g]
            self.npos[c] += int((~gdiff).sum())
            d = np.nonzero(labels == c)[0]
            if len(d) == 0:
                continue
            d = d[np.argsort(-scores[d], kind="stable")]
            taken = np.zeros(len(gboxes), dtype=bool)
            flags = np.zeros(len(d), dtype=np.int8)   # 1 tp, 0 fp, -1 ignored (difficult)
            for j, k in enumerate(d):
                if len(gboxes) == 0:
                    continue
                ov = voc_iou(boxes[k], gboxes)
                m = int(np.argmax(ov))
                if ov[m] > self.iou_threshold:
                    if gdiff[m]:
                        flags[j] = -1
                    elif not taken[m]:
                        flags[j] = 1
                        taken[m] = True
            keep = flags >= 0
            self.scores[c].append(scores[d][keep])
            self.tps[c].append(flags[keep] == 1)

    def compute(self, class_names: list[str] | None = None) -> tuple[float, dict[str, float]]:
        aps: dict[str, float] = {}
        values = []
        for c in range(self.num_classes):
            name = class_names[c] if class_names else str(c)
            if self.npos[c] == 0:
                aps[name] = math.nan
                continue
            s = np.concatenate(self.scores[c]) if self.scores[c] else np.zeros(0)
            tp = np.concatenate(self.tps[c]) if self.tps[c] else np.zeros(0, dtype=bool)
            order = np.argsort(-s, kind="stable")
            tp = tp[order].astype(np.float64)
            ap = average_precision(tp, 1.0 - tp, int(self.npos[c]), self.method)
            aps[name] = ap
            values.append(ap)
        if not values:
            raise IRError("mAP: the data has no (non-difficult) ground-truth objects")
        return float(np.mean(values)), aps


class VOCMap(Metric):
    """mAP of a detector on VOC-style ground truth; decodes the raw outputs with a DetectionConfig."""

    needs_objects = True

    def __init__(self, detection: DetectionConfig, method: str = "11point", iou_threshold: float = 0.5,
                 classes: list[str] | None = None) -> None:
        self.detection = detection
        self.method = method
        self.iou_threshold = iou_threshold
        self.classes = classes
        self.name = "map" if method == "11point" else "map_all"
        self.acc: VOCMapAccumulator | None = None

    def update(self, step: Step) -> None:
        objects = step.batch.objects
        if objects is None:
            raise IRError("mAP needs detection ground truth: give a Pascal VOC layout as --data")
        if self.acc is None:
            n = len(self.classes) if self.classes else None
            if n is None:
                raise IRError("mAP: the class list is unknown")
            self.acc = VOCMapAccumulator(n, self.iou_threshold, self.method)
        hw = None
        if len(step.batch.inputs) == 1:  # pixel boxes (normalized = false) are relative to this input
            x = next(iter(step.batch.inputs.values()))
            if x.ndim == 4:
                hw = x.shape[2:4] if x.shape[1] in (1, 3) else x.shape[1:3]
        dets = postprocess(step.outputs, self.detection, hw)
        for det, gt in zip(dets, objects):
            if len(det.labels) and det.labels.max() >= self.acc.num_classes:
                raise IRError(f"mAP: the model predicts class {int(det.labels.max())} but the class list has "
                              f"{self.acc.num_classes} classes; check --labels-file and background_class")
            w, h = gt.width, gt.height
            # fractions -> VOC inclusive 1-based pixels: [x0, x1) of width W covers pixels x0*W+1 .. x1*W
            px = det.boxes * np.array([w, h, w, h], dtype=np.float64) + np.array([1.0, 1.0, 0.0, 0.0])
            self.acc.add_image(px, det.scores, det.labels, gt)

    def compute(self) -> MetricResult:
        if self.acc is None:
            raise IRError("mAP: no images were evaluated")
        value, aps = self.acc.compute(self.classes)
        return MetricResult(self.name, value, {"ap_per_class": aps, "method": self.method,
                                               "iou_threshold": self.iou_threshold, "images": self.acc.images})
