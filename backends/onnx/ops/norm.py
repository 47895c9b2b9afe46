"""ONNX converters of the normalization ops.

    BatchNormalization     <-> batch_norm      inference mode only (training_mode=1 is an error)
    InstanceNormalization  <-> instance_norm
    LayerNormalization     <-> layer_norm      Mean / InvStdDev too (stats=1) when they are read
    Softmax, LogSoftmax    <-> softmax, log_softmax   (opset 13+ semantics: one axis)

Axes are stored non-negative. BatchNormalization's outputs beyond the first (training statistics)
are refused when anything reads them; when they are listed but unread they are ignored.
"""

from __future__ import annotations

import weakref

import numpy as np
import onnx

from ..registry import exporter, importer

# names read anywhere in a model (node inputs, subgraph inputs, graph outputs), per importer run
_READ_NAMES: "weakref.WeakKeyDictionary[object, frozenset[str]]" = weakref.WeakKeyDictionary()


def _names_read(graph: onnx.GraphProto) -> set[str]:
    names = {o.name for o in graph.output}
    for n in graph.node:
        names.update(i for i in n.input if i)
        for a in n.attribute:
            subgraphs = [a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)
            for g in subgraphs:
                names |= _names_read(g)
    return names


def _is_read(ctx, name: str) -> bool:
    read = _READ_NAMES.get(ctx.importer)
    if read is None:
        read = frozenset(_names_read(ctx.importer.model.graph))
        _READ_NAMES[ctx.importer] = read
    return name in read


def single_result(ctx, node, results, what: str):
    """`results` (one value) for a node whose extra outputs must be unread; refuses otherwise."""
    used = [o for o in node.output[1:] if o and _is_read(ctx, o)]
    if used:
        raise ctx.unsupported(f"output(s) {', '.join(map(repr, used))} ({what}) are read by the model, but "
                        f"irc imports {node.op_type} for inference and produces only its first output")
    return results


def _axis(ctx, default: int) -> int:
    """The node's `axis` attribute made non-negative against the rank of input 0."""
    axis = ctx.attr("axis", default)
    rank = ctx.input(0).type.rank
    if not -rank <= axis < max(rank, 1):
        raise ctx.error(f"axis {axis} out of range for an input of rank {rank}")
    return axis % rank if rank else 0


def _epsilon(ctx) -> dict:
    """{"epsilon": value}, or {} when it is the default 1e-5 (compared as float32)."""
    eps = ctx.attr("epsilon", 1e-5)
    return {} if np.float32(eps) == np.float32(1e-5) else {"epsilon": eps}


@importer("BatchNormalization")
def import_batch_norm(ctx, node):
    if ctx.attr("training_mode", 0):
        raise ctx.unsupported("training_mode=1 is not supported: irc imports models for inference "
                        "(export the model in eval mode)")
    # momentum only updates running statistics during training: irrelevant here
    y = ctx.emit("batch_norm", [ctx.input(i) for i in range(5)], _epsilon(ctx))
    return single_result(ctx, node, y, "running mean/variance")


@exporter("batch_norm")
def export_batch_norm(ctx, op):
    ctx.node("BatchNormalization", op.operands, op.results, epsilon=op.attrs.get("epsilon"))


@importer("InstanceNormalization")
def import_instance_norm(ctx, node):
    return ctx.emit("instance_norm", [ctx.input(0), ctx.input(1), ctx.input(2)], _epsilon(ctx))


@exporter("instance_norm")
def export_instance_norm(ctx, op):
    ctx.node("InstanceNormalization", op.operands, op.results, epsilon=op.attrs.get("epsilon"))


@importer("LayerNormalization")
def import_layer_norm(ctx, node):
    operands = [ctx.input(0), ctx.input(1)]
    if ctx.has_input(2):
        operands.append(ctx.input(2))
    attrs = {"axis": _axis(ctx, -1), **_epsilon(ctx)}
    # Mean / InvStdDev are computed only when the node names them and something reads them
    stats = [o for o in node.output[1:3] if o and _is_read(ctx, o)]
    if stats:
        # stash_type picks the element type of the statistics; irc's are float32 (stash_type=1)
        stash = ctx.attr("stash_type", 1)
        if stash != 1:
            raise ctx.unsupported(f"stash_type={stash} is not supported when the Mean/InvStdDev outputs "
                            f"are read: irc computes them as float32 (stash_type=1)")
        attrs["stats"] = 1
    # Without stats stash_type is not kept: the kernel normalizes in the type of x, at least
    # float32, which is what the default stash_type=1 asks for.
    return ctx.emit("layer_norm", operands, attrs)


@exporter("layer_norm")
def export_layer_norm(ctx, op):
    axis = op.attr("axis") % op.operands[0].type.rank
    ctx.node("LayerNormalization", op.operands, op.results, axis=axis, epsilon=op.attrs.get("epsilon"))


@importer("Softmax")
def import_softmax(ctx, node):
    return ctx.emit("softmax", [ctx.input(0)], {"axis": _axis(ctx, -1)})


@importer("LogSoftmax")
def import_log_softmax(ctx, node):
    return ctx.emit("log_softmax", [ctx.input(0)], {"axis": _axis(ctx, -1)})


@exporter("softmax", "log_softmax")
def export_softmax(ctx, op):
    op_type = "Softmax" if op.name == "softmax" else "LogSoftmax"
    ctx.node(op_type, op.operands, op.results, axis=op.attr("axis") % op.operands[0].type.rank)
