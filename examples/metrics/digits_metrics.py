"""Two custom metrics for `irc eval --metric FILE:NAME`, as worked examples.

    irc eval examples/models/digits_resnet.onnx --data examples/data/digits-cls/val \
        --config examples/models/digits_cls.toml \
        --metric examples/metrics/digits_metrics.py:true_class_probability \
        --metric examples/metrics/digits_metrics.py:BalancedAccuracy
"""

import numpy as np


def true_class_probability(outputs, labels, reference):
    """Per sample: the softmax probability the model gives the correct class.

    A function metric returns one score per sample; irc reports the mean over the data set.
    """
    logits = outputs["logits"].astype(np.float64)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    return p[np.arange(len(labels)), labels]


class BalancedAccuracy:
    """Mean over classes of the per-class recall: not a mean of per-sample scores, so a class
    that keeps counts in update() and combines them in compute()."""

    def __init__(self):
        self.hits = {}
        self.seen = {}

    def update(self, outputs, labels, reference):
        pred = outputs["logits"].argmax(axis=1)
        for y, p in zip(labels.tolist(), pred.tolist()):
            self.seen[y] = self.seen.get(y, 0) + 1
            self.hits[y] = self.hits.get(y, 0) + int(p == y)

    def compute(self):
        return float(np.mean([self.hits[c] / self.seen[c] for c in self.seen]))
