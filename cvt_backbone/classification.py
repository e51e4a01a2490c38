"""Classification pieces: the paper's head on the last stage's class token."""
from typing import Sequence, Tuple, Union

import torch.nn as nn
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from mmengine.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class CvTClsHead(BaseModule):
    """Final LayerNorm on the class token, then Linear: ``[B, C]`` -> logits.

    Takes the backbone's output tuple (``CvT(out_type='cls_token')`` returns
    ``(cls_token,)``) and uses its last element. Keys: ``norm.*``, ``fc.*``
    (the release's ``norm``/``head``, HF's ``layernorm``/``classifier``).
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 384,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_classes <= 0:
            raise ValueError(f'num_classes must be positive, got {num_classes}')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.norm = nn.LayerNorm(in_channels, eps=1e-5)
        self.fc = nn.Linear(in_channels, num_classes)

    def init_weights(self) -> None:
        super().init_weights()
        if self.init_cfg is None:
            nn.init.ones_(self.norm.weight)
            nn.init.zeros_(self.norm.bias)
            trunc_normal_(self.fc.weight, std=.02)  # bias keeps its default

    def pre_logits(self, feats: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        x = feats[-1] if isinstance(feats, (tuple, list)) else feats
        if x.dim() != 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f'CvTClsHead expects the class token [B, {self.in_channels}] '
                f'(CvT with out_type="cls_token"), got {tuple(x.shape)}')
        return self.norm(x)

    def forward(self, feats: Union[Tensor, Tuple[Tensor, ...]]) -> Tensor:
        return self.fc(self.pre_logits(feats))
