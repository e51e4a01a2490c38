"""Deployment: ONNX export of CvT classifiers, segmenters, backbones and
detector feature pyramids, checked against torch in onnxruntime.

* :mod:`.parts`: what of a model is exported, as modules;
* :mod:`.prepare`: the model as exported (BatchNorms folded, size-dependent
  head modules replaced by the stand-ins of
  :mod:`cvt_backbone.models.layers.dynamic_shape`);
* :mod:`.normalization`: the data preprocessor baked into the graph;
* :mod:`.onnx`: export, ``onnx.checker`` and the onnxruntime comparison.
"""
from .normalization import preprocessor_affine
from .onnx import (
    DEFAULT_OPSET,
    DEFAULT_TOLERANCE,
    MAX_OPSET,
    MIN_OPSET,
    OnnxExport,
    OnnxMismatchError,
    check_opset,
    export_config,
    export_onnx,
    ort_session,
    verify_onnx,
)
from .parts import DETECTOR_NOT_EXPORTED, PARTS, model_kind, resolve_part
from .prepare import prepare_for_export

__all__ = [
    'DEFAULT_OPSET', 'DEFAULT_TOLERANCE', 'DETECTOR_NOT_EXPORTED',
    'MAX_OPSET', 'MIN_OPSET', 'OnnxExport', 'OnnxMismatchError', 'PARTS',
    'check_opset', 'export_config', 'export_onnx', 'model_kind',
    'ort_session', 'prepare_for_export', 'preprocessor_affine',
    'resolve_part', 'verify_onnx'
]
