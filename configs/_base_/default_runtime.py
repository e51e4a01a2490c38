# Runtime shared by the classification configs: mmengine + cvt_backbone only.
custom_imports = dict(imports=['cvt_backbone'], allow_failed_imports=False)
default_scope = None

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=100),  # loss, lr, eta
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3,
                    save_best='accuracy/top1', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
# EpochSeedHook: per-epoch seeding, so --resume continues exactly;
# TrainingSummaryHook: prints the final figures, saves the curves as PNG
custom_hooks = [dict(type='EpochSeedHook'), dict(type='TrainingSummaryHook')]

env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),  # tools/train.py uses gloo without CUDA
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=None, deterministic=False)
