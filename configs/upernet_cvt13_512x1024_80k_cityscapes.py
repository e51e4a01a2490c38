# UperNet with CvT-13, Cityscapes 512x1024 crops, 80k iterations
# (4 GPUs x 2 crops; mmseg's R-50 config otherwise). Backbone, heads and
# optimiser as in upernet_cvt13_512x512_160k_ade20k.py.
_base_ = 'mmseg::upernet/upernet_r50_4xb2-80k_cityscapes-512x1024.py'
custom_imports = dict(imports=['cvt_backbone'], allow_failed_imports=False)
default_scope = 'mmseg'

pretrained = 'checkpoints/cvt-13_in1k.pth'
model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True, type='CvT', arch='13', out_indices=(0, 1, 2),
        out_norm=True, drop_path_rate=0.1,
        # trained SyncBN: 2 crops/GPU of 512x1024 pixels, 8 across 4 GPUs;
        # see upernet_cvt13_512x512_160k_ade20k.py
        norm_cfg=dict(type='SyncBN', requires_grad=True), norm_eval=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=[64, 192, 384], in_index=[0, 1, 2],
                     num_classes=19),
    auxiliary_head=dict(in_channels=384, in_index=2, num_classes=19))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999),
                   weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.,
                       custom_keys={'cls_token': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
         end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=80000,
         by_epoch=False)
]
