"""SSD post-processing: prior boxes, delta decoding, NMS, the full decode of raw outputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from irc.detection import DetectionConfig, decode_deltas, nms, postprocess, ssd_priors
from irc.ir.diagnostics import IRError


def test_priors_order_and_values():
    p = ssd_priors(image_size=100, feature_maps=[2], min_sizes=[20], max_sizes=[80], aspect_ratios=[[4]],
                   clip=False)
    assert p.shape == (2 * 2 * 4, 4)
    # first cell (row 0, col 0): centre (0.25, 0.25); anchors: 20, sqrt(20*80)=40, 40x10, 10x40
    np.testing.assert_allclose(p[:4], [[0.25, 0.25, 0.2, 0.2], [0.25, 0.25, 0.4, 0.4],
                                       [0.25, 0.25, 0.4, 0.1], [0.25, 0.25, 0.1, 0.4]], rtol=1e-6)
    # cells go row by row: the second cell is (row 0, col 1)
    np.testing.assert_allclose(p[4, :2], [0.75, 0.25])
    np.testing.assert_allclose(p[8, :2], [0.25, 0.75])


def test_priors_count_of_the_example_detector():
    p = ssd_priors(image_size=[96, 96], feature_maps=[[12, 12], [6, 6], [3, 3], [1, 1]], min_sizes=[12, 24, 40, 64],
                   max_sizes=[24, 40, 64, 96], aspect_ratios=[[2]] * 4)
    assert p.shape == ((144 + 36 + 9 + 1) * 4, 4)
    assert p.min() >= 0 and p.max() <= 1


def test_decode_deltas_formula():
    priors = np.array([[0.5, 0.5, 0.2, 0.4]])
    d = np.array([[[1.0, -2.0, math.log(2) / 0.2, 0.0]]])
    out = decode_deltas(d, priors, (0.1, 0.2))
    # cx = .5 + 1*.1*.2 = .52, cy = .5 - 2*.1*.4 = .42, w = .2*2 = .4, h = .4
    np.testing.assert_allclose(out[0, 0], [0.32, 0.22, 0.72, 0.62], atol=1e-12)


def test_nms_hand_case():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 9.0]])
    scores = np.array([0.9, 0.8, 0.7, 0.95])
    # box 3 first; box 0 overlaps it 0.9 -> gone; box 1 overlaps box 3 by 81/119 -> gone at 0.5
    assert nms(boxes, scores, 0.5).tolist() == [3, 2]
    assert nms(boxes, scores, 0.95).tolist() == [3, 0, 1, 2]
    assert nms(boxes, scores, 0.5, top_k=1).tolist() == [3]


def test_postprocess_per_class_nms_background_and_threshold():
    boxes = np.array([[[0, 0, .5, .5], [0, 0, .5, .49], [.5, .5, 1, 1]]])
    # columns: background, class 0, class 1
    scores = np.array([[[0.1, 0.8, 0.1], [0.1, 0.1, 0.7], [0.98, 0.005, 0.015]]])
    cfg = DetectionConfig.from_mapping({"box_encoding": "corners", "conf_threshold": 0.01, "nms_iou": 0.5})
    (det,) = postprocess({"boxes": boxes, "scores": scores}, cfg)
    # per class: box 1 (class 0, .1) is suppressed by box 0 (.8); box 0 (class 1, .1) by box 1 (.7);
    # box 2 keeps only class 1 (.015 > .01); class-0 .005 is under the threshold; background never
    order = list(zip(det.labels.tolist(), np.round(det.scores, 3).tolist()))
    assert order == [(0, 0.8), (1, 0.7), (1, 0.015)]


def test_postprocess_yxyx_pixels_and_sigmoid():
    boxes = np.array([[[10, 20, 30, 60]]], float)                  # y0, x0, y1, x1 in pixels of 100x200
    scores = np.array([[[0.0]]])                                    # sigmoid(0) = .5, no background
    cfg = DetectionConfig.from_mapping({"box_encoding": "corners", "box_order": "yxyx", "normalized": False,
                                        "score_activation": "sigmoid", "background_class": -1})
    (det,) = postprocess({"b": boxes, "s": scores}, cfg, input_hw=(100, 200))
    np.testing.assert_allclose(det.boxes[0], [0.1, 0.1, 0.3, 0.3])
    assert det.scores[0] == pytest.approx(0.5) and det.labels.tolist() == [0]


def test_config_errors_are_clear():
    with pytest.raises(IRError, match="unknown key"):
        DetectionConfig.from_mapping({"nms": 0.5})
    with pytest.raises(IRError, match="needs prior boxes"):
        DetectionConfig.from_mapping({})
    cfg = DetectionConfig.from_mapping({"priors": {"image_size": 10, "feature_maps": [1], "min_sizes": [5]}})
    with pytest.raises(IRError, match="predicts 2 boxes per image but there are 1 prior boxes"):
        postprocess({"b": np.zeros((1, 2, 4)), "s": np.zeros((1, 2, 3))}, cfg)
