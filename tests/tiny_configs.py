"""The repository's configs made tiny, with their structure unchanged, so
that tests build, run and train them in seconds: the dense configs with
the tiny dense CvT and narrow necks/heads (:func:`shrink`), the classifier
config with a small head (:func:`tiny_classifier_config`) and the demo
config as a few-epoch CPU run on 32 px images (:func:`tiny_cls_config`).
The tiny layouts are ``cvt_backbone.testing.archs``."""
import os.path as osp

from mmengine.config import Config

from cvt_backbone.testing import TINY_CLS_ARCH, TINY_DENSE_ARCH

CONFIGS = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                   'configs')


def config_path(name: str) -> str:
    return osp.join(CONFIGS, name)


def shrink(cfg: Config) -> Config:
    """The config's model with a tiny CvT and narrow neck/heads, so the
    full-size inputs run in seconds; the structure is unchanged."""
    m = cfg.model
    m.backbone.arch = TINY_DENSE_ARCH
    m.backbone.init_cfg = None
    m.backbone.norm_cfg = dict(type='BN')
    dims = [TINY_DENSE_ARCH['embed_dims'][i] for i in m.backbone.out_indices]
    c = 16
    if cfg.default_scope == 'mmdet':
        m.neck.in_channels, m.neck.out_channels = dims, c
        if 'rpn_head' in m:
            m.rpn_head.in_channels = m.rpn_head.feat_channels = c
            r = m.roi_head
            r.bbox_roi_extractor.out_channels = c
            r.mask_roi_extractor.out_channels = c
            r.bbox_head.in_channels, r.bbox_head.fc_out_channels = c, 32
            r.mask_head.in_channels = r.mask_head.conv_out_channels = c
            m.train_cfg.rpn_proposal.nms_pre = 200
            m.test_cfg.rpn.nms_pre = 200
        else:
            m.bbox_head.in_channels = m.bbox_head.feat_channels = c
            m.bbox_head.stacked_convs = 1
    else:
        for head in ('decode_head', 'auxiliary_head'):
            if head in m:
                m[head].norm_cfg = dict(type='BN')
                m[head].channels = c
        if 'neck' in m:
            m.neck.in_channels, m.neck.out_channels = dims, c
            m.decode_head.in_channels = [c] * 4
        else:
            m.decode_head.in_channels = dims
            m.auxiliary_head.in_channels = dims[-1]
    return cfg


def tiny_classifier_config(num_classes: int = 10):
    """``configs/cvt13_classify.py`` (an mmpretrain ImageClassifier) with
    the tiny dense CvT and a ``num_classes`` head."""
    cfg = Config.fromfile(config_path('cvt13_classify.py'))
    cfg.model.backbone.arch = TINY_DENSE_ARCH
    cfg.model.head.in_channels = TINY_DENSE_ARCH['embed_dims'][-1]
    cfg.model.head.num_classes = num_classes
    return cfg


def tiny_cls_config(path, data_root: str, max_epochs: int = 4,
                    deterministic: bool = True, extra: str = '') -> str:
    """The demo config (an mmpretrain config) with a small CvT, 32 px
    images from ``data_root`` and no loader workers, written to ``path``;
    ``extra`` is appended (more overrides)."""
    arch = dict(TINY_CLS_ARCH, _delete_=True)
    text = f"""
_base_ = [{config_path('demo_cvt13_synthetic.py')!r}]
data_root = {data_root!r}
model = dict(backbone=dict(arch={arch!r}, drop_path_rate=0.1),
             head=dict(in_channels=96))
train_pipeline = [
    dict(t, scale=32) if t['type'] == 'RandomResizedCrop' else t
    for t in _base_.train_pipeline
]
train_dataloader = dict(batch_size=16, num_workers=0,
                        persistent_workers=False,
                        dataset=dict(data_root=data_root,
                                     pipeline=train_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(lr=2e-3))
max_epochs = {max_epochs}
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(logger=dict(interval=2),
                     checkpoint=dict(max_keep_ckpts=-1, save_best=None))
randomness = dict(seed=0, deterministic={deterministic})
{extra}
"""
    with open(path, 'w') as f:
        f.write(text)
    return str(path)


def tiny_export_config(path, act: str = 'GELU', num_classes: int = 10,
                       base: str = 'cvt13_classify.py') -> str:
    """A classification config (``base``: its recipe and test pipeline)
    with a tiny CvT (``TINY_ARCH``'s widths with depths 1/2/3:
    transformers' CvT builds only archs with more than ``i`` blocks in
    stage ``i``), MLP activation ``act`` and ``num_classes`` classes,
    written to ``path``."""
    from cvt_backbone.testing import TINY_ARCH
    arch = dict(TINY_ARCH, depths=[1, 2, 3], _delete_=True)
    text = f"""
_base_ = [{config_path(base)!r}]
model = dict(backbone=dict(arch={arch!r}, act_cfg=dict(type={act!r})),
             head=dict(in_channels={TINY_ARCH['embed_dims'][-1]},
                       num_classes={num_classes}))
"""
    with open(path, 'w') as f:
        f.write(text)
    return str(path)
