"""Built-in op families. Importing this package declares every built-in op in the registry."""

from . import core, quant  # noqa: F401
