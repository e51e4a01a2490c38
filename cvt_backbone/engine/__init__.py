from .data_faults import apply_bad_image_policy
from .hooks import (
    BadImageHook,
    EpochSeedHook,
    NonFiniteLossError,
    NonFiniteLossHook,
    PlainParamGroupsHook,
    TrainingSummaryHook,
)
from .loops import SkippingTestLoop, SkippingValLoop
from .runner import (
    ResilientRunner,
    build_config,
    build_runner,
    init_cpu_process_group,
)
from .safe_load import allow_mmengine_checkpoints

__all__ = [
    'BadImageHook', 'EpochSeedHook', 'NonFiniteLossError', 'NonFiniteLossHook',
    'PlainParamGroupsHook', 'ResilientRunner',
    'SkippingTestLoop', 'SkippingValLoop', 'TrainingSummaryHook',
    'allow_mmengine_checkpoints', 'apply_bad_image_policy', 'build_config',
    'build_runner', 'init_cpu_process_group'
]
