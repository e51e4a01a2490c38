# What the segmentation configs share beyond _base_/cvt_dense.py, as
# variables they take with `_base_.<name>` (mmseg's base configs already
# define `model`):
#
# cvt_seg_backbone: cvt_backbone with trained SyncBN in the projections, as
#   mmseg trains its R-50 backbones. Segmentation batches are 4 crops of
#   512x512 per GPU, 16 across GPUs, and every pixel is a training sample,
#   so synced statistics are stable and can adapt to the new domain
#   (single-process runs revert SyncBN to BN). For 1-2 crops per GPU use
#   norm_eval=True (frozen ImageNet statistics) as the detection configs do.
# cvt_upernet: UperNet on that backbone (the model keys over mmseg's R-50
#   UperNet; the number of classes stays mmseg's per dataset). UPerHead
#   fuses CvT's three maps, strides 4/8/16 (64/192/384 channels), with its
#   pyramid pooling on the stride-16 map; the auxiliary FCN head reads the
#   stride-16 map too (as it reads stage 3 of ResNet/Swin). `pretrained`
#   is the base's ResNet weights: CvT uses init_cfg.
_base_ = './cvt_dense.py'

cvt_seg_backbone = dict(
    _base_.cvt_backbone,
    norm_cfg=dict(type='SyncBN', requires_grad=True),
    norm_eval=False)
cvt_upernet = dict(
    pretrained=None,
    backbone=cvt_seg_backbone,
    decode_head=dict(in_channels=[64, 192, 384], in_index=[0, 1, 2]),
    auxiliary_head=dict(in_channels=384, in_index=2))
