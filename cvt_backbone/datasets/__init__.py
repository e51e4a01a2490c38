"""Data pipeline pieces for mmpretrain configs (registered on import)."""
from .transforms import *  # noqa: F401,F403
from .transforms import __all__  # noqa: F401
