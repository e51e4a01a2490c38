# Semantic FPN with CvT-13, ADE20K 512x512, 160k (mmseg's R-50 config
# otherwise).
#
# FPNHead expects four levels, strides 4-32. FPN takes CvT's strides 4/8/16
# and adds the stride-32 level with a stride-2 conv on the last backbone map
# ('on_input').
_base_ = 'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py'
custom_imports = dict(imports=['cvt_backbone'], allow_failed_imports=False)
default_scope = 'mmseg'

pretrained = 'checkpoints/cvt-13_in1k.pth'  # any format the converter reads
model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True, type='CvT', arch='13', out_indices=(0, 1, 2),
        out_norm=True, drop_path_rate=0.1,
        # trained SyncBN: see upernet_cvt13_512x512_160k_ade20k.py
        norm_cfg=dict(type='SyncBN', requires_grad=True), norm_eval=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[64, 192, 384], out_channels=256,
              add_extra_convs='on_input', num_outs=4),
    decode_head=dict(in_channels=[256, 256, 256, 256], in_index=[0, 1, 2, 3],
                     feature_strides=[4, 8, 16, 32], num_classes=150))

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
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=160000,
         by_epoch=False)
]
