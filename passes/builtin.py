"""Imports the built-in passes so that they register."""

from . import calibrate, dce, fallback, fold, fuse, quantize  # noqa: F401
