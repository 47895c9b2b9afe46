"""Imports the built-in passes so that they register."""

from . import calibrate, dce, fallback, fold, fuse, fuse_qdq, quantize, smooth  # noqa: F401
