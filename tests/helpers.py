"""Helpers shared by the tests (fixtures live in conftest.py).

The numerical oracle is Hugging Face ``transformers``' CvT, an
implementation independent of ours (``cvt_backbone.testing.make_hf_cvt``);
the original-release format is checked through the published HF->original
rename table written out here, apart from the project's converter.
"""
import logging
import os
import os.path as osp
import re
import subprocess
import sys
from collections import OrderedDict
from contextlib import contextmanager

import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(ROOT, 'configs')
TINY_ARCH = dict(embed_dims=[16, 32, 64], depths=[1, 1, 2],
                 num_heads=[1, 2, 2])


def config_path(name: str) -> str:
    return osp.join(CONFIGS, name)


def conv_sizes(h: int, w: int):
    """The three stage sizes for an ``h x w`` input, by the conv arithmetic
    ``floor((H + 2p - k) / s) + 1`` with the paper's (k, s, p), written
    independently of the model's own ``feature_sizes``."""
    sizes = []
    for k, s, p in ((7, 4, 2), (3, 2, 1), (3, 2, 1)):
        h, w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        sizes.append((h, w))
    return sizes


def split_converted(converted: dict):
    """A converted state dict -> (backbone keys, head keys), both bare."""
    backbone = {k[len('backbone.'):]: v for k, v in converted.items()
                if k.startswith('backbone.')}
    head = {k[len('head.'):]: v for k, v in converted.items()
            if k.startswith('head.')}
    assert len(backbone) + len(head) == len(converted)
    return backbone, head


# The published rename table of transformers' conversion script
# (convert_cvt_original_pytorch_checkpoint_to_pytorch.py), HF name -> name
# in the original microsoft/CvT release.
_ATTN = 'attention.attention.'
_TABLE = [
    ('embedding.convolution_embeddings.projection.', 'patch_embed.proj.'),
    ('embedding.convolution_embeddings.normalization.', 'patch_embed.norm.'),
] + [
    (f'{_ATTN}convolution_projection_{hf}.convolution_projection.'
     f'convolution.', f'attn.conv_proj_{o}.conv.')
    for hf, o in (('query', 'q'), ('key', 'k'), ('value', 'v'))
] + [
    (f'{_ATTN}convolution_projection_{hf}.convolution_projection.'
     f'normalization.', f'attn.conv_proj_{o}.bn.')
    for hf, o in (('query', 'q'), ('key', 'k'), ('value', 'v'))
] + [
    (f'{_ATTN}projection_{hf}.', f'attn.proj_{o}.')
    for hf, o in (('query', 'q'), ('key', 'k'), ('value', 'v'))
] + [
    ('attention.output.dense.', 'attn.proj.'),
    ('intermediate.dense.', 'mlp.fc1.'),
    ('output.dense.', 'mlp.fc2.'),
    ('layernorm_before.', 'norm1.'),
    ('layernorm_after.', 'norm2.'),
]


def hf_to_original_reference(hf_state: dict) -> OrderedDict:
    """A ``CvtForImageClassification`` state dict in the original release's
    key names, by the published table."""
    out = OrderedDict()
    for key, value in hf_state.items():
        if key.startswith('layernorm.'):
            out['norm.' + key[len('layernorm.'):]] = value
            continue
        if key.startswith('classifier.'):
            out['head.' + key[len('classifier.'):]] = value
            continue
        m = re.fullmatch(r'cvt\.encoder\.stages\.(\d)\.cls_token', key)
        if m:
            out[f'stage{m.group(1)}.cls_token'] = value
            continue
        m = re.fullmatch(r'cvt\.encoder\.stages\.(\d)\.(layers\.(\d+)\.)?(.*)',
                         key)
        assert m, key
        stage, block, rest = m.group(1), m.group(3), m.group(4)
        for hf, orig in _TABLE:
            if rest.startswith(hf):
                rest = orig + rest[len(hf):]
                break
        else:
            raise AssertionError(f'unmapped HF key {key}')
        where = f'stage{stage}.' + (f'blocks.{block}.' if block else '')
        out[where + rest] = value
    return out


class CodeRunningPickle:
    """Pickles to a call of ``os.system('touch MARKER')``: loading it must be
    refused, and the marker file must never appear."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def run_tool(args, timeout=900, **kw) -> subprocess.CompletedProcess:
    """Run a command line (``tools/...``) from the repository root."""
    env = dict(os.environ, PYTHONUNBUFFERED='1', PYTHON=sys.executable)
    env.update(kw.pop('env', {}))
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout, **kw)


@contextmanager
def captured_log():
    """Messages that mmengine's current logger emits inside the block."""
    from mmengine.logging import MMLogger
    records = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a - b).abs().max().item()


# -- a tiny classification run -----------------------------------------------
TINY_CLS_ARCH = dict(embed_dims=[32, 64, 96], depths=[1, 1, 2],
                     num_heads=[1, 2, 2])


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


def scalars(work_dir):
    """(training records by iteration, validation records) of a run."""
    from cvt_backbone.visualization import read_scalars, split_records
    return split_records(read_scalars(work_dir))


def load_tool(relpath: str):
    """Import a command line under tools/ as a module (tools are scripts,
    not a package)."""
    import importlib.util
    name = osp.splitext(osp.basename(relpath))[0]
    spec = importlib.util.spec_from_file_location(
        f'tool_{name}', osp.join(ROOT, 'tools', relpath))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- images -------------------------------------------------------------------
def psnr(a, b) -> float:
    """Peak signal-to-noise ratio (dB) of two uint8 images."""
    import numpy as np
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64))**2)
    return float('inf') if mse == 0 else 10 * np.log10(255**2 / mse)


def write_jpeg(path, bgr, quality: int = 92, orientation=None) -> str:
    """Write a BGR uint8 image as a JPEG with PIL (an EXIF orientation tag
    when ``orientation`` is given)."""
    from PIL import Image
    img = Image.fromarray(bgr[..., ::-1].copy())
    kw = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        kw['exif'] = exif.tobytes()
    img.save(str(path), 'JPEG', quality=quality, **kw)
    return str(path)


def build_transform(cfg: dict):
    """A transform as mmpretrain's configs build it (its default scope, the
    root registry as parent)."""
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import TRANSFORMS
    init_default_scope('mmpretrain')
    return TRANSFORMS.build(cfg)
