# What every mmdet/mmseg config here shares, as variables the configs take
# with `_base_.<name>` (mmdet's/mmseg's own base configs already define
# `model`, `optim_wrapper` and `param_scheduler`, and mmengine allows no key
# in two bases):
#
# cvt_backbone: CvT-13 for dense prediction: the stride-4/8/16 maps
#   (64/192/384 channels), a LayerNorm on each (new parameters), drop path
#   0.1, initialised from the published ImageNet CvT-13. Projection
#   BatchNorm: frozen ImageNet statistics (norm_eval) for detection's 2
#   images per GPU, whose batch statistics are noisy and far from the
#   classification ones; the affine parameters still train. Segmentation
#   configs switch to trained SyncBN. Any checkpoint
#   source works in init_cfg: a zoo name, a Hugging Face repo id, a URL or a
#   file, in the original release's, Hugging Face's or this project's layout.
# cvt_optim_wrapper: the transformer-backbone fine-tuning optimiser: AdamW,
#   lr 1e-4, weight decay 0.05, none on norms (LayerNorm and BatchNorm),
#   biases and the class token.
# cvt_seg_param_scheduler: mmseg's Swin schedule for AdamW: linear warm-up
#   over 1,500 iterations, then poly decay (power 1) to 0 at 160k.
custom_imports = dict(imports=['cvt_backbone'], allow_failed_imports=False)

cvt_backbone = dict(
    _delete_=True,
    type='CvT',
    arch='13',
    out_indices=(0, 1, 2),
    out_norm=True,
    drop_path_rate=0.1,
    norm_cfg=dict(type='BN', requires_grad=True),
    norm_eval=True,
    frozen_stages=-1,
    with_cp=False,  # True trades compute for memory at 800x1333
    # the published ImageNet CvT-13 by its model-zoo name: downloaded once
    # from the Hugging Face Hub (microsoft/cvt-13) and converted on the fly
    init_cfg=dict(type='Pretrained', checkpoint='cvt-13'))
cvt_optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999),
                   weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.,
                       custom_keys={'.cls_token': dict(decay_mult=0.)}))
cvt_seg_param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
         end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=160000,
         by_epoch=False),
]
