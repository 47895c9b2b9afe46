"""Pascal VOC mAP: hand-computed cases, and a random fixture checked against an independent
re-derivation of the devkit's rules (global greedy matching in plain Python, AP as a sum over
true positives of the interpolated precision)."""

from __future__ import annotations

import numpy as np
import pytest

from irc.data import GroundTruth
from irc.metrics import VOCMapAccumulator, average_precision, voc_iou


def gt(boxes, labels, difficult=None, size=100):
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    d = np.zeros(len(boxes), bool) if difficult is None else np.asarray(difficult, bool)
    return GroundTruth(boxes, np.asarray(labels, np.int64), d, size, size)


def test_voc_iou_uses_inclusive_pixels():
    # 10x10 pixels each (1..10), overlapping 5x10 -> 50 / (100 + 100 - 50)
    assert voc_iou(np.array([1, 1, 10, 10.0]), np.array([[6, 1, 15, 10.0]]))[0] == pytest.approx(50 / 150)
    assert voc_iou(np.array([1, 1, 10, 10.0]), np.array([[11, 1, 20, 10.0]]))[0] == 0.0


def test_one_class_hand_computed():
    acc = VOCMapAccumulator(1, method="all")
    acc11 = VOCMapAccumulator(1, method="11point")
    g = gt([[10, 10, 30, 30], [50, 50, 80, 80]], [0, 0])
    dets = ([[10, 10, 30, 30], [60, 10, 90, 30], [50, 50, 80, 80]], [0.9, 0.8, 0.7], [0, 0, 0])
    acc.add_image(*dets, g)
    acc11.add_image(*dets, g)
    # tp 1,0,1 -> recall .5,.5,1; precision 1,.5,2/3
    assert acc.compute()[0] == pytest.approx(0.5 * 1 + 0.5 * (2 / 3))
    assert acc11.compute()[0] == pytest.approx((6 * 1 + 5 * (2 / 3)) / 11)


def test_duplicates_difficult_and_empty_classes():
    acc = VOCMapAccumulator(3, method="all")
    g = gt([[10, 10, 30, 30], [50, 50, 70, 70], [5, 60, 20, 90]], [0, 0, 1], difficult=[False, True, False])
    # class 0: a hit, a duplicate of the same box (fp), a hit on the difficult box (ignored)
    # class 2: a detection but no ground truth -> class left out of the mean
    acc.add_image([[10, 10, 30, 30], [11, 11, 30, 30], [50, 50, 70, 70], [0, 0, 5, 5]],
                  [0.9, 0.8, 0.95, 0.5], [0, 0, 0, 2], g)
    m, aps = acc.compute(["a", "b", "c"])
    assert acc.npos.tolist() == [1, 1, 0]
    assert aps["a"] == pytest.approx(1.0)          # tp at rank 1 (difficult hit dropped), fp after
    assert aps["b"] == 0.0                         # an object nobody found
    assert np.isnan(aps["c"])
    assert m == pytest.approx(0.5)


def test_recall_exactly_on_a_threshold_counts():
    # 10 positives, 3 found first: recall 0.3 exactly must reach the 0.3 point
    tp = np.array([1, 1, 1], float)
    assert average_precision(tp, 1 - tp, 10, "11point") == pytest.approx(4 / 11)


# ---------------------------------------------------------------- independent reference
def ref_iou(a, b):
    iw = min(a[2], b[2]) - max(a[0], b[0]) + 1
    ih = min(a[3], b[3]) - max(a[1], b[1]) + 1
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / ((a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1) - inter)


def ref_map(images, num_classes, method):
    """images: list of (gt_boxes, gt_labels, gt_difficult, det_boxes, det_scores, det_labels)."""
    aps = []
    for c in range(num_classes):
        npos = sum(1 for im in images for lab, d in zip(im[1], im[2]) if lab == c and not d)
        if npos == 0:
            continue
        dets = [(float(s), i, list(b)) for i, im in enumerate(images)
                for b, s, lab in zip(im[3], im[4], im[5]) if lab == c]
        dets.sort(key=lambda t: -t[0])
        used = {}
        flags = []
        for _, i, box in dets:
            im = images[i]
            best, best_j = -1.0, None
            for j, (g, lab) in enumerate(zip(im[0], im[1])):
                if lab != c:
                    continue
                o = ref_iou(box, g)
                if o > best:
                    best, best_j = o, j
            if best > 0.5:
                if im[2][best_j]:
                    continue                       # difficult: not counted at all
                if used.get((i, best_j)):
                    flags.append(0)
                else:
                    used[(i, best_j)] = True
                    flags.append(1)
            else:
                flags.append(0)
        prec, rec, hits = [], [], 0
        for k, f in enumerate(flags, start=1):
            hits += f
            prec.append(hits / k)
            rec.append(hits / npos)
        if method == "all":
            # each true positive adds 1/npos of recall at the best precision reachable later on
            ap = sum(max(prec[k:]) / npos for k, f in enumerate(flags) if f)
        else:
            ap = 0.0
            for t in [k / 10 for k in range(11)]:
                first = next((k for k, r in enumerate(rec) if r >= t), None)
                ap += (max(prec[first:]) if first is not None else 0.0) / 11
        aps.append(ap)
    return sum(aps) / len(aps)


def random_fixture(seed, n_images=12, num_classes=4):
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(n_images):
        ng = int(rng.integers(0, 6))
        xy = rng.uniform(1, 150, size=(ng, 2))
        wh = rng.uniform(10, 60, size=(ng, 2))
        g = np.round(np.concatenate([xy, xy + wh], 1))
        gl = rng.integers(0, num_classes, ng)
        gd = rng.random(ng) < 0.2
        dets, dl = [], []
        for b, lab in zip(g, gl):   # jittered copies of the truth, some with the wrong class
            for _ in range(int(rng.integers(0, 3))):
                dets.append(b + rng.normal(0, 4, 4))
                dl.append(lab if rng.random() < 0.8 else int(rng.integers(0, num_classes)))
        for _ in range(int(rng.integers(0, 4))):  # pure false alarms
            p = rng.uniform(1, 150, 2)
            dets.append(np.concatenate([p, p + rng.uniform(10, 60, 2)]))
            dl.append(int(rng.integers(0, num_classes)))
        db = np.asarray(dets, float).reshape(-1, 4)
        ds = rng.random(len(db))
        images.append((g, gl, gd, db, ds, np.asarray(dl, np.int64)))
    return images


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("method", ["all", "11point"])
def test_map_agrees_with_independent_reference(seed, method):
    images = random_fixture(seed)
    acc = VOCMapAccumulator(4, method=method)
    for g, gl, gd, db, ds, dl in images:
        acc.add_image(db, ds, dl, gt(g, gl, gd))
    ours, _ = acc.compute()
    ref = ref_map([(g.tolist(), gl.tolist(), gd.tolist(), db.tolist(), ds.tolist(), dl.tolist())
                   for g, gl, gd, db, ds, dl in images], 4, method)
    assert 0.05 < ref < 0.99   # a fixture that exercises both hits and misses
    assert abs(ours - ref) < 1e-6
