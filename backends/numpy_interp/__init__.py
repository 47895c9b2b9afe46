"""The numpy interpreter: the reference semantics of every op in the registry."""

from .interpreter import KERNELS, Interpreter, kernel, run_graph

__all__ = ["KERNELS", "Interpreter", "kernel", "run_graph"]
