"""Multiply-adds as the CvT paper counts "FLOPs", with mmengine's analyzer.

mmengine's ``FlopAnalyzer`` (fvcore's jit-trace counter) counts convs,
Linears, matmuls and einsums, but has no handle for
``aten::scaled_dot_product_attention`` (CvT's attention) or
``aten::baddbmm`` (its fused k/v maps), so it would miss a third of a
high-resolution CvT's work, and it counts norms and upsampling, which the
paper does not. :func:`count_macs` counts exactly the multiply-add ops,
those two included, so one multiply-add counts as one, like the official
``compute_macs`` (CvT-13 at 224: 4.57 G; the paper rounds to 4.5).
``count_macs(..., whole=True)`` counts the whole network, as the paper does,
for a classifier whose last block computes only the class token.
"""
import math
from contextlib import contextmanager, nullcontext
from typing import Dict, Iterator, List, Tuple, Union

import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import (
    addmm_flop_jit,
    bmm_flop_jit,
    conv_flop_jit,
    einsum_flop_jit,
    get_shape,
    linear_flop_jit,
    matmul_flop_jit,
)
from torch import Tensor, nn


def _sdpa_macs(inputs, outputs) -> int:
    """q ``[..., Tq, d]``, k ``[..., Tkv, d]``, v ``[..., Tkv, dv]``:
    ``Tq*Tkv*d`` for QK^T and ``Tq*Tkv*dv`` for AV, per batch and head."""
    q, k, v = (get_shape(x) for x in inputs[:3])
    return math.prod(q[:-2]) * q[-2] * k[-2] * (q[-1] + v[-1])


def _baddbmm_macs(inputs, outputs) -> int:
    """``baddbmm(bias, a [b, n, k], m [b, k, p])``: ``b*n*k*p``."""
    a, m = get_shape(inputs[1]), get_shape(inputs[2])
    return a[0] * a[1] * a[2] * m[2]


class _WholeNetwork(nn.Module):
    """``model(*inputs)`` plus, as extra outputs, every CvT stage's patch
    tokens and class token, so a tracer that counts only what reaches an
    output counts every token of every block."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, *inputs):
        from ..models.backbones.cvt import Stage
        extra: List[Tensor] = []

        def keep(module, args, out):
            extra.extend(t for t in (out[0], out[2]) if t is not None)

        hooks = [m.register_forward_hook(keep) for m in self.model.modules()
                 if isinstance(m, Stage)]
        try:
            return self.model(*inputs), tuple(extra)
        finally:
            for h in hooks:
                h.remove()


@contextmanager
def _whole_step(model: nn.Module) -> Iterator[None]:
    """Every CvT block computes all its tokens (the lean classification
    step, ``cls_only``, switched off) inside the context."""
    from ..models.backbones.cvt import Block
    lean = [m for m in model.modules()
            if isinstance(m, Block) and m.cls_only]
    for m in lean:
        m.cls_only = False
    try:
        yield
    finally:
        for m in lean:
            m.cls_only = True


def count_macs(model: nn.Module, inputs: Union[Tensor, Tuple[Tensor, ...]],
               whole: bool = False) -> Dict[str, int]:
    """Multiply-adds of one ``model(*inputs)`` run in eval mode, by kind
    (``'conv'``, ``'linear'``, ``'scaled_dot_product_attention'``,
    ``'baddbmm'``, ``'einsum'``, ...) plus ``'total'``.

    ``whole=False`` counts the model as it runs: a classifier's last block
    computes only the class token (the lean step). ``whole=True`` counts the
    whole network as the paper does (and the release computes it): every
    token through every block, the outputs nothing reads included."""
    if isinstance(inputs, Tensor):
        inputs = (inputs, )
    was_training = model.training
    model.eval()
    ctx = _whole_step(model) if whole else nullcontext()
    traced = _WholeNetwork(model) if whole else model
    try:
        with ctx:
            return _count(traced, inputs)
    finally:
        model.train(was_training)


def _count(model: nn.Module, inputs: Tuple[Tensor, ...]
           ) -> Dict[str, int]:
    # exactly the multiply-add ops (mmengine's defaults also count norms
    # and upsampling, and set_op_handle(name=None) does not drop them)
    analyzer = FlopAnalyzer(model, inputs).clear_op_handles()
    analyzer.set_op_handle(**{
        'aten::_convolution': conv_flop_jit,
        'aten::linear': linear_flop_jit,
        'aten::addmm': addmm_flop_jit,
        'aten::baddbmm': _baddbmm_macs,
        'aten::bmm': bmm_flop_jit,
        'aten::matmul': matmul_flop_jit,
        'aten::mm': matmul_flop_jit,
        'aten::einsum': einsum_flop_jit,
        'aten::scaled_dot_product_attention': _sdpa_macs})
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    with torch.no_grad():
        out = dict(analyzer.by_operator())
        out['total'] = analyzer.total()
    return out


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
