# CvT-13 for the transfer study (the paper's Table 4): the published
# ImageNet-22k model (pre-trained on 22k, fine-tuned on 1k at 384; zoo name
# cvt-13-384-22k, downloaded once from the Hugging Face Hub) as the
# backbone, its final LayerNorm included, and a new Linear head for the
# target classes (the leaf configs set num_classes). The paper gives no
# head or loss details; chosen as ViT's fine-tuning (the protocol it
# follows): the head starts at zero, plain cross-entropy (no label
# smoothing, Mixup or CutMix). Drop path stays the arch's [0, 0, 0.1].
_base_ = './cvt-13.py'

model = dict(
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint='cvt-13-384-22k')),
    head=dict(
        loss=dict(_delete_=True, type='CrossEntropyLoss', loss_weight=1.0),
        init_cfg=dict(_delete_=True, type='Constant', layer='Linear',
                      val=0.)),
    train_cfg=None)
