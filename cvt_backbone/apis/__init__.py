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
    'classifier_config', 'classify', 'config_task', 'draw', 'get_model',
    'imagenet_classes', 'infer', 'init_model', 'predict',
    'predict_and_draw', 'published_test_pipeline', 'summarise'
]
