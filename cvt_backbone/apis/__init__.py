from .inference import config_task, draw, infer, init_model, predict, summarise

__all__ = [
    'config_task', 'draw', 'infer', 'init_model', 'predict', 'summarise'
]
