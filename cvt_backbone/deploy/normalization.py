"""Baking a model's data preprocessor (channel flip and mean/std) into the
exported graph, so that it takes raw pixels."""
from typing import Callable, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..models import CvT


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
