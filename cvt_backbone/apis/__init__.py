from .deploy import (
    DEFAULT_OPSET,
    OnnxExport,
    OnnxMismatchError,
    build_model_for_export,
    export_config,
    export_onnx,
    ort_session,
    verify_onnx,
)
from .inference import (
    classify,
    config_task,
    draw,
    infer,
    init_model,
    predict,
    predict_and_draw,
    summarise,
)
from .model_zoo import (
    classifier_config,
    get_model,
    imagenet_classes,
    published_test_pipeline,
)

__all__ = [
    'DEFAULT_OPSET', 'OnnxExport', 'OnnxMismatchError',
    'build_model_for_export', 'classifier_config', 'classify', 'config_task',
    'draw', 'export_config', 'export_onnx', 'get_model', 'imagenet_classes',
    'infer', 'init_model', 'ort_session', 'predict', 'predict_and_draw',
    'published_test_pipeline', 'summarise', 'verify_onnx'
]
