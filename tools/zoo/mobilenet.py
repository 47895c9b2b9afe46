"""MobileNetV2 (width 1.0) as an fp32 ONNX model with realistic random weights.

    model = mobilenet_v2(seed=0)            # input "input" [N, 3, 224, 224], output "logits" [N, 1000]

The network of Sandler et al. (2018): a 3x3 stride-2 stem, seventeen inverted-residual blocks
(1x1 expansion, 3x3 depthwise, linear 1x1 projection; an Add when stride 1 keeps the channels),
a 1x1 conv to 1280 channels, global average pooling and a 1000-way Gemm. ReLU6 is Clip(0, 6).
Batch norms are folded into the convolutions (see _builder).
"""

from __future__ import annotations

import onnx

from ._builder import NetBuilder

BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
          (6, 320, 1, 1))
"""(expansion t, output channels c, repeats n, first stride s) of each stage."""

RESIDUAL_BN_SCALE = 0.3
"""BN scale of a projection conv whose output is added to the block input."""


def inverted_residual(b: NetBuilder, x: str, cin: int, cout: int, stride: int, expand: int,
                      tap: list | None = None) -> str:
    """One block; appends the expansion output to `tap` when given (SSDLite reads one)."""
    hidden = cin * expand
    residual = stride == 1 and cin == cout
    y = x
    if expand != 1:
        y = b.conv(y, cin, hidden, 1, prefix="expand")
        if tap is not None:
            tap.append((y, hidden))
    y = b.conv(y, hidden, hidden, 3, stride, groups=hidden, prefix="dw")
    y = b.conv(y, hidden, cout, 1, act=None, bn_scale=RESIDUAL_BN_SCALE if residual else 1.0, prefix="project")
    if residual:
        y = b.node("Add", [x, y])
    return y


def mobilenet_v2_backbone(b: NetBuilder, x: str, taps: dict[int, list] | None = None) -> tuple[str, int]:
    """Stem + blocks + the 1280-channel 1x1 conv; returns (output, channels).

    `taps` maps a block index (0-based over all seventeen blocks) to a list that receives that
    block's expansion output as (name, channels).
    """
    y = b.conv(x, 3, 32, 3, 2, prefix="stem")
    cin = 32
    index = 0
    for t, c, n, s in BLOCKS:
        for i in range(n):
            y = inverted_residual(b, y, cin, c, s if i == 0 else 1, t, (taps or {}).get(index))
            cin = c
            index += 1
    y = b.conv(y, cin, 1280, 1, prefix="head")
    return y, 1280


def mobilenet_v2(seed: int = 0, resolution: int = 224, classes: int = 1000) -> onnx.ModelProto:
    """MobileNetV2 classifier with input `input` [N, 3, R, R] and output `logits` [N, classes]."""
    b = NetBuilder(seed)
    y, ch = mobilenet_v2_backbone(b, "input")
    y = b.node("GlobalAveragePool", [y], prefix="gap")
    y = b.node("Flatten", [y], prefix="flatten", axis=1)
    y = b.gemm(y, ch, classes, prefix="classifier")
    b.rename_output(y, "logits")
    return b.model("mobilenetv2", "input", [3, resolution, resolution], [("logits", ["N", classes])])
