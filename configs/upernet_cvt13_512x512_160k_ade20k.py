# UperNet with a CvT-13 backbone, ADE20K 512x512, 160k iterations
# (4 GPUs x 4 crops). Everything else is mmseg's R-50 config.
#
#   python tools/train.py configs/upernet_cvt13_512x512_160k_ade20k.py
#
# UPerHead fuses CvT's three maps, strides 4/8/16 (64/192/384 channels),
# with its pyramid pooling on the stride-16 map; the auxiliary FCN head
# reads the stride-16 map too (as it reads stage 3 of ResNet/Swin).
#
# Projection BatchNorm: SyncBN, trained, as mmseg trains its R-50 backbones.
# Segmentation batches are 4 crops of 512x512 per GPU, 16 across GPUs, and
# every pixel is a training sample, so synced statistics are stable and can
# adapt to the new domain (single-process runs revert SyncBN to BN). For
# 1-2 crops per GPU use norm_eval=True (frozen ImageNet statistics) as the
# detection configs do. Optimiser and schedule: _base_/cvt_dense.py.
_base_ = [
    'mmseg::upernet/upernet_r50_4xb4-160k_ade20k-512x512.py',
    './_base_/cvt_dense.py'
]
model = dict(
    pretrained=None,  # the base's ResNet weights; CvT uses init_cfg
    backbone=dict(_base_.cvt_backbone,
                  norm_cfg=dict(type='SyncBN', requires_grad=True),
                  norm_eval=False),
    decode_head=dict(in_channels=[64, 192, 384], in_index=[0, 1, 2],
                     num_classes=150),
    auxiliary_head=dict(in_channels=384, in_index=2, num_classes=150))
optim_wrapper = _base_.cvt_optim_wrapper
param_scheduler = _base_.cvt_seg_param_scheduler
