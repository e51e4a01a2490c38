"""Evaluate a checkpoint on a config's test set.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR]
                         [--cfg-options k=v ...] [--launcher ...]

CHECKPOINT is any checkpoint source: a file, an http(s) URL, a Hugging Face
repo id or a model-zoo name, e.g. ``tools/test.py configs/cvt13_classify.py
cvt-13`` evaluates the published CvT-13 on the config's ImageNet val set.
"""
import argparse
import os

from mmengine.config import DictAction

from cvt_backbone.engine import build_config, build_runner


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description='Test a checkpoint')
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--work-dir')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    p.add_argument('--launcher', default='none',
                   choices=['none', 'pytorch', 'slurm', 'mpi'])
    p.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = p.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg = build_config(args.config, work_dir=args.work_dir,
                       load_from=args.checkpoint,
                       cfg_options=args.cfg_options, launcher=args.launcher)
    metrics = build_runner(cfg).test()
    for k, v in metrics.items():
        print(f'{k}: {v:.2f}' if isinstance(v, float) else f'{k}: {v}')


if __name__ == '__main__':
    main()
