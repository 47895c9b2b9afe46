"""Runs a graph on numpy arrays, one kernel per op kind.

Kernels are registered by op name with `@kernel("relu")` in a file per op family
(kernels_*.py) and called as `fn(op, *operand_arrays)`, returning an array or a tuple of arrays
(one per result). Ops on quantized types dispatch to kernels registered with
`@kernel(name, quantized=True)`: their operands arrive as the stored integers and their types
(op.operands[i].type.quant) carry scale and zero point.

Values are dropped after their last use. Listeners see every op's outputs as it runs
(`listener(op, outputs)`) — calibration observers hook in there.
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping

import numpy as np

from irc.ir.diagnostics import IRError
from irc.ir.generic import is_generic_name
from irc.ir.graph import Graph
from irc.ir.op import Op
from irc.ir.registry import is_bookkeeping
from irc.ir.types import TensorType, dims_compatible

Kernel = Callable[..., "np.ndarray | tuple[np.ndarray, ...]"]
KERNELS: dict[str, Kernel] = {}
QUANT_KERNELS: dict[str, Kernel] = {}


def kernel(name: str, *, quantized: bool = False) -> Callable[[Kernel], Kernel]:
    table = QUANT_KERNELS if quantized else KERNELS

    def register(fn: Kernel) -> Kernel:
        if name in table:
            raise ValueError(f"kernel for {name!r} (quantized={quantized}) registered twice")
        table[name] = fn
        return fn

    return register


def is_quantized_op(op: Op) -> bool:
    """Ops whose operands or results are quantized run the integer kernels (casts excepted)."""
    if is_bookkeeping(op.name):
        return False
    return any(v.type.is_quantized for v in op.operands) or any(r.type.is_quantized for r in op.results)


def find_kernel(op: Op) -> Kernel:
    """The kernel that runs `op`; a float op with a fused activation gets it applied after.

    A generic op (ir/generic.py) gets a kernel of its own that runs it as a one-node ONNX model.
    """
    if is_generic_name(op.name):
        return generic_kernel(op)
    quantized = is_quantized_op(op)
    table = QUANT_KERNELS if quantized else KERNELS
    fn = table.get(op.name)
    if fn is None:
        kind = "quantized " if quantized else ""
        raise IRError(f"the interpreter has no {kind}kernel for {op.name}")
    if op.attrs.get("activation") and not quantized:
        return _with_activation(fn)
    return fn


def generic_kernel(op: Op) -> Kernel:
    """A kernel for one generic op; it keeps that op's one-node model and session. Quantized
    operands and results are their stored integers (what the ONNX node reads and writes)."""
    from irc.backends.onnx.generic import OneNodeRunner

    runner = OneNodeRunner(op)

    def run(_op, *arrays):
        return tuple(runner(arrays))

    return run


def _with_activation(fn: Kernel) -> Kernel:
    """Wrap a float kernel: y = min(max(fn(...), activation_min), activation_max)."""

    def run(op, *args):
        y = fn(op, *args)
        lo, hi = op.attr("activation_min"), op.attr("activation_max")
        if op.attrs["activation"] == "relu":
            lo = 0.0
        return np.clip(y, y.dtype.type(lo), y.dtype.type(hi)).astype(y.dtype, copy=False)

    return run


class ExecutionError(IRError):
    pass


def check_input(name: str, t: TensorType, array: np.ndarray) -> np.ndarray:
    """Check a user-provided input against its declared type; cast the dtype within its kind.
    A sequence, optional or map (a list, None or a dict, as onnxruntime takes them) passes as given."""
    if not isinstance(t, TensorType):
        return array
    array = np.asarray(array)
    if t.shape is not None and (array.ndim != t.rank or not all(
            dims_compatible(d, int(s)) for d, s in zip(t.shape, array.shape))):
        raise IRError(f"input {name!r} has shape {list(array.shape)} but the model expects {t}")
    want = t.dtype
    if array.dtype != want:
        # cast within a kind (integers to integers, floats to floats), never across kinds
        if array.dtype.kind == want.kind or (array.dtype.kind in "iu" and want.kind in "iu"):
            array = array.astype(want)
        else:
            raise IRError(f"input {name!r} has dtype {array.dtype} but the model expects {t}")
    return array


class Interpreter:
    """Executes a graph. `listeners` are called as listener(op, outputs) after each op."""

    def __init__(self, graph: Graph, listeners: Iterable[Callable[[Op, list[np.ndarray]], None]] = ()) -> None:
        self.graph = graph
        self.listeners = list(listeners)
        self._plan = [(op, find_kernel(op)) for op in graph.ops]
        self._last_uses = graph.last_uses()

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        g = self.graph
        names = [v.io_name for v in g.inputs]
        missing = [n for n in names if n not in inputs]
        extra = [n for n in inputs if n not in names]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing input(s) {', '.join(map(repr, missing))}")
            if extra:
                parts.append(f"unknown input(s) {', '.join(map(repr, extra))}")
            raise IRError(f"{'; '.join(parts)} (the model's inputs: {', '.join(map(repr, names))})")
        env: dict[int, np.ndarray] = {}
        for v in g.inputs:
            env[id(v)] = check_input(v.io_name, v.type, inputs[v.io_name])
        for i, (op, fn) in enumerate(self._plan):
            args = [env[id(v)] for v in op.operands]
            try:
                out = fn(op, *args)
            except IRError:
                raise
            except Exception as e:  # report which op failed, in the text format
                from irc.ir.printer import Namer, print_op

                raise ExecutionError(f"while executing `{print_op(op, Namer())}`: {type(e).__name__}: {e}") from e
            outs = list(out) if isinstance(out, (tuple, list)) else [out]
            for r, a in zip(op.results, outs):
                env[id(r)] = a
            for listener in self.listeners:
                listener(op, outs)
            for v in self._last_uses.get(i, ()):
                env.pop(id(v), None)
        result = {}
        for v in g.outputs:
            result[v.io_name] = env[id(v)]
        return result


def run_graph(graph: Graph, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return Interpreter(graph).run(inputs)
