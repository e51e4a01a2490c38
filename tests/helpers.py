"""Kept only for ``tests/test_tools/test_benchmark.py``, which still imports
``load_tool`` from here; the shared test support is split by concern (see
``conftest.py``). Delete this module once that test imports
``from tool_runner import load_tool``."""
from tool_runner import load_tool

__all__ = ['load_tool']
