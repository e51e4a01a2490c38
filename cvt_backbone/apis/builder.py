"""From a config (or a model-zoo name) and any checkpoint source to a model:
the one place a model is built.

* :func:`resolve_config`: a ``Config``, a config file or a zoo name (the
  published classifier, with its weights as the default checkpoint);
* :func:`config_task` / :func:`models_registry`: the one dispatch on a
  config's ``default_scope`` (mmpretrain: classification, mmdet: detection,
  mmseg: segmentation; none: mmengine's root registry, a bare ``CvT``);
* :func:`build_model`: the model of a config, built through its library's
  registry as its Runner builds it, with the weights of any checkpoint
  (:func:`cvt_backbone.checkpoint.load_weights`);
* :func:`init_model`: the same for inference, with class names (and a
  detector's or segmenter's palette) as the libraries' own ``init_*``
  functions give them;
* :func:`classifier_config` / :func:`backbone_config`: the configs of a
  CvT classifier (the published model) and of a bare backbone.

The export (:mod:`cvt_backbone.deploy`), the model zoo
(:func:`cvt_backbone.get_model`), inference, ``tools/analysis_tools/
get_flops.py`` and the benchmark all build here.
"""
import copy
import os.path as osp
from typing import List, Optional, Tuple, Union

from mmengine.config import Config
from torch import nn

from ..checkpoint import (
    as_checkpoint_scheme,
    class_names,
    find_model,
    list_models,
    load_weights,
)
from ..models import CvT

MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]
TASKS = dict(mmpretrain='cls', mmdet='det', mmseg='seg')


# -- configs -----------------------------------------------------------------
def published_test_pipeline(resolution: int) -> List[dict]:
    """The release's test preprocessing: at 224, resize the short side to
    256 and centre-crop 224; at 384, resize to 384 x 384 (no crop); bicubic
    (mean/std normalisation is the data preprocessor's)."""
    if resolution == 224:
        resize = [dict(type='ResizeEdge', scale=256, edge='short',
                       backend='pillow', interpolation='bicubic'),
                  dict(type='CenterCrop', crop_size=224)]
    else:
        resize = [dict(type='Resize', scale=resolution, backend='pillow',
                       interpolation='bicubic')]
    return [dict(type='LoadImageFromFile'), *resize, dict(type='PackInputs')]


def classifier_config(arch, num_classes: int = 1000,
                      resolution: int = 224, **backbone_kwargs) -> Config:
    """The config of a CvT ImageNet-style classifier (model and test
    pipeline) as mmpretrain builds and runs it: the class-token backbone
    and a ``LinearClsHead``, the published classifier."""
    embed_dims = CvT.resolve_arch(arch)['embed_dims']
    return Config(dict(
        default_scope='mmpretrain',
        model=dict(
            type='ImageClassifier',
            data_preprocessor=dict(type='ClsDataPreprocessor',
                                   num_classes=num_classes, mean=MEAN,
                                   std=STD, to_rgb=True),
            backbone=dict(type='CvT', arch=arch, out_type='cls_token',
                          **backbone_kwargs),
            neck=None,
            head=dict(type='LinearClsHead', num_classes=num_classes,
                      in_channels=embed_dims[-1])),
        test_dataloader=dict(dataset=dict(
            pipeline=published_test_pipeline(resolution)))))


def backbone_config(arch, **backbone_kwargs) -> Config:
    """The config of a bare :class:`CvT` (mmengine's root registry)."""
    return Config(dict(default_scope=None,
                       model=dict(type='CvT', arch=arch, **backbone_kwargs)))


def resolve_config(config) -> Tuple[Config, str, Optional[str]]:
    """``(Config, description, default checkpoint)`` for ``config``: an
    mmengine ``Config``, a config file, or a model-zoo name (``'cvt-13'``:
    the published classifier, with its published weights as the default
    checkpoint)."""
    if isinstance(config, Config):
        return config, 'the config', None
    if isinstance(config, dict):
        return Config(config), 'the config', None
    if osp.isfile(config):
        return Config.fromfile(config), config, None
    spec = find_model(config)
    if spec is None:
        raise FileNotFoundError(
            f'{config!r} is neither a config file nor a model-zoo name '
            f'({list_models()})')
    return (classifier_config(spec.arch, resolution=spec.resolution),
            f'the {spec.name} classifier', spec.name)


# -- the scope dispatch -------------------------------------------------------
def config_task(cfg) -> str:
    """``'cls'`` for an mmpretrain config, ``'det'`` for an mmdet one,
    ``'seg'`` for an mmseg one."""
    scope = cfg.get('default_scope')
    if scope not in TASKS:
        raise ValueError(
            f'config default_scope {scope!r}: expected one of {list(TASKS)} '
            '(a classification, detection or segmentation config)')
    return TASKS[scope]


def models_registry(scope: Optional[str]):
    """The ``MODELS`` registry of the library a ``default_scope`` names
    (mmengine's root registry for none), with that scope made the default
    (modules in configs are looked up there first, as in its Runner)."""
    from mmengine.registry import DefaultScope, init_default_scope
    if scope is None:
        from mmengine.registry import MODELS
        return MODELS
    task = config_task(dict(default_scope=scope))
    if task == 'cls':
        from mmpretrain.registry import MODELS
    elif task == 'det':
        from mmdet.registry import MODELS
    else:
        from mmseg.registry import MODELS
    if DefaultScope.get_current_instance() is None or \
            DefaultScope.get_current_instance().scope_name != scope:
        init_default_scope(scope)
    return MODELS


# -- building -----------------------------------------------------------------
def build_model(config, checkpoint: Optional[str] = None, *,
                strict: bool = True, init_weights: bool = False,
                device: str = 'cpu') -> nn.Module:
    """The model of ``config`` (see :func:`resolve_config`) with the
    weights of ``checkpoint`` (any source: file, URL, Hugging Face repo, zoo
    name; a published CvT layout is converted), in eval mode on ``device``.

    Built through the config's library registry as its Runner builds it
    (the top-level ``data_preprocessor`` goes into the model as
    mmpretrain's does), SyncBN reverted to BatchNorm (mmengine's
    ``revert_sync_batchnorm``). ``init_weights=True`` runs the model's
    ``init_weights`` (the backbone's ``init_cfg`` included) before the
    checkpoint is loaded; with ``strict=True`` a checkpoint whose keys or
    shapes do not fit raises :class:`~cvt_backbone.checkpoint.
    CheckpointError` naming them. A zoo name without a checkpoint is built
    with random weights (its published weights are ``checkpoint=name``).
    """
    from mmengine.model import revert_sync_batchnorm
    cfg, name, _ = resolve_config(config)
    registry = models_registry(cfg.get('default_scope'))
    model_cfg = copy.deepcopy(cfg.model)
    if cfg.get('data_preprocessor') is not None and \
            model_cfg.get('type') != 'CvT':
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = revert_sync_batchnorm(registry.build(model_cfg))
    if init_weights:
        model.init_weights()
    if checkpoint is not None:
        load_weights(model, checkpoint, strict=strict,
                     model_name=f'the model of {name}')
    return model.to(device).eval()


def init_model(config, checkpoint: Optional[str] = None,
               device: str = 'cpu') -> Tuple[nn.Module, str]:
    """The model of ``config`` (path, ``Config`` or zoo name) with
    ``checkpoint`` (any source) for inference, and its task (``'cls'``,
    ``'det'``, ``'seg'``).

    A classifier is :func:`build_model` with the config kept as
    ``_config`` (its test pipeline, what mmpretrain's inferencer runs) and
    its class names from the checkpoint's ``dataset_meta`` (mmengine stores
    it), the published weights' ``config.json``, or ImageNet's for 1000
    classes. Detectors and segmenters are built by mmdet's
    ``init_detector`` and mmseg's ``init_model`` (their class-name and
    palette rules), reading the checkpoint through this project's scheme.
    """
    cfg, _, published = resolve_config(config)
    checkpoint = checkpoint or published
    task = config_task(cfg)
    if task == 'det':
        from mmdet.apis import init_detector
        scheme = as_checkpoint_scheme(checkpoint) if checkpoint else None
        return init_detector(cfg, scheme, device=device), task
    if task == 'seg':
        from mmseg.apis import init_model as init_segmentor
        scheme = as_checkpoint_scheme(checkpoint) if checkpoint else None
        return init_segmentor(cfg, scheme, device=device), task
    model = build_model(cfg, device=device)
    meta = {}
    if checkpoint is not None:
        meta = load_weights(model, checkpoint, strict=False)
    return attach_classes(model, cfg, checkpoint, meta.get('dataset_meta')), \
        task


def attach_classes(model: nn.Module, cfg: Config,
                   checkpoint: Optional[str] = None,
                   dataset_meta: Optional[dict] = None) -> nn.Module:
    """Give a classifier what mmpretrain's ``get_model`` gives it:
    ``_config`` and ``_dataset_meta``. The class names are those of the
    weights' ``config.json`` (published Hugging Face weights), else the
    checkpoint's ``dataset_meta``, else the config's test dataset's
    (``METAINFO``), else ImageNet's for 1000 classes; a list whose length is
    not the head's is not used."""
    num_classes = model.head.num_classes
    candidates = [class_names(checkpoint) if checkpoint else None,
                  (dataset_meta or {}).get('classes'),
                  _dataset_classes(cfg),
                  imagenet_classes() if num_classes == 1000 else None]
    names = next((list(c) for c in candidates
                  if c and len(c) == num_classes), None)
    model._dataset_meta = dict(classes=names) if names else {}
    model._config = cfg
    return model


def _dataset_classes(cfg: Config) -> Optional[List[str]]:
    """The classes of the config's test dataset class (mmpretrain's
    ``METAINFO``), or its ``metainfo`` override."""
    dataset = (cfg.get('test_dataloader') or {}).get('dataset') or {}
    classes = (dataset.get('metainfo') or {}).get('classes')
    if classes or 'type' not in dataset:
        return classes
    from mmpretrain.registry import DATASETS
    dataset_class = DATASETS.get(dataset['type'])
    return getattr(dataset_class, 'METAINFO', {}).get('classes')


def imagenet_classes() -> List[str]:
    """The 1000 ImageNet-1k class names (mmpretrain ships them)."""
    from mmpretrain.datasets.categories import IMAGENET_CATEGORIES
    return list(IMAGENET_CATEGORIES)


def model_config(model: Union[str, Config], num_classes: int = 1000,
                 **backbone_kwargs) -> Config:
    """A config for ``model``: a config file, ``Config`` or zoo name as
    :func:`resolve_config` reads it, or an arch name (``'13'``, ``'w24'``,
    a dict): the classifier with ``num_classes`` classes, or with
    ``num_classes=0`` the bare backbone (feature maps)."""
    try:
        return resolve_config(model)[0]
    except FileNotFoundError:
        if not isinstance(model, (str, dict)):
            raise
    try:
        CvT.resolve_arch(model)
    except (ValueError, TypeError) as e:
        raise ValueError(
            f'{model!r} is neither a config file, a model-zoo name '
            f'({list_models()}) nor a CvT arch: {e}') from e
    if not num_classes:
        return backbone_config(model, **backbone_kwargs)
    return classifier_config(model, num_classes, **backbone_kwargs)
