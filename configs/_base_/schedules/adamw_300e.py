# The paper's optimisation (microsoft/CvT yaml + timm scheduler): AdamW,
# lr 2e-3 at total batch 2048 (2.5e-4 per 256 images/GPU x 8 GPUs), scaled
# linearly by auto_scale_lr (tools/train.py --auto-scale-lr) to the batch
# used; weight decay 0.05 (CvT-13) without decay on norms, biases and the
# class token; 300 epochs cosine to 1e-5 after a 5-epoch linear warm-up from
# 1e-6; AMP on GPU (fp16 autocast with loss scaling; tools/train.py falls back to
# fp32 on a CPU-only machine).
base_lr = 2e-3
optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(type='AdamW', lr=base_lr, weight_decay=0.05,
                   betas=(0.9, 0.999), eps=1e-8),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                       custom_keys={'cls_token': dict(decay_mult=0.0)}))
warmup_epochs = 5
max_epochs = 300
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / base_lr, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, T_max=max_epochs - warmup_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(base_batch_size=2048, enable=False)
