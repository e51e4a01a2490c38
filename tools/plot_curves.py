"""Plot a run's loss and validation curves as PNG.

    python tools/plot_curves.py WORK_DIR [--out curves.png]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cvt_backbone.curves import plot_curves  # noqa: E402


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    p.add_argument('work_dir', help='a work dir of tools/train.py (or one '
                   'run folder in it)')
    p.add_argument('--out', help='PNG path (default WORK_DIR/curves.png)')
    args = p.parse_args(argv)
    print(plot_curves(args.work_dir, args.out))


if __name__ == '__main__':
    main()
