"""Classification and similarity metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from irc.data import Batch
from irc.ir.diagnostics import IRError
from irc.metrics import SQNR, Agreement, Cosine, Step, TopK, make_metric, topk_hits


def step(logits, labels=None, reference=None, name="logits"):
    logits = np.asarray(logits, dtype=np.float32)
    b = Batch({"input": np.zeros((len(logits), 1))}, None if labels is None else np.asarray(labels, np.int64),
              None, [f"s{i}" for i in range(len(logits))])
    ref = None if reference is None else {name: np.asarray(reference, dtype=np.float32)}
    return Step({name: logits}, b, ref)


LOGITS = [[0.1, 0.5, 0.2, 0.9, 0.0, 0.3],   # ranking 3,1,5,2,0,4
          [0.7, 0.1, 0.1, 0.1, 0.1, 0.1],   # 0 first
          [0.2, 0.2, 0.9, 0.1, 0.4, 0.3]]   # 2,4,5,(0,1 tied),3


def test_top1_top5_hand_computed():
    labels = [1, 0, 3]
    t1, t5 = TopK(1), TopK(5)
    t1.update(step(LOGITS, labels))
    t5.update(step(LOGITS, labels))
    # sample 0: label 1 is 2nd -> top5 only; sample 1: top1; sample 2: label 3 is last (6th) -> miss
    assert t1.compute().value == pytest.approx(1 / 3)
    assert t5.compute().value == pytest.approx(2 / 3)


def test_topk_streams_over_batches():
    t = TopK(1)
    t.update(step(LOGITS[:2], [3, 0]))
    t.update(step(LOGITS[2:], [4]))
    r = t.compute()
    assert (r.value, r.details["correct"], r.details["samples"]) == (pytest.approx(2 / 3), 2, 3)


def test_topk_ties_go_to_the_lower_class_index():
    # classes 0 and 1 tie at the top: top-1 is class 0 (as argmax), class 1 is 2nd
    logits = np.array([[0.5, 0.5, 0.1]])
    assert topk_hits(logits, np.array([0]), 1).tolist() == [True]
    assert topk_hits(logits, np.array([1]), 1).tolist() == [False]
    assert topk_hits(logits, np.array([1]), 2).tolist() == [True]


def test_top1_accepts_nchw_logits():
    t = TopK(1)
    t.update(step(np.array(LOGITS)[:, :, None, None], [3, 0, 2]))
    assert t.compute().value == 1.0


def test_label_outside_the_classes_names_the_sample():
    t = TopK(1)
    with pytest.raises(IRError, match=r"s1: label 6 is outside the model's 6 classes"):
        t.update(step(LOGITS, [0, 6, 1]))
    with pytest.raises(IRError, match="needs labels"):
        TopK(1).update(step(LOGITS))


def test_agreement_needs_no_labels():
    ref = [[0.0, 1.0, 0.0, 0.0, 0.0, 0.0], [1.0, 0, 0, 0, 0, 0], [0, 0, 1.0, 0, 0, 0]]
    a = Agreement()
    a.update(step(LOGITS, reference=ref))
    # model top-1: 3, 0, 2; reference: 1, 0, 2
    assert a.compute().value == pytest.approx(2 / 3)


def test_cosine_hand_computed():
    c = Cosine()
    c.update(step([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]], reference=[[0.0, 1.0], [2.0, 2.0], [0.0, 0.0]]))
    c.update(step([[3.0, 4.0]], reference=[[4.0, 3.0]]))
    # cos: 0, 1, 1 (both zero), 24/25
    assert c.compute().value == pytest.approx((0 + 1 + 1 + 0.96) / 4)


def test_sqnr_hand_computed_over_the_whole_set():
    s = SQNR()
    s.update(step([[1.0, 2.0]], reference=[[1.0, 3.0]]))      # signal 10, noise 1
    s.update(step([[0.0, 0.0]], reference=[[3.0, 0.0]]))      # signal 9, noise 9
    assert s.compute().value == pytest.approx(10 * math.log10(19 / 10))
    same = SQNR()
    same.update(step([[1.0]], reference=[[1.0]]))
    assert same.compute().value == math.inf


def test_reference_metrics_without_reference_fail_clearly():
    for m in (Agreement(), Cosine(), SQNR()):
        with pytest.raises(IRError, match="reference"):
            m.update(step(LOGITS))


def test_make_metric_names():
    assert make_metric("top5").name == "top5"
    with pytest.raises(IRError, match="unknown metric 'top7'"):
        make_metric("top7")
    with pytest.raises(IRError, match="needs the detector's decoding settings"):
        make_metric("map")


CUSTOM = '''
import numpy as np

def margin(outputs, labels, reference):
    """per sample: the label's logit minus the best other logit"""
    z = outputs["logits"]
    own = z[np.arange(len(labels)), labels]
    other = np.where(np.eye(z.shape[1], dtype=bool)[labels], -np.inf, z).max(1)
    return own - other

class Count:
    def __init__(self):
        self.n = 0
    def update(self, outputs, labels, reference):
        self.n += len(labels)
    def compute(self):
        return self.n

def broken(outputs, labels, reference):
    return [1.0]
'''


def test_custom_function_and_class_metrics(tmp_path):
    f = tmp_path / "my_metrics.py"
    f.write_text(CUSTOM)
    m = make_metric(f"{f}:margin")
    m.update(step(LOGITS[:2], [3, 1]))
    m.update(step(LOGITS[2:], [2]))
    # margins: 0.9-0.5=0.4, 0.1-0.7=-0.6, 0.9-0.4=0.5
    assert m.compute().value == pytest.approx((0.4 - 0.6 + 0.5) / 3)
    c = make_metric(f"{f}:Count")
    c.update(step(LOGITS, [0, 0, 0]))
    assert c.compute().value == 3
    b = make_metric(f"{f}:broken")
    with pytest.raises(IRError, match=r"returned shape \[1\]; expected one score per sample \(3\)"):
        b.update(step(LOGITS, [0, 0, 0]))
    with pytest.raises(IRError, match="has no attribute 'nope'"):
        make_metric(f"{f}:nope")
    with pytest.raises(IRError, match="cannot import"):
        make_metric("no_such_module_xyz:fn")
