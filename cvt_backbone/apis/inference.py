"""Inference with CvT classifiers, detectors and segmenters on one image of
any size.

A thin layer over mmpretrain's, mmdet's and mmseg's own APIs
(``ImageClassificationInferencer``, ``inference_detector``,
``inference_model`` and their visualisers) on a model from
:func:`cvt_backbone.apis.builder.init_model`, so one call (and
``tools/infer.py``) serves all three libraries with checkpoints from any
source (file, URL, Hugging Face repo, model-zoo name) in any CvT layout.
"""
import os
import os.path as osp
import time
from typing import List, Optional, Tuple

import numpy as np

from .builder import init_model


def classify(model, image, topk: int = 5) -> List[Tuple[str, float]]:
    """The ``topk`` classes of a classifier for ``image`` (a path or a BGR
    ``uint8 [H, W, 3]`` array), with probabilities, after the model's test
    preprocessing (its config's test pipeline)."""
    from mmpretrain.apis import ImageClassificationInferencer
    scores = ImageClassificationInferencer(model=model)(image)[0][
        'pred_scores']
    names = getattr(model, '_dataset_meta', {}).get('classes')
    top = np.argsort(-scores)[:topk]
    return [(names[i] if names else f'class {i}', float(scores[i]))
            for i in top]


def _visualizer(task: str, model):
    name = f'cvt_{task}_{time.time_ns()}'  # visualizers are named instances
    if task == 'det':
        from mmdet.visualization import DetLocalVisualizer
        vis = DetLocalVisualizer(name=name)
    else:
        from mmseg.visualization import SegLocalVisualizer
        vis = SegLocalVisualizer(name=name, alpha=0.5)
    vis.dataset_meta = model.dataset_meta
    return vis


def predict(model, task: str, image: np.ndarray):
    """One image (BGR ``uint8 [H, W, 3]``, any size) -> a Det/SegDataSample
    in the image's own coordinates."""
    if task == 'det':
        from mmdet.apis import inference_detector
        return inference_detector(model, image)
    from mmseg.apis import inference_model
    return inference_model(model, image)


def draw(model, task: str, image: np.ndarray, result, out_file: str,
         score_thr: float = 0.3) -> str:
    """Draw ``result`` on ``image`` and save it as ``out_file`` (PNG/JPG)."""
    import mmcv
    vis = _visualizer(task, model)
    rgb = mmcv.bgr2rgb(image)
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    kwargs = dict(pred_score_thr=score_thr) if task == 'det' else {}
    vis.add_datasample('prediction', rgb, result, draw_gt=False, show=False,
                       out_file=out_file, **kwargs)
    return out_file


def summarise(task: str, result, score_thr: float = 0.3) -> str:
    if task == 'det':
        inst = result.pred_instances
        keep = inst.scores >= score_thr
        return (f'{int(keep.sum())} detections with score >= {score_thr} '
                f'({len(inst)} in total)')
    seg = result.pred_sem_seg.data.cpu().numpy()[0]
    labels, counts = np.unique(seg, return_counts=True)
    share = ', '.join(f'{int(label)}: {c / seg.size:.0%}'
                      for label, c in zip(labels, counts))
    return f'segmentation {seg.shape[0]}x{seg.shape[1]}, class shares {share}'


def infer(config, checkpoint: Optional[str], image: str,
          out: Optional[str] = None, score_thr: float = 0.3,
          device: str = 'cpu'):
    """Detect or segment the image file ``image`` with the model of
    ``config`` and ``checkpoint`` and draw the result to ``out`` (default
    ``<image stem>_pred.png``). Returns ``(result, out)``."""
    model, task = init_model(config, checkpoint, device)
    return predict_and_draw(model, task, image, out, score_thr)


def predict_and_draw(model, task: str, image: str, out: Optional[str] = None,
                     score_thr: float = 0.3):
    """:func:`predict` on the image file ``image`` and :func:`draw` the
    result to ``out`` (default ``<image stem>_pred.png``). Returns
    ``(result, out)``."""
    import mmcv
    img = mmcv.imread(image)
    if img is None:
        raise FileNotFoundError(f'cannot read image {image}')
    result = predict(model, task, img)
    if out is None:
        out = osp.splitext(image)[0] + '_pred.png'
    draw(model, task, img, result, out, score_thr)
    return result, out
