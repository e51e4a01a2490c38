# UperNet with a CvT-13 backbone, ADE20K 512x512, 160k iterations
# (4 GPUs x 4 crops). Everything else is mmseg's R-50 config.
#
#   python tools/train.py configs/upernet_cvt13_512x512_160k_ade20k.py
#
# UPerHead fuses CvT's three maps, strides 4/8/16 (64/192/384 channels),
# with its pyramid pooling on the stride-16 map; the auxiliary FCN head
# reads the stride-16 map too (as it reads stage 3 of ResNet/Swin).
_base_ = 'mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py'
custom_imports = dict(imports=['cvt_backbone'], allow_failed_imports=False)
default_scope = 'mmseg'

# An ImageNet CvT checkpoint in any format the converter reads (original
# release, Hugging Face, or this project's classifier checkpoints).
pretrained = 'checkpoints/cvt-13_in1k.pth'
model = dict(
    pretrained=None,  # the base's ResNet weights; CvT uses init_cfg
    backbone=dict(
        _delete_=True,
        type='CvT',
        arch='13',
        out_indices=(0, 1, 2),
        out_norm=True,
        drop_path_rate=0.1,
        # Projection BatchNorm: SyncBN, trained, as mmseg trains its R-50
        # backbones. Segmentation batches are 4 crops of 512x512 per GPU,
        # 16 across GPUs, and every pixel is a training sample, so synced
        # statistics are stable and can adapt to the new domain.
        # (Single-process runs revert SyncBN to BN automatically.) For
        # 1-2 crops per GPU use norm_eval=True (frozen ImageNet statistics)
        # as the detection configs do.
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        norm_eval=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    decode_head=dict(in_channels=[64, 192, 384], in_index=[0, 1, 2],
                     num_classes=150),
    auxiliary_head=dict(in_channels=384, in_index=2, num_classes=150))

# Transformer-backbone optimiser: AdamW, lr 1e-4, weight decay 0.05, none on
# norms, biases and the class token; linear warm-up then poly decay.
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
