# CvT-21 at 384 (83.3 top-1 reported): the ImageNet CvT-21 (224) fine-tuned
# at 384 as in cvt13_classify_384.py, with CvT-21's weight decay 0.1.
_base_ = [
    './_base_/models/cvt-21.py', './_base_/datasets/imagenet_384.py',
    './_base_/schedules/cvt_finetune_30e.py', './_base_/default_runtime.py'
]
load_from = 'cvt-21'  # the published ImageNet CvT-21 (224), by zoo name
optim_wrapper = dict(optimizer=dict(weight_decay=0.1))
train_dataloader = dict(batch_size=32)
