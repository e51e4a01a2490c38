"""Side-by-side benchmark: our CvT against ``transformers``' CvT on
identical weights, and the training input pipeline against JPEG decoding.

Model cases (``infer*``, ``train*``: backbone, ``trainstep*``: classifier
training step) run each measurement in its own fresh process, alternating
the implementations, repeated, medians reported; ``pipeline`` times the
input pipelines on one core, ``trainloop`` a real ``tools/train.py`` run
fed by N loader workers. Writes table.md, results.json and plot.png to
--out. The benchmark itself is the package ``cvt_backbone.benchmark``
(cases and variants in ``cvt_backbone/benchmark/cases.py``).

    python tools/analysis_tools/benchmark.py --out docs/benchmark
    python tools/analysis_tools/benchmark.py --cases infer1024 \\
        --variants ours theirs --repeats 1 --dtypes fp32
    python tools/analysis_tools/benchmark.py --cases pipeline trainloop \\
        --out work_dirs/bench_pipeline
"""
import argparse
import sys

from cvt_backbone.benchmark import (
    CASES,
    DEFAULT_VARIANTS,
    PIPELINES,
    VARIANTS,
    parse_size,
    run_benchmark,
)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description='CvT (this project) vs transformers CvT, side by side '
        'on identical weights; the training input pipeline against JPEG '
        'decoding.')
    p.add_argument('--out', default='work_dirs/benchmark',
                   help='folder for table.md, results.json, plot.png')
    p.add_argument('--arch', default='13', help='13, 21, w24 or JSON dict')
    p.add_argument('--cases', nargs='+', default=list(CASES),
                   choices=list(CASES))
    p.add_argument('--variants', nargs='+', default=list(DEFAULT_VARIANTS),
                   choices=list(VARIANTS))
    p.add_argument('--dtypes', nargs='+', default=None,
                   choices=['fp32', 'bf16'],
                   help='default fp32 and bf16 (on CPU the backbone train '
                   'cases run fp32 only)')
    p.add_argument('--device', default='cpu', help='cpu or cuda[:i]')
    p.add_argument('--repeats', type=int, default=3,
                   help='fresh-process runs per implementation and case')
    p.add_argument('--iters', type=int, default=3,
                   help='timed steps per run (after --warmup)')
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--threads', type=int, default=None,
                   help='torch threads (default: all CPUs)')
    p.add_argument('--peak-size', type=int, default=4096,
                   help='matrix size of the matmul-peak measurement')
    p.add_argument('--size', action='append', default=[],
                   metavar='CASE=BxHxW',
                   help='override a case size, e.g. infer224=2x64x64')
    p.add_argument('--profile', action='store_true',
                   help='record the top ops of one step of each model run')
    p.add_argument('--data', default=None,
                   help='folder of generated JPEGs for pipeline/trainloop '
                   '(default work_dirs/benchmark_jpegs, made if missing)')
    p.add_argument('--pipeline-images', type=int, default=120,
                   help='images per pass of the pipeline case')
    p.add_argument('--pipeline-passes', type=int, default=2)
    p.add_argument('--pipelines', nargs='+', default=list(PIPELINES),
                   choices=list(PIPELINES))
    p.add_argument('--loader-workers', nargs='+', type=int, default=[1, 2],
                   help='loader workers of the trainloop runs')
    args = p.parse_args(argv)
    try:
        args.sizes = dict(parse_size(s) for s in args.size)
    except ValueError as e:
        p.error(str(e))
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    run_benchmark(args.out, arch=args.arch, cases=args.cases,
                  variants=args.variants, dtypes=args.dtypes,
                  device=args.device, repeats=args.repeats,
                  warmup=args.warmup, iters=args.iters, threads=args.threads,
                  peak_size=args.peak_size, sizes=args.sizes, data=args.data,
                  pipeline_images=args.pipeline_images,
                  pipeline_passes=args.pipeline_passes,
                  pipelines=args.pipelines,
                  loader_workers=args.loader_workers, profile=args.profile)
    print(f'wrote {args.out}/table.md and results.json')
    return 0


if __name__ == '__main__':
    sys.exit(main())
