"""Export a CvT classifier to the Hugging Face format (``transformers``).

    python tools/model_converters/export_hf.py CONFIG CHECKPOINT OUT_DIR \\
        [--push-to-hub ORG/NAME [--private]]

CONFIG: a classification config (or a model-zoo name); CHECKPOINT: any
checkpoint source (a run's ``epoch_N.pth``, a file, URL, repo id or zoo
name). OUT_DIR gets ``config.json`` (with the checkpoint's class names),
``model.safetensors``, ``preprocessor_config.json`` (the config's test
pipeline as a ``ConvNextImageProcessor``) and a model card ``README.md``
with the training recipe and the metrics of the checkpoint's work dir.
``transformers``' CvT runs exact GELU: the logits difference to the trained
model is measured and printed (zero up to float rounding for a GELU model,
not for QuickGELU). ``--push-to-hub`` uploads the folder with
``huggingface_hub`` (``HF_TOKEN`` or ``huggingface-cli login``).
"""
import argparse
import os.path as osp
import sys

from cvt_backbone.apis import init_model, resolve_config
from cvt_backbone.checkpoint import CheckpointError
from cvt_backbone.checkpoint.hf_export import export_hf, push_to_hub


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='classification config or zoo name')
    parser.add_argument('checkpoint', help='checkpoint (any source)')
    parser.add_argument('out_dir', help='folder to write')
    parser.add_argument('--push-to-hub', metavar='REPO',
                        help='upload OUT_DIR to this Hugging Face repo')
    parser.add_argument('--private', action='store_true',
                        help='create the repo private')
    args = parser.parse_args(argv)
    try:
        cfg = resolve_config(args.config)[0]
        model, task = init_model(cfg, args.checkpoint)
        if task != 'cls':
            raise ValueError(f'{args.config} is a {task} config: only '
                             'classifiers have a transformers CvT')
        work_dir = osp.dirname(osp.abspath(args.checkpoint)) \
            if osp.isfile(args.checkpoint) else None
        report = export_hf(model, args.out_dir, cfg, work_dir=work_dir,
                           name=args.push_to_hub)
    except (CheckpointError, OSError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    diff = report['difference']
    print(f"{args.out_dir}: {', '.join(report['files'])}")
    print(f"activation in training: {report['activation']}; transformers "
          f"runs exact GELU: logits max |diff| {diff['max_abs']:.3e} "
          f"(largest |logit| {diff['max_logit']:.3g}, top-1 agreement "
          f"{diff['top1_agreement'] * 100:.0f}%, {diff['batch']} random "
          f"inputs at {diff['size']}x{diff['size']})")
    if report['metrics']:
        print('metrics from the work dir: ' + ', '.join(
            f'{k} {v:.2f}' for k, v in report['metrics'].items()))
    if args.push_to_hub:
        info = push_to_hub(args.out_dir, args.push_to_hub,
                           private=args.private)
        print(f'pushed to {args.push_to_hub}: {info.commit_url}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
