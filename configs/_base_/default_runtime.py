# mmpretrain's runtime, with this project's modules registered and its
# hooks: per-epoch seeding (a killed and resumed run ends with the same
# weights as an uninterrupted one), the end-of-run summary with the
# loss/accuracy curves as PNG, and plain-dict optimizer groups (which
# torch.compile of the training step needs, see `compile` below).
_base_ = 'mmpretrain::_base_/default_runtime.py'

custom_imports = dict(imports=['cvt_backbone'], allow_failed_imports=False)
default_hooks = dict(
    checkpoint=dict(max_keep_ckpts=3, save_best='accuracy/top1',
                    rule='greater'))
custom_hooks = [
    dict(type='EpochSeedHook'),
    dict(type='TrainingSummaryHook'),
    dict(type='PlainParamGroupsHook')
]
# torch.compile of the whole training step, optimizer step included
# (mmengine's Runner option): True, or a dict of torch.compile arguments,
# e.g. --cfg-options compile=True. The CvT backbone compiles to one graph in
# training (no graph break in a block); the first iterations then spend
# minutes compiling.
compile = False
