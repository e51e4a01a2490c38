from .compile_hook import PlainParamGroupsHook
from .epoch_seed_hook import EpochSeedHook
from .training_summary_hook import TrainingSummaryHook

__all__ = ['EpochSeedHook', 'PlainParamGroupsHook', 'TrainingSummaryHook']
