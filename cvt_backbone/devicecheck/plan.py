"""What the device check runs: its stages in order, each with its time cap
on the GPU host and in the dry run, and the sizes each stage measures.

The full plan is sized for one H100/H200 and 8 minutes in all; the dry run
(``--dry-run``) runs every stage through the same code on the CPU with a
tiny CvT, small inputs and a few iterations, in under 3 minutes on 2 cores.
"""
import copy
from typing import Any, Dict, List

# CvT-13's structure, tiny widths; transformers' CvtStage indexes its drop
# path rates by the stage number, so stage i needs depth > i to build
DRY_ARCH = dict(embed_dims=[16, 32, 64], depths=[1, 2, 3],
                num_heads=[1, 2, 4])
CVT13 = dict(embed_dims=[64, 192, 384], depths=[1, 2, 10],
             num_heads=[1, 3, 6])

# name, module:function, cap on the GPU (s), least time worth starting it
# with (s), cap in the dry run (s)
STAGES = (
    ('env', 'env:run', 45, 15, 60),
    ('correctness', 'correctness:run', 120, 40, 90),
    ('amp', 'amp:run', 100, 40, 60),
    ('speed_infer', 'speed:run_infer', 120, 40, 60),
    ('speed_train', 'speed:run_train', 100, 40, 60),
    ('loop', 'loop:run', 150, 60, 90),
)
STAGE_NAMES = tuple(s[0] for s in STAGES)
# the whole check on the GPU host, install included (of the 15 minutes of
# device time, with start-up and a partial rerun left over)
BUDGET_S = 480
DRY_BUDGET_S = 180
# kept for writing the report and the logs after the last stage
RESERVE_S = 10

FULL: Dict[str, Dict[str, Any]] = dict(
    env=dict(matmul_size=8192,
             model_packages=['mmpretrain.models', 'mmseg.models',
                             'mmdet.models']),
    correctness=dict(
        arch='13',
        # (batch, h, w): 224, detection's 800x1333, an odd size
        sizes=[[2, 224, 224], [1, 800, 1333], [1, 517, 389]],
        classifier_sizes=[[2, 224, 224], [1, 517, 389]],
        segmenter_size=[1, 512, 512],
        compile_size=[2, 224, 224], compile_backend='inductor',
        kernel_sizes=[[2, 224, 224], [1, 800, 1333]],
        tolerance=1e-3),
    amp=dict(arch='13', steps=300, batch=64, size=128, images=512,
             lr=5e-4, warmup=20, weight_decay=0.05, clip=5.0,
             activation_every=25, tail=50),
    speed_infer=dict(
        arch='13',
        # name, batch, h, w
        # the targets' cases first: what a stop at the cap leaves out is
        # the rest
        cases=[['infer1024', 1, 1024, 1024], ['infer800x1333', 1, 800, 1333],
               ['infer1024', 8, 1024, 1024],
               ['infer800x1333', 8, 800, 1333], ['infer224', 256, 224, 224]],
        dtypes=['fp32', 'bf16'], variants=['ours', 'theirs'],
        warmup=2, iters=5, max_s=4.),
    speed_train=dict(
        arch='13', cases=[['train224', 256, 224, 224]],
        dtypes=['fp32', 'bf16'], variants=['ours', 'ours_cp', 'theirs'],
        warmup=2, iters=5, max_s=8.),
    loop=dict(images=4096, long_side=500, batch=256, workers=16,
              iters=200, skip=20, dtype='bfloat16', pipeline_images=200,
              config='configs/cvt13_classify.py', arch=None),
)

DRY: Dict[str, Dict[str, Any]] = dict(
    # mmdet.models takes tens of seconds to import on 2 busy cores and
    # nothing in the dry run uses it
    env=dict(matmul_size=256,
             model_packages=['mmpretrain.models', 'mmseg.models']),
    correctness=dict(
        arch=DRY_ARCH,
        sizes=[[2, 64, 64], [1, 80, 133], [1, 67, 45]],
        classifier_sizes=[[2, 64, 64], [1, 67, 45]],
        segmenter_size=[1, 64, 64],
        # inductor's C++ build of even a tiny CvT takes minutes on 2 CPU
        # cores: the dry run captures the graph with dynamo and runs it
        # eagerly
        compile_size=[2, 32, 32], compile_backend='eager',
        kernel_sizes=[[2, 64, 64]],
        tolerance=1e-3),
    amp=dict(arch=DRY_ARCH, steps=8, batch=4, size=32, images=24,
             lr=5e-4, warmup=2, weight_decay=0.05, clip=5.0,
             activation_every=4, tail=4),
    speed_infer=dict(
        arch=DRY_ARCH,
        cases=[['infer1024', 1, 64, 64], ['infer800x1333', 1, 40, 67],
               ['infer224', 4, 32, 32]],
        dtypes=['fp32', 'bf16'], variants=['ours', 'theirs'],
        warmup=1, iters=1, max_s=2.),
    speed_train=dict(
        arch=DRY_ARCH, cases=[['train224', 4, 32, 32]],
        dtypes=['fp32', 'bf16'], variants=['ours', 'ours_cp', 'theirs'],
        warmup=1, iters=1, max_s=2.),
    loop=dict(images=32, long_side=128, batch=4, workers=2, iters=6,
              skip=2, dtype='bfloat16', pipeline_images=16,
              config='configs/cvt13_classify.py', arch=DRY_ARCH),
)

# what the dry run cannot do as on the GPU, said in its report
DRY_RUN_DIFFERENCES = (
    'device = CPU: the device-vs-CPU comparisons compare the CPU with '
    'itself (0 by construction) and TF32 on/off is the same',
    'torch.compile uses the eager backend (dynamo captures the graph; '
    "inductor's C++ build takes minutes on 2 cores)",
    'no CUDA memory statistics: peak memory is not measured, so the '
    "inference targets' memory half is n/a",
    "the loop's AMP falls back to fp32 (tools/train.py without CUDA); the "
    'amp stage runs CPU autocast (fp16 with the loss scaler, bf16)',
    'the CPU has two SDPA kernels (flash_cpu, math); CUDA adds efficient '
    'and cuDNN',
    'tiny CvT (widths 16/32/64), small inputs, a few steps: the timings '
    'show the code runs, not its speed',
)


def stage_spec(name: str, dry_run: bool) -> Dict[str, Any]:
    """The sizes of stage ``name``, with the device (CPU in the dry run)."""
    spec = copy.deepcopy((DRY if dry_run else FULL)[name])
    spec.update(device='cpu' if dry_run else 'cuda', dry_run=dry_run)
    return spec


def select(stages: List[str]) -> List[str]:
    """``stages`` in the check's order; an unknown name raises
    ``ValueError`` listing the known ones."""
    unknown = [s for s in stages if s not in STAGE_NAMES]
    if unknown:
        raise ValueError(f'unknown stage(s) {unknown}; the stages are '
                         f'{list(STAGE_NAMES)}')
    return [s for s in STAGE_NAMES if s in stages]
