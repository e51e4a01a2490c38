"""Write the deterministic synthetic dataset (no download).

    python tools/misc/make_synthetic_data.py [ROOT] [--size 64] [--train 300]
                                             [--val 50] [--seed 0]
    python tools/misc/make_synthetic_data.py ROOT --format cifar10
                                             [--train 20] [--val 10]

ROOT (default data/synthetic) gets train/ and val/ class folders, the
classes.txt names and meta/{train,val}.txt annotation lists; an existing set
with the same settings is kept. ``--format cifar10|cifar100|pets|flowers102``
writes a stand-in for that transfer set in its own on-disk format instead
(the data_root of mmpretrain's CIFAR10, CIFAR100, OxfordIIITPet, Flowers102;
--train/--val count images, --size is the JPEGs' long side).
"""
import argparse

from cvt_backbone.testing import (
    TRANSFER_SETS,
    SyntheticSpec,
    TransferSpec,
    generate_classification,
    generate_transfer_set,
)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    p.add_argument('root', nargs='?', default='data/synthetic')
    p.add_argument('--format', default='imagenet',
                   choices=['imagenet', *TRANSFER_SETS])
    p.add_argument('--size', type=int, default=None)
    p.add_argument('--train', type=int, default=None)
    p.add_argument('--val', type=int, default=None)
    p.add_argument('--seed', type=int, default=SyntheticSpec.seed)
    a = p.parse_args(argv)

    def given(value, default):
        return default if value is None else value

    if a.format != 'imagenet':
        generate_transfer_set(a.root, TransferSpec(
            dataset=a.format,
            train_images=given(a.train, TransferSpec.train_images),
            test_images=given(a.val, TransferSpec.test_images),
            image_size=given(a.size, TransferSpec.image_size), seed=a.seed))
        return
    generate_classification(a.root, SyntheticSpec(
        image_size=given(a.size, SyntheticSpec.image_size),
        train_per_class=given(a.train, SyntheticSpec.train_per_class),
        val_per_class=given(a.val, SyntheticSpec.val_per_class),
        seed=a.seed))


if __name__ == '__main__':
    main()
