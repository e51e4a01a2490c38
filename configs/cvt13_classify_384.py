# CvT-13 at 384 (83.0 top-1 reported): the ImageNet CvT-13 (224) fine-tuned
# at 384 for 30 epochs with layer-wise lr decay (_base_/schedules/
# cvt_finetune_30e.py), the paper's augmentation at 384 and its 384 test
# pipeline (resize to 384 x 384, no crop).
_base_ = [
    './_base_/models/cvt-13.py', './_base_/datasets/imagenet_384.py',
    './_base_/schedules/cvt_finetune_30e.py', './_base_/default_runtime.py'
]
load_from = 'cvt-13'  # the published ImageNet CvT-13 (224), by zoo name
