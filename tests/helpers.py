"""Transitional: re-exports the command-line runners for the benchmark's
tests, which still import them from here (``from helpers import
load_tool`` / ``run_tool``); the shared test support is split by concern
(see ``conftest.py``). Delete this module once those tests import from
``tool_runner``."""
from tool_runner import load_tool, run_tool

__all__ = ['load_tool', 'run_tool']
