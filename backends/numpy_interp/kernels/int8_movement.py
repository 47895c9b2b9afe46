"""int8 kernels of the data-movement ops: the fp32 kernels, run on the stored integers.

reshape, flatten, transpose, squeeze, unsqueeze, slice, split, gather, expand, tile, identity,
max_pool and global_max_pool only move, select or compare elements, so their fp32 kernels work
on stored integers unchanged (max_pool pads with the storage minimum, which is qmin). Their
result has the quantized type of their (first) operand (specs/quantization.md §3); each kernel
here checks that before calling the fp32 kernel, since a result declared with other parameters
would need a requantization that these ops do not do. concat (which may requantize) lives in
int8_arith.py.
"""

from __future__ import annotations

import functools

from irc.ir.registry import ops_with_role

from ..interpreter import KERNELS
from . import conv as _conv  # noqa: F401  (registers max_pool, global_max_pool)
from . import core as _core  # noqa: F401  (registers identity)
from . import shape as _shape  # noqa: F401  (registers the shape-family movement kernels)
from ._int8 import quant_of, replace_kernel

MOVEMENT_OPS = ops_with_role("movement")
"""The ops whose declaration says they carry their operand's quantized type (`quant="movement"`)."""


def _same_parameters(fp32_kernel):
    """The quantized kernel: check every result keeps operand 0's parameters, then move."""

    @functools.wraps(fp32_kernel)
    def run(op, *args):
        q = quant_of(op, 0, "the data operand")
        for r in op.results:
            if not r.type.is_quantized:
                raise ValueError(f"{op.name} of a quantized tensor must give a quantized result "
                                 f"with the same parameters ({q}), got {r.type}")
            rq = r.type.quant
            # the axis of a per-axis type may move (transpose, squeeze), its pairs may not
            if (rq.storage, rq.scales, rq.zero_points) != (q.storage, q.scales, q.zero_points):
                raise ValueError(f"{op.name} moves stored integers and cannot requantize: the result "
                                 f"must keep the operand's parameters {q}, got {rq}")
        return fp32_kernel(op, *args)

    return run


for _name in MOVEMENT_OPS:
    replace_kernel(_name)(_same_parameters(KERNELS[_name]))
