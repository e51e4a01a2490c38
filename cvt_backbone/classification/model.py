"""The classifier: data preprocessor (normalisation and the paper's batch
augmentations), CvT backbone, and the paper's head on the class token."""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel, BaseModule, ImgDataPreprocessor
from mmengine.model.weight_init import trunc_normal_
from mmengine.registry import MODELS
from mmengine.structures import BaseDataElement
from torch import Tensor

Samples = Optional[List[BaseDataElement]]


@MODELS.register_module()
class CvTClsHead(BaseModule):
    """Final LayerNorm on the class token, then Linear: ``[B, C]`` -> logits.

    Takes the backbone's output tuple (``CvT(out_type='cls_token')`` returns
    ``(cls_token,)``) and uses its last element. Keys: ``norm.*``, ``fc.*``
    (the release's ``norm``/``head``, HF's ``layernorm``/``classifier``).

    The loss is cross-entropy against soft targets: a sample's ``gt_score``
    (set by Mixup/CutMix) or else the one-hot ``gt_label``, smoothed by
    ``label_smoothing`` (``y (1 - eps) + eps / K``), i.e. timm's
    ``SoftTargetCrossEntropy`` on timm's smoothed, mixed targets.
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 384,
                 label_smoothing: float = 0., init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_classes <= 0:
            raise ValueError(f'num_classes must be positive, got {num_classes}')
        if not 0 <= label_smoothing < 1:
            raise ValueError('label_smoothing must be in [0, 1), got '
                             f'{label_smoothing}')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.label_smoothing = label_smoothing
        self.norm = nn.LayerNorm(in_channels, eps=1e-5)
        self.fc = nn.Linear(in_channels, num_classes)

    def init_weights(self) -> None:
        if self.init_cfg is not None:
            return super().init_weights()
        nn.init.ones_(self.norm.weight)
        nn.init.zeros_(self.norm.bias)
        trunc_normal_(self.fc.weight, std=.02)  # bias keeps its default
        self._is_init = True

    def pre_logits(self, feats: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        x = feats[-1] if isinstance(feats, (tuple, list)) else feats
        if x.dim() != 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f'CvTClsHead expects the class token [B, {self.in_channels}] '
                f'(CvT with out_type="cls_token"), got {tuple(x.shape)}')
        return self.norm(x)

    def forward(self, feats: Union[Tensor, Tuple[Tensor, ...]]) -> Tensor:
        return self.fc(self.pre_logits(feats))

    def targets(self, samples: List[BaseDataElement], device) -> Tensor:
        """Soft targets ``[B, K]`` for ``samples``, smoothed."""
        if all('gt_score' in s for s in samples):
            y = torch.stack([s.gt_score for s in samples]).to(device)
        else:
            labels = torch.stack([s.gt_label.reshape(()) for s in samples])
            if labels.min() < 0 or labels.max() >= self.num_classes:
                raise ValueError(f'labels must lie in [0, {self.num_classes})'
                                 f', got {labels.tolist()}')
            y = F.one_hot(labels.to(device), self.num_classes).float()
        eps = self.label_smoothing
        return y * (1 - eps) + eps / self.num_classes

    def loss(self, feats, samples: List[BaseDataElement]) -> Dict[str, Tensor]:
        logits = self(feats)
        y = self.targets(samples, logits.device)
        loss = -(y * F.log_softmax(logits.float(), dim=-1)).sum(-1).mean()
        return dict(loss=loss)

    def predict(self, feats, samples: Samples = None
                ) -> List[BaseDataElement]:
        scores = F.softmax(self(feats).float(), dim=-1)
        if samples is None:
            samples = [BaseDataElement() for _ in range(len(scores))]
        for sample, score in zip(samples, scores):
            sample.set_data(dict(pred_score=score,
                                 pred_label=score.argmax(-1, keepdim=True)))
        return samples


@MODELS.register_module()
class ClsDataPreprocessor(ImgDataPreprocessor):
    """Stacks and normalises images, then, in training only, applies the
    paper's sample and batch augmentations (timm's semantics):

    * random erasing (``erasing_prob``, 'pixel' mode: normal noise in the
      normalised image, area 2-33%, aspect 0.3-3.3, one box);
    * Mixup (``mixup_alpha``) or CutMix (``cutmix_alpha``) on the whole batch
      with probability ``mix_prob``, CutMix chosen with ``switch_prob`` when
      both are on; the batch is mixed with its reverse and each sample gets
      ``gt_score`` (mixed one-hot targets; the head smooths them). CutMix's
      ``lam`` is corrected to the pasted box's real area.

    Images come BGR from the pipeline; ``mean``/``std`` are RGB with
    ``bgr_to_rgb=True``.
    """

    def __init__(self, mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375),
                 bgr_to_rgb: bool = True, num_classes: Optional[int] = None,
                 mixup_alpha: float = 0., cutmix_alpha: float = 0.,
                 mix_prob: float = 1., switch_prob: float = 0.5,
                 erasing_prob: float = 0., **kwargs) -> None:
        super().__init__(mean=mean, std=std, bgr_to_rgb=bgr_to_rgb, **kwargs)
        if (mixup_alpha > 0 or cutmix_alpha > 0) and not num_classes:
            raise ValueError('Mixup/CutMix need num_classes in the data '
                             'preprocessor')
        self.num_classes = num_classes
        self.mixup_alpha = mixup_alpha
        self.cutmix_alpha = cutmix_alpha
        self.mix_prob = mix_prob
        self.switch_prob = switch_prob
        self.erasing_prob = erasing_prob

    def forward(self, data: dict, training: bool = False) -> dict:
        data = super().forward(data, training)
        if training:
            inputs, samples = data['inputs'], data['data_samples']
            if self.erasing_prob > 0:
                inputs = random_erase(inputs, self.erasing_prob)
            if self.mixup_alpha > 0 or self.cutmix_alpha > 0:
                inputs = self._mix(inputs, samples)
            data['inputs'] = inputs
        return data

    def _mix(self, x: Tensor, samples: List[BaseDataElement]) -> Tensor:
        labels = torch.stack([s.gt_label.reshape(()) for s in samples])
        y = F.one_hot(labels.to(x.device), self.num_classes).float()
        lam = 1.
        if np.random.rand() < self.mix_prob:
            use_cutmix = self.cutmix_alpha > 0 and (
                self.mixup_alpha <= 0 or np.random.rand() < self.switch_prob)
            if use_cutmix:
                lam = float(np.random.beta(self.cutmix_alpha,
                                           self.cutmix_alpha))
                (y0, y1, x0, x1), lam = cutmix_box(x.shape[-2:], lam)
                x = x.clone()
                x[:, :, y0:y1, x0:x1] = x.flip(0)[:, :, y0:y1, x0:x1]
            else:
                lam = float(np.random.beta(self.mixup_alpha,
                                           self.mixup_alpha))
                x = x * lam + x.flip(0) * (1 - lam)
        y = y * lam + y.flip(0) * (1 - lam)
        for sample, score in zip(samples, y):
            sample.gt_score = score
        return x


def cutmix_box(hw: Sequence[int], lam: float
               ) -> Tuple[Tuple[int, int, int, int], float]:
    """A random box covering about ``1 - lam`` of the image (clipped at the
    border) and the ``lam`` that matches its real area."""
    H, W = int(hw[0]), int(hw[1])
    ratio = math.sqrt(1 - lam)
    ch, cw = int(H * ratio), int(W * ratio)
    cy, cx = np.random.randint(0, H), np.random.randint(0, W)
    y0, y1 = np.clip([cy - ch // 2, cy + ch // 2], 0, H)
    x0, x1 = np.clip([cx - cw // 2, cx + cw // 2], 0, W)
    lam = 1. - float((y1 - y0) * (x1 - x0)) / (H * W)
    return (int(y0), int(y1), int(x0), int(x1)), lam


def random_erase(x: Tensor, prob: float, min_area: float = 0.02,
                 max_area: float = 1 / 3, min_aspect: float = 0.3) -> Tensor:
    """timm ``RandomErasing(mode='pixel', max_count=1)`` on a normalised
    batch ``[B, C, H, W]``: each image, with ``prob``, gets one box of
    standard-normal noise."""
    B, C, H, W = x.shape
    log_ratio = (math.log(min_aspect), math.log(1 / min_aspect))
    x = x.clone()
    for i in range(B):
        if np.random.rand() >= prob:
            continue
        for _ in range(10):
            area = np.random.uniform(min_area, max_area) * H * W
            aspect = math.exp(np.random.uniform(*log_ratio))
            h = int(round(math.sqrt(area * aspect)))
            w = int(round(math.sqrt(area / aspect)))
            if w < W and h < H:
                top = np.random.randint(0, H - h + 1)
                left = np.random.randint(0, W - w + 1)
                x[i, :, top:top + h, left:left + w] = torch.randn(
                    C, h, w, dtype=x.dtype, device=x.device)
                break
    return x


@MODELS.register_module()
class CvTClassifier(BaseModel):
    """Image classifier: ``data_preprocessor`` -> ``backbone`` -> ``head``.

    ``forward(inputs, data_samples, mode)`` with mode ``'tensor'`` (logits
    ``[B, K]``), ``'loss'`` (``dict(loss=...)``) or ``'predict'`` (samples with
    ``pred_score``/``pred_label``). A CvT backbone defaults to
    ``out_type='cls_token'``.
    """

    def __init__(self, backbone: dict, head: dict,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg=None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='ClsDataPreprocessor')
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        backbone = dict(backbone)
        if backbone.get('type') in ('CvT', 'mmengine.CvT'):
            backbone.setdefault('out_type', 'cls_token')
        self.backbone = MODELS.build(backbone)
        self.head = MODELS.build(head)

    def extract_feat(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        return self.backbone(inputs)

    def forward(self, inputs: Tensor, data_samples: Samples = None,
                mode: str = 'tensor'):
        feats = self.extract_feat(inputs)
        if mode == 'tensor':
            return self.head(feats)
        if mode == 'loss':
            return self.head.loss(feats, data_samples)
        if mode == 'predict':
            return self.head.predict(feats, data_samples)
        raise ValueError(f"mode must be 'tensor', 'loss' or 'predict', got "
                         f'{mode!r}')
