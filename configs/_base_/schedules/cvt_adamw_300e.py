# The paper's optimisation for CvT-13 (microsoft/CvT yaml + timm scheduler):
# AdamW, lr 2e-3 at total batch 2048 (2.5e-4 per 256 images/GPU x 8 GPUs;
# --auto-scale-lr scales it linearly to the batch used), weight decay 0.05
# without decay on norms, biases, the class token (and the ablations'
# position embeddings, as the release's no_weight_decay); 300 epochs, a
# 5-epoch linear warm-up from 1e-6, then cosine to 1e-5; AMP (fp16 with
# dynamic loss scaling; this project's tools/train.py falls back to fp32
# without a GPU).
# mmpretrain's Swin schedule otherwise.
_base_ = 'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py'

base_lr = 2e-3
warmup_epochs = 5
optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(lr=base_lr, weight_decay=0.05),
    paramwise_cfg=dict(
        _delete_=True,
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        flat_decay_mult=0.0,
        custom_keys={'.cls_token': dict(decay_mult=0.0),
                     '.pos_embed': dict(decay_mult=0.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / base_lr, by_epoch=True,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True,
         begin=warmup_epochs, convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=2048)
