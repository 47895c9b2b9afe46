"""The example networks (torch), small versions of well-known architectures for 32x32 digits.

Each classifier takes a 1x32x32 grey image (normalized to [-1, 1]) and returns 10 logits.
The SSD-style detector takes a 3x96x96 RGB image and returns raw box deltas and class scores
for a fixed set of prior boxes produced by irc.detection.ssd_priors from SSD_PRIORS below.
"""

from __future__ import annotations

import torch
from torch import nn


def conv_bn(cin, cout, k=3, stride=1, groups=1, act: type[nn.Module] | None = nn.ReLU):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


# ---------------------------------------------------------------- ResNet-style
class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.body = nn.Sequential(conv_bn(cin, cout, 3, stride), conv_bn(cout, cout, 3, 1, act=None))
        self.skip = (nn.Identity() if stride == 1 and cin == cout
                     else conv_bn(cin, cout, 1, stride, act=None))
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.body(x) + self.skip(x))


class ResNetS(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn(1, 16), BasicBlock(16, 16, 1), BasicBlock(16, 32, 2), BasicBlock(32, 32, 1),
            BasicBlock(32, 64, 2), BasicBlock(64, 64, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        return self.fc(self.features(x))


# ---------------------------------------------------------------- MobileNetV2-style
class InvertedResidual(nn.Module):
    """Expand 1x1 (ReLU6), depthwise 3x3 (ReLU6), linear 1x1 projection; residual when shapes match."""

    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        mid = cin * expand
        self.body = nn.Sequential(conv_bn(cin, mid, 1, act=nn.ReLU6),
                                  conv_bn(mid, mid, 3, stride, groups=mid, act=nn.ReLU6),
                                  conv_bn(mid, cout, 1, act=None))
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.body(x)
        return x + y if self.residual else y


class MobileNetV2S(nn.Module):
    """A narrow MobileNetV2. Its residual stream has no activation, so nothing bounds its range.

    outlier_gain > 0 starts the BatchNorm scale (gamma) of the linear projections of the three
    residual blocks at that value for their first two channels instead of 1. Training is
    otherwise the same; those channels keep activation ranges far wider than their neighbours
    in the residual stream (tens of times, with the gain of 200 of the example) — the outlier
    channels that break per-tensor activation quantization in real networks.
    """

    def __init__(self, classes=10, width=(8, 12, 16, 24), expand=4, outlier_gain: float = 0.0):
        super().__init__()
        w0, w1, w2, w3 = width
        blocks = [InvertedResidual(w0, w0, 1, expand), InvertedResidual(w0, w1, 2, expand),
                  InvertedResidual(w1, w1, 1, expand), InvertedResidual(w1, w2, 2, expand),
                  InvertedResidual(w2, w2, 1, expand), InvertedResidual(w2, w3, 1, expand)]
        if outlier_gain:
            for b in blocks:
                if b.residual:
                    with torch.no_grad():
                        b.body[2][1].weight[:2] = outlier_gain
        self.features = nn.Sequential(
            conv_bn(1, w0, 3, 1, act=nn.ReLU6), *blocks,
            conv_bn(w3, 96, 1, act=nn.ReLU6), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(96, classes)

    def forward(self, x):
        return self.fc(self.features(x))


# ---------------------------------------------------------------- Inception-style
class InceptionBlock(nn.Module):
    def __init__(self, cin, b1, b3r, b3, b5r, b5, bp):
        super().__init__()
        self.b1 = conv_bn(cin, b1, 1)
        self.b3 = nn.Sequential(conv_bn(cin, b3r, 1), conv_bn(b3r, b3, 3))
        # the 5x5 branch as two stacked 3x3 convolutions, as later Inception versions do
        self.b5 = nn.Sequential(conv_bn(cin, b5r, 1), conv_bn(b5r, b5, 3), conv_bn(b5, b5, 3))
        self.bp = nn.Sequential(nn.MaxPool2d(3, 1, 1), conv_bn(cin, bp, 1))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(x)], 1)


class InceptionS(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn(1, 24), nn.MaxPool2d(2),
            InceptionBlock(24, 16, 16, 24, 8, 12, 12),        # -> 64 channels, 16x16
            nn.MaxPool2d(2),
            InceptionBlock(64, 24, 24, 32, 12, 16, 16),       # -> 88 channels, 8x8
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(88, classes)

    def forward(self, x):
        return self.fc(self.features(x))


# ---------------------------------------------------------------- DenseNet-style
class DenseLayer(nn.Module):
    """Pre-activation bottleneck: BN-ReLU-1x1 conv, BN-ReLU-3x3 conv; output concatenated."""

    def __init__(self, cin, growth):
        super().__init__()
        self.body = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, 4 * growth, 1, bias=False),
                                  nn.BatchNorm2d(4 * growth), nn.ReLU(),
                                  nn.Conv2d(4 * growth, growth, 3, 1, 1, bias=False))

    def forward(self, x):
        return torch.cat([x, self.body(x)], 1)


class DenseNetS(nn.Module):
    def __init__(self, classes=10, growth=12, layers=(3, 3)):
        super().__init__()
        c = 2 * growth
        mods: list[nn.Module] = [nn.Conv2d(1, c, 3, 1, 1, bias=False)]
        for i, n in enumerate(layers):
            for _ in range(n):
                mods.append(DenseLayer(c, growth))
                c += growth
            if i + 1 < len(layers):  # transition: compress by half and pool
                mods += [nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, c // 2, 1, bias=False), nn.AvgPool2d(2)]
                c //= 2
        mods += [nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*mods)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        return self.fc(self.features(x))


CLASSIFIERS = {"resnet": ResNetS, "mobilenetv2": MobileNetV2S, "inception": InceptionS, "densenet": DenseNetS,
               "mobilenetv2_outlier": lambda: MobileNetV2S(outlier_gain=200.0)}


# ---------------------------------------------------------------- SSD-style detector
# Prior boxes: four feature maps of a 96x96 input; per cell a small square, a larger square and
# a tall and a wide box (aspect ratio 2), the layout of the original SSD.
SSD_PRIORS = {
    "image_size": [96, 96],
    "feature_maps": [[12, 12], [6, 6], [3, 3], [1, 1]],
    "min_sizes": [12, 24, 40, 64],
    "max_sizes": [24, 40, 64, 96],
    "aspect_ratios": [[2], [2], [2], [2]],
    "clip": True,
}
SSD_ANCHORS = 4  # 2 squares + 2 for aspect ratio 2


def dw_sep(cin, cout, stride):
    """MobileNet's depthwise-separable unit: depthwise 3x3 then pointwise 1x1, both BN + ReLU6."""
    return nn.Sequential(conv_bn(cin, cin, 3, stride, groups=cin, act=nn.ReLU6),
                         conv_bn(cin, cout, 1, act=nn.ReLU6))


class SSDLite(nn.Module):
    def __init__(self, classes=10, priors=0):
        super().__init__()
        self.num_classes = classes + 1  # index 0 is background
        self.num_priors = priors
        self.stage1 = nn.Sequential(conv_bn(3, 16, 3, 2, act=nn.ReLU6), dw_sep(16, 24, 1),
                                    dw_sep(24, 32, 2), dw_sep(32, 32, 1), dw_sep(32, 48, 2),
                                    dw_sep(48, 48, 1))                     # 12x12
        self.stage2 = nn.Sequential(dw_sep(48, 64, 2), dw_sep(64, 64, 1))  # 6x6
        self.stage3 = dw_sep(64, 96, 2)                                     # 3x3
        self.stage4 = nn.Sequential(nn.Conv2d(96, 96, 3, 1, 0), nn.ReLU6())  # 1x1
        chans = [48, 64, 96, 96]
        self.loc = nn.ModuleList(nn.Conv2d(c, SSD_ANCHORS * 4, 3, 1, 1) for c in chans)
        self.conf = nn.ModuleList(nn.Conv2d(c, SSD_ANCHORS * self.num_classes, 3, 1, 1) for c in chans)

    def raw(self, x):
        f1 = self.stage1(x)
        f2 = self.stage2(f1)
        f3 = self.stage3(f2)
        f4 = self.stage4(f3)
        locs, confs = [], []
        for f, lh, ch in zip((f1, f2, f3, f4), self.loc, self.conf):
            # channels last, so the flat order is (row, column, anchor) like the prior boxes
            locs.append(torch.flatten(lh(f).permute(0, 2, 3, 1), 1))
            confs.append(torch.flatten(ch(f).permute(0, 2, 3, 1), 1))
        loc = torch.cat(locs, 1).view(-1, self.num_priors, 4)
        conf = torch.cat(confs, 1).view(-1, self.num_priors, self.num_classes)
        return loc, conf

    def forward(self, x):
        loc, conf = self.raw(x)
        return loc, torch.softmax(conf, dim=-1)
