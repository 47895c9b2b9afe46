"""The one way passes compute with ops: the interpreter's kernels (one source of semantics)."""

from __future__ import annotations

import numpy as np

from irc.ir.op import Op


def evaluate_op(op: Op, operands: list[np.ndarray]) -> list[np.ndarray]:
    """Run `op`'s interpreter kernel on concrete operand arrays; returns one array per result."""
    from irc.backends.numpy_interp.interpreter import find_kernel

    out = find_kernel(op)(op, *operands)
    return list(out) if isinstance(out, (tuple, list)) else [out]
