"""Every float32 prints as text that reads back to the same bits."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from irc.ir.types import format_f32, parse_f32


@settings(max_examples=3000, deadline=None)
@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_every_float32_bit_pattern_round_trips(bits):
    x = np.array([bits], dtype=np.uint32).view(np.float32)[0]
    back = np.float32(parse_f32(format_f32(x)))
    if np.isnan(x):
        assert np.isnan(back)
    else:
        assert back.tobytes() == x.tobytes()


def test_dense_sweep_of_bit_patterns():
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2**32, size=200_000, dtype=np.uint64).astype(np.uint32)
    xs = bits.view(np.float32)
    xs = xs[np.isfinite(xs)]
    texts = [format_f32(x) for x in xs]
    back = np.array([parse_f32(t) for t in texts], dtype=np.float32)
    assert back.tobytes() == xs.tobytes()


def test_canonical_forms():
    assert format_f32(1.0) == "1.0"
    assert format_f32(0.1) == "0.1"
    assert format_f32(-0.0) == "-0.0"
    assert format_f32(float("inf")) == "inf"
    assert format_f32(1e-45) == "1e-45"
