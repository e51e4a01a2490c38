"""Plot a run's loss and validation curves as PNG.

    python tools/analysis_tools/plot_curves.py WORK_DIR [--out curves.png]
"""
import argparse

from cvt_backbone.visualization import plot_curves


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    p.add_argument('work_dir', help='a work dir of tools/train.py (or one '
                   'run folder in it)')
    p.add_argument('--out', help='PNG path (default WORK_DIR/curves.png)')
    args = p.parse_args(argv)
    print(plot_curves(args.work_dir, args.out))


if __name__ == '__main__':
    main()
