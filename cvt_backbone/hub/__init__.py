"""Published weights by name: the model zoo, checkpoint sources (files,
URLs, Hugging Face repos, zoo names) and loading them into the models."""
from .loading import (
                      as_checkpoint_scheme,
                      class_names,
                      convert_checkpoint,
                      load_checkpoint,
                      load_pretrained,
                      register_checkpoint_loaders,
)
from .sources import (
                      CheckpointDownloadError,
                      download_from_hub,
                      download_url,
                      resolve_checkpoint,
)
from .zoo import MODEL_ZOO, ModelSpec, find_model, list_models

__all__ = [
    'MODEL_ZOO', 'CheckpointDownloadError', 'ModelSpec',
    'as_checkpoint_scheme', 'class_names', 'convert_checkpoint',
    'download_from_hub', 'download_url', 'find_model', 'list_models',
    'load_checkpoint', 'load_pretrained', 'register_checkpoint_loaders',
    'resolve_checkpoint'
]
