"""Imports the built-in passes so that they register."""

from . import dce, fold  # noqa: F401
