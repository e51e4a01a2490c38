# The ablation demo (`make demo-ablation`, tools/demo_ablation.py): the
# paper's Table 7 question (key/value stride 1 or 2 in the convolutional
# projection) rerun at toy scale on the generated synthetic set, on the CPU.
# The embedded demo (demo_cvt13_synthetic.py) with a small CvT (widths
# 32/64/96, depths 1/1/2) so that both runs take a minute or two each; the
# demo trains it twice, with `model.backbone.kv_stride` 1 and 2. At this
# scale (64 px, 1,800 images, a few epochs) the comparison says nothing
# about ImageNet's 82.3 vs 81.6.
_base_ = ['./demo_cvt13_synthetic.py']
model = dict(
    backbone=dict(arch=dict(_delete_=True, embed_dims=[32, 64, 96],
                            depths=[1, 1, 2],
                            num_heads=[1, 2, 2]),
                  kv_stride=2, drop_path_rate=0.),
    head=dict(in_channels=96))
max_epochs = 5
optim_wrapper = dict(optimizer=dict(lr=2e-3))
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(max_keep_ckpts=1, save_best=None))
work_dir = 'work_dirs/demo_ablation'
