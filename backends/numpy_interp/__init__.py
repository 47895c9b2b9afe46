"""The numpy interpreter: the reference semantics of every op in the registry."""

from .interpreter import KERNELS, Interpreter, kernel, run_graph

from . import kernels as _kernels  # noqa: F401  (registers the built-in kernels on import)

__all__ = ["KERNELS", "Interpreter", "kernel", "run_graph"]
