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
from typing import Optional, Union

from ..checkpoint import find_model, list_models, load_checkpoint, load_state
from ..models import CvT
from .builder import (
    attach_classes,
    backbone_config,
    build_model,
    classifier_config,
)


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
        init_cfg = dict(type='Pretrained', checkpoint=source) if source \
            else None
        return build_model(backbone_config(arch, init_cfg=init_cfg,
                                           **backbone_kwargs),
                           init_weights=True, device=device)

    state = where = None
    if source is not None:  # read once: the head size comes from it
        state, _, where = load_checkpoint(source)
        if num_classes is None and 'head.fc.weight' in state:
            num_classes = state['head.fc.weight'].shape[0]
    cfg = classifier_config(arch, num_classes or 1000, resolution,
                            **backbone_kwargs)
    classifier = build_model(cfg, init_weights=True)
    if state is not None:
        load_state(classifier, state, where)
    return attach_classes(classifier, cfg, source).to(device).eval()
