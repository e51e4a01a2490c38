"""A model whose training step costs next to nothing, for measuring what
feeds a training step: with it, ``tools/train.py`` runs a config's real
dataset, pipeline, loader workers, collation and data preprocessor
(normalisation, Mixup/CutMix), and the iteration time is theirs."""
import torch
from mmengine.model import BaseModel
from mmengine.registry import MODELS


@MODELS.register_module()
class LoaderProbe(BaseModel):
    """One parameter; the loss is zero but reads every preprocessed input
    value (``inputs`` ``[B, C, H, W]``), so nothing upstream is skipped.
    ``data_preprocessor``: the classifier's (e.g. mmpretrain's
    ``ClsDataPreprocessor`` with its ``batch_augments``)."""

    def __init__(self, data_preprocessor=None, init_cfg=None) -> None:
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        if mode == 'loss':
            return dict(loss=self.weight * inputs.float().mean())
        return inputs
