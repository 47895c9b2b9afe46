"""Activation parameters from a range (specs/quantization.md §1): u8, i8 and i8-sym."""

from __future__ import annotations

import numpy as np
import pytest

from irc.passes.qparams import activation_type


@pytest.mark.parametrize("lo, hi", [(0.0, 6.0), (-1.0, 3.0), (-2.5, 0.0), (-0.3, 7.1)])
def test_i8_is_u8_shifted_by_128(lo, hi):
    u, i = activation_type(lo, hi, "u8"), activation_type(lo, hi, "i8")
    assert (i.storage, i.scale) == ("i8", u.scale)
    assert i.zero_point == u.zero_point - 128


def test_i8_of_a_relu_range_saturates_at_zero():
    t = activation_type(0.0, 6.0, "i8")
    assert t.zero_point == -128 and t.qmin == -128
    assert np.float32(t.scale) == np.float32(6.0) / np.float32(255)


def test_i8_sym_has_zero_point_zero():
    t = activation_type(-1.0, 3.0, "i8-sym")
    assert (t.storage, t.zero_point) == ("i8", 0)
    assert np.float32(t.scale) == np.float32(3.0) / np.float32(127)


def test_unknown_storage_is_refused():
    with pytest.raises(ValueError, match="i8-sym"):
        activation_type(0.0, 1.0, "u16")
