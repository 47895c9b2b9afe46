"""SSDLite with a MobileNetV2 backbone at 320x320, as an fp32 ONNX model with realistic random weights.

    model = ssdlite(seed=0)   # input "input" [N, 3, 320, 320]
                              # outputs "scores" [N, 3234, 91] and "boxes" [N, 3234, 4]

The detector of the MobileNetV2 paper: six feature maps, read from
  1. the expansion output of backbone block 13 (576 channels, 20x20),
  2. the backbone's last 1x1 conv (1280 channels, 10x10),
  3-6. four extra stages, each 1x1 conv (c/2), 3x3 stride-2 depthwise, 1x1 conv (c), with
       c = 512, 256, 256, 128 (5x5, 3x3, 2x2, 1x1).
Each map has a class head and a box head, both depthwise-separable (3x3 depthwise + ReLU6, then
a 1x1 conv with a bias), predicting 6 anchors per position for 91 classes and 4 box deltas. The
head outputs are moved to NHWC, reshaped to [N, positions * 6, K] and concatenated over the maps.
No prior decoding and no NMS: the outputs are the raw scores and box regressions.
"""

from __future__ import annotations

import numpy as np
import onnx

from ._builder import NetBuilder
from .mobilenet import mobilenet_v2_backbone

ANCHORS = 6
CLASSES = 91
EXTRA_CHANNELS = (512, 256, 256, 128)
TAP_BLOCK = 13


def _feature_size(resolution: int) -> list[int]:
    sizes = [resolution // 16, resolution // 32]
    for _ in EXTRA_CHANNELS:
        sizes.append((sizes[-1] + 1) // 2)  # 3x3, stride 2, pad 1
    return sizes


def _head(b: NetBuilder, x: str, ch: int, per_anchor: int, prefix: str) -> str:
    y = b.conv(x, ch, ch, 3, groups=ch, prefix=f"{prefix}_dw")
    y = b.conv(y, ch, ANCHORS * per_anchor, 1, act=None, bias_only=True, prefix=prefix)
    y = b.node("Transpose", [y], prefix=f"{prefix}_nhwc", perm=[0, 2, 3, 1])
    shape = b.const(f"{prefix}_shape", np.array([0, -1, per_anchor], np.int64))
    return b.node("Reshape", [y, shape], prefix=f"{prefix}_flat")


def ssdlite(seed: int = 0, resolution: int = 320) -> onnx.ModelProto:
    """SSDLite-MobileNetV2 without post-processing; see the module docstring for the outputs."""
    b = NetBuilder(seed)
    tap: list = []
    last, ch = mobilenet_v2_backbone(b, "input", taps={TAP_BLOCK: tap})
    features = [tap[0], (last, ch)]
    y, cin = last, ch
    for c in EXTRA_CHANNELS:
        y = b.conv(y, cin, c // 2, 1, prefix="extra_pw")
        y = b.conv(y, c // 2, c // 2, 3, 2, groups=c // 2, prefix="extra_dw")
        y = b.conv(y, c // 2, c, 1, prefix="extra_out")
        features.append((y, c))
        cin = c
    scores = [_head(b, f, c, CLASSES, "cls") for f, c in features]
    boxes = [_head(b, f, c, 4, "box") for f, c in features]
    b.rename_output(b.node("Concat", scores, prefix="scores_cat", axis=1), "scores")
    b.rename_output(b.node("Concat", boxes, prefix="boxes_cat", axis=1), "boxes")
    positions = ANCHORS * sum(s * s for s in _feature_size(resolution))
    return b.model("ssdlite_mobilenetv2", "input", [3, resolution, resolution],
                   [("scores", ["N", positions, CLASSES]), ("boxes", ["N", positions, 4])])
