"""Top-k accuracy for the classifier's predictions."""
from typing import Dict, List, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmengine.registry import METRICS


@METRICS.register_module()
class Accuracy(BaseMetric):
    """Top-k accuracy in percent: ``accuracy/top1``, ``accuracy/top5``...

    ``topk`` values above the number of classes are reported as 100 (every
    label is among all the scores) rather than dropped.
    """

    default_prefix = 'accuracy'

    def __init__(self, topk: Sequence[int] = (1, 5), **kwargs) -> None:
        super().__init__(**kwargs)
        self.topk = tuple(topk)
        if not self.topk or min(self.topk) < 1:
            raise ValueError(f'topk must be positive integers, got {topk}')

    def process(self, data_batch, data_samples: Sequence) -> None:
        for sample in data_samples:
            get = sample.get if isinstance(sample, dict) else \
                lambda k: getattr(sample, k, None)
            score, label = get('pred_score'), get('gt_label')
            if score is None or label is None:
                raise ValueError('Accuracy needs pred_score and gt_label in '
                                 'each data sample')
            self.results.append((score.cpu(), int(label)))

    def compute_metrics(self, results: List) -> Dict[str, float]:
        scores = torch.stack([r[0] for r in results])
        labels = torch.tensor([r[1] for r in results])
        k_max = min(max(self.topk), scores.shape[1])
        top = scores.topk(k_max, dim=1).indices
        hit = top == labels[:, None]
        return {f'top{k}': 100. * hit[:, :min(k, k_max)].any(1).float().mean()
                .item() for k in self.topk}
