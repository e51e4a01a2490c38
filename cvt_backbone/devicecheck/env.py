"""Stage ``env``: what the host has. Python, torch, CUDA, cuDNN, the GPU,
its TF32 settings, the version of every package the check uses, whether
mmpretrain's, mmdet's and mmseg's model packages import (mmcv's compiled
ops), what the bundle installed, and the matmul peak (fp32, TF32, bf16)
the speed figures can be read against."""
import importlib
import json
import os
import platform
import sys
import time
from typing import Any, Dict

import torch

from .common import device_of, sync

PACKAGES = ('torch', 'torchvision', 'transformers', 'timm', 'huggingface_hub',
            'onnx', 'onnxruntime', 'cv2', 'numpy', 'PIL', 'mmengine', 'mmcv',
            'mmpretrain', 'mmdet', 'mmseg', 'matplotlib', 'cvt_backbone')
MODEL_PACKAGES = ('mmpretrain.models', 'mmseg.models', 'mmdet.models')


def _version(name: str) -> str:
    try:
        mod = importlib.import_module(name)
    except Exception as e:
        return f'missing ({type(e).__name__}: {str(e)[:120]})'
    return str(getattr(mod, '__version__', '?'))


def try_import(name: str) -> str:
    """``'ok'`` or the import error's last line."""
    try:
        importlib.import_module(name)
    except Exception as e:
        return f'{type(e).__name__}: {str(e).strip().splitlines()[-1][:200]}'
    return 'ok'


def matmul_tflops(device: torch.device, n: int, dtype: torch.dtype,
                  tf32: bool = False, iters: int = 5) -> float:
    """Best matrix-multiply rate, 2 n^3 FLOP per product, in TFLOP/s."""
    old = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    try:
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        a @ b
        sync(device)
        best = float('inf')
        for _ in range(iters):
            t = time.perf_counter()
            a @ b
            sync(device)
            best = min(best, time.perf_counter() - t)
        return 2 * n**3 / best / 1e12
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old


def run(spec: Dict[str, Any], rec) -> None:
    device = device_of(spec)
    info: Dict[str, Any] = dict(
        python=sys.version.split()[0], platform=platform.platform(),
        cpus=os.cpu_count(), cuda_available=torch.cuda.is_available(),
        torch_cuda=torch.version.cuda,
        cudnn=(torch.backends.cudnn.version()
               if torch.backends.cudnn.is_available() else None),
        matmul_allow_tf32=torch.backends.cuda.matmul.allow_tf32,
        cudnn_allow_tf32=torch.backends.cudnn.allow_tf32,
        float32_matmul_precision=torch.get_float32_matmul_precision())
    if device.type == 'cuda':
        props = torch.cuda.get_device_properties(device)
        info.update(gpu=props.name, gpu_memory_gib=props.total_memory / 2**30,
                    capability='%d.%d' % (props.major, props.minor),
                    gpus=torch.cuda.device_count())
    rec.set('host', info)
    rec.set('versions', {p: _version(p) for p in PACKAGES})
    import cvt_backbone
    rec.set('cvt_backbone_path', os.path.dirname(cvt_backbone.__file__))
    rec.set('mmcv_ops', try_import('mmcv.ops'))
    imports = {m: try_import(m)
               for m in spec.get('model_packages', MODEL_PACKAGES)}
    rec.set('model_packages', imports)
    record = os.environ.get('CVT_DEVICECHECK_INSTALL_RECORD')
    if record and os.path.isfile(record):
        with open(record) as f:
            rec.set('bundle', json.load(f))
    else:
        rec.set('bundle', 'no bundle installed (the packages were there)')
    n = spec['matmul_size']
    peaks = dict(fp32=matmul_tflops(device, n, torch.float32))
    if device.type == 'cuda':
        peaks['tf32'] = matmul_tflops(device, n, torch.float32, tf32=True)
    peaks['bf16'] = matmul_tflops(device, n, torch.bfloat16)
    rec.set('matmul_tflops', peaks)
    where = info.get('gpu') or f'CPU ({info["cpus"]} cores)'
    rec.finish(
        f'{where}, torch {torch.__version__}, CUDA {info["torch_cuda"]}, '
        f'python {info["python"]}; mmpretrain.models '
        f'{imports["mmpretrain.models"].split(":")[0]}, mmseg.models '
        f'{imports["mmseg.models"].split(":")[0]}; matmul '
        + ', '.join(f'{k} {v:.3g}' for k, v in peaks.items()) + ' TFLOP/s')
