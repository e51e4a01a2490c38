"""The user-level API: the one model builder, the model zoo's
``get_model`` and inference on one image. (ONNX export is
:mod:`cvt_backbone.deploy`.)"""
from .builder import (
    backbone_config,
    build_model,
    classifier_config,
    config_task,
    imagenet_classes,
    init_model,
    model_config,
    published_test_pipeline,
    resolve_config,
)
from .inference import (
    classify,
    draw,
    infer,
    predict,
    predict_and_draw,
    summarise,
)
from .model_zoo import get_model

__all__ = [
    'backbone_config', 'build_model', 'classifier_config', 'classify',
    'config_task', 'draw', 'get_model', 'imagenet_classes', 'infer',
    'init_model', 'model_config', 'predict', 'predict_and_draw',
    'published_test_pipeline', 'resolve_config', 'summarise'
]
