from .bad_image_hook import BadImageHook
from .compile_hook import PlainParamGroupsHook
from .epoch_seed_hook import EpochSeedHook
from .non_finite_loss_hook import NonFiniteLossError, NonFiniteLossHook
from .training_summary_hook import TrainingSummaryHook

__all__ = [
    'BadImageHook', 'EpochSeedHook', 'NonFiniteLossError',
    'NonFiniteLossHook', 'PlainParamGroupsHook', 'TrainingSummaryHook'
]
