"""fp32 and int8 kernels, a file per op family. Importing registers them all."""

from . import core, quant  # noqa: F401
