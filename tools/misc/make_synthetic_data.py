"""Write the deterministic synthetic dataset (no download).

    python tools/misc/make_synthetic_data.py [ROOT] [--size 64] [--train 300]
                                             [--val 50] [--seed 0]

ROOT (default data/synthetic) gets train/ and val/ class folders, the
classes.txt names and meta/{train,val}.txt annotation lists; an existing set
with the same settings is kept.
"""
import argparse

from cvt_backbone.testing import SyntheticSpec, generate_classification


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    p.add_argument('root', nargs='?', default='data/synthetic')
    p.add_argument('--size', type=int, default=SyntheticSpec.image_size)
    p.add_argument('--train', type=int, default=SyntheticSpec.train_per_class)
    p.add_argument('--val', type=int, default=SyntheticSpec.val_per_class)
    p.add_argument('--seed', type=int, default=SyntheticSpec.seed)
    a = p.parse_args(argv)
    generate_classification(
        a.root, SyntheticSpec(image_size=a.size, train_per_class=a.train,
                              val_per_class=a.val, seed=a.seed))


if __name__ == '__main__':
    main()
