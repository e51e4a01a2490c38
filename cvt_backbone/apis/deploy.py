"""ONNX export of CvT models, checked against torch in onnxruntime.

What can be exported (``part``), from a bare :class:`CvT` or a model built
from a config by :func:`build_model_for_export`:

* ``'backbone'``: the CvT alone; outputs ``stage0``, ``stage1``, ``stage2``
  (``[B, C_i, H_i, W_i]``, strides 4/8/16; a dense model's backbone keeps its
  ``out_indices`` and output LayerNorms, a classifier's backbone gives its
  three raw stage maps instead of the class token);
* ``'classifier'``: an mmpretrain ``ImageClassifier``: what
  ``model(x, mode='tensor')`` computes, ``input`` ``[B, 3, H, W]`` (the
  normalised image) -> ``logits`` ``[B, num_classes]``;
* ``'segmenter'``: an mmseg ``EncoderDecoder``: ``model(x, mode='tensor')``
  (stride-4 logits) resized bilinearly to the input size as mmseg's
  ``postprocess_result`` does -> ``seg_logits`` ``[B, num_classes, H, W]``;
* ``'features'``: an mmdet detector's backbone + neck
  (``model.extract_feat``): ``neck0`` ... ``neck{n-1}``. The whole detector
  is refused (see :data:`DETECTOR_NOT_EXPORTED`).

Batch, height and width are dynamic. With ``bake_normalization=True`` the
graph takes ``image``, the pixel values the config's data preprocessor
receives (0-255, channel order as loaded), and applies the preprocessor's
channel flip and mean/std itself.

Exporter and opset. ``torch.onnx.export(dynamo=True)`` (torch.export, the
default exporter since torch 2.9; it needs onnxscript) at opset 18 by
default:

* the TorchScript exporter (``dynamo=False``) is deprecated in torch 2.14
  and its tracer records the Python size arithmetic in CvT's token
  reshapes (``B, T, C = x.shape`` ... ``view(B, T, C // 2, 2)``) as
  constants, so its graph fails at any other input size; torch.export
  traces sizes symbolically, so the model's own code gives a graph with
  dynamic batch, height and width;
* opset 18 is the one torch's ONNX functions are written for (no version
  conversion). It has ``LayerNormalization`` (opset >= 17) and the ops
  ``F.scaled_dot_product_attention`` with an explicit ``scale`` decomposes
  into (opset >= 14: MatMul, Softmax). Opsets 17 (through onnx's version
  converter; TensorRT 8.6 reads up to 17) to 23 (ONNX's native
  ``Attention`` op) are accepted; below 17 ``LayerNormalization`` does not
  exist and torch.onnx would silently write opset 18, so it is refused.

Before export the projection BatchNorms are folded (:meth:`CvT.fuse`) and
two kinds of head module that would fix the export size into the graph are
replaced by equivalents: ``nn.AdaptiveAvgPool2d`` with an output larger
than 1x1 (the pyramid pooling of mmseg's UPerHead/PSPHead) by
:class:`DynamicAdaptiveAvgPool2d` (both exporters compute the pooling
windows from the export-time size: the TorchScript one refuses, the dynamo
one bakes the indices in; mmdeploy lists such heads as static-shape only),
and mmseg's ``Upsample`` by an integer factor (Semantic FPN's head) by
:class:`DynamicUpsample`. The reference for the checks is the model as
built (BatchNorms unfolded, the original modules), so the check covers the
folding, the replacements and the export, at input sizes other than the
export size.
"""
import copy
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ..models import CvT
from ..utils import CheckpointError

DEFAULT_OPSET = 18
MIN_OPSET = 17
MAX_OPSET = 23
DEFAULT_TOLERANCE = 1e-4
PARTS = ('backbone', 'classifier', 'segmenter', 'features')
DETECTOR_NOT_EXPORTED = (
    'a whole mmdet detector is not exported: its test-time post-processing '
    '(RPN proposals and NMS with a data-dependent number of boxes, mmcv\'s '
    'RoIAlign in two-stage heads) has no standard ONNX form and needs '
    'mmdeploy\'s rewriters and custom onnxruntime/TensorRT ops. Export '
    "part='features' (backbone + neck: the multi-scale maps the heads "
    "read, dynamic in size) or part='backbone', and run the heads and the "
    'post-processing in mmdet on those maps')
HW = Tuple[int, int]


class OnnxMismatchError(AssertionError):
    """onnxruntime's outputs differ from torch's by more than the
    tolerance."""


@dataclass
class OnnxExport:
    """What :func:`export_onnx` wrote and measured.

    ``io_shapes``: each graph input's and output's dims as written (names
    for the dynamic ones). ``checks``: one dict per checked input,
    ``{'shape': (B, C, H, W), 'max_abs_diff': float,
    'per_output': {name: float}}``.
    """

    path: str
    part: str
    opset: int
    input_name: str
    output_names: List[str]
    export_shape: Tuple[int, int, int, int]
    bake_normalization: bool
    tolerance: Optional[float]
    io_shapes: Dict[str, list] = field(default_factory=dict)
    checks: List[Dict] = field(default_factory=list)

    @property
    def max_abs_diff(self) -> float:
        return max((c['max_abs_diff'] for c in self.checks), default=0.)


# -- building the model ------------------------------------------------------
def _models_registry(scope: str):
    """The MODELS registry of the library a config's ``default_scope``
    names."""
    if scope == 'mmpretrain':
        from mmpretrain.registry import MODELS
    elif scope == 'mmseg':
        from mmseg.registry import MODELS
    elif scope == 'mmdet':
        from mmdet.registry import MODELS
    else:
        raise ValueError(
            f"config default_scope {scope!r}: expected 'mmpretrain' "
            "(classifier), 'mmseg' (segmenter) or 'mmdet' (detector)")
    return MODELS


def resolve_config(config) -> Tuple[object, str, Optional[str]]:
    """``(Config, description, default checkpoint)`` for ``config``: an
    mmengine ``Config``, a config file, or a model-zoo name (``'cvt-13'``:
    the published classifier, as :func:`cvt_backbone.get_model` builds it,
    with its published weights as the default checkpoint)."""
    from mmengine.config import Config

    from ..hub import find_model, list_models
    from .model_zoo import classifier_config
    if isinstance(config, Config):
        return config, 'the config', None
    if osp.isfile(config):
        return Config.fromfile(config), config, None
    spec = find_model(config)
    if spec is None:
        raise FileNotFoundError(
            f'{config!r} is neither a config file nor a model-zoo name '
            f'({list_models()})')
    return (classifier_config(spec.arch, resolution=spec.resolution),
            f'the {spec.name} classifier', spec.name)


def build_model_for_export(config, checkpoint: Optional[str] = None
                           ) -> nn.Module:
    """The model of ``config`` (a config file, an mmengine ``Config`` or a
    model-zoo name, see :func:`resolve_config`) with the weights of
    ``checkpoint`` (any source: file, URL, Hugging Face repo, zoo name; a
    published CvT layout is converted), on the CPU, in eval mode.

    Built through the config's library registry as its Runner builds it
    (the top-level ``data_preprocessor`` goes into the model as
    mmpretrain's does), SyncBN reverted to BatchNorm (mmengine's
    ``revert_sync_batchnorm``), and loaded with mmengine's
    ``load_checkpoint(strict=True)``: a checkpoint whose keys or shapes do
    not fit the config raises :class:`CheckpointError` naming them.
    The backbone's ``init_cfg`` is not run (the checkpoint holds every
    weight). ``checkpoint=None`` keeps the weights as built (tests).
    """
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import init_default_scope
    config, name, _ = resolve_config(config)
    scope = config.get('default_scope')
    registry = _models_registry(scope)
    init_default_scope(scope)
    model_cfg = copy.deepcopy(config.model)
    if config.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', config.data_preprocessor)
    model = revert_sync_batchnorm(registry.build(model_cfg))
    if checkpoint is not None:
        load_strict(model, checkpoint, name)
    return model.eval()


def load_strict(model: nn.Module, checkpoint: str,
                config_name: str = 'the config') -> None:
    """mmengine's ``load_checkpoint(strict=True)`` on any checkpoint source
    (through this project's ``cvt://`` loader: read safely, a published CvT
    layout converted to the model's keys); a checkpoint whose keys or
    shapes differ from the model raises :class:`CheckpointError` with
    mmengine's list of them (shortened)."""
    from mmengine.runner import load_checkpoint

    from ..hub import as_checkpoint_scheme
    try:
        load_checkpoint(model, as_checkpoint_scheme(checkpoint),
                        map_location='cpu', strict=True, logger='silent')
    except RuntimeError as e:
        detail = ' '.join(str(e).split())
        if len(detail) > 1200:
            detail = detail[:1200] + ' ...'
        raise CheckpointError(
            f'checkpoint {checkpoint} does not match the model of '
            f'{config_name} (keys or shapes differ: weights of another '
            f'architecture, task or number of classes): {detail}') from e


# -- what is exported ------------------------------------------------------
def _cvt_of(model: nn.Module) -> CvT:
    backbone = model if isinstance(model, CvT) else getattr(
        model, 'backbone', None)
    if not isinstance(backbone, CvT):
        raise ValueError(
            f'{type(model).__name__} has no CvT backbone (found '
            f'{type(backbone).__name__}): this exporter serves CvT models')
    return backbone


def model_kind(model: nn.Module) -> str:
    """``'backbone'`` (a bare CvT), ``'classifier'`` (mmpretrain
    ``ImageClassifier``), ``'segmenter'`` (mmseg ``EncoderDecoder``) or
    ``'detector'`` (mmdet)."""
    _cvt_of(model)
    if isinstance(model, CvT):
        return 'backbone'
    from mmpretrain.models import ImageClassifier
    if isinstance(model, ImageClassifier):
        return 'classifier'
    from mmseg.models.segmentors import EncoderDecoder
    if isinstance(model, EncoderDecoder):
        return 'segmenter'
    from mmdet.models.detectors import BaseDetector
    if isinstance(model, BaseDetector):
        return 'detector'
    raise ValueError(f'cannot export a {type(model).__name__}: expected a '
                     'CvT, an mmpretrain ImageClassifier, an mmseg '
                     'EncoderDecoder or an mmdet detector')


def resolve_part(model: nn.Module, part: str = 'auto') -> str:
    """Check that ``part`` can be exported from ``model``; ``'auto'`` is
    the whole model (the backbone of a bare CvT)."""
    kind = model_kind(model)
    allowed = {'backbone': ('backbone', ),
               'classifier': ('classifier', 'backbone'),
               'segmenter': ('segmenter', 'backbone'),
               'detector': ('features', 'backbone')}[kind]
    if part == 'auto':
        if kind == 'detector':
            raise ValueError(DETECTOR_NOT_EXPORTED)
        return kind
    if part == 'detector' or (kind == 'detector' and part not in allowed):
        raise ValueError(DETECTOR_NOT_EXPORTED)
    if part not in allowed:
        raise ValueError(f'part {part!r} cannot be exported from a {kind} '
                         f'({type(model).__name__}); it has {list(allowed)}')
    return part


class _Backbone(nn.Module):
    """The CvT's stage maps (a class-token backbone gives its three raw
    stage maps: a copy set to ``out_type='featmap'``, ``out_indices=(0, 1,
    2)``, ``out_norm=False``, which is what CvT's constructor would build
    with those arguments, minus the unused final norm)."""

    def __init__(self, backbone: CvT) -> None:
        super().__init__()
        if backbone.out_type == 'cls_token':
            backbone = copy.deepcopy(backbone)
            backbone.out_type = 'featmap'
            backbone.out_indices = tuple(range(backbone.num_stages))
            backbone.out_norm = False
            # the last block of a classifier computes only the class token
            backbone.stages[-1].blocks[-1].cls_only = False
        self.backbone = backbone

    def output_names(self) -> List[str]:
        return [f'stage{i}' for i in self.backbone.out_indices]

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        return tuple(self.backbone(x))


class _ModelPart(nn.Module):
    """A part of an OpenMMLab model to export; ``output_names()`` names the
    graph's outputs."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model


class _Classifier(_ModelPart):

    def output_names(self) -> List[str]:
        return ['logits']

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x, mode='tensor')


class _Segmenter(_ModelPart):
    """``mode='tensor'`` logits resized to the input size (mmseg's
    ``resize``, bilinear, the decode head's ``align_corners``)."""

    def output_names(self) -> List[str]:
        return ['seg_logits']

    def forward(self, x: Tensor) -> Tensor:
        from mmseg.models.utils import resize
        return resize(self.model(x, mode='tensor'), size=x.shape[2:],
                      mode='bilinear', align_corners=self.model.align_corners,
                      warning=False)


class _Features(_ModelPart):
    """A detector's ``extract_feat``: backbone + neck."""

    def output_names(self) -> List[str]:
        neck = getattr(self.model, 'neck', None)
        num_outs = getattr(neck, 'num_outs', None)
        if not isinstance(num_outs, int):
            raise ValueError(f'the neck {type(neck).__name__} '
                             'does not say how many maps it returns '
                             '(num_outs); expected an FPN-like neck')
        return [f'neck{i}' for i in range(num_outs)]

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        return tuple(self.model.extract_feat(x))


def _part_module(model: nn.Module, part: str) -> nn.Module:
    if part == 'backbone':
        return _Backbone(_cvt_of(model))
    return {'classifier': _Classifier, 'segmenter': _Segmenter,
            'features': _Features}[part](model)


# -- export-time replacements ----------------------------------------------
class DynamicAdaptiveAvgPool2d(nn.Module):
    """``nn.AdaptiveAvgPool2d`` whose windows follow the input size in an
    exported graph.

    Same windows as PyTorch's (bin ``i`` of ``n`` over a length ``L`` covers
    ``[floor(i L / n), ceil((i + 1) L / n))``), computed from the input's
    size with tensor ops and applied as two averaging matrices:
    ``[B, C, H, W]`` -> ``P_h [n_h, H] @ x @ P_w^T [W, n_w]`` =
    ``[B, C, n_h, n_w]``. Kept here because no library provides a
    dynamic-shape ONNX form of adaptive pooling (torch's exporters bake the
    export size in; mmdeploy supports pyramid pooling at static shapes only).
    """

    def __init__(self, output_size) -> None:
        super().__init__()
        size = ((output_size, output_size) if isinstance(output_size, int)
                else tuple(output_size))
        if len(size) != 2 or not all(isinstance(s, int) and s > 0
                                     for s in size):
            raise ValueError('DynamicAdaptiveAvgPool2d needs a positive int '
                             f'output size or two of them, got {output_size}')
        self.output_size = size

    @staticmethod
    def window_matrix(length, bins: int, like: Tensor) -> Tensor:
        """``[bins, length]``: row ``i`` averages bin ``i``'s window."""
        i = torch.arange(bins, device=like.device)
        start = torch.div(i * length, bins, rounding_mode='floor')
        end = torch.div((i + 1) * length + bins - 1, bins,
                        rounding_mode='floor')
        j = torch.arange(length, device=like.device)
        inside = (j[None] >= start[:, None]) & (j[None] < end[:, None])
        return inside.to(like.dtype) / (end - start)[:, None].to(like.dtype)

    def forward(self, x: Tensor) -> Tensor:
        ph = self.window_matrix(x.shape[-2], self.output_size[0], x)
        pw = self.window_matrix(x.shape[-1], self.output_size[1], x)
        return torch.matmul(torch.matmul(ph, x), pw.transpose(0, 1))


class DynamicUpsample(nn.Module):
    """mmseg's ``Upsample`` by integer factors with a symbolic output size.

    mmseg computes the size as ``int(t * scale_factor)`` in Python floats;
    torch.export evaluates that at the export size, so the exported graph
    would resize every later input to the export-time map size (Semantic
    FPN's head). ``t * k`` with an integer ``k`` stays symbolic; the
    interpolation is the same ``F.interpolate`` to that size.
    """

    def __init__(self, factors: Tuple[int, int], mode: str,
                 align_corners: Optional[bool]) -> None:
        super().__init__()
        self.factors = factors
        self.mode = mode
        self.align_corners = align_corners

    def forward(self, x: Tensor) -> Tensor:
        size = (x.shape[-2] * self.factors[0], x.shape[-1] * self.factors[1])
        return F.interpolate(x, size=size, mode=self.mode,
                             align_corners=self.align_corners)


def _integer_factors(scale_factor) -> Optional[Tuple[int, int]]:
    factors = (scale_factor if isinstance(scale_factor, (tuple, list))
               else (scale_factor, scale_factor))
    if len(factors) == 2 and all(f and float(f).is_integer()
                                 for f in factors):
        return int(factors[0]), int(factors[1])
    return None


def _export_replacement(module: nn.Module) -> Optional[nn.Module]:
    """The size-independent stand-in for ``module``, or ``None``."""
    if isinstance(module, nn.AdaptiveAvgPool2d):
        # a 1x1 output exports as GlobalAveragePool, at any size
        if module.output_size in (1, (1, 1)):
            return None
        return DynamicAdaptiveAvgPool2d(module.output_size)
    from mmseg.models.utils import Upsample
    if isinstance(module, Upsample) and not module.size:
        factors = _integer_factors(module.scale_factor)
        if factors is not None:
            return DynamicUpsample(factors, module.mode, module.align_corners)
    return None


def _replace_size_dependent(model: nn.Module) -> int:
    """Swap the modules that would fix the export size into the graph for
    their stand-ins (:func:`_export_replacement`); returns how many."""
    count = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            new = _export_replacement(child)
            if new is not None:
                setattr(parent, name, new)
                count += 1
    return count


def prepare_for_export(model: nn.Module) -> nn.Module:
    """A copy of ``model`` (eval) with the CvT's projection BatchNorms
    folded and the size-dependent modules replaced
    (:func:`_export_replacement`); ``model`` itself is not changed."""
    model = copy.deepcopy(model).eval()
    _cvt_of(model).fuse()
    _replace_size_dependent(model)
    return model


class _BakedNormalization(nn.Module):
    """The data preprocessor's per-pixel map ``y = A x + b`` (channel flip
    and mean/std) as a 1x1 convolution, then ``part``."""

    def __init__(self, weight: Tensor, bias: Tensor, part: nn.Module
                 ) -> None:
        super().__init__()
        self.register_buffer('weight', weight[:, :, None, None])
        self.register_buffer('bias', bias)
        self.part = part

    def forward(self, image: Tensor):
        return self.part(F.conv2d(image, self.weight, self.bias))


def _library_preprocess(model: nn.Module) -> Callable[[Tensor], Tensor]:
    """``[B, C, H, W]`` raw pixels -> what the model's own data
    preprocessor makes of them in test mode (cropped back to ``H x W`` when
    it pads, as mmdet's does to a multiple of 32)."""
    pre = getattr(model, 'data_preprocessor', None)
    if pre is None or isinstance(model, CvT):
        raise ValueError('bake_normalization needs a model built from a '
                         'config (with a data preprocessor); a bare CvT '
                         'has none')

    def run(images: Tensor) -> Tensor:
        with torch.no_grad():
            out = pre(dict(inputs=list(images)), False)['inputs']
        return out[..., :images.shape[2], :images.shape[3]].float()

    return run


def preprocessor_affine(model: nn.Module, channels: int = 3
                        ) -> Tuple[Tensor, Tensor]:
    """The model's data preprocessor as ``y = A x + b`` per pixel: ``A``
    ``[C, C]`` (channel flip over 1/std), ``b`` ``[C]`` (-mean/std),
    read by running the preprocessor itself on probe pixels; raises
    ``ValueError`` if it is not such a map."""
    run = _library_preprocess(model)
    scale = 1000.  # large probes: A's columns without cancellation error
    probes = torch.cat([torch.zeros(1, channels),
                        scale * torch.eye(channels)])[:, :, None, None]
    out = run(probes)[:, :, 0, 0]
    bias = out[0]
    weight = ((out[1:] - bias) / scale).t()
    g = torch.Generator().manual_seed(0)
    test = torch.rand(2, channels, 5, 7, generator=g) * 255
    want = run(test)
    got = F.conv2d(test, weight[:, :, None, None], bias)
    if not torch.allclose(got, want, rtol=1e-5, atol=1e-4):
        raise ValueError('the data preprocessor is not a per-pixel affine '
                         'map (channel flip and mean/std); its '
                         'normalisation cannot be baked into the graph')
    return weight, bias


# -- export and check --------------------------------------------------------
def check_opset(opset: int) -> int:
    if not isinstance(opset, int) or not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(
            f'opset {opset!r} is not supported: CvT needs ONNX opset '
            f'{MIN_OPSET} to {MAX_OPSET} (LayerNormalization exists from '
            'opset 17, scaled_dot_product_attention with a scale needs '
            f'>= 14; below {MIN_OPSET} torch.onnx would silently write '
            f'opset 18; {MAX_OPSET} is the newest torch.onnx knows). The '
            f'default {DEFAULT_OPSET} is the one torch.onnx writes without '
            'version conversion')
    return opset


def _example_input(shape: Sequence[int], raw: bool, seed: int = 0) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    if raw:  # pixel values
        return torch.rand(*shape, generator=g) * 255
    return torch.randn(*shape, generator=g)


def _parameter_bytes(module: nn.Module) -> int:
    return sum(t.numel() * t.element_size()
               for t in list(module.parameters()) + list(module.buffers()))


def _export(module: nn.Module, example: Tensor, out_file: str,
            input_name: str, output_names: List[str], opset: int) -> None:
    """``torch.onnx.export`` with the dynamo exporter, dynamic batch,
    height and width. Weights go to ``out_file + '.data'`` only when they
    would pass protobuf's 2 GB limit."""
    import warnings
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    large = _parameter_bytes(module) > 1.8 * 2**30
    with warnings.catch_warnings(), torch.no_grad():
        # size checks in the models' Python become export guards, each
        # reported as a warning
        warnings.simplefilter('ignore')
        torch.onnx.export(
            module, (example, ), out_file, dynamo=True, opset_version=opset,
            input_names=[input_name], output_names=output_names,
            dynamic_shapes=({0: 'batch', 2: 'height', 3: 'width'}, ),
            external_data=large, verbose=False, report=False)


def check_onnx_file(path: str, opset: int) -> None:
    """``onnx.checker`` (full check, with shape inference) and the opset
    actually written."""
    import onnx
    onnx.checker.check_model(path, full_check=True)
    written = {o.domain: o.version
               for o in onnx.load(path, load_external_data=False).opset_import}
    if written.get('', written.get('ai.onnx')) != opset:
        raise RuntimeError(f'{path} was written with opset {written}, not '
                           f'the requested {opset}')


def graph_io(path: str) -> Dict[str, list]:
    """``{name: dims}`` of the graph's inputs and outputs, a dynamic dim
    by its name (``'batch'``, ``'height'``...)."""
    import onnx
    graph = onnx.load(path, load_external_data=False).graph
    return {v.name: [d.dim_param or d.dim_value
                     for d in v.type.tensor_type.shape.dim]
            for v in list(graph.input) + list(graph.output)}


def ort_session(path: str, threads: Optional[int] = None):
    """An onnxruntime CPU session with ``threads`` intra-op threads
    (default: torch's thread count, for like-for-like comparisons)."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or torch.get_num_threads()
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(path, sess_options=opts,
                                providers=['CPUExecutionProvider'])


def verify_onnx(path: str, reference: Callable[[Tensor], object],
                inputs: Sequence[Tensor],
                tolerance: float = DEFAULT_TOLERANCE,
                session=None) -> List[Dict]:
    """Run the ONNX file in onnxruntime on each input and compare every
    output with ``reference(x)`` (a tensor or a tuple, in the graph's
    output order).

    Returns one dict per input: ``shape``, ``max_abs_diff`` and
    ``per_output`` ``{name: max abs diff}``. Raises
    :class:`OnnxMismatchError` naming the input shape and output when a
    shape differs or a difference exceeds ``tolerance``.
    """
    session = session or ort_session(path)
    names = [o.name for o in session.get_outputs()]
    feed = session.get_inputs()[0].name
    results = []
    for x in inputs:
        got = session.run(None, {feed: x.numpy()})
        with torch.no_grad():
            want = reference(x)
        want = list(want) if isinstance(want, (tuple, list)) else [want]
        if len(want) != len(got):
            raise OnnxMismatchError(f'{path}: {len(got)} outputs, torch '
                                    f'gives {len(want)}')
        per_output = {}
        for name, g, w in zip(names, got, want):
            if tuple(g.shape) != tuple(w.shape):
                raise OnnxMismatchError(
                    f'{path}, input {tuple(x.shape)}: output {name} has '
                    f'shape {tuple(g.shape)}, torch gives {tuple(w.shape)}')
            per_output[name] = float(
                (torch.from_numpy(g) - w.float()).abs().max())
        worst = max(per_output, key=per_output.get)
        results.append(dict(shape=tuple(x.shape),
                            max_abs_diff=per_output[worst],
                            per_output=per_output))
        if per_output[worst] > tolerance:
            raise OnnxMismatchError(
                f'{path}, input {tuple(x.shape)}: onnxruntime differs from '
                f'torch by {per_output[worst]:.3g} in {worst} (tolerance '
                f'{tolerance:g}); all outputs: {per_output}')
    return results


def default_check_shapes(export_hw: HW) -> List[Tuple[int, int, int, int]]:
    """One input unlike the export one: batch 1 (export: 2) and
    ``(H + 37, W + 19)``, neither a multiple of 16 when the export size is,
    so a graph that had kept the export size would fail."""
    h, w = export_hw
    return [(1, 3, h + 37, w + 19)]


def export_onnx(model: nn.Module, out_file: str, *, part: str = 'auto',
                input_size: HW = (224, 224), opset: int = DEFAULT_OPSET,
                bake_normalization: bool = False,
                check_shapes: Optional[Sequence[Sequence[int]]] = None,
                tolerance: Optional[float] = DEFAULT_TOLERANCE,
                ) -> OnnxExport:
    """Export ``part`` of ``model`` to ``out_file`` and check it.

    Args:
        model: a CvT, or a model from :func:`build_model_for_export`.
        part: ``'auto'`` (the whole model: classifier, segmenter, or a bare
            CvT's backbone), ``'backbone'``, ``'classifier'``,
            ``'segmenter'`` or ``'features'`` (a detector's backbone + neck).
        input_size: ``(H, W)`` of the example input the graph is traced
            with (batch 2); the graph runs at any size.
        opset: ONNX opset, ``MIN_OPSET`` to ``MAX_OPSET``.
        bake_normalization: the graph takes raw pixels (``image``) and
            applies the data preprocessor's channel flip and mean/std.
        check_shapes: ``[B, C, H, W]`` inputs to compare onnxruntime with
            torch on (default :func:`default_check_shapes`).
        tolerance: largest max-abs difference accepted; ``None`` skips the
            onnxruntime check (``onnx.checker`` still runs).

    Returns an :class:`OnnxExport`; raises :class:`OnnxMismatchError` when
    onnxruntime and torch differ by more than ``tolerance``, ``ValueError``
    for a request that cannot be exported.
    """
    part = resolve_part(model, part)
    check_opset(opset)
    model.eval()
    reference = _part_module(model, part).eval()
    deploy = _part_module(prepare_for_export(model), part).eval()
    names = deploy.output_names()
    input_name = 'image' if bake_normalization else 'input'
    channels = _cvt_of(model).in_channels
    if bake_normalization:
        weight, bias = preprocessor_affine(model, channels)
        deploy = _BakedNormalization(weight, bias, deploy)
        preprocess = _library_preprocess(model)
        torch_ref = lambda x: reference(preprocess(x))  # noqa: E731
    else:
        torch_ref = reference
    export_shape = (2, channels, *input_size)
    _export(deploy, _example_input(export_shape, bake_normalization),
            out_file, input_name, names, opset)
    check_onnx_file(out_file, opset)
    report = OnnxExport(path=out_file, part=part, opset=opset,
                        input_name=input_name, output_names=names,
                        export_shape=export_shape,
                        bake_normalization=bake_normalization,
                        tolerance=tolerance, io_shapes=graph_io(out_file))
    if tolerance is not None:
        shapes = check_shapes or default_check_shapes(input_size)
        inputs = [_example_input(s, bake_normalization, seed=i + 1)
                  for i, s in enumerate(shapes)]
        report.checks = verify_onnx(out_file, torch_ref, inputs, tolerance)
    return report


def export_config(config, checkpoint: Optional[str], out_file: str, *,
                  part: str = 'auto', opset: int = DEFAULT_OPSET,
                  **kwargs) -> OnnxExport:
    """:func:`build_model_for_export` then :func:`export_onnx` (keyword
    arguments as there). ``checkpoint=None`` with a model-zoo name exports
    its published weights. The opset and the part are checked before the
    checkpoint is read, so a request that cannot be exported says so
    first."""
    check_opset(opset)
    config, name, published = resolve_config(config)
    model = build_model_for_export(config)
    part = resolve_part(model, part)
    checkpoint = checkpoint or published
    if checkpoint is not None:
        load_strict(model, checkpoint, name)
    return export_onnx(model, out_file, part=part, opset=opset, **kwargs)

