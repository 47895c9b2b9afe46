"""The sentence set and the accuracy measures of the sentence-embedding benchmark (irc.text)."""

import numpy as np

from irc.text.bench import compare, spearman
from irc.text.sentences import pairs, passages, sentences


def test_the_text_set_is_fixed_and_varied():
    s = sentences()
    assert len(s) == len(set(s)) >= 120
    assert sentences() == s
    p = pairs()
    assert len(p) >= 200 and all(a != b for a, b in p) and pairs() == p
    assert len(passages(64)) == 64 and all(t.count(".") >= 5 for t in passages(64))


def _unit(e):
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def test_compare_scores_a_copy_as_perfect_and_noise_as_worse():
    rng = np.random.default_rng(0)
    ref = {k: _unit(rng.standard_normal((n, 16))) for k, n in (("a", 40), ("b", 40), ("p", 12))}
    same = compare(ref, ref)
    assert all(abs(v - 1.0) < 1e-6 for v in same.values())
    noisy = {k: _unit(v + 0.3 * rng.standard_normal(v.shape)) for k, v in ref.items()}
    worse = compare(ref, noisy)
    assert worse["cosine32_mean"] < 0.99 and worse["spearman32"] < 1.0
    assert abs(spearman(np.arange(10.0), np.arange(10.0) ** 3) - 1.0) < 1e-12
    # ties take their mean rank: ranks (1, 2.5, 2.5, 4) and (1, 3, 2, 4) correlate 4.5 / sqrt(4.5 * 5)
    assert abs(spearman(np.array([1.0, 2, 2, 3]), np.array([1.0, 3, 2, 4])) - 4.5 / np.sqrt(22.5)) < 1e-12
