"""The independent reference the tests and the benchmark compare against:
``transformers``' CvT, randomly initialised, with BatchNorm statistics that
make a comparison meaningful. ``transformers`` is a test/benchmark
dependency, imported only when these are called."""
from typing import Dict, List, Optional

import torch
import torch.nn as nn


def randomise_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BatchNorm statistics and affine parameters, so that an
    equivalence test fails if BN is skipped, misplaced or mis-mapped.
    Returns ``model``."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.5)
                m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
                m.weight.copy_(1 + 0.2 * torch.randn(n, generator=g))
                m.bias.copy_(0.2 * torch.randn(n, generator=g))
    return model


class QuickGELURef(nn.Module):
    """``x * sigmoid(1.702 x)``, written independently of the model's."""

    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


def hf_config(arch: Optional[Dict[str, List[int]]] = None,
              num_labels: int = 1000, **kwargs):
    """A ``transformers.CvtConfig`` (CvT-13 by default, or the per-stage
    ``embed_dims``/``depths``/``num_heads`` of ``arch``), without drop path."""
    import transformers
    if arch is not None:
        kwargs.update(embed_dim=list(arch['embed_dims']),
                      depth=list(arch['depths']),
                      num_heads=list(arch['num_heads']))
    kwargs.setdefault('drop_path_rate', [0., 0., 0.])
    return transformers.CvtConfig(num_labels=num_labels, **kwargs)


def make_hf_cvt(arch: Optional[Dict[str, List[int]]] = None,
                num_labels: Optional[int] = 10, quick_gelu: bool = False,
                seed: int = 0, **config) -> nn.Module:
    """A randomly initialised ``CvtForImageClassification`` (or ``CvtModel``
    with ``num_labels=None``) in eval mode with non-trivial BN statistics.

    ``quick_gelu`` swaps HF's GELU for the released models' QuickGELU,
    making it numerically the original CvT.
    """
    import transformers
    torch.manual_seed(seed)
    cfg = hf_config(arch, num_labels=num_labels or 1000, **config)
    model = (
        transformers.CvtModel(cfg) if num_labels is None else
        transformers.CvtForImageClassification(cfg))
    randomise_bn(model, seed)
    if quick_gelu:
        for m in model.modules():
            if type(m).__name__ == 'CvtIntermediate':
                m.activation = QuickGELURef()
    return model.eval()
