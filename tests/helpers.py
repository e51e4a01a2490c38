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
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(ROOT, 'configs')
TINY_ARCH = dict(embed_dims=[16, 32, 64], depths=[1, 1, 2],
                 num_heads=[1, 2, 2])
# the CvT the dense configs are shrunk to (shrink)
TINY_DENSE_ARCH = dict(embed_dims=[16, 32, 48], depths=[1, 1, 1],
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


# -- a stand-in for the Hugging Face Hub and plain file URLs -----------------
class FakeHub:
    """An HTTP server on 127.0.0.1 that answers like the Hugging Face Hub
    for the repos added to it (``/<org>/<name>/resolve/<rev>/<file>`` with
    the headers ``huggingface_hub`` needs, 404 with ``X-Error-Code``) and
    serves plain files (``/files/<name>``). ``cut`` files send their full
    ``Content-Length`` and then close the connection half-way.

    Use as a context manager; ``url`` is the endpoint (``HF_ENDPOINT``),
    ``requests`` the paths asked for.
    """

    COMMIT = 'a' * 40

    def __init__(self) -> None:
        self.repos = {}
        self.files = {}
        self.cut = set()
        self.requests = []
        self._server = None

    def add_repo(self, repo_id: str, folder) -> None:
        """Serve the files of ``folder`` (e.g. a ``save_pretrained`` output)
        as the Hugging Face repo ``repo_id``."""
        self.repos[repo_id] = {
            name: open(osp.join(folder, name), 'rb').read()
            for name in os.listdir(folder)
            if osp.isfile(osp.join(folder, name))}

    def add_file(self, name: str, data: bytes, cut: bool = False) -> str:
        """Serve ``data`` at ``/files/<name>``; returns its URL."""
        self.files[name] = data
        if cut:
            self.cut.add(name)
        return f'{self.url}/files/{name}'

    @property
    def url(self) -> str:
        host, port = self._server.server_address
        return f'http://{host}:{port}'

    def _lookup(self, path: str):
        """(status, headers, body) for a request path."""
        import hashlib
        import json
        path = path.split('?')[0]
        if path.startswith('/files/'):
            name = path[len('/files/'):]
            if name not in self.files:
                return 404, {}, b'not found', None
            return 200, {}, self.files[name], name
        m = re.fullmatch(r'/api/models/([^/]+/[^/]+)(?:/revision/.+)?', path)
        if m:
            if m.group(1) not in self.repos:
                return 404, {'X-Error-Code': 'RepoNotFound'}, b'{}', None
            body = json.dumps(dict(id=m.group(1), sha=self.COMMIT, siblings=[
                dict(rfilename=f) for f in self.repos[m.group(1)]]))
            return 200, {'Content-Type': 'application/json'}, \
                body.encode(), None
        m = re.fullmatch(r'/([^/]+/[^/]+)/resolve/([^/]+)/(.+)', path)
        if not m or m.group(1) not in self.repos:
            return 404, {'X-Error-Code': 'RepoNotFound',
                         'X-Error-Message': 'Repository not found'}, b'', None
        files = self.repos[m.group(1)]
        if m.group(3) not in files:
            return 404, {'X-Error-Code': 'EntryNotFound',
                         'X-Error-Message': 'Entry not found'}, b'', None
        data = files[m.group(3)]
        return 200, {'X-Repo-Commit': self.COMMIT,
                     'ETag': f'"{hashlib.sha256(data).hexdigest()}"'}, \
            data, m.group(3)

    def __enter__(self) -> 'FakeHub':
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, body_too: bool) -> None:
                hub.requests.append((self.command, self.path))
                status, headers, body, name = hub._lookup(self.path)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                if not body_too:
                    return
                if name in hub.cut:
                    self.wfile.write(body[:len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def do_HEAD(self):
                self._answer(False)

            def do_GET(self):
                self._answer(True)

        self._server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def hub_env(hub_url: str, home, offline: bool = False) -> dict:
    """Environment variables pointing huggingface_hub and this project's
    URL cache at a test hub and test caches (for tools run in a
    subprocess)."""
    return dict(HF_ENDPOINT=hub_url, HF_HOME=str(home / 'hf'),
                CVT_BACKBONE_CACHE=str(home / 'urls'),
                HF_HUB_OFFLINE='1' if offline else '0',
                HF_HUB_DISABLE_TELEMETRY='1')


PUBLISHED_LABELS = {i: f'class_{i}_name' for i in range(1000)}


def serve_published(hub: 'FakeHub', published: dict) -> dict:
    """Serve the ``published`` fixture's model as the repo
    ``microsoft/cvt-13`` (so the zoo name ``cvt-13`` finds it) and as two
    plain URLs (Hugging Face and original-release layouts); returns the
    URLs."""
    root = published['root']
    hub.add_repo('microsoft/cvt-13', root / 'hf')
    return dict(
        url_bin=hub.add_file('cvt13.bin',
                             (root / 'pytorch_model.bin').read_bytes()),
        url_orig=hub.add_file('CvT-13-224x224-IN-1k.pth',
                              (root / 'CvT-13-orig.pth').read_bytes()))


# -- tiny versions of the configs --------------------------------------------
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


# -- ONNX --------------------------------------------------------------------
def ort_outputs(path: str, x: torch.Tensor) -> dict:
    """Run an ONNX file in onnxruntime (CPU) on ``x``, independently of the
    package's own checker: ``{output name: tensor}``."""
    import onnxruntime as ort
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    feed = {session.get_inputs()[0].name: x.numpy()}
    names = [o.name for o in session.get_outputs()]
    return {n: torch.from_numpy(v)
            for n, v in zip(names, session.run(None, feed))}


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
