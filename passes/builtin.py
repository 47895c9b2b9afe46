"""Imports the built-in passes so that they register."""

from . import calibrate, dce, fold, fuse  # noqa: F401
