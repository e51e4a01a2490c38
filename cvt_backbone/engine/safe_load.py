"""Let ``torch.load(weights_only=True)`` read mmengine's own checkpoints.

mmengine 0.10.7 resumes (``--resume``) with ``torch.load``, which on
torch >= 2.6 defaults to ``weights_only=True`` and then refuses mmengine's
own checkpoints: their message hub holds ``HistoryBuffer`` objects and numpy
arrays and scalars. mmengine's fix (``weights_only=False``) is unreleased
and would run any pickled code; the usual workaround
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` turns the protection off for every
file. :func:`allow_mmengine_checkpoints` instead allow-lists exactly the
types those checkpoints hold (``getattr`` only for HistoryBuffer's statistics
methods), so a pickle that would run code is still refused.
"""
import pickle

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

_HISTORY_BUFFER_METHODS = {'min', 'max', 'mean', 'current'}


def _history_buffer_getattr(obj, name: str):
    """The only ``getattr`` an mmengine checkpoint needs: a HistoryBuffer
    pickles its statistics methods as ``getattr(HistoryBuffer, 'mean')``."""
    if obj is HistoryBuffer and (name in _HISTORY_BUFFER_METHODS or
                                 name in HistoryBuffer._statistics_methods):
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'refused getattr({obj!r}, {name!r}) while loading a checkpoint')


def allow_mmengine_checkpoints() -> None:
    """Allow-list the types of mmengine's own checkpoints for
    ``torch.load(weights_only=True)``. Idempotent."""
    dtypes = [type(np.dtype(t)) for t in (
        np.float16, np.float32, np.float64, np.int8, np.int16, np.int32,
        np.int64, np.uint8, np.bool_)]
    torch.serialization.add_safe_globals([
        HistoryBuffer, np.ndarray, np.dtype, np._core.multiarray._reconstruct,
        np._core.multiarray.scalar, *dtypes,
        (_history_buffer_getattr, 'builtins.getattr'),
        (_history_buffer_getattr, '__builtin__.getattr'),
    ])
