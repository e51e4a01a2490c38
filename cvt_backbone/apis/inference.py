"""Inference with CvT detectors and segmenters on one image of any size.

A thin layer over mmdet's and mmseg's own APIs (``init_detector`` /
``inference_detector``, ``init_model`` / ``inference_model`` and their
visualisers): it picks the library from the config's ``default_scope`` so
one call (and ``tools/infer.py``) serves both.
"""
import os
import os.path as osp
import time
from typing import Optional, Tuple

import numpy as np


def config_task(cfg) -> str:
    """``'det'`` for an mmdet config, ``'seg'`` for an mmseg one."""
    scope = cfg.get('default_scope')
    if scope == 'mmdet':
        return 'det'
    if scope == 'mmseg':
        return 'seg'
    raise ValueError(f"default_scope {scope!r} is neither 'mmdet' nor "
                     "'mmseg': not a dense-prediction config")


def init_model(config, checkpoint: Optional[str] = None,
               device: str = 'cpu') -> Tuple[object, str]:
    """Build the model of ``config`` (path or Config), load ``checkpoint``
    and return ``(model, task)``. Class names come from the checkpoint's
    ``dataset_meta`` (mmengine stores it) or the config's dataset."""
    from mmengine.config import Config
    if isinstance(config, str):
        config = Config.fromfile(config)
    task = config_task(config)
    if task == 'det':
        from mmdet.apis import init_detector
        model = init_detector(config, checkpoint, device=device)
    else:
        from mmseg.apis import init_model as init_segmentor
        model = init_segmentor(config, checkpoint, device=device)
    return model, task


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
    """Predict on the image file ``image`` and draw the result to ``out``
    (default ``<image stem>_pred.png``). Returns ``(result, out)``."""
    import mmcv
    model, task = init_model(config, checkpoint, device)
    img = mmcv.imread(image)
    if img is None:
        raise FileNotFoundError(f'cannot read image {image}')
    result = predict(model, task, img)
    if out is None:
        out = osp.splitext(image)[0] + '_pred.png'
    draw(model, task, img, result, out, score_thr)
    return result, out
