"""Reading checkpoint files safely.

mmengine's ``CheckpointLoader`` reads ``.pth`` files only, with whatever
``torch.load`` defaults to, and reports a refused pickle with torch's raw
error. This reader adds what the published CvT weights need: Hugging Face
``.safetensors``/``.bin`` files and model folders, an explicit
``weights_only=True`` (a pickle that would run code is refused with an error
that says so, never executed), and errors that name the file and what was
expected. Where a checkpoint comes from (URL, hub, zoo name) is
:mod:`.sources`, its key layouts :mod:`.formats`, loading it into a model
:mod:`.loading`.
"""
import os
import pickle
import zipfile
from collections import OrderedDict
from typing import Dict, Mapping, Tuple

import torch
from torch import Tensor

from .errors import CheckpointError

StateDict = Dict[str, Tensor]
HF_WEIGHT_FILES = ('model.safetensors', 'pytorch_model.bin')


def read_checkpoint(path: str) -> StateDict:
    """Read a state dict from a ``.pth``/``.bin``/``.safetensors`` file or a
    Hugging Face model folder, without executing pickled code.

    Wrappers ``{'state_dict': ...}`` and ``{'model': ...}`` are unwrapped.
    """
    obj, path = load_checkpoint_file(path)
    return state_dict_of(obj, path)


def load_checkpoint_file(path: str) -> Tuple[object, str]:
    """The object stored in a checkpoint file (or a Hugging Face model
    folder's weights file), read without executing pickled code, and the
    file's path."""
    path = os.fspath(path)
    if os.path.isdir(path):
        found = [os.path.join(path, f) for f in HF_WEIGHT_FILES
                 if os.path.isfile(os.path.join(path, f))]
        if not found:
            raise FileNotFoundError(
                f'{path} is a folder without model weights; expected one of '
                f'{list(HF_WEIGHT_FILES)} (a Hugging Face model folder)')
        path = found[0]
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path}')

    _check_magic(path)
    if path.endswith('.safetensors'):
        try:
            from safetensors.torch import load_file
            return load_file(path, device='cpu'), path
        except Exception as e:  # safetensors raises its own error types
            raise CheckpointError(f'{path} is not a readable safetensors file '
                                  f'(truncated or corrupt?): {e}') from e
    try:
        return torch.load(path, map_location='cpu', weights_only=True), path
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            f'refused to load {path}: it holds pickled Python objects '
            'beyond tensors and plain containers, which could run code '
            'when loaded. Only weights are accepted (torch.load with '
            f'weights_only=True). Details: {str(e).splitlines()[0]}') from e
    except (EOFError, RuntimeError, zipfile.BadZipFile, ValueError) as e:
        raise CheckpointError(f'{path} is not a readable PyTorch '
                              f'checkpoint (truncated or corrupt?): {e}'
                              ) from e


def _check_magic(path: str) -> None:
    """Refuse what is plainly no checkpoint before a loader misreports it
    (torch calls an HTML page "a pickle it refused to load")."""
    with open(path, 'rb') as f:
        head = f.read(64)
    if not head:
        raise CheckpointError(f'{path} is empty, not a checkpoint')
    text = head.lstrip().lower()
    if text.startswith((b'<!doctype', b'<html', b'<?xml', b'<head',
                        b'<body')):
        raise CheckpointError(
            f'{path} is not a checkpoint but a web page (HTML): the server '
            'answered with a page (a login, error or download page) instead '
            'of the weights; check the URL')
    if path.endswith('.safetensors'):
        return
    if not (head.startswith(b'PK\x03\x04') or head[0] == 0x80):
        raise CheckpointError(
            f'{path} is not a PyTorch checkpoint (neither a torch.save zip '
            f'archive nor a pickle; it starts with {head[:16]!r})')


def state_dict_of(obj, path: str) -> StateDict:
    """The state dict inside a loaded checkpoint object."""
    if isinstance(obj, Mapping):
        for key in ('state_dict', 'model'):
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointError(f'{path} holds no state dict (got '
                              f'{type(obj).__name__})')
    bad = [k for k, v in obj.items() if not isinstance(v, Tensor)]
    if bad:
        raise CheckpointError(f'{path}: entries that are not tensors: '
                              f'{bad[:5]}')
    return OrderedDict(obj)
