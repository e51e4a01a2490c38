# CvT-13 on ImageNet-1k at 224, the paper's recipe (81.6 top-1 reported), as
# an mmpretrain config: this project's tools or mmpretrain's own run it.
#   python tools/train.py configs/cvt13_classify.py                # 1 process
#   bash tools/dist_train.sh configs/cvt13_classify.py 8 --auto-scale-lr
# Expects data/imagenet/{train,val}/<class>/*.JPEG (another root:
#   --cfg-options train_dataloader.dataset.data_root=... val_dataloader...).
_base_ = [
    './_base_/models/cvt-13.py', './_base_/datasets/imagenet_224.py',
    './_base_/schedules/cvt_adamw_300e.py', './_base_/default_runtime.py'
]
