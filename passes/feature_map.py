"""Is a value a CNN feature map (N x C x spatial...), or a sequence / token tensor?

Rewrites that pay off on convolutional networks and cost on transformers ask this first:
`fuse` turns per-channel affine chains into a depthwise 1x1 conv and `quantize` requantizes
adds (residual connections) only over feature maps. A scalar `mul` inside a GELU, the residual
add before a LayerNorm or a mask add on attention scores are not feature maps, and stay float
there, in the form onnxruntime fuses (Gelu / BiasGelu, SkipLayerNormalization).

    is_feature_map(graph, v)

walks from v towards the graph inputs along first non-constant operands, through ops that keep
the layout (elementwise ops, activations, adds, concat, split, slice, pooling, resize, batch
norm, and rank-preserving reshapes of rank 4 or more), and answers yes when it reaches a conv,
a conv_transpose or a pooling op, or a float graph input of rank 4 or more (an image); no when
it meets anything else (matmul, gemm, layer_norm, softmax, gather, a rank change) first.
"""

from __future__ import annotations

from irc.ir.graph import Graph
from irc.ir.registry import lookup_op
from irc.ir.value import Value

SOURCES = frozenset({"conv", "conv_transpose", "max_pool", "average_pool", "global_average_pool",
                     "global_max_pool", "lp_pool", "max_roi_pool"})
"""Ops whose result is a feature map."""

THROUGH = frozenset({"add", "sub", "mul", "div", "concat", "split", "slice", "batch_norm", "instance_norm",
                     "resize", "upsample", "pad", "identity", "lrn", "depth_to_space", "space_to_depth"})
"""Ops whose (first non-constant) operand a feature map passes through unchanged in layout."""

RANK_KEEPING = frozenset({"reshape", "transpose", "flatten", "squeeze", "unsqueeze"})
"""Layout ops followed only when operand and result both have rank 4 or more and equal rank."""

MAX_STEPS = 64


def _is_elementwise(name: str) -> bool:
    d = lookup_op(name)
    return d is not None and "elementwise" in d.traits


def is_feature_map(graph: Graph, v: Value) -> bool:
    """Whether v is (derived elementwise from) a conv / pooling result or an image input."""
    for _ in range(MAX_STEPS):
        op = v.producer
        if op is None:  # a graph input
            return v.type.is_float and v.type.rank >= 4
        if op.name == "const":
            return False
        if op.name in SOURCES:
            return True
        nonconst = [x for x in op.operands if graph.const_value(x) is None and x.type.is_float]
        if not nonconst:
            return False
        nxt = nonconst[0]
        if op.name in RANK_KEEPING:
            if not (nxt.type.rank == op.results[0].type.rank >= 4):
                return False
        elif op.name not in THROUGH and not _is_elementwise(op.name):
            return False
        v = nxt
    return False
