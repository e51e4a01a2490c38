"""The model as it is exported: a copy with the CvT's projection
BatchNorms folded into their convs (:meth:`CvT.fuse`) and the head modules
that would fix the export size into the graph replaced by equivalents
(:mod:`cvt_backbone.models.layers.dynamic_shape`): ``nn.AdaptiveAvgPool2d``
with an output larger than 1x1 (the pyramid pooling of mmseg's
UPerHead/PSPHead) by ``DynamicAdaptiveAvgPool2d`` (both exporters compute
the pooling windows from the export-time size: the TorchScript one refuses,
the dynamo one bakes the indices in; mmdeploy lists such heads as
static-shape only), and mmseg's ``Upsample`` by an integer factor (Semantic
FPN's head) by ``DynamicUpsample``. With ``attention='chunked'`` each
attention's core is the query-chunked one of
:mod:`.attention`, so the graph holds no full ``T_q x T_kv`` matrix at large
sizes; ``'full'`` keeps ``F.scaled_dot_product_attention``.
"""
import copy
from typing import Optional, Tuple

from torch import nn

from ..models.layers import DynamicAdaptiveAvgPool2d, DynamicUpsample
from .attention import DEFAULT_BUDGET, replace_attention_cores
from .parts import cvt_of

ATTENTIONS = ('chunked', 'full')


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


def check_attention(attention: str) -> str:
    if attention not in ATTENTIONS:
        raise ValueError(f'attention {attention!r}: expected one of '
                         f'{list(ATTENTIONS)}')
    return attention


def prepare_for_export(model: nn.Module, attention: str = 'full',
                       budget: int = DEFAULT_BUDGET) -> nn.Module:
    """A copy of ``model`` (eval) with the CvT's projection BatchNorms
    folded, the size-dependent modules replaced
    (:func:`_export_replacement`) and, with ``attention='chunked'``, the
    attention cores chunked to ``budget`` score elements; ``model`` itself
    is not changed."""
    check_attention(attention)
    model = copy.deepcopy(model).eval()
    cvt_of(model).fuse()
    _replace_size_dependent(model)
    if attention == 'chunked':
        replace_attention_cores(model, budget)
    return model
