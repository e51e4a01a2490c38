"""The published CvT models in mmpretrain's (and openmim's) model index.

The package ships ``.mim/model-index.yml`` (importing ``configs/
metafile.yml``, generated from :func:`cvt_backbone.checkpoint.zoo.
model_index`) and ``.mim/configs`` (this repository's configs), where
mmpretrain keeps its own index and where openmim looks for a package's
(``mim search cvt_backbone``). In the repository ``.mim``'s entries are
links to the root's ``model-index.yml`` and ``configs/``; a wheel holds
copies.

:func:`register_mmpretrain_models` (called by ``import cvt_backbone``) adds
them to mmpretrain's ``ModelHub`` through its documented hook
(``register_model_index``, the config paths resolved against ``.mim``), so
``mmpretrain.list_models('cvt*')``, ``get_model(name, pretrained=True)``,
``ImageClassificationInferencer(name)``, ``inference_model(name, img)`` and
``FeatureExtractor(name)`` know the names. The weights are ``hf://`` repo
ids: mmengine's ``load_checkpoint`` gives them to this project's registered
checkpoint scheme, which downloads through the Hugging Face cache, reads
safely and converts the published layout.
"""
import os.path as osp
from typing import List

from ..checkpoint import MODEL_ZOO

MIM_ROOT = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), '.mim')


def model_index_file() -> str:
    """The package's ``model-index.yml``."""
    return osp.join(MIM_ROOT, 'model-index.yml')


def mmpretrain_names() -> List[str]:
    """The published models' names in mmpretrain's convention."""
    return [s.mmpretrain_name for s in MODEL_ZOO.values()]


def register_mmpretrain_models() -> bool:
    """Register the model index in mmpretrain's ``ModelHub``; ``False`` if
    it is there already (a second call, a re-import: nothing happens).

    mmpretrain registers its own index lazily, on the first lookup; the
    names here are not among its own, so either order works. A name that
    something else registered first raises mmpretrain's ``ValueError``.
    """
    from mmpretrain.apis.model import ModelHub
    names = mmpretrain_names()
    if all(ModelHub.has(n) for n in names):
        return False
    ModelHub.register_model_index(model_index_file(), config_prefix=MIM_ROOT)
    return True

