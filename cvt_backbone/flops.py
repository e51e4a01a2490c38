"""Parameter and multiply-add (MAC) counting that includes attention.

Counters from fvcore or mmcv hook modules and miss the attention matmuls
(``F.scaled_dot_product_attention`` runs inside no module they know). This
counter instead intercepts the tensor functions while the model runs (a
``TorchFunctionMode``), so it sees every convolution, linear map, batched
matmul, einsum and SDPA call with its true shapes, including the class token
in the last stage's q/k/v. One multiply-add counts as one, as in the CvT
paper's "GFLOPs" (the official ``compute_macs``).

Not counted: normalisations, activations, softmax, additions (elementwise,
under 1% of a CvT's work).
"""
from collections import defaultdict
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.overrides import TorchFunctionMode


def _prod(xs: Sequence[int]) -> int:
    out = 1
    for x in xs:
        out *= int(x)
    return out


def _arg(args: tuple, kwargs: dict, i: int, name: str, default=None):
    if len(args) > i:
        return args[i]
    return kwargs.get(name, default)


def _linear(args, kwargs, out: Tensor) -> int:
    # out [..., out_features]; each output element is in_features MACs
    weight = _arg(args, kwargs, 1, 'weight')
    return out.numel() * weight.shape[-1]


def _conv(args, kwargs, out: Tensor) -> int:
    # out [B, C_out, *spatial]; each output element sees C_in/groups * k MACs
    weight = _arg(args, kwargs, 1, 'weight')
    return out.numel() * _prod(weight.shape[1:])


def _matmul(args, kwargs, out: Tensor) -> int:
    a = _arg(args, kwargs, 0, 'input')
    return out.numel() * a.shape[-1]


def _addmm_like(args, kwargs, out: Tensor) -> int:
    # addmm / baddbmm (bias, a, b): the product's inner size is a.shape[-1]
    a = _arg(args, kwargs, 1, 'batch1' if out.dim() == 3 else 'mat1')
    return out.numel() * a.shape[-1]


def _sdpa(args, kwargs, out: Tensor) -> int:
    # q [..., Tq, d], k [..., Tkv, d], v [..., Tkv, dv]:
    # QK^T is Tq*Tkv*d per head, AV is Tq*Tkv*dv.
    q, k, v = (_arg(args, kwargs, i, n) for i, n in
               enumerate(('query', 'key', 'value')))
    batch = _prod(out.shape[:-2])
    tq, tkv = q.shape[-2], k.shape[-2]
    return batch * tq * tkv * (q.shape[-1] + v.shape[-1])


def _einsum(args, kwargs, out: Tensor) -> int:
    # A two-operand contraction costs the product of all index sizes.
    eq = args[0].replace(' ', '')
    operands = args[1:]
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = operands[0]
    lhs = eq.split('->')[0].split(',')
    if len(operands) != 2 or '...' in eq:
        raise NotImplementedError(f'einsum {eq!r} with {len(operands)} '
                                  'operands is not counted')
    sizes: Dict[str, int] = {}
    for spec, t in zip(lhs, operands):
        for letter, n in zip(spec, t.shape):
            sizes[letter] = int(n)
    return _prod(sizes.values())


_COUNTERS: Dict[Any, Tuple[str, Callable[[tuple, dict, Tensor], int]]] = {
    F.linear: ('linear', _linear),
    F.conv1d: ('conv', _conv),
    F.conv2d: ('conv', _conv),
    F.conv3d: ('conv', _conv),
    torch.matmul: ('matmul', _matmul),
    Tensor.matmul: ('matmul', _matmul),
    Tensor.__matmul__: ('matmul', _matmul),
    torch.mm: ('matmul', _matmul),
    torch.bmm: ('matmul', _matmul),
    torch.addmm: ('matmul', _addmm_like),
    torch.baddbmm: ('matmul', _addmm_like),
    torch.einsum: ('einsum', _einsum),
    F.scaled_dot_product_attention: ('attention', _sdpa),
}


class MacCounter(TorchFunctionMode):
    """Counts multiply-adds of the tensor functions called inside it.

    ``counts`` maps a kind (``'conv'``, ``'linear'``, ``'matmul'``,
    ``'einsum'``, ``'attention'``) to MACs. Nested calls are not
    double-counted: the mode is inactive while a counted function runs.
    """

    def __init__(self) -> None:
        super().__init__()
        self.counts: Dict[str, int] = defaultdict(int)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        entry = _COUNTERS.get(func)
        if entry is not None and isinstance(out, Tensor):
            kind, count = entry
            self.counts[kind] += count(args, kwargs, out)
        return out

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def count_macs(model: nn.Module, inputs: Union[Tensor, Tuple[Tensor, ...]],
               **kwargs) -> Dict[str, int]:
    """Run ``model(*inputs)`` once without gradients and return its MACs by
    kind plus ``'total'``."""
    if isinstance(inputs, Tensor):
        inputs = (inputs, )
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), MacCounter() as counter:
            model(*inputs, **kwargs)
    finally:
        model.train(was_training)
    out = dict(counter.counts)
    out['total'] = counter.total
    return out


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class _Classifier(nn.Module):
    """Backbone + head, as the paper counts the classifier."""

    def __init__(self, backbone: nn.Module, head: Optional[nn.Module]) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, x: Tensor):
        feats = self.backbone(x)
        return self.head(feats) if self.head is not None else feats


def build_cvt(arch_or_config: str, num_classes: int = 1000) -> nn.Module:
    """A CvT classifier from an arch name (``'13'``, ``'cvt-21'``, ``'w24'``)
    with a ``num_classes`` head (0: backbone only), or the ``model`` of an
    mmengine config file (its backbone and, when it has a CvTClsHead, the
    head)."""
    from .classification import CvTClsHead
    from .cvt import CvT
    if arch_or_config.endswith('.py'):
        from mmengine.config import Config
        from mmengine.registry import MODELS
        import cvt_backbone  # noqa: F401 (registers the modules)
        cfg = Config.fromfile(arch_or_config)
        model_cfg = cfg.model
        if model_cfg.get('type') == 'CvT':
            return MODELS.build(model_cfg)
        backbone = MODELS.build(model_cfg['backbone'])
        head_cfg = model_cfg.get('head')
        head = None
        if head_cfg is not None and head_cfg.get('type') == 'CvTClsHead':
            head = MODELS.build(head_cfg)
        if head is not None:
            backbone.out_type = 'cls_token'
        return _Classifier(backbone, head)
    backbone = CvT(arch_or_config,
                   out_type='cls_token' if num_classes else 'featmap')
    head = (CvTClsHead(num_classes, backbone.embed_dims[-1])
            if num_classes else None)
    return _Classifier(backbone, head)


def get_flops(arch_or_config: str, shape: Tuple[int, int] = (224, 224),
              num_classes: int = 1000) -> Dict[str, Any]:
    """Parameters and MACs of a CvT (see :func:`build_cvt`) for one
    ``3 x H x W`` image. Returns ``params``, ``macs`` (total) and
    ``macs_by_kind``."""
    model = build_cvt(arch_or_config, num_classes)
    macs = count_macs(model, torch.zeros(1, 3, *shape))
    total = macs.pop('total')
    return dict(params=count_params(model), macs=total, macs_by_kind=macs,
                shape=tuple(shape))


def format_number(n: float, unit: str = '') -> str:
    for div, suffix in ((1e9, 'G'), (1e6, 'M'), (1e3, 'K')):
        if abs(n) >= div:
            return f'{n / div:.2f} {suffix}{unit}'
    return f'{n:.0f} {unit}'.rstrip()
