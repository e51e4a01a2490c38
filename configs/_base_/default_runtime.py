# mmpretrain's runtime, with this project's modules registered and its two
# hooks: per-epoch seeding (a killed and resumed run ends with the same
# weights as an uninterrupted one) and the end-of-run summary with the
# loss/accuracy curves as PNG.
_base_ = 'mmpretrain::_base_/default_runtime.py'

custom_imports = dict(imports=['cvt_backbone'], allow_failed_imports=False)
default_hooks = dict(
    checkpoint=dict(max_keep_ckpts=3, save_best='accuracy/top1',
                    rule='greater'))
custom_hooks = [dict(type='EpochSeedHook'), dict(type='TrainingSummaryHook')]
