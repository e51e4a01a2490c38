"""Checkpoints: the one home for reading, converting and loading CvT
weights, and for the published models.

* :mod:`.errors`: :class:`CheckpointError`, :class:`CheckpointDownloadError`;
* :mod:`.reading`: safe reading of ``.pth``/``.bin``/``.safetensors`` files
  and Hugging Face folders;
* :mod:`.formats`: the published key layouts, detected and converted;
* :mod:`.zoo`: the model zoo table (names, repos, figures);
* :mod:`.sources`: where a checkpoint comes from (file, URL cache, Hugging
  Face Hub, zoo name);
* :mod:`.loading`: the one loading path (mmengine's checkpoint scheme, the
  ``CvTPretrained`` weight initialiser, :func:`load_weights`).

Importing it registers nothing by itself but the weight initialiser;
:func:`register_checkpoint_loaders` (called by ``import cvt_backbone``)
registers the checkpoint schemes.
"""
from .errors import CheckpointDownloadError, CheckpointError
from .formats import convert_cvt_state_dict, detect_format
from .loading import (
    as_checkpoint_scheme,
    class_names,
    convert_checkpoint,
    load_checkpoint,
    load_state,
    load_weights,
    register_checkpoint_loaders,
)
from .reading import read_checkpoint
from .sources import download_from_hub, download_url, resolve_checkpoint
from .zoo import MODEL_ZOO, ModelSpec, find_model, list_models

__all__ = [
    'MODEL_ZOO', 'CheckpointDownloadError', 'CheckpointError', 'ModelSpec',
    'as_checkpoint_scheme', 'class_names', 'convert_checkpoint',
    'convert_cvt_state_dict', 'detect_format', 'download_from_hub',
    'download_url', 'find_model', 'list_models', 'load_checkpoint',
    'load_state', 'load_weights', 'read_checkpoint',
    'register_checkpoint_loaders', 'resolve_checkpoint'
]
