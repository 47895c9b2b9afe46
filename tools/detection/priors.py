"""SSD prior (default) boxes, as (cx, cy, w, h) fractions of the input image.

Order: feature maps in the given order; inside one map, cells row by row; inside one cell the
anchors: a square of min_size, a square of sqrt(min_size*max_size) (when max sizes are given),
then for each aspect ratio r a box min_size*sqrt(r) wide and min_size/sqrt(r) tall followed by
its transpose. A model's box and score outputs must list priors in this order.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from irc.ir.diagnostics import IRError


def _pair(v, what: str) -> tuple[float, float]:
    if isinstance(v, (int, float)):
        return float(v), float(v)
    if isinstance(v, (list, tuple)) and len(v) == 2:
        return float(v[0]), float(v[1])
    raise IRError(f"priors: {what} must be a number or [height, width], got {v!r}")


def ssd_priors(*, image_size, feature_maps: Sequence, min_sizes: Sequence[float],
               max_sizes: Sequence[float] | None = None, aspect_ratios: Sequence[Sequence[float]] | None = None,
               steps: Sequence | None = None, offset: float = 0.5, clip: bool = True) -> np.ndarray:
    """Return a float32 [P, 4] array of prior boxes (cx, cy, w, h), normalized to [0, 1].

    image_size, feature_maps and steps take a number or [height, width]; min_sizes/max_sizes
    are in pixels of the input image; steps default to image_size / feature map size.
    """
    ih, iw = _pair(image_size, "image_size")
    n = len(feature_maps)
    if len(min_sizes) != n:
        raise IRError(f"priors: {n} feature maps but {len(min_sizes)} min_sizes")
    if max_sizes is not None and len(max_sizes) != n:
        raise IRError(f"priors: {n} feature maps but {len(max_sizes)} max_sizes")
    if aspect_ratios is None:
        aspect_ratios = [[] for _ in range(n)]
    if len(aspect_ratios) != n:
        raise IRError(f"priors: {n} feature maps but {len(aspect_ratios)} aspect_ratios lists")
    out = []
    for k, fm in enumerate(feature_maps):
        fh, fw = _pair(fm, "feature_maps")
        sh, sw = _pair(steps[k], "steps") if steps is not None else (ih / fh, iw / fw)
        smin = float(min_sizes[k])
        anchors = [(smin / iw, smin / ih)]
        if max_sizes is not None:
            s = math.sqrt(smin * float(max_sizes[k]))
            anchors.append((s / iw, s / ih))
        for r in aspect_ratios[k]:
            if r <= 0:
                raise IRError(f"priors: aspect ratio must be positive, got {r}")
            q = math.sqrt(float(r))
            anchors.append((smin * q / iw, smin / q / ih))
            anchors.append((smin / q / iw, smin * q / ih))
        ys = (np.arange(int(fh)) + offset) * sh / ih
        xs = (np.arange(int(fw)) + offset) * sw / iw
        cy, cx = np.meshgrid(ys, xs, indexing="ij")
        a = np.asarray(anchors)                                      # [A, 2] (w, h)
        grid = np.stack([cx, cy], -1).reshape(-1, 1, 2)              # [cells, 1, 2]
        boxes = np.concatenate([np.broadcast_to(grid, (grid.shape[0], len(a), 2)),
                                np.broadcast_to(a, (grid.shape[0], len(a), 2))], -1)
        out.append(boxes.reshape(-1, 4))
    priors = np.concatenate(out, 0)
    if clip:
        priors = np.clip(priors, 0.0, 1.0)
    return priors.astype(np.float32)
