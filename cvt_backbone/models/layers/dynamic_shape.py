"""Stand-ins for layers whose output size an exported graph would fix at
the export-time input size; same maths, sizes kept symbolic.
(:func:`cvt_backbone.deploy.prepare_for_export` swaps them in.)
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


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
