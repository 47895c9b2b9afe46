"""Imports the built-in passes so that they register."""

from . import bias_correct, calibrate, dce, equalize, fallback, fold, fuse, fuse_qdq, quantize, smooth  # noqa: F401
