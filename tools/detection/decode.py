"""From a detector's raw output arrays to per-image detections (normalized corner boxes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from irc.ir.diagnostics import IRError

from .config import DetectionConfig
from .nms import nms


@dataclass
class Detections:
    """One image's detections: boxes [n,4] (x0, y0, x1, y1) as fractions of the image size,
    scores [n], labels [n] (class indices into the data set's class list)."""

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray


def decode_deltas(deltas: np.ndarray, priors: np.ndarray, variances=(0.1, 0.2)) -> np.ndarray:
    """SSD box decoding: deltas [..., P, 4] (dx, dy, dw, dh) against priors [P, 4] (cx, cy, w, h).

    cx = pcx + dx * v0 * pw,  cy = pcy + dy * v0 * ph,  w = pw * exp(dw * v1),  h = ph * exp(dh * v1);
    returns corners (x0, y0, x1, y1).
    """
    d = deltas.astype(np.float64)
    p = priors.astype(np.float64)
    v0, v1 = variances
    cx = p[:, 0] + d[..., 0] * v0 * p[:, 2]
    cy = p[:, 1] + d[..., 1] * v0 * p[:, 3]
    # exp of a wild delta would overflow to inf; such boxes are meaningless anyway
    w = p[:, 2] * np.exp(np.clip(d[..., 2] * v1, -50, 50))
    h = p[:, 3] * np.exp(np.clip(d[..., 3] * v1, -50, 50))
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)


def _activate(scores: np.ndarray, how: str) -> np.ndarray:
    s = scores.astype(np.float64)
    if how == "softmax":
        e = np.exp(s - s.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)
    if how == "sigmoid":
        return 1.0 / (1.0 + np.exp(-s))
    return s


def _pick_outputs(outputs: Mapping[str, np.ndarray], cfg: DetectionConfig) -> tuple[np.ndarray, np.ndarray]:
    names = list(outputs)
    for n in (cfg.boxes_output, cfg.scores_output):
        if n is not None and n not in outputs:
            raise IRError(f"detection: the model has no output {n!r} (its outputs: {', '.join(names)})")
    boxes_name = cfg.boxes_output
    if boxes_name is None:
        cands = [n for n in names if outputs[n].ndim == 3 and outputs[n].shape[-1] == 4 and n != cfg.scores_output]
        if not cands:
            raise IRError("detection: no model output has shape [N, P, 4]; name the box output "
                          "with boxes_output / --boxes-output")
        boxes_name = cands[0]
    scores_name = cfg.scores_output
    if scores_name is None:
        rest = [n for n in names if n != boxes_name]
        if len(rest) != 1:
            raise IRError("detection: cannot tell which output holds the scores; "
                          "name it with scores_output / --scores-output")
        scores_name = rest[0]
    boxes, scores = np.asarray(outputs[boxes_name]), np.asarray(outputs[scores_name])
    if boxes.ndim != 3 or boxes.shape[-1] != 4:
        raise IRError(f"detection: output {boxes_name!r} has shape {list(boxes.shape)}, expected [N, P, 4]")
    if scores.ndim != 3 or scores.shape[:2] != boxes.shape[:2]:
        raise IRError(f"detection: output {scores_name!r} has shape {list(scores.shape)}, "
                      f"expected [N, {boxes.shape[1]}, classes]")
    return boxes, scores


def postprocess(outputs: Mapping[str, np.ndarray], cfg: DetectionConfig,
                input_hw: tuple[int, int] | None = None) -> list[Detections]:
    """Decode, threshold and run per-class NMS on a batch of raw detector outputs.

    input_hw is the model input's (height, width); it is needed only for boxes given in
    pixels (normalized = false).
    """
    boxes, scores = _pick_outputs(outputs, cfg)
    if cfg.box_encoding == "deltas":
        priors = cfg.prior_boxes()
        if len(priors) != boxes.shape[1]:
            raise IRError(f"detection: the model predicts {boxes.shape[1]} boxes per image but there are "
                          f"{len(priors)} prior boxes; check the [priors] settings")
        corners = decode_deltas(boxes, priors, cfg.variances)
    else:
        b = boxes.astype(np.float64)
        if cfg.box_order == "yxyx":
            b = b[..., [1, 0, 3, 2]]
        if cfg.box_encoding == "center":
            corners = np.concatenate([b[..., :2] - b[..., 2:] / 2, b[..., :2] + b[..., 2:] / 2], -1)
        else:
            corners = b
        if not cfg.normalized:
            if input_hw is None:
                raise IRError("detection: boxes in pixels need the model's input size")
            h, w = input_hw
            corners = corners / np.array([w, h, w, h], dtype=np.float64)
    if not np.all(np.isfinite(scores)):
        raise IRError("detection: the model's scores contain NaN or infinity")
    probs = _activate(scores, cfg.score_activation)
    classes = [c for c in range(probs.shape[-1]) if c != cfg.background_class]
    result = []
    for i in range(boxes.shape[0]):
        all_b, all_s, all_l = [], [], []
        for c in classes:
            s = probs[i, :, c]
            sel = np.nonzero(s > cfg.conf_threshold)[0]
            if len(sel) == 0:
                continue
            keep = sel[nms(corners[i, sel], s[sel], float(cfg.nms_iou), int(cfg.top_k))]
            label = c - 1 if cfg.background_class is not None and c > cfg.background_class else c
            all_b.append(corners[i, keep])
            all_s.append(s[keep])
            all_l.append(np.full(len(keep), label, dtype=np.int64))
        if all_s:
            b, s, lab = np.concatenate(all_b), np.concatenate(all_s), np.concatenate(all_l)
            order = np.argsort(-s, kind="stable")[: int(cfg.keep_top_k)]
            result.append(Detections(np.clip(b[order], 0, 1), s[order], lab[order]))
        else:
            result.append(Detections(np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64)))
    return result
