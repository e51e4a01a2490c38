"""``python -m cvt_backbone.devicecheck OUT_DIR [--dry-run]``: the device
check (what ``tools/gpu/device_check.sh`` runs once the bundle is
installed)."""
import argparse
import sys

from . import plan
from .runner import run_check


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog='python -m cvt_backbone.devicecheck',
        description='CUDA correctness, mixed precision, speed against '
        'transformers and the real training loop, in one short run; '
        'writes report.md, results.json and logs.txt to OUT_DIR.')
    p.add_argument('out_dir')
    p.add_argument('--dry-run', action='store_true',
                   help='the same stages on the CPU with a tiny CvT and '
                   'small inputs (under 3 minutes on 2 cores)')
    p.add_argument('--stages', nargs='+', choices=plan.STAGE_NAMES,
                   help='run only these (default: all, in order)')
    p.add_argument('--budget', type=float, default=None,
                   help=f'seconds for the whole check (default '
                   f'{plan.BUDGET_S}, dry run {plan.DRY_BUDGET_S}); the '
                   'stage caps shrink to fit')
    p.add_argument('--cap-scale', type=float, default=1.,
                   help='multiply every stage\'s time cap (a slower '
                   'machine; give --budget to match)')
    p.add_argument('--started-at', type=float, default=None,
                   help='the check\'s start (epoch seconds), when the '
                   'install before it counts against the budget')
    p.add_argument('--keep-scratch', action='store_true',
                   help='keep the generated data and work dirs')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    results = run_check(args.out_dir, dry_run=args.dry_run,
                        stages=args.stages, budget_s=args.budget,
                        started=args.started_at,
                        keep_scratch=args.keep_scratch,
                        cap_scale=args.cap_scale,
                        command=' '.join(['device_check.sh'] +
                                         (argv if argv is not None
                                          else sys.argv[1:])))
    print(f'wrote {args.out_dir}/report.md, results.json, logs.txt')
    ok = all(st['status'] == 'ok' for st in results['stages'].values())
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
