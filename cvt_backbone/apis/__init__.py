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
from .inference import config_task, draw, infer, init_model, predict, summarise

__all__ = [
    'DEFAULT_OPSET', 'OnnxExport', 'OnnxMismatchError',
    'build_model_for_export', 'config_task', 'draw', 'export_config',
    'export_onnx', 'infer', 'init_model', 'ort_session', 'predict',
    'summarise', 'verify_onnx'
]
