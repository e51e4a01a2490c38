"""Train a model from a config (mmpretrain, mmdet or mmseg) with mmengine.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CHECKPOINT]]
                          [--amp] [--auto-scale-lr] [--cfg-options k=v ...]
                          [--launcher none|pytorch|slurm|mpi]

Multi-GPU / multi-node: tools/dist_train.sh (torchrun, --launcher pytorch).
Without CUDA, AMP falls back to fp32 and processes use gloo.
"""
import argparse
import os

from mmengine.config import DictAction

from cvt_backbone.engine import build_config, build_runner


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Train a model')
    p.add_argument('config', help='config file')
    p.add_argument('--work-dir', help='where logs and checkpoints go')
    p.add_argument('--resume', nargs='?', const='auto', default=None,
                   help='resume from CHECKPOINT, or without a value from the '
                   'latest checkpoint in the work dir')
    p.add_argument('--amp', action='store_true',
                   help='mixed precision (GPU only)')
    p.add_argument('--auto-scale-lr', action='store_true',
                   help='scale the lr linearly with the total batch size')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config entries, key=value')
    p.add_argument('--launcher', default='none',
                   choices=['none', 'pytorch', 'slurm', 'mpi'])
    p.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = p.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = build_config(args.config, work_dir=args.work_dir,
                       resume=args.resume, amp=args.amp,
                       auto_scale_lr=args.auto_scale_lr,
                       cfg_options=args.cfg_options, launcher=args.launcher)
    build_runner(cfg).train()


if __name__ == '__main__':
    main()
