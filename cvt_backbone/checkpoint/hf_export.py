"""Export a CvT classifier to the Hugging Face format: a folder that
``transformers.CvtForImageClassification.from_pretrained`` and
``AutoImageProcessor.from_pretrained`` load, and optionally its upload.

:func:`export_hf` writes, for an mmpretrain ``ImageClassifier`` with the CvT
backbone (``out_type='cls_token'``) and a ``LinearClsHead`` (the model of
this project's classification configs):

* ``config.json``: ``CvtConfig`` with the arch and ``id2label`` /
  ``label2id`` from the model's class names;
* ``model.safetensors``: the weights in ``transformers``' keys, by
  :func:`.formats.cvt_backbone_to_hf` (the converter's rename table and k/v
  fusion run backwards: there is no second converter);
* ``preprocessor_config.json``: a ``ConvNextImageProcessor`` (what the
  ``microsoft/cvt-*`` repos use) with the config's test resizing, crop and
  normalisation (:func:`image_processor_kwargs`);
* ``README.md``: a model card with the training config's essentials, the
  metrics found in the work dir and the measured logits difference.

``transformers``' CvT always runs exact GELU in its MLPs. A model with
``act_cfg=dict(type='GELU')`` therefore exports exactly; one trained with
the default QuickGELU (as the released checkpoints were) exports with a
logits difference, which :func:`export_hf` measures on the exported model
and the card states. ``transformers`` and ``huggingface_hub`` do the
writing (``save_pretrained``) and the upload (``HfApi``); what stays here
is the mapping of our config onto theirs, which no library has.
"""
import json
import math
import os
import os.path as osp
from typing import Dict, List, Optional

import torch
from torch import nn

from .errors import CheckpointError
from .formats import cvt_backbone_to_hf

PIL_RESAMPLE = dict(nearest=0, bilinear=2, bicubic=3, lanczos=1, box=4,
                    hamming=5)
# ConvNextImageProcessor resizes to (size, size) without a crop from here on
CONVNEXT_NO_CROP = 384


def _transformers():
    try:
        import transformers
    except ImportError as e:  # a test/extra dependency of this project
        raise ImportError('the Hugging Face export needs transformers: '
                          'pip install transformers') from e
    return transformers


# -- the model ----------------------------------------------------------------
def _check_classifier(model: nn.Module):
    """The CvT backbone of ``model`` if it is the classifier the export
    knows (CvT with the class-token output and final norm, no neck, a
    Linear head); else a ``ValueError`` saying what is expected."""
    from ..models import CvT
    backbone = getattr(model, 'backbone', None)
    head = getattr(model, 'head', None)
    if not isinstance(backbone, CvT) or backbone.out_type != 'cls_token' \
            or backbone.cls_norm is None or getattr(model, 'neck', None) \
            is not None or not isinstance(getattr(head, 'fc', None),
                                          nn.Linear):
        raise ValueError(
            'the Hugging Face export takes a CvT image classifier as the '
            "classification configs build it: backbone CvT(out_type="
            "'cls_token', final_norm=True), no neck, a LinearClsHead; got "
            f'{type(model).__name__} with backbone '
            f'{type(backbone).__name__}')
    return backbone


def activation_of(model: nn.Module) -> str:
    """``'gelu'`` (exact: what ``transformers`` runs), ``'quick_gelu'`` or
    ``'gelu_tanh'`` (exported with a measured difference); any other MLP
    activation cannot be expressed and raises ``ValueError``."""
    from ..models import QuickGELU
    acts = {m.act for m in _check_classifier(model).modules()
            if type(m).__name__ == 'Mlp'}
    kinds = set()
    for act in acts:
        if isinstance(act, QuickGELU):
            kinds.add('quick_gelu')
        elif isinstance(act, nn.GELU):
            kinds.add('gelu' if act.approximate == 'none' else 'gelu_tanh')
        else:
            raise ValueError(f'MLP activation {type(act).__name__}: '
                             "transformers' CvT runs GELU, so only GELU or "
                             'QuickGELU models can be exported')
    if len(kinds) != 1:
        raise ValueError(f'mixed MLP activations {sorted(kinds)}')
    return kinds.pop()


def hf_config(model: nn.Module, class_names: Optional[List[str]] = None):
    """The ``transformers.CvtConfig`` of the classifier ``model`` (its arch,
    qkv bias and number of classes), ``id2label``/``label2id`` from
    ``class_names`` (default: ``model._dataset_meta['classes']``)."""
    transformers = _transformers()
    backbone = _check_classifier(model)
    arch = backbone.arch
    num_classes = model.head.fc.out_features
    names = class_names or (getattr(model, '_dataset_meta', None) or {}) \
        .get('classes')
    if names is not None and len(names) != num_classes:
        raise ValueError(f'{len(names)} class names for a head of '
                         f'{num_classes} classes')
    names = list(names) if names else [f'LABEL_{i}'
                                       for i in range(num_classes)]
    short = [i for i, d in enumerate(arch['depths']) if d <= i]
    if short:
        # CvtStage takes layer j's drop-path rate from linspace(0, r,
        # depth)[stage index] (for every j): a stage i with at most i
        # blocks raises IndexError when transformers builds the model
        raise ValueError(
            f"depths {list(arch['depths'])}: transformers' CvT builds only "
            'archs with more than i blocks in stage i (it indexes the '
            'per-block drop-path rates by the stage index)')
    qkv_bias = backbone.stages[0].blocks[0].attn.q.bias is not None
    return transformers.CvtConfig(
        embed_dim=list(arch['embed_dims']), depth=list(arch['depths']),
        num_heads=list(arch['num_heads']),
        mlp_ratio=[float(r) for r in arch['mlp_ratios']],
        qkv_bias=[qkv_bias] * 3,
        drop_path_rate=[float(r) for r in arch['drop_path_rates']],
        patch_sizes=list(backbone.patch_sizes),
        patch_stride=list(backbone.strides),
        patch_padding=list(backbone.paddings),
        num_labels=num_classes,
        id2label={i: n for i, n in enumerate(names)},
        label2id={n: i for i, n in enumerate(names)},
        architectures=['CvtForImageClassification'])


def to_hf_model(model: nn.Module, class_names: Optional[List[str]] = None):
    """``transformers``' ``CvtForImageClassification`` with the weights of
    ``model`` (all of them: a key left over or missing raises
    :class:`CheckpointError`), in eval mode."""
    transformers = _transformers()
    config = hf_config(model, class_names)
    hf = transformers.CvtForImageClassification(config).eval()
    state = cvt_backbone_to_hf(model.state_dict())
    result = hf.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(
            'the converted weights do not fit CvtForImageClassification: '
            f'missing {result.missing_keys[:10]}, unexpected '
            f'{result.unexpected_keys[:10]}')
    return hf


@torch.no_grad()
def logits_difference(model: nn.Module, hf_model: nn.Module,
                      size: int = 224, batch: int = 4,
                      seed: int = 0) -> Dict[str, float]:
    """How far ``transformers``' logits are from ours: the largest absolute
    difference and the top-1 agreement on ``batch`` seeded N(0, 1) inputs
    of ``size`` x ``size`` (inputs as the data preprocessor gives them)."""
    x = torch.randn(batch, 3, size, size,
                    generator=torch.Generator().manual_seed(seed))
    ours = model.eval()(x, mode='tensor')
    theirs = hf_model.eval()(pixel_values=x).logits
    return dict(max_abs=(ours - theirs).abs().max().item(),
                max_logit=ours.abs().max().item(),
                top1_agreement=(ours.argmax(1) == theirs.argmax(1))
                .float().mean().item(), size=size, batch=batch)


# -- the preprocessing --------------------------------------------------------
def _steps(pipeline) -> List[dict]:
    skip = {'LoadImageFromFile', 'PackInputs', 'FastPackInputs'}
    return [dict(t) for t in pipeline if t['type'] not in skip]


def _resample(step: dict) -> int:
    interp = step.get('interpolation', 'bilinear')
    if interp not in PIL_RESAMPLE:
        raise ValueError(f'{step["type"]} interpolation {interp!r} has no '
                         'PIL counterpart')
    return PIL_RESAMPLE[interp]


def _train_crop(cfg) -> int:
    dataset = (cfg.get('train_dataloader') or {}).get('dataset') or {}
    for step in dataset.get('pipeline') or []:
        scale = step.get('scale')
        if 'RandomResizedCrop' in step['type'] and scale is not None:
            return scale if isinstance(scale, int) else scale[0]
    return 224


def image_processor_kwargs(cfg) -> dict:
    """``ConvNextImageProcessor`` arguments reproducing the config's test
    pipeline and the data preprocessor's normalisation.

    ConvNeXt's processor (what ``microsoft/cvt-*`` use) knows two forms,
    exactly the release's two test pipelines: below 384, resize the short
    side to ``int(size / crop_pct)`` and centre-crop ``size``
    (``ResizeEdge(S, edge='short')`` + ``CenterCrop(C)``: ``size=C``,
    ``crop_pct=C/S``); from 384 on, resize to ``size`` x ``size``
    (``Resize(R)``). A pipeline that does not resize at all (images fed at
    their own size, as the synthetic demo's) exports ``do_resize=False``;
    its ``size`` is then the training crop (``RandomResizedCrop``'s scale,
    else 224), only the resolution the logits difference is measured at.
    Any other pipeline raises ``ValueError``."""
    dataset = (cfg.get('test_dataloader') or {}).get('dataset') or {}
    pipeline = dataset.get('pipeline')
    if not pipeline:
        raise ValueError('the config has no test_dataloader.dataset.pipeline '
                         '(the test preprocessing to export)')
    steps = _steps(pipeline)
    types = [s['type'] for s in steps]
    do_resize = True
    if not types:
        do_resize, crop_pct, resample = False, 224 / 256, PIL_RESAMPLE[
            'bicubic']
        size = _train_crop(cfg)
    elif types == ['ResizeEdge', 'CenterCrop']:
        resize, crop = steps
        short, size = resize['scale'], crop['crop_size']
        if resize.get('edge', 'short') != 'short' or \
                not isinstance(size, int) or size >= CONVNEXT_NO_CROP:
            raise ValueError(
                'ConvNextImageProcessor crops only below 384 and after a '
                f'short-side resize; the test pipeline has {steps}')
        crop_pct = size / short
        if int(size / crop_pct) != short:  # float rounding of size/crop_pct
            crop_pct = math.nextafter(crop_pct, 0)
        resample = _resample(resize)
    elif types == ['Resize']:
        (resize, ) = steps
        scale = resize['scale']
        size = scale if isinstance(scale, int) else scale[0]
        if not isinstance(scale, int) and scale[0] != scale[1] or \
                size < CONVNEXT_NO_CROP:
            raise ValueError(
                'ConvNextImageProcessor resizes to a square without a crop '
                f'only from 384 on; the test pipeline has {steps}')
        crop_pct, resample = 224 / 256, _resample(resize)
    else:
        raise ValueError(
            f'test pipeline {types}: ConvNextImageProcessor expresses '
            "['ResizeEdge', 'CenterCrop'] (below 384) or ['Resize'] (a "
            'square from 384 on), the published CvT pipelines')
    pre = dict(cfg.model.get('data_preprocessor') or
               cfg.get('data_preprocessor') or {})
    if not pre.get('to_rgb', False):
        raise ValueError('the data preprocessor must convert to RGB '
                         '(to_rgb=True): transformers feeds RGB images')
    mean, std = pre.get('mean'), pre.get('std')
    if mean is None or std is None:
        raise ValueError('the data preprocessor has no mean/std')
    return dict(do_resize=do_resize, size=dict(shortest_edge=int(size)),
                crop_pct=crop_pct, resample=resample, do_rescale=True,
                rescale_factor=1 / 255, do_normalize=True,
                image_mean=[m / 255 for m in mean],
                image_std=[s / 255 for s in std])


# -- the card -----------------------------------------------------------------
def work_dir_metrics(work_dir: Optional[str]) -> Dict[str, float]:
    """The validation metrics of a run: ``summary.json``'s (written by
    ``TrainingSummaryHook``), else the last validation record of
    ``vis_data/scalars.json`` (mmengine's); ``{}`` if there are none."""
    if not work_dir or not osp.isdir(work_dir):
        return {}
    summary = osp.join(work_dir, 'summary.json')
    if osp.isfile(summary):
        with open(summary) as f:
            metrics = json.load(f).get('metrics') or {}
        if metrics:
            return {k: float(v) for k, v in metrics.items()}
    from ..visualization import read_scalars, split_records
    try:
        _, val = split_records(read_scalars(work_dir))
    except FileNotFoundError:
        return {}
    if not val:
        return {}
    return {k: float(v) for k, v in val[-1].items() if '/' in k}


def _training_essentials(cfg) -> List[str]:
    """``- key: value`` lines of what a training config says about the
    recipe (those it has)."""
    lines = []
    data = (cfg.get('train_dataloader') or {})
    dataset = data.get('dataset') or {}
    if dataset:
        lines.append(f"- data: {dataset.get('type')} "
                     f"({dataset.get('data_root', '')})")
    if data.get('batch_size'):
        lines.append(f"- batch size per GPU: {data['batch_size']}")
    optim = (cfg.get('optim_wrapper') or {}).get('optimizer') or {}
    if optim:
        lines.append(f"- optimizer: {optim.get('type')}, lr "
                     f"{optim.get('lr')}, weight decay "
                     f"{optim.get('weight_decay')}")
    train_cfg = cfg.get('train_cfg') or {}
    if train_cfg.get('max_epochs'):
        lines.append(f"- epochs: {train_cfg['max_epochs']}")
    elif train_cfg.get('max_iters'):
        lines.append(f"- iterations: {train_cfg['max_iters']}")
    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    if schedulers:
        lines.append('- lr schedule: ' + ' then '.join(
            s.get('type', '?') for s in schedulers))
    augments = ((cfg.model.get('train_cfg') or {}).get('augments') or [])
    if augments:
        lines.append('- batch augments: ' + ', '.join(
            f"{a['type']}({a.get('alpha')})" for a in augments))
    loss = (cfg.model.get('head') or {}).get('loss') or {}
    if loss:
        smooth = loss.get('label_smooth_val')
        lines.append(f"- loss: {loss.get('type')}" +
                     (f', label smoothing {smooth}' if smooth else ''))
    pipeline = dataset.get('pipeline') or []
    if pipeline:
        lines.append('- training pipeline: ' + ', '.join(
            t['type'] for t in pipeline))
    return lines


def model_card(model: nn.Module, cfg, activation: str,
               difference: Dict[str, float], metrics: Dict[str, float],
               processor: dict, name: str) -> str:
    """The ``README.md`` of the exported folder."""
    backbone = _check_classifier(model)
    arch = backbone.arch
    num_classes = model.head.fc.out_features
    if activation == 'gelu':
        act_note = (
            'The model was trained with exact GELU, which is what '
            "`transformers`' CvT runs: the export is exact (largest logits "
            f"difference {difference['max_abs']:.2e}, measured on "
            f"{difference['batch']} random inputs at {difference['size']}²).")
    else:
        act_note = (
            f'The model was trained with {activation} (CvT\'s '
            "`x·sigmoid(1.702x)` for quick_gelu), but `transformers`' CvT "
            'always runs exact GELU: its logits differ from the trained '
            f"model's by up to {difference['max_abs']:.4g} (largest "
            f"absolute logit {difference['max_logit']:.4g}; top-1 agreement "
            f"{difference['top1_agreement'] * 100:.0f}%, measured on "
            f"{difference['batch']} random inputs at {difference['size']}²)."
            ' The published `microsoft/cvt-*` weights carry the same '
            'mismatch. For the exact outputs, run it with cvt_backbone.')
    size = processor['size']['shortest_edge']
    if not processor['do_resize']:
        prep = (f'no resizing: images are fed at their own size (trained '
                f'at {size}×{size})')
    elif size < CONVNEXT_NO_CROP:
        short = int(size / processor['crop_pct'])
        prep = f'resize the short side to {short}, centre-crop {size}'
    else:
        prep = f'resize to {size}×{size}'
    if processor['do_resize']:
        interp = {v: k for k, v in PIL_RESAMPLE.items()}[
            processor['resample']]
        prep += f' ({interp})'
    mean = [round(m * 255, 3) for m in processor['image_mean']]
    std = [round(s * 255, 3) for s in processor['image_std']]
    lines = [
        '---', 'library_name: transformers',
        'pipeline_tag: image-classification',
        'tags:', '- image-classification', '- cvt', '- mmpretrain',
        '- cvt_backbone', '---', '',
        f'# {name}', '',
        'A CvT image classifier (Wu et al., "CvT: Introducing Convolutions '
        'to Vision Transformers", ICCV 2021) trained with cvt_backbone '
        '(the CvT backbone for OpenMMLab / mmpretrain), exported to '
        "`transformers`' `CvtForImageClassification`.", '',
        '## Model', '',
        f"- embed dims {list(arch['embed_dims'])}, depths "
        f"{list(arch['depths'])}, heads {list(arch['num_heads'])}",
        f'- {num_classes} classes, MLP activation in training: {activation}',
        f'- test preprocessing: {prep}; RGB, mean {mean}, std {std} '
        '(0-255 scale)',
        '', act_note, '',
    ]
    essentials = _training_essentials(cfg)
    if essentials:
        lines += ['## Training', ''] + essentials + ['']
    lines += ['## Results', '']
    if metrics:
        lines += ['| metric | value |', '|---|---:|']
        lines += [f'| {k} | {v:.2f} |' for k, v in metrics.items()]
    else:
        lines.append('No validation metrics were found in the work dir.')
    lines += [
        '', '## Use', '', '```python',
        'from transformers import AutoImageProcessor, '
        'CvtForImageClassification',
        'processor = AutoImageProcessor.from_pretrained(REPO)',
        'model = CvtForImageClassification.from_pretrained(REPO)',
        'logits = model(**processor(image, return_tensors="pt")).logits',
        '```', '']
    return '\n'.join(lines)


# -- the export ---------------------------------------------------------------
def export_hf(model: nn.Module, out_dir: str, cfg, *,
              work_dir: Optional[str] = None,
              name: Optional[str] = None) -> dict:
    """Write the Hugging Face folder of the classifier ``model`` built from
    ``cfg`` (see the module docstring) into ``out_dir``; ``work_dir``: where
    its training run's ``summary.json`` / ``scalars.json`` are. Returns
    ``dict(activation, difference, metrics, files)``; ``difference`` is
    :func:`logits_difference` at the test resolution."""
    transformers = _transformers()
    activation = activation_of(model)
    processor = image_processor_kwargs(cfg)
    model = model.cpu().eval()
    hf = to_hf_model(model)
    difference = logits_difference(model, hf,
                                   size=processor['size']['shortest_edge'])
    os.makedirs(out_dir, exist_ok=True)
    hf.save_pretrained(out_dir, safe_serialization=True)
    transformers.ConvNextImageProcessor(**processor).save_pretrained(out_dir)
    metrics = work_dir_metrics(work_dir)
    card = model_card(model, cfg, activation, difference, metrics, processor,
                      name or osp.basename(osp.abspath(out_dir)))
    with open(osp.join(out_dir, 'README.md'), 'w') as f:
        f.write(card)
    return dict(activation=activation, difference=difference,
                metrics=metrics, files=sorted(os.listdir(out_dir)))


def push_to_hub(out_dir: str, repo_id: str, *, token=None,
                private: bool = False,
                commit_message: str = 'Upload CvT (cvt_backbone export)'):
    """Upload the exported folder to the Hugging Face Hub as ``repo_id``
    (created if needed) with ``huggingface_hub``'s ``HfApi``; returns the
    commit info (``HF_ENDPOINT`` selects another hub)."""
    from huggingface_hub import HfApi
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    return api.upload_folder(repo_id=repo_id, folder_path=out_dir,
                             commit_message=commit_message)
