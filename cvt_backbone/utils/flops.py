"""Multiply-adds as the CvT paper counts "FLOPs", with mmengine's analyzer.

mmengine's ``FlopAnalyzer`` (fvcore's jit-trace counter) counts convs,
Linears, matmuls and einsums, but has no handle for
``aten::scaled_dot_product_attention`` (CvT's attention) or
``aten::baddbmm`` (its fused k/v maps), so it would miss a third of a
high-resolution CvT's work, and it counts norms and upsampling, which the
paper does not. :func:`count_macs` counts exactly the multiply-add ops,
those two included, so one multiply-add counts as one, like the official
``compute_macs`` (CvT-13 at 224: 4.57 G; the paper rounds to 4.5).
"""
import math
from typing import Dict, Tuple, Union

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


def count_macs(model: nn.Module, inputs: Union[Tensor, Tuple[Tensor, ...]]
               ) -> Dict[str, int]:
    """Multiply-adds of one ``model(*inputs)`` run in eval mode, by kind
    (``'conv'``, ``'linear'``, ``'scaled_dot_product_attention'``,
    ``'baddbmm'``, ``'einsum'``, ...) plus ``'total'``."""
    if isinstance(inputs, Tensor):
        inputs = (inputs, )
    was_training = model.training
    model.eval()
    try:
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
    finally:
        model.train(was_training)
    return out


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
