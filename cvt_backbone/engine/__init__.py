from .hooks import EpochSeedHook, PlainParamGroupsHook, TrainingSummaryHook
from .runner import build_config, build_runner, init_cpu_process_group
from .safe_load import allow_mmengine_checkpoints

__all__ = [
    'EpochSeedHook', 'PlainParamGroupsHook', 'TrainingSummaryHook',
    'allow_mmengine_checkpoints', 'build_config', 'build_runner',
    'init_cpu_process_group'
]
