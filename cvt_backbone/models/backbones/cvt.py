"""CvT: Introducing Convolutions to Vision Transformers (Wu et al., ICCV 2021).

A three-stage vision transformer. Each stage opens with an overlapping strided
convolution (the convolutional token embedding, then LayerNorm over channels)
and runs pre-norm blocks whose attention computes q/k/v through a depthwise
3x3 conv + BatchNorm (k and v at stride 2) followed by Linear maps. There is
no positional embedding, so any input size works, and a class token only in
the last stage. The paper's ablation variants (Tables 5-8: learned position
embeddings, non-overlapping patch embeddings, k/v stride, position-wise
linear projections) and its NAS space (per-block k/v stride and MLP ratio)
are options of :class:`CvT`; the defaults are the release.

This implementation is exact to the released checkpoints and is kept instead
of an OpenMMLab or timm one because none exists (mmpretrain, mmdet, mmseg and
timm ship no CvT), and because its layout makes it several times faster and
leaner than ``transformers``' CvT at detection resolutions:

* tokens live as contiguous ``[B, HW, C]``; the NCHW view a depthwise conv
  needs is the zero-copy channels-last view of them and the conv output
  flattens back without a copy;
* the k and v depthwise convs are one grouped conv ``Conv2d(C, 2C, groups=C)``
  (channel ``2c`` is k, ``2c + 1`` is v) and their Linear maps one batched
  matmul (:class:`KVLinear`);
* the class token is carried beside the patch tokens instead of being
  concatenated to them, so blocks never split and re-join the sequence;
* attention runs through ``F.scaled_dot_product_attention`` with the
  checkpoints' scale ``embed_dim ** -0.5`` and never materialises T x T.

This file is the ground floor of the package: it imports nothing of
``cvt_backbone`` above ``models/``. Reading, converting and loading
checkpoints (both published layouts, any source) is
:mod:`cvt_backbone.checkpoint`, which ``init_cfg=dict(type='Pretrained')``
reaches through mmengine's weight-initialiser registry.
"""
import re
import warnings
from contextlib import contextmanager, nullcontext
from typing import (
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmengine.model.weight_init import initialize, trunc_normal_
from mmengine.registry import MODELS
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

HW = Tuple[int, int]


@MODELS.register_module()
class QuickGELU(nn.Module):
    """``x * sigmoid(1.702 x)``: the activation of the released weights.

    mmpretrain registers the same function in its own scope (for CLIP), but
    mmdet and mmseg have none; this one, in mmengine's root registry, serves
    all three, and at inference it makes one temporary instead of three. The
    backbone names it ``'mmengine.QuickGELU'`` so every scope builds this one.
    """

    def forward(self, x: Tensor) -> Tensor:
        if torch.is_grad_enabled() and x.requires_grad:
            return x * torch.sigmoid(1.702 * x)
        # Inference: one temporary instead of three (sigmoid and the product
        # in place); same maths, less memory traffic.
        return (x * 1.702).sigmoid_().mul_(x)


def tokens_to_map(x: Tensor, hw: HW) -> Tensor:
    """``[B, H*W, C]`` -> ``[B, C, H, W]``: a channels-last view, no copy.

    Viewed as ``[B, H, W, C]`` then permuted, so the batch stride is
    ``H*W*C`` even for ``B = 1``: a transpose view would give batch 1 a
    batch stride of ``C``, which convolutions do not recognise as
    channels-last, so their output (and every later token view) would fall
    back to NCHW and force copies.
    """
    return x.unflatten(1, hw).permute(0, 3, 1, 2)


def map_to_tokens(x: Tensor) -> Tensor:
    """``[B, C, H, W]`` -> ``[B, H*W, C]`` (no copy if channels-last)."""
    return x.permute(0, 2, 3, 1).flatten(1, 2)


def conv_out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def per_block(value, depth: int, name: str) -> list:
    """One value for every block of a stage, or a list of ``depth``."""
    if isinstance(value, (list, tuple)):
        if len(value) != depth:
            raise ValueError(f'{name}: a per-block list needs {depth} values '
                             f'(the stage depth), got {list(value)}')
        return list(value)
    return [value] * depth


class ConvEmbed(nn.Module):
    """Convolutional token embedding: strided conv, then LayerNorm.

    ``[B, C_in, H, W]`` -> tokens ``[B, H'*W', C]`` and ``(H', W')``.
    """

    def __init__(self, in_channels: int, embed_dims: int, kernel_size: int,
                 stride: int, padding: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, embed_dims,
                              kernel_size=kernel_size, stride=stride,
                              padding=padding)
        self.norm = nn.LayerNorm(embed_dims, eps=1e-5)

    def forward(self, x: Tensor) -> Tuple[Tensor, HW]:
        x = self.proj(x.contiguous(memory_format=torch.channels_last))
        hw = (x.shape[2], x.shape[3])
        return self.norm(map_to_tokens(x)), hw


class ConvProjection(nn.Module):
    """Depthwise 3x3 conv (no bias) + BatchNorm, in token layout.

    ``out_per_channel=2`` gives two maps per input channel (the fused k/v
    projection): output channel ``2c`` is the first map of channel ``c``,
    ``2c + 1`` the second.
    ``[B, H*W, C]`` -> ``[B, H'*W', C * out_per_channel]``.
    """

    def __init__(self, dims: int, stride: int, norm_cfg: dict,
                 out_per_channel: int = 1) -> None:
        super().__init__()
        out = dims * out_per_channel
        self.conv = nn.Conv2d(dims, out, kernel_size=3, stride=stride,
                              padding=1, groups=dims, bias=False)
        self.bn = build_norm_layer(norm_cfg, out)[1]

    def forward(self, x: Tensor, hw: HW) -> Tensor:
        return map_to_tokens(self.bn(self.conv(tokens_to_map(x, hw))))

    @torch.no_grad()
    def fuse(self) -> None:
        """Fold the BatchNorm statistics into the conv (inference only)."""
        if isinstance(self.bn, nn.Identity):
            return
        bn = self.bn
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        conv = nn.Conv2d(self.conv.in_channels, self.conv.out_channels,
                         kernel_size=3, stride=self.conv.stride, padding=1,
                         groups=self.conv.groups, bias=True).to(
                             self.conv.weight)
        conv.weight.copy_(self.conv.weight * scale.view(-1, 1, 1, 1))
        conv.bias.copy_(bn.bias - bn.running_mean * scale)
        self.conv, self.bn = conv, nn.Identity()


class KVLinear(nn.Module):
    """The k and v Linear maps, applied as one batched matmul.

    Takes the interleaved output of the fused k/v conv, ``[B, T, 2C]`` with
    k in even and v in odd channels, and optionally the class token
    ``[B, 1, C]`` (it bypasses the conv but goes through these maps, in front
    of the sequence). Returns k and v, each ``[B, T (+1), C]``.
    Parameters: ``weight [2, C, C]`` (k then v, each ``[out, in]``) and
    ``bias [2, C]``.
    """

    def __init__(self, dims: int, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(2, dims, dims))
        self.bias = nn.Parameter(torch.zeros(2, dims)) if bias else None
        for w in self.weight:
            nn.init.kaiming_uniform_(w, a=5**0.5)  # what nn.Linear does

    def forward(self, kv: Tensor,
                cls_token: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
        B, T, C2 = kv.shape
        kv = kv.view(B, T, C2 // 2, 2).permute(3, 0, 1, 2)  # [2, B, T, C]
        if cls_token is not None:
            kv = torch.cat([cls_token.unsqueeze(0).expand(2, -1, -1, -1), kv],
                           dim=2)
            T += 1
        kv = kv.reshape(2, B * T, C2 // 2)
        if self.bias is None:
            out = torch.bmm(kv, self.weight.transpose(1, 2))
        else:
            out = torch.baddbmm(self.bias.unsqueeze(1), kv,
                                self.weight.transpose(1, 2))
        out = out.view(2, B, T, C2 // 2)
        return out[0], out[1]

    def forward_shared(self, x: Tensor, cls_token: Optional[Tensor]
                       ) -> Tuple[Tensor, Tensor]:
        """k and v of the same tokens (the position-wise linear projection,
        no conv in front): ``[B, T, C]`` (and the class token ``[B, 1, C]``
        in front) -> k, v, each ``[B, T (+1), C]``; one batched matmul."""
        if cls_token is not None:
            x = torch.cat([cls_token, x], dim=1)
        B, T, C = x.shape
        x = x.reshape(1, B * T, C).expand(2, -1, -1)
        if self.bias is None:
            out = torch.bmm(x, self.weight.transpose(1, 2))
        else:
            out = torch.baddbmm(self.bias.unsqueeze(1), x,
                                self.weight.transpose(1, 2))
        out = out.view(2, B, T, C)
        return out[0], out[1]


class LinearProjection(nn.Module):
    """The position-wise projection of the paper's ablation (Table 8):
    no conv before the q/k/v Linear maps, the tokens as they are;
    ``(x [B, H*W, C], hw)`` -> ``x``. No parameters."""

    def forward(self, x: Tensor, hw: HW) -> Tensor:
        return x


class ConvAttention(nn.Module):
    """Multi-head attention with convolutional q/k/v projections.

    Patch tokens ``[B, H*W, C]`` (and optionally the class token ``[B, 1, C]``)
    -> outputs of the same shapes. k/v come from a depthwise conv of stride
    ``kv_stride`` (2 in the release), so
    ``T_kv = ceil(H/s) * ceil(W/s)`` (+1 with a class token).

    ``qkv_proj='linear'`` is the paper's position-wise linear projection
    (Table 8): no conv (nor BatchNorm) before the q/k/v Linear maps; k and v
    are then computed from every token (``kv_stride`` must be 1: a
    position-wise map has no spatial extent to stride over, so any other
    value is refused rather than given a meaning the paper never defined).
    The parameter names of the Linear maps (``q``, ``kv``, ``proj``) stay.
    """

    def __init__(self, dims: int, num_heads: int, qkv_bias: bool = True,
                 attn_drop: float = 0., proj_drop: float = 0.,
                 norm_cfg: dict = dict(type='BN'), kv_stride: int = 2,
                 qkv_proj: str = 'conv') -> None:
        super().__init__()
        if dims % num_heads:
            raise ValueError(f'embed dims {dims} must be divisible by '
                             f'num_heads {num_heads}')
        if qkv_proj not in ('conv', 'linear'):
            raise ValueError("qkv_proj must be 'conv' or 'linear', got "
                             f'{qkv_proj!r}')
        if not isinstance(kv_stride, int) or kv_stride < 1:
            raise ValueError(f'kv_stride must be a positive int, got '
                             f'{kv_stride!r}')
        if qkv_proj == 'linear' and kv_stride != 1:
            raise ValueError(
                f"kv_stride={kv_stride} with qkv_proj='linear': the "
                'position-wise linear projection has no spatial extent to '
                'stride over (k and v come from every token, as in the '
                'paper\'s Table 8); use kv_stride=1 or qkv_proj=\'conv\'')
        self.qkv_proj = qkv_proj
        self.kv_stride = kv_stride
        self.num_heads = num_heads
        # The released checkpoints scale by the whole stage width, not by
        # the head width: 1/sqrt(C).
        self.scale = dims**-0.5
        self.attn_drop = attn_drop
        if qkv_proj == 'conv':
            self.conv_q = ConvProjection(dims, stride=1, norm_cfg=norm_cfg)
            self.conv_kv = ConvProjection(dims, stride=kv_stride,
                                          norm_cfg=norm_cfg,
                                          out_per_channel=2)
        else:
            self.conv_q = LinearProjection()
            self.conv_kv = None
        self.q = nn.Linear(dims, dims, bias=qkv_bias)
        self.kv = KVLinear(dims, bias=qkv_bias)
        self.proj = nn.Linear(dims, dims)
        self.proj_drop = nn.Dropout(proj_drop)

    def _heads(self, x: Tensor) -> Tensor:
        """``[B, T, C]`` -> ``[B, heads, T, C/heads]`` (a view)."""
        return x.unflatten(2, (self.num_heads, -1)).transpose(1, 2)

    def sdpa(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """The attention core, ``[B, heads, T_q | T_kv, C/heads]`` ->
        ``[B, heads, T_q, C/heads]`` (the ONNX export swaps in a
        query-chunked one, :mod:`cvt_backbone.deploy.attention`)."""
        return F.scaled_dot_product_attention(
            q, k, v, scale=self.scale,
            dropout_p=self.attn_drop if self.training else 0.)

    def _attend(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        out = self.sdpa(self._heads(q), k, v)
        return self.proj_drop(self.proj(out.transpose(1, 2).flatten(2)))

    def _keys_values(self, x: Tensor, hw: HW, cls_token: Optional[Tensor]
                     ) -> Tuple[Tensor, Tensor]:
        """k and v of all tokens, each ``[B, heads, T_kv, C/heads]``."""
        if self.conv_kv is None:  # position-wise linear projection
            k, v = self.kv.forward_shared(x, cls_token)
        else:
            k, v = self.kv(self.conv_kv(x, hw), cls_token)
        return self._heads(k), self._heads(v)

    def forward(self, x: Tensor, hw: HW, cls_token: Optional[Tensor] = None
                ) -> Tuple[Tensor, Optional[Tensor]]:
        k, v = self._keys_values(x, hw, cls_token)
        out = self._attend(self.q(self.conv_q(x, hw)), k, v)
        if cls_token is None:
            return out, None
        return out, self._attend(self.q(cls_token), k, v)

    def forward_cls(self, x: Tensor, hw: HW, cls_token: Tensor) -> Tensor:
        """Only the class token's output ``[B, 1, C]``: k and v from all
        tokens, the query of the class token alone (``conv_q`` is not run).
        """
        k, v = self._keys_values(x, hw, cls_token)
        return self._attend(self.q(cls_token), k, v)


class Mlp(nn.Sequential):
    """``fc1 -> act -> drop -> fc2 -> drop``: ``[B, T, C]`` -> same."""

    def __init__(self, dims: int, hidden: int, act_cfg: dict,
                 drop: float = 0.) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dims, hidden)
        self.act = build_activation_layer(act_cfg)
        self.drop1 = nn.Dropout(drop)
        self.fc2 = nn.Linear(hidden, dims)
        self.drop2 = nn.Dropout(drop)


@contextmanager
def _bn_stats_frozen(module: nn.Module) -> Iterator[None]:
    """Keep BatchNorm running statistics unchanged (checkpoint recompute)."""
    bns = [m for m in module.modules() if isinstance(m, _BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.momentum = 0.
    try:
        yield
    finally:
        for m, mom in zip(bns, saved):
            m.momentum = mom


class DropPath(nn.Module):
    """Stochastic depth: each sample's residual branch is kept (scaled by
    ``1 / (1 - drop_prob)``) or dropped, with one draw per sample shared by
    every tensor passed in; ``[B, ...]`` tensors in, the same out (one tensor
    for one input, a tuple for several). Identity in eval mode.

    Ours rather than mmcv's/timm's ``DropPath`` (one tensor each): the
    original CvT runs the last stage's blocks on one sequence
    ``[cls; patches]``, so a sample's class token and patch tokens skip a
    branch together. This model keeps the two apart (no concatenation copy
    per block), and two separate ``DropPath`` calls would drop them
    independently, a different regulariser from the published recipe's.
    """

    def __init__(self, drop_prob: float = 0.) -> None:
        super().__init__()
        if not 0. <= drop_prob < 1.:
            raise ValueError(
                f'drop_prob must be in [0, 1), got {drop_prob}')
        self.drop_prob = drop_prob

    def forward(self, *xs: Tensor) -> Union[Tensor, Tuple[Tensor, ...]]:
        if self.training and self.drop_prob > 0.:
            keep = 1. - self.drop_prob
            x = xs[0]
            mask = torch.rand((x.shape[0],) + (1,) * (x.dim() - 1),
                              dtype=x.dtype, device=x.device)
            scale = mask.add_(keep).floor_().div_(keep)
            xs = tuple(t * scale for t in xs)
        return xs[0] if len(xs) == 1 else xs

    def extra_repr(self) -> str:
        return f'drop_prob={self.drop_prob}'


class Block(nn.Module):
    """Pre-norm transformer block.

    ``x + DropPath(Attn(LN(x)))`` then ``x + DropPath(MLP(LN(x)))`` on the
    patch tokens ``[B, H*W, C]`` and, when given, the class token
    ``[B, 1, C]``; a sample's class token and patch tokens are dropped
    together, as in the original, where they are one sequence.

    ``cls_only=True`` (the last block of a classifier, whose patch tokens
    reach no output) computes only what reaches the class token: k and v
    from all tokens, then the class token's query, attention, projection and
    MLP. It returns ``None`` for the patch tokens, and its ``attn.conv_q``
    (the patch tokens' query projection) is never run.
    """

    def __init__(self, dims: int, num_heads: int, mlp_ratio: float = 4.,
                 qkv_bias: bool = True, drop: float = 0.,
                 attn_drop: float = 0., drop_path: float = 0.,
                 act_cfg: dict = dict(type='mmengine.QuickGELU'),
                 norm_cfg: dict = dict(type='BN'),
                 with_cp: bool = False,
                 cls_only: bool = False, kv_stride: int = 2,
                 qkv_proj: str = 'conv') -> None:
        super().__init__()
        self.with_cp = with_cp
        self.cls_only = cls_only
        self.norm1 = nn.LayerNorm(dims, eps=1e-5)
        self.attn = ConvAttention(dims, num_heads=num_heads,
                                  qkv_bias=qkv_bias, attn_drop=attn_drop,
                                  proj_drop=drop, norm_cfg=norm_cfg,
                                  kv_stride=kv_stride, qkv_proj=qkv_proj)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dims, eps=1e-5)
        self.mlp = Mlp(dims, hidden=int(dims * mlp_ratio), act_cfg=act_cfg,
                       drop=drop)

    def _forward(self, x: Tensor, hw: HW, cls_token: Optional[Tensor]
                 ) -> Tuple[Optional[Tensor], Optional[Tensor]]:
        if self.cls_only:
            return None, self._forward_cls(x, hw, cls_token)
        if cls_token is None:
            x = x + self.drop_path(self.attn(self.norm1(x), hw)[0])
            x = x + self.drop_path(self.mlp(self.norm2(x)))
            return x, None
        a, a_cls = self.drop_path(
            *self.attn(self.norm1(x), hw, self.norm1(cls_token)))
        x = x + a
        cls_token = cls_token + a_cls
        m, m_cls = self.drop_path(self.mlp(self.norm2(x)),
                                  self.mlp(self.norm2(cls_token)))
        x = x + m
        cls_token = cls_token + m_cls
        return x, cls_token

    def _forward_cls(self, x: Tensor, hw: HW, cls_token: Tensor) -> Tensor:
        if cls_token is None:
            raise ValueError('a cls_only block needs the class token')
        a = self.attn.forward_cls(self.norm1(x), hw, self.norm1(cls_token))
        cls_token = cls_token + self.drop_path(a)
        cls_token = cls_token + self.drop_path(self.mlp(self.norm2(cls_token)))
        return cls_token

    def forward(self, x: Tensor, hw: HW, cls_token: Optional[Tensor] = None
                ) -> Tuple[Optional[Tensor], Optional[Tensor]]:
        if self.with_cp and x.requires_grad:
            # Recompute in backward; BatchNorm must not count that pass again.
            return cp.checkpoint(
                self._forward, x, hw, cls_token, use_reentrant=False,
                context_fn=lambda: (nullcontext(), _bn_stats_frozen(self)))
        return self._forward(x, hw, cls_token)


def resize_pos_embed(pos_embed: Tensor, src_hw: HW, dst_hw: HW) -> Tensor:
    """Learned position embedding ``[1, h*w, C]`` of an ``src_hw`` grid ->
    ``[1, H*W, C]`` for ``dst_hw``, by bicubic interpolation
    (``align_corners=False``), as DeiT and timm resize theirs.

    Returned as it is when the sizes are equal in eager mode; when the
    sizes are symbolic (torch.export / ONNX with dynamic height and width)
    it always interpolates, so the graph does not fix the export size (at an
    equal size bicubic interpolation reproduces the grid exactly).
    """
    if all(isinstance(s, int) for s in dst_hw) and tuple(dst_hw) == tuple(
            src_hw):
        return pos_embed
    grid = pos_embed.unflatten(1, tuple(src_hw)).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=dst_hw, mode='bicubic',
                         align_corners=False)
    return map_to_tokens(grid)


class Stage(nn.Module):
    """One CvT stage: :class:`ConvEmbed` then ``depth`` :class:`Block` s.

    ``[B, C_in, H, W]`` -> patch tokens ``[B, H'*W', C]``, ``(H', W')`` and the
    class token ``[B, 1, C]`` (``None`` without one). With
    ``cls_only_last=True`` the last block computes only the class token and
    the patch tokens come back as ``None``.

    ``mlp_ratio`` and ``kv_stride`` are one value for every block or one per
    block (the NAS space). ``pos_embed_grid=(h, w)`` adds a learned absolute
    position embedding ``pos_embed [1, h*w, C]`` to the patch tokens after
    the embedding's LayerNorm (the class token, itself learned, gets none),
    resized by :func:`resize_pos_embed` for other grids.
    """

    def __init__(self, in_channels: int, dims: int, depth: int,
                 num_heads: int, patch_size: int, stride: int, padding: int,
                 mlp_ratio: Union[float, Sequence[float]] = 4.,
                 qkv_bias: bool = True,
                 drop_rate: float = 0., attn_drop_rate: float = 0.,
                 drop_path_rates: Sequence[float] = (),
                 with_cls_token: bool = False,
                 act_cfg: dict = dict(type='mmengine.QuickGELU'),
                 norm_cfg: dict = dict(type='BN'),
                 with_cp: bool = False,
                 cls_only_last: bool = False,
                 kv_stride: Union[int, Sequence[int]] = 2,
                 qkv_proj: str = 'conv',
                 pos_embed_grid: Optional[HW] = None) -> None:
        super().__init__()
        if cls_only_last and not with_cls_token:
            raise ValueError('cls_only_last needs with_cls_token=True')
        self.patch_embed = ConvEmbed(in_channels, dims,
                                     kernel_size=patch_size, stride=stride,
                                     padding=padding)
        self.pos_embed_grid = (None if pos_embed_grid is None
                               else tuple(pos_embed_grid))
        self.pos_embed = (None if pos_embed_grid is None else nn.Parameter(
            torch.zeros(1, pos_embed_grid[0] * pos_embed_grid[1], dims)))
        self.pos_drop = nn.Dropout(drop_rate)
        self.cls_token = (nn.Parameter(torch.zeros(1, 1, dims))
                          if with_cls_token else None)
        rates = list(drop_path_rates) or [0.] * depth
        ratios = per_block(mlp_ratio, depth, 'mlp_ratio')
        kv_strides = per_block(kv_stride, depth, 'kv_stride')
        self.blocks = nn.ModuleList([
            Block(dims, num_heads=num_heads, mlp_ratio=ratios[j],
                  qkv_bias=qkv_bias, drop=drop_rate, attn_drop=attn_drop_rate,
                  drop_path=rates[j], act_cfg=act_cfg, norm_cfg=norm_cfg,
                  with_cp=with_cp, cls_only=cls_only_last and j == depth - 1,
                  kv_stride=kv_strides[j], qkv_proj=qkv_proj)
            for j in range(depth)
        ])

    def forward(self, x: Tensor
                ) -> Tuple[Optional[Tensor], HW, Optional[Tensor]]:
        x, hw = self.patch_embed(x)
        if self.pos_embed is not None:
            x = x + resize_pos_embed(self.pos_embed, self.pos_embed_grid, hw)
        x = self.pos_drop(x)
        cls_token = None
        if self.cls_token is not None:
            cls_token = self.pos_drop(
                self.cls_token.expand(x.shape[0], -1, -1))
        for block in self.blocks:
            x, cls_token = block(x, hw, cls_token)
        return x, hw, cls_token


@MODELS.register_module()
class CvT(BaseModule):
    """CvT backbone (Wu et al., "CvT: Introducing Convolutions to Vision
    Transformers", ICCV 2021), exact to the released checkpoints.

    Registered in mmengine's root ``MODELS``, so mmpretrain, mmdet and mmseg
    configs all build it with ``backbone=dict(type='CvT', ...)``.

    Args:
        arch: ``'13'``, ``'21'``, ``'w24'`` (``'cvt-13'`` style aliases too) or
            a dict with per-stage ``embed_dims``, ``depths``, ``num_heads`` and
            optionally ``mlp_ratios`` and ``kv_strides`` (per stage, each a
            value or a list with one value per block: a searched CvT-13-NAS
            model is one dict, see :meth:`resolve_arch`).
        in_channels: input image channels.
        out_indices: stages whose feature maps are returned (strides 4/8/16).
        out_type: ``'featmap'`` returns a tuple of NCHW maps for
            ``out_indices`` (dense prediction); ``'cls_token'`` returns
            ``(cls_token,)``, the ``[B, C]`` class token of the last stage
            after the final LayerNorm (classification: mmpretrain's
            ``LinearClsHead`` on top gives the published classifier). The
            last block then computes only what reaches the class token, and
            its unused ``attn.conv_q`` is excluded from training (see
            :meth:`_exclude_unused`), so DDP needs no
            ``find_unused_parameters``.
        final_norm: with ``out_type='cls_token'``, apply the published
            classifier's final LayerNorm (``cls_norm``) to the class token.
        out_norm: add a LayerNorm to each returned map (new parameters, for
            dense prediction).
        qkv_bias: bias in the q/k/v Linear maps.
        drop_rate, attn_drop_rate: dropout after embeddings/MLP/projection
            and on attention weights.
        drop_path_rate: stochastic depth; each stage uses
            ``linspace(0, rate_i, depth_i)``. A float applies to every stage,
            a sequence gives one rate per stage, ``None`` the arch's default
            (``[0, 0, 0.1]``, W24 ``[0, 0, 0.3]``).
        act_cfg: MLP activation; QuickGELU is what the checkpoints use.
        norm_cfg: the BatchNorm of the q/k/v conv projections (e.g. SyncBN).
        frozen_stages: as in mmdet: ``0`` freezes the stem (stage 0's conv
            embedding), ``k >= 1`` stages ``0..k-1``; ``-1`` freezes nothing.
        norm_eval: keep every BatchNorm in eval mode during training.
        with_cp: gradient checkpointing per block.
        patch_embed: the token embedding of each stage (one value or three):
            ``'conv'`` (the release's overlapping conv, kernels 7/3/3,
            strides 4/2/2, paddings 2/1/1) or ``'patch'``, non-overlapping
            patches (kernel = stride = the stage's stride, 4/2/2, no padding:
            the same token grids, the paper's Table 6 rows without a
            convolutional token embedding).
        pos_embed: add a learned absolute position embedding to the patch
            tokens of each stage (one bool or three; the paper's Tables 5-6).
            It is sized for ``img_size`` and resized bicubically to other
            input sizes (DeiT/timm); trunc-normal(0.02) init.
        img_size: the training input size ``H`` or ``(H, W)`` the position
            embeddings are sized for (only read with ``pos_embed``).
        qkv_proj: the q/k/v projection of each stage (one value or three):
            ``'conv'`` (depthwise 3x3 conv + BatchNorm, the release) or
            ``'linear'`` (position-wise: the Linear maps alone, Table 8).
        kv_stride: the k/v conv stride, one int, or per stage an int or a
            list with one per block; overrides ``arch['kv_strides']``.
            Default: 2 for a conv projection (the release), 1 for a linear
            one (its only valid value).
        pretrained: deprecated, use ``init_cfg``.
        init_cfg: ``dict(type='Pretrained', checkpoint=..., prefix=None)``:
            the checkpoint is a file or Hugging Face model folder, an http(s)
            URL, a Hugging Face repo id (``microsoft/cvt-13``,
            ``hf://org/name@rev``) or a model-zoo name (``cvt-13``...), in
            the original release's, Hugging Face's or this project's layout.
    """

    arch_zoo: Dict[str, dict] = {
        '13': dict(embed_dims=[64, 192, 384], depths=[1, 2, 10],
                   num_heads=[1, 3, 6], drop_path_rates=[0., 0., 0.1]),
        '21': dict(embed_dims=[64, 192, 384], depths=[1, 4, 16],
                   num_heads=[1, 3, 6], drop_path_rates=[0., 0., 0.1]),
        'w24': dict(embed_dims=[192, 768, 1024], depths=[2, 2, 20],
                    num_heads=[3, 12, 16], drop_path_rates=[0., 0., 0.3]),
    }
    patch_sizes = (7, 3, 3)
    strides = (4, 2, 2)
    paddings = (2, 1, 1)
    num_stages = 3

    def __init__(self,
                 arch: Union[str, dict] = '13',
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (0, 1, 2),
                 out_type: str = 'featmap',
                 final_norm: bool = True,
                 out_norm: bool = False,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: Union[None, float, Sequence[float]] = None,
                 act_cfg: dict = dict(type='mmengine.QuickGELU'),
                 norm_cfg: dict = dict(type='BN'),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 patch_embed: Union[str, Sequence[str]] = 'conv',
                 pos_embed: Union[bool, Sequence[bool]] = False,
                 img_size: Union[int, Sequence[int]] = 224,
                 qkv_proj: Union[str, Sequence[str]] = 'conv',
                 kv_stride=None,
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if pretrained is not None:
            if init_cfg is not None:
                raise AssertionError('init_cfg and pretrained cannot be '
                                     'specified at the same time')
            if not isinstance(pretrained, str):
                raise TypeError('pretrained must be a str or None, got '
                                f'{type(pretrained).__name__}')
            warnings.warn('DeprecationWarning: pretrained is deprecated, '
                          'please use "init_cfg" instead')
            self.init_cfg = dict(type='Pretrained', checkpoint=pretrained)

        self.arch = self.resolve_arch(arch)
        dims = self.arch['embed_dims']
        self.embed_dims = list(dims)
        self.in_channels = in_channels
        self.out_indices = self._parse_out_indices(out_indices)
        if out_type not in ('featmap', 'cls_token'):
            raise ValueError("out_type must be 'featmap' or 'cls_token', got "
                             f'{out_type!r}')
        self.out_type = out_type
        if not -1 <= frozen_stages <= self.num_stages:
            raise ValueError('frozen_stages must be in '
                             f'[-1, {self.num_stages}], got {frozen_stages}')
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        rates = self._parse_drop_path(drop_path_rate)
        self.patch_embed_types = self._per_stage(patch_embed, 'patch_embed',
                                                 ('conv', 'patch'))
        self.qkv_proj = self._per_stage(qkv_proj, 'qkv_proj',
                                        ('conv', 'linear'))
        self.pos_embed = self._per_stage(pos_embed, 'pos_embed',
                                         (True, False))
        # per-stage token embedding: the release's overlapping convs, or
        # non-overlapping patches (kernel = stride, no padding)
        conv = (CvT.patch_sizes, CvT.strides, CvT.paddings)
        self.patch_sizes = tuple(
            conv[0][i] if t == 'conv' else conv[1][i]
            for i, t in enumerate(self.patch_embed_types))
        self.paddings = tuple(conv[2][i] if t == 'conv' else 0
                              for i, t in enumerate(self.patch_embed_types))
        if kv_stride is not None:
            self.arch['kv_strides'] = (
                [kv_stride] * self.num_stages if isinstance(kv_stride, int)
                else list(kv_stride))
        if self.arch.get('kv_strides') is None:
            self.arch['kv_strides'] = [2 if p == 'conv' else 1
                                       for p in self.qkv_proj]
        self._check_per_block('kv_strides')
        self.img_size = ((img_size, img_size) if isinstance(img_size, int)
                         else tuple(img_size))
        if len(self.img_size) != 2:
            raise ValueError(f'img_size takes H or (H, W), got {img_size}')
        grids = self.feature_sizes(self.img_size)

        self.stages = nn.ModuleList()
        for i in range(self.num_stages):
            depth = self.arch['depths'][i]
            self.stages.append(Stage(
                in_channels=in_channels if i == 0 else dims[i - 1],
                dims=dims[i], depth=depth,
                num_heads=self.arch['num_heads'][i],
                patch_size=self.patch_sizes[i], stride=self.strides[i],
                padding=self.paddings[i],
                kv_stride=self.arch['kv_strides'][i],
                qkv_proj=self.qkv_proj[i],
                pos_embed_grid=grids[i] if self.pos_embed[i] else None,
                mlp_ratio=self.arch['mlp_ratios'][i], qkv_bias=qkv_bias,
                drop_rate=drop_rate, attn_drop_rate=attn_drop_rate,
                drop_path_rates=torch.linspace(0, rates[i], depth).tolist(),
                with_cls_token=i == self.num_stages - 1, act_cfg=act_cfg,
                norm_cfg=norm_cfg, with_cp=with_cp,
                cls_only_last=(i == self.num_stages - 1
                               and out_type == 'cls_token')))
        self.out_norm = out_norm
        if out_type == 'featmap' and out_norm:
            for i in self.out_indices:
                self.add_module(f'norm{i}', nn.LayerNorm(dims[i], eps=1e-5))
        self.cls_norm = (nn.LayerNorm(dims[-1], eps=1e-5)
                         if out_type == 'cls_token' and final_norm else None)
        self._freeze_stages()
        self._exclude_unused()

    # -- argument parsing -------------------------------------------------
    def _per_stage(self, value, name: str, choices: tuple) -> tuple:
        """One option value for every stage, or a sequence of three."""
        values = (tuple(value) if isinstance(value, (list, tuple))
                  else (value, ) * self.num_stages)
        if len(values) != self.num_stages or any(v not in choices
                                                 for v in values):
            raise ValueError(f'{name} takes one of {choices} or a list of '
                             f'{self.num_stages} of them (one per stage), '
                             f'got {value!r}')
        return values

    def _check_per_block(self, key: str) -> None:
        for i, v in enumerate(self.arch[key]):
            per_block(v, self.arch['depths'][i], f'{key}[{i}]')

    @classmethod
    def resolve_arch(cls, arch: Union[str, dict]) -> dict:
        """An arch name (``'13'``, ``'cvt-21'``...) or dict -> the full
        per-stage dict (``embed_dims``, ``depths``, ``num_heads``,
        ``mlp_ratios``, ``drop_path_rates``, and ``kv_strides`` when given).

        ``mlp_ratios`` and ``kv_strides`` hold per stage one value or a list
        with one value per block, so a model of the paper's NAS space (the
        k/v stride and MLP ratio of every block) is one dict, e.g.
        ``dict(embed_dims=[64, 192, 384], depths=[1, 4, 16],
        num_heads=[1, 3, 6], kv_strides=[2, [1, 1, 1, 2], 2],
        mlp_ratios=[2, 4, [4] * 8 + [2] * 8])``. ``kv_strides`` left out:
        2 per conv projection, 1 per linear one (see ``kv_stride``)."""
        if isinstance(arch, str):
            key = arch.lower().replace('cvt', '').strip('-_ ')
            if key not in cls.arch_zoo:
                raise ValueError(
                    f'Unknown CvT arch {arch!r}; valid names are '
                    f'{sorted(cls.arch_zoo)} (also as "cvt-13" etc.) or a '
                    'dict with embed_dims, depths and num_heads')
            arch = dict(cls.arch_zoo[key])
        elif isinstance(arch, Mapping):
            missing = {'embed_dims', 'depths', 'num_heads'} - set(arch)
            if missing:
                raise ValueError(f'a custom arch dict needs {sorted(missing)}')
            arch = dict(arch)
        else:
            raise TypeError(f'arch must be a str or dict, got {type(arch)}')
        arch.setdefault('mlp_ratios', [4.] * cls.num_stages)
        arch.setdefault('drop_path_rates', [0., 0., 0.1])
        keys = ['embed_dims', 'depths', 'num_heads', 'mlp_ratios']
        if arch.get('kv_strides') is not None:
            keys.append('kv_strides')
        for key in keys:
            if len(arch[key]) != cls.num_stages:
                raise ValueError(f'arch[{key!r}] needs {cls.num_stages} '
                                 f'values, got {arch[key]}')
        for key in keys[3:]:
            for i, v in enumerate(arch[key]):
                per_block(v, arch['depths'][i], f'arch[{key!r}][{i}]')
        return arch

    def _parse_out_indices(self, out_indices: Sequence[int]
                           ) -> Tuple[int, ...]:
        if isinstance(out_indices, int):
            out_indices = [out_indices]
        out = []
        for i in out_indices:
            j = i + self.num_stages if i < 0 else i
            if not 0 <= j < self.num_stages:
                raise ValueError(f'out_indices {tuple(out_indices)} must lie '
                                 f'in [0, {self.num_stages})')
            out.append(j)
        return tuple(out)

    def _parse_drop_path(self, rate) -> List[float]:
        if rate is None:
            return list(self.arch['drop_path_rates'])
        if isinstance(rate, (int, float)):
            return [float(rate)] * self.num_stages
        rate = [float(r) for r in rate]
        if len(rate) != self.num_stages:
            raise ValueError(f'drop_path_rate needs a float or '
                             f'{self.num_stages} values, got {rate}')
        if not all(0. <= r < 1. for r in rate):
            raise ValueError(f'drop_path_rate must be in [0, 1) (the '
                             f'probability of skipping a block), got {rate}')
        return rate

    # -- shapes -----------------------------------------------------------
    def feature_sizes(self, hw: HW) -> List[HW]:
        """Spatial size of each stage's output for an input of size ``hw``."""
        sizes = []
        for k, s, p in zip(self.patch_sizes, self.strides, self.paddings):
            hw = (conv_out_size(hw[0], k, s, p), conv_out_size(hw[1], k, s, p))
            sizes.append(hw)
        return sizes

    def _check_input(self, x: Tensor) -> None:
        if x.dim() != 4:
            raise ValueError('CvT expects a 4-D image batch [B, C, H, W], got '
                             f'a tensor of shape {tuple(x.shape)}')
        if x.shape[1] != self.in_channels:
            raise ValueError(f'CvT was built for {self.in_channels} input '
                             f'channels, got {x.shape[1]} (shape '
                             f'{tuple(x.shape)})')
        sizes = self.feature_sizes((x.shape[2], x.shape[3]))
        if min(min(s) for s in sizes) < 1:
            least = next(n for n in range(1, 4096)
                         if min(self.feature_sizes((n, n))[-1]) >= 1)
            raise ValueError(
                f'input {x.shape[2]}x{x.shape[3]} is too small for the three '
                f'CvT stages (stage sizes {sizes}); height and width must be '
                f'at least {least}')

    # -- forward ----------------------------------------------------------
    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """``[B, C_in, H, W]`` -> tuple of ``[B, C_i, H_i, W_i]`` maps for
        ``out_indices`` (strides 4, 8, 16), or ``([B, C],)`` class token.

        The maps are returned contiguous (plain NCHW memory), not as the
        channels-last views the stages use inside: mmcv's compiled ops read
        raw NCHW memory without checking (RoIAlign on the CPU silently pools
        scrambled features from a channels-last map, and a conv neck passes
        the layout on to it), so a backbone must hand over standard maps."""
        self._check_input(x)
        outs = []
        cls_token = None
        for i, stage in enumerate(self.stages):
            x, hw, cls_token = stage(x)
            if self.out_type == 'featmap' and i in self.out_indices:
                out = getattr(self, f'norm{i}')(x) if self.out_norm else x
                outs.append(tokens_to_map(out, hw).contiguous())
            if i + 1 < self.num_stages:
                x = tokens_to_map(x, hw)
        if self.out_type == 'cls_token':
            cls_token = cls_token.flatten(1)
            if self.cls_norm is not None:
                cls_token = self.cls_norm(cls_token)
            return (cls_token, )
        return tuple(outs)

    # -- OpenMMLab conventions ------------------------------------------
    def _freeze_stages(self) -> None:
        frozen: List[nn.Module] = []
        if self.frozen_stages >= 0:
            frozen.append(self.stages[0].patch_embed)
        for i in range(self.frozen_stages):
            frozen.append(self.stages[i])
            if hasattr(self, f'norm{i}'):
                frozen.append(getattr(self, f'norm{i}'))
        for m in frozen:
            m.eval()
            for p in m.parameters():
                p.requires_grad = False
        if self.frozen_stages >= 0 and self.stages[0].pos_embed is not None:
            self.stages[0].pos_embed.requires_grad = False  # with the stem

    def _exclude_unused(self) -> None:
        """With ``out_type='cls_token'`` the last block computes only the
        class token, so its patch-token query projection (``attn.conv_q``:
        depthwise conv + BatchNorm) never runs. Its parameters would get no
        gradient, which DDP can only tolerate with
        ``find_unused_parameters=True`` (an autograd-graph walk every step):
        they are excluded from training instead (``requires_grad=False``,
        BatchNorm in eval mode), and their keys stay, so the published
        checkpoints load strictly and a ``featmap`` model of the same
        weights still has them."""
        if self.out_type != 'cls_token' or not self.stages[-1].blocks:
            return
        conv_q = self.stages[-1].blocks[-1].attn.conv_q
        conv_q.eval()
        conv_q.requires_grad_(False)

    def train(self, mode: bool = True) -> 'CvT':
        super().train(mode)
        self._freeze_stages()
        self._exclude_unused()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def get_layer_depth(self, param_name: str, prefix: str = ''
                        ) -> Tuple[int, int]:
        """Layer depth of a parameter, for mmpretrain's
        ``LearningRateDecayOptimWrapperConstructor`` (layer-wise lr decay).

        Depth 0 is the stem (stage 0's conv embedding and position
        embedding); the blocks of all stages follow in order, 1 to
        ``sum(depths)``; a later stage's conv embedding, position embedding
        and the class token share the depth of their stage's first
        block; the output/final norms and everything outside the backbone
        (``prefix`` not matched: neck, head) get the last depth.

        Returns ``(layer_depth, num_layers)`` with
        ``num_layers = sum(depths) + 2``.
        """
        depths = self.arch['depths']
        num_layers = sum(depths) + 2
        if not param_name.startswith(prefix):
            return num_layers - 1, num_layers
        name = param_name[len(prefix):]
        m = re.match(
            r'stages\.(\d+)\.(blocks\.(\d+)|patch_embed|pos_embed|cls_token)',
            name)
        if m is None:
            return num_layers - 1, num_layers
        stage = int(m.group(1))
        first_block = sum(depths[:stage]) + 1
        if m.group(3) is not None:
            return first_block + int(m.group(3)), num_layers
        if stage == 0 and m.group(2) in ('patch_embed', 'pos_embed'):
            return 0, num_layers
        return first_block, num_layers

    def fuse(self) -> 'CvT':
        """Fold each projection's BatchNorm into its depthwise conv.

        For inference: afterwards BatchNorm statistics can no longer be
        trained. Returns ``self``.
        """
        for m in self.modules():
            if isinstance(m, ConvProjection):
                m.fuse()
        self._exclude_unused()
        return self

    def _init_paper_weights(self) -> None:
        """trunc-normal(0.02) Linear weights, zero biases, norms at 1/0,
        class token and position embeddings trunc-normal(0.02); convs keep
        PyTorch's default."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, KVLinear)):
                trunc_normal_(m.weight, std=.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.LayerNorm, _BatchNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for stage in self.stages:
            if stage.cls_token is not None:
                trunc_normal_(stage.cls_token, std=.02)
            if stage.pos_embed is not None:
                trunc_normal_(stage.pos_embed, std=.02)

    def init_weights(self) -> None:
        """The paper's initialisation, then ``init_cfg``.

        ``dict(type='Pretrained', checkpoint=..., prefix=None)`` runs as
        ``'CvTPretrained'``, the weight initialiser that
        :mod:`cvt_backbone.checkpoint` registers in mmengine's
        ``WEIGHT_INITIALIZERS``: mmengine's own ``Pretrained`` reads
        ``.pth`` files with the keys as they are, while the CvT weights come
        as Hugging Face files, repos and zoo names in two published layouts
        (see :func:`cvt_backbone.checkpoint.load_weights`). Other
        initialisers are mmengine's (with mmengine's errors on bad ones).
        """
        self._init_paper_weights()
        cfgs = self.init_cfg
        if cfgs is not None:
            cfgs = [dict(c, type='CvTPretrained')
                    if isinstance(c, Mapping) and c.get('type') == 'Pretrained'
                    else c for c in (cfgs if isinstance(cfgs, list)
                                     else [cfgs])]
            initialize(self, cfgs if len(cfgs) > 1 else cfgs[0])
        self._is_init = True
        print_log(f'CvT weights initialised ({self.init_cfg or "paper init"})',
                  logger='current', level=10)
