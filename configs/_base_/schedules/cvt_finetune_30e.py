# Fine-tuning an ImageNet CvT at a new resolution (the paper's "↑384"
# models): 30 epochs, AdamW lr 1e-4 at total batch 512 (--auto-scale-lr
# scales it), the release's weight decay rules, a 2-epoch warm-up, cosine to
# 1e-6, and layer-wise lr decay 0.8: mmpretrain's
# LearningRateDecayOptimWrapperConstructor reads each parameter's depth from
# CvT.get_layer_depth (stem 0, the blocks in order, norms and head last), so
# layers further below the head move less.
_base_ = './cvt_adamw_300e.py'

base_lr = 1e-4
optim_wrapper = dict(
    constructor='LearningRateDecayOptimWrapperConstructor',
    optimizer=dict(lr=base_lr),
    paramwise_cfg=dict(layer_decay_rate=0.8))
param_scheduler = [
    dict(_base_.param_scheduler[0], start_factor=1e-2, end=2),
    dict(_base_.param_scheduler[1], begin=2, eta_min=1e-6),
]
train_cfg = dict(max_epochs=30)
auto_scale_lr = dict(base_batch_size=512)
