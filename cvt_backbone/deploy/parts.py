"""What of a CvT model is exported (``part``), as ``nn.Module`` s whose
``output_names()`` name the graph's outputs, from a bare :class:`CvT` or a
model built from a config (:func:`cvt_backbone.apis.build_model`):

* ``'backbone'``: the CvT alone; outputs ``stage0``, ``stage1``, ``stage2``
  (``[B, C_i, H_i, W_i]``, strides 4/8/16; a dense model's backbone keeps its
  ``out_indices`` and output LayerNorms, a classifier's backbone gives its
  three raw stage maps instead of the class token);
* ``'classifier'``: an mmpretrain ``ImageClassifier``: what
  ``model(x, mode='tensor')`` computes, ``input`` ``[B, 3, H, W]`` (the
  normalised image) -> ``logits`` ``[B, num_classes]``;
* ``'segmenter'``: an mmseg ``EncoderDecoder``: ``model(x, mode='tensor')``
  (stride-4 logits) resized bilinearly to the input size as mmseg's
  ``postprocess_result`` does -> ``seg_logits`` ``[B, num_classes, H, W]``;
* ``'features'``: an mmdet detector's backbone + neck
  (``model.extract_feat``): ``neck0`` ... ``neck{n-1}``. The whole detector
  is refused (see :data:`DETECTOR_NOT_EXPORTED`).
"""
import copy
from typing import List, Tuple

from torch import Tensor, nn

from ..models import CvT

PARTS = ('backbone', 'classifier', 'segmenter', 'features')
DETECTOR_NOT_EXPORTED = (
    'a whole mmdet detector is not exported: its test-time post-processing '
    '(RPN proposals and NMS with a data-dependent number of boxes, mmcv\'s '
    'RoIAlign in two-stage heads) has no standard ONNX form and needs '
    'mmdeploy\'s rewriters and custom onnxruntime/TensorRT ops. Export '
    "part='features' (backbone + neck: the multi-scale maps the heads "
    "read, dynamic in size) or part='backbone', and run the heads and the "
    'post-processing in mmdet on those maps')
HW = Tuple[int, int]


def cvt_of(model: nn.Module) -> CvT:
    backbone = model if isinstance(model, CvT) else getattr(
        model, 'backbone', None)
    if not isinstance(backbone, CvT):
        raise ValueError(
            f'{type(model).__name__} has no CvT backbone (found '
            f'{type(backbone).__name__}): this exporter serves CvT models')
    return backbone


def model_kind(model: nn.Module) -> str:
    """``'backbone'`` (a bare CvT), ``'classifier'`` (mmpretrain
    ``ImageClassifier``), ``'segmenter'`` (mmseg ``EncoderDecoder``) or
    ``'detector'`` (mmdet)."""
    cvt_of(model)
    if isinstance(model, CvT):
        return 'backbone'
    from mmpretrain.models import ImageClassifier
    if isinstance(model, ImageClassifier):
        return 'classifier'
    from mmseg.models.segmentors import EncoderDecoder
    if isinstance(model, EncoderDecoder):
        return 'segmenter'
    from mmdet.models.detectors import BaseDetector
    if isinstance(model, BaseDetector):
        return 'detector'
    raise ValueError(f'cannot export a {type(model).__name__}: expected a '
                     'CvT, an mmpretrain ImageClassifier, an mmseg '
                     'EncoderDecoder or an mmdet detector')


def resolve_part(model: nn.Module, part: str = 'auto') -> str:
    """Check that ``part`` can be exported from ``model``; ``'auto'`` is
    the whole model (the backbone of a bare CvT)."""
    kind = model_kind(model)
    allowed = {'backbone': ('backbone', ),
               'classifier': ('classifier', 'backbone'),
               'segmenter': ('segmenter', 'backbone'),
               'detector': ('features', 'backbone')}[kind]
    if part == 'auto':
        if kind == 'detector':
            raise ValueError(DETECTOR_NOT_EXPORTED)
        return kind
    if part == 'detector' or (kind == 'detector' and part not in allowed):
        raise ValueError(DETECTOR_NOT_EXPORTED)
    if part not in allowed:
        raise ValueError(f'part {part!r} cannot be exported from a {kind} '
                         f'({type(model).__name__}); it has {list(allowed)}')
    return part


class _Backbone(nn.Module):
    """The CvT's stage maps (a class-token backbone gives its three raw
    stage maps: a copy set to ``out_type='featmap'``, ``out_indices=(0, 1,
    2)``, ``out_norm=False``, which is what CvT's constructor would build
    with those arguments, minus the unused final norm)."""

    def __init__(self, backbone: CvT) -> None:
        super().__init__()
        if backbone.out_type == 'cls_token':
            backbone = copy.deepcopy(backbone)
            backbone.out_type = 'featmap'
            backbone.out_indices = tuple(range(backbone.num_stages))
            backbone.out_norm = False
            # the last block of a classifier computes only the class token
            backbone.stages[-1].blocks[-1].cls_only = False
        self.backbone = backbone

    def output_names(self) -> List[str]:
        return [f'stage{i}' for i in self.backbone.out_indices]

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        return tuple(self.backbone(x))


class _ModelPart(nn.Module):
    """A part of an OpenMMLab model to export; ``output_names()`` names the
    graph's outputs."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model


class _Classifier(_ModelPart):

    def output_names(self) -> List[str]:
        return ['logits']

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x, mode='tensor')


class _Segmenter(_ModelPart):
    """``mode='tensor'`` logits resized to the input size (mmseg's
    ``resize``, bilinear, the decode head's ``align_corners``)."""

    def output_names(self) -> List[str]:
        return ['seg_logits']

    def forward(self, x: Tensor) -> Tensor:
        from mmseg.models.utils import resize
        return resize(self.model(x, mode='tensor'), size=x.shape[2:],
                      mode='bilinear', align_corners=self.model.align_corners,
                      warning=False)


class _Features(_ModelPart):
    """A detector's ``extract_feat``: backbone + neck."""

    def output_names(self) -> List[str]:
        neck = getattr(self.model, 'neck', None)
        num_outs = getattr(neck, 'num_outs', None)
        if not isinstance(num_outs, int):
            raise ValueError(f'the neck {type(neck).__name__} '
                             'does not say how many maps it returns '
                             '(num_outs); expected an FPN-like neck')
        return [f'neck{i}' for i in range(num_outs)]

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        return tuple(self.model.extract_feat(x))


def part_module(model: nn.Module, part: str) -> nn.Module:
    if part == 'backbone':
        return _Backbone(cvt_of(model))
    return {'classifier': _Classifier, 'segmenter': _Segmenter,
            'features': _Features}[part](model)
