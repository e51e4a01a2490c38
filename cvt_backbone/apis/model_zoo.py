"""``get_model``: a CvT classifier or backbone in one line, published
weights by name.

    >>> from cvt_backbone import get_model
    >>> model = get_model('cvt-13', pretrained=True)    # ImageNet classifier
    >>> backbone = get_model('cvt-21-384-22k', pretrained=True,
    ...                      backbone_only=True, out_indices=(1, 2))

Classifiers are mmpretrain ``ImageClassifier`` s (CvT + ``LinearClsHead``,
the published model) carrying, as ``mmpretrain.get_model`` does, their
config (``_config``: the published test preprocessing) and class names
(``_dataset_meta``), so mmpretrain's ``ImageClassificationInferencer`` runs
them as they are.
"""
from typing import List, Optional, Union

from mmengine.config import Config

from ..hub import class_names, find_model, list_models, load_checkpoint
from ..models import CvT
from ..utils import load_into

MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]


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


def classifier_config(arch: str, num_classes: int = 1000,
                      resolution: int = 224, **backbone_kwargs) -> Config:
    """The config of a CvT ImageNet-style classifier (model and test
    pipeline) as mmpretrain builds and runs it."""
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


def get_model(model: str, pretrained: Union[bool, str] = False,
              backbone_only: bool = False,
              num_classes: Optional[int] = None, device: str = 'cpu',
              **backbone_kwargs):
    """A CvT classifier (head included) or, with ``backbone_only``, the
    backbone alone, in eval mode.

    Args:
        model: a model-zoo name (``'cvt-13'``, ``'cvt-21-384-22k'``...; see
            :func:`cvt_backbone.list_models`) or an arch (``'13'``, ``'21'``,
            ``'w24'``).
        pretrained: ``True`` for the zoo model's published weights;
            ``False`` for the paper's random initialisation; or any
            checkpoint source (file, Hugging Face folder, URL, repo id, zoo
            name) in any CvT layout.
        backbone_only: return the :class:`CvT` backbone (``featmap``
            outputs unless ``backbone_kwargs`` say otherwise).
        num_classes: classifier head size; default: the checkpoint's head
            (1000 for the published models).
        device: where the model goes.
        **backbone_kwargs: passed to :class:`CvT` (``out_indices``,
            ``drop_path_rate``, ``with_cp``...).
    """
    spec = find_model(model)
    if spec is None:
        try:  # an arch name: checked here, so the error names both kinds
            CvT.resolve_arch(model)
        except (ValueError, TypeError) as e:
            raise ValueError(
                f'{model!r} is neither a model-zoo name ({list_models()}) '
                f'nor a CvT arch: {e}') from e
        arch, resolution = model, 224
    else:
        arch, resolution = spec.arch, spec.resolution
    if pretrained is True:
        if spec is None:
            raise ValueError(
                f'{model!r} is an arch, not a published model: '
                'pretrained=True needs a model-zoo name '
                f'({list_models()}), or pass pretrained=<checkpoint>')
        source = spec.name
    else:
        source = str(pretrained) if pretrained else None

    if backbone_only:
        backbone = CvT(arch=arch, init_cfg=dict(
            type='Pretrained', checkpoint=source) if source else None,
                       **backbone_kwargs)
        backbone.init_weights()
        return backbone.to(device).eval()

    state = where = None
    if source is not None:
        state, _, where = load_checkpoint(source)
        if num_classes is None and 'head.fc.weight' in state:
            num_classes = state['head.fc.weight'].shape[0]
    num_classes = num_classes or 1000
    cfg = classifier_config(arch, num_classes, resolution, **backbone_kwargs)
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        classifier = MODELS.build(cfg.model)
    classifier.init_weights()
    if state is not None:
        load_into(classifier, state, where)
    names = class_names(source) if source is not None else None
    if names is None or len(names) != num_classes:
        names = imagenet_classes() if num_classes == 1000 else None
    classifier._dataset_meta = dict(classes=names) if names else {}
    classifier._config = cfg
    return classifier.to(device).eval()


def imagenet_classes() -> List[str]:
    """The 1000 ImageNet-1k class names (mmpretrain ships them)."""
    from mmpretrain.datasets.categories import IMAGENET_CATEGORIES
    return list(IMAGENET_CATEGORIES)
