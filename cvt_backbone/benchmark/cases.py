"""What the benchmark measures: the cases (input sizes and modes), the
implementations the model cases compare (:data:`VARIANTS`) and the input
pipelines the pipeline case compares (:data:`PIPELINES`).

Adding an implementation to the model cases is one :class:`Variant` entry
in :data:`VARIANTS`: its name (``--variants``), its label in the tables,
the modes and dtypes it is measured in, and how it is built: ``build``
(``'ours'`` through :func:`cvt_backbone.apis.build_model`, ``'theirs'``:
``transformers``), ``backbone`` (``CvT`` keyword arguments, e.g.
``with_cp=True``), ``fuse`` (BatchNorms folded for inference),
``compile`` (``torch.compile``), ``onnx`` (keyword arguments of
:func:`cvt_backbone.deploy.export_onnx`: the variant is measured in
onnxruntime on that export). A variant that needs another kind of build
adds a field here and its case in :func:`.models.build_variant`. Adding
an input size is one entry in :data:`CASES`.
"""
import json
import os.path as osp
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

# the source checkout the benchmark runs in: the pipeline and trainloop
# cases time its configs/cvt13_classify.py and its tools/train.py
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLASSIFY_CONFIG = osp.join(REPO_ROOT, 'configs', 'cvt13_classify.py')
TRAIN_SCRIPT = osp.join(REPO_ROOT, 'tools', 'train.py')
NUM_CLASSES = 1000  # of the classifier training step (trainstep*)

# name -> mode, batch, H, W. Modes: infer / train (the backbone, featmap
# out, squared-mean loss), train_cls (the classifier: class token, Linear,
# cross-entropy), pipeline (batch = images per step: 1), trainloop (batch of
# the tools/train.py run).
CASES: Dict[str, Dict[str, Any]] = {
    'infer224': dict(mode='infer', batch=32, h=224, w=224),
    'infer512': dict(mode='infer', batch=1, h=512, w=512),
    'infer1024': dict(mode='infer', batch=1, h=1024, w=1024),
    'infer800x1333': dict(mode='infer', batch=1, h=800, w=1333),
    'train224': dict(mode='train', batch=16, h=224, w=224),
    'train512': dict(mode='train', batch=2, h=512, w=512),
    'trainstep224': dict(mode='train_cls', batch=16, h=224, w=224),
    'trainstep384': dict(mode='train_cls', batch=8, h=384, w=384),
    'pipeline': dict(mode='pipeline', batch=1, h=224, w=224),
    'trainloop': dict(mode='trainloop', batch=32, h=224, w=224),
}
MODEL_MODES = ('infer', 'train', 'train_cls')
DTYPES = ('fp32', 'bf16')


@dataclass(frozen=True)
class Variant:
    """One implementation measured by the model cases (see the module
    docstring for what each field does)."""
    name: str
    label: str
    build: str = 'ours'
    modes: Tuple[str, ...] = MODEL_MODES
    dtypes: Tuple[str, ...] = DTYPES
    backbone: Mapping[str, Any] = field(default_factory=dict)
    fuse: bool = True
    compile: bool = False
    onnx: Optional[Mapping[str, Any]] = None
    default: bool = False

    @property
    def runtime(self) -> str:
        """The label without ``'ours, '`` (``'onnxruntime (opset 18)'``),
        as the notes comparing runtimes name it."""
        return self.label.removeprefix('ours, ')


VARIANTS: Dict[str, Variant] = {v.name: v for v in (
    # eager, BatchNorm folded for inference
    Variant('ours', 'ours', default=True),
    Variant('theirs', 'transformers', build='theirs', default=True),
    Variant('ours_cp', 'ours, with_cp', modes=('train', ),
            backbone=dict(with_cp=True), default=True),
    # for training: forward and backward compiled, the optimizer step eager
    Variant('ours_compile', 'ours, torch.compile', compile=True),
    Variant('ours_unfused', 'ours, BatchNorm not folded', modes=('infer', ),
            fuse=False),
    # onnxruntime (CPU, torch's intra-op thread count) on the fused model
    # exported at opset 18 (the default: attention as MatMul/Softmax, the
    # T x T matrix materialised) and at opset 23 (ONNX's Attention op)
    Variant('ours_onnx', 'ours, onnxruntime (opset 18)', modes=('infer', ),
            dtypes=('fp32', ), onnx=dict(opset=18, attention='full')),
    Variant('ours_onnx23', 'ours, onnxruntime (opset 23)',
            modes=('infer', ), dtypes=('fp32', ),
            onnx=dict(opset=23, attention='full')),
    # the query-chunked attention (deploy/attention.py: an ONNX Scan over
    # query chunks, no full T x T matrix), the export's default
    Variant('ours_onnx_chunked', 'ours, onnxruntime (opset 18, chunked)',
            modes=('infer', ), dtypes=('fp32', ),
            onnx=dict(opset=18, attention='chunked')),
    Variant('ours_onnx23_chunked', 'ours, onnxruntime (opset 23, chunked)',
            modes=('infer', ), dtypes=('fp32', ),
            onnx=dict(opset=23, attention='chunked')),
)}
DEFAULT_VARIANTS = tuple(n for n, v in VARIANTS.items() if v.default)


def applies(variant: str, mode: str, dtype: str) -> bool:
    """Whether ``variant`` is measured in a case of ``mode``/``dtype``."""
    v = VARIANTS[variant]
    return mode in v.modes and dtype in v.dtypes


def variant_label(name: str) -> str:
    """A variant's name in the tables (the name itself for one this
    version no longer has, as an older ``results.json`` may)."""
    return VARIANTS[name].label if name in VARIANTS else name


# the pipeline case: decode alone, then the three pipelines
PIPELINES: Dict[str, str] = {
    'decode': 'JPEG decode alone (OpenCV)',
    'mmpretrain': "mmpretrain's Swin/DeiT ImageNet pipeline",
    'ours': 'ours (configs/cvt13_classify.py)',
    'timm': "timm's create_transform (PIL)",
}


def parse_arch(arch: Any) -> Dict[str, List[int]]:
    """``'13'``/``'cvt-21'``/``'w24'``, a dict or its JSON -> per-stage
    ``embed_dims``, ``depths``, ``num_heads`` (resolved by ``CvT``)."""
    from cvt_backbone.models import CvT
    if isinstance(arch, str) and arch.lstrip().startswith('{'):
        arch = json.loads(arch)
    full = CvT.resolve_arch(arch)
    return {k: list(full[k]) for k in ('embed_dims', 'depths', 'num_heads')}


def parse_size(text: str) -> Tuple[str, Dict[str, int]]:
    """``'infer224=2x64x64'`` -> ``('infer224', {'batch': 2, 'h': 64,
    'w': 64})``: a case's size override."""
    case, _, dims = text.partition('=')
    try:
        b, h, w = (int(v) for v in dims.lower().split('x'))
    except ValueError:
        raise ValueError(f'size {text!r}: expected CASE=BxHxW, e.g. '
                         'infer224=2x64x64') from None
    if case not in CASES:
        raise ValueError(f'size {text!r}: unknown case {case!r}; known: '
                         f'{list(CASES)}')
    return case, dict(batch=b, h=h, w=w)
