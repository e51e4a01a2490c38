"""ONNX export of CvT models, checked against torch in onnxruntime.

The parts that can be exported are :mod:`.parts`; batch, height and width
are dynamic. With ``bake_normalization=True`` the graph takes ``image``,
the pixel values the config's data preprocessor receives (0-255, channel
order as loaded), and applies the preprocessor's channel flip and mean/std
itself (:mod:`.normalization`). The model is prepared for export by
:mod:`.prepare` (BatchNorms folded, size-dependent head modules replaced);
the reference for the checks is the model as built (BatchNorms unfolded,
the original modules), so the check covers the folding, the replacements
and the export, at input sizes other than the export size.

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
"""
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from ..apis.builder import build_model, resolve_config
from ..checkpoint import load_weights
from .attention import DEFAULT_BUDGET
from .normalization import (
    _BakedNormalization,
    _library_preprocess,
    preprocessor_affine,
)
from .parts import cvt_of, part_module, resolve_part
from .prepare import check_attention, prepare_for_export

DEFAULT_OPSET = 18
MIN_OPSET = 17
MAX_OPSET = 23
DEFAULT_TOLERANCE = 1e-4
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
    attention: str = 'full'
    io_shapes: Dict[str, list] = field(default_factory=dict)
    checks: List[Dict] = field(default_factory=list)

    @property
    def max_abs_diff(self) -> float:
        return max((c['max_abs_diff'] for c in self.checks), default=0.)


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
                attention: str = 'full', budget: int = DEFAULT_BUDGET,
                ) -> OnnxExport:
    """Export ``part`` of ``model`` to ``out_file`` and check it.

    Args:
        model: a CvT, or a model from :func:`cvt_backbone.apis.build_model`.
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
        attention: ``'chunked'`` (attention over chunks of the queries in
            an ONNX ``Scan``, each chunk's score matrix at most ``budget``
            elements: :mod:`.attention`) or ``'full'`` (the whole
            ``T_q x T_kv`` matrix: fine up to about 512x512).

    Returns an :class:`OnnxExport`; raises :class:`OnnxMismatchError` when
    onnxruntime and torch differ by more than ``tolerance``, ``ValueError``
    for a request that cannot be exported.
    """
    part = resolve_part(model, part)
    check_opset(opset)
    check_attention(attention)
    model.eval()
    reference = part_module(model, part).eval()
    deploy = part_module(prepare_for_export(model, attention, budget),
                         part).eval()
    names = deploy.output_names()
    input_name = 'image' if bake_normalization else 'input'
    channels = cvt_of(model).in_channels
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
                        tolerance=tolerance, attention=attention,
                        io_shapes=graph_io(out_file))
    if tolerance is not None:
        shapes = check_shapes or default_check_shapes(input_size)
        inputs = [_example_input(s, bake_normalization, seed=i + 1)
                  for i, s in enumerate(shapes)]
        report.checks = verify_onnx(out_file, torch_ref, inputs, tolerance)
    return report


def export_config(config, checkpoint: Optional[str], out_file: str, *,
                  part: str = 'auto', opset: int = DEFAULT_OPSET,
                  **kwargs) -> OnnxExport:
    """:func:`cvt_backbone.apis.build_model` then :func:`export_onnx`
    (keyword arguments as there). ``checkpoint=None`` with a model-zoo name
    exports its published weights. The opset and the part are checked
    before the checkpoint is read, so a request that cannot be exported
    says so first; a checkpoint that does not fit the model exactly is
    refused (``strict=True``)."""
    check_opset(opset)
    config, name, published = resolve_config(config)
    model = build_model(config)
    part = resolve_part(model, part)
    checkpoint = checkpoint or published
    if checkpoint is not None:
        load_weights(model, checkpoint, strict=True,
                     model_name=f'the model of {name}')
    return export_onnx(model, out_file, part=part, opset=opset, **kwargs)
