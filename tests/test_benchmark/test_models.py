"""The model timing worker: ours and transformers' on identical weights
(not a timing test)."""
import pytest

from cvt_backbone.benchmark import (
    applies,
    build_variant,
    forward_fn,
    parse_arch,
    run_model_worker,
    save_reference_weights,
)


def test_worker_runs_a_training_step_with_identical_weights(tmp_path,
                                                            tiny_arch):
    """In-process worker: both implementations load the same weights and a
    training step (forward, backward, optimizer) runs; inference outputs
    agree, so the comparison is like for like."""
    pytest.importorskip('transformers')
    import torch
    arch = parse_arch(tiny_arch)
    weights = str(tmp_path / 'w.pth')
    save_reference_weights(arch, weights)
    spec = dict(arch=arch, weights=weights, mode='infer', batch=1, h=40, w=56,
                dtype='fp32', device='cpu', warmup=0, iters=1)
    ours = build_variant(dict(spec, variant='ours'))
    theirs = build_variant(dict(spec, variant='theirs'))
    x = torch.randn(1, 3, 40, 56)
    with torch.no_grad():
        a = forward_fn(ours, 'ours')(x)
        b = forward_fn(theirs, 'theirs')(x)
    assert (a - b).abs().max() <= 1e-4
    res = run_model_worker(dict(spec, mode='train', batch=2,
                                variant='ours_cp'))
    assert len(res['times']) == 1 and res['mem_mb'] >= 0


def test_onnxruntime_and_unfused_variants_run_like_for_like(tmp_path,
                                                            tiny_arch):
    """ours_onnx (onnxruntime on the exported fused model) and ours_unfused
    compute what the fused eager model computes, with torch's thread
    count; they are measured for fp32 inference only."""
    import torch
    arch = parse_arch(tiny_arch)
    weights = str(tmp_path / 'w.pth')
    save_reference_weights(arch, weights)
    spec = dict(arch=arch, weights=weights, mode='infer', batch=2, h=40,
                w=56, dtype='fp32', device='cpu', warmup=0, iters=1)
    x = torch.randn(2, 3, 40, 56)
    outs = {}
    for v in ('ours', 'ours_unfused', 'ours_onnx', 'ours_onnx23'):
        model = build_variant(dict(spec, variant=v))
        with torch.no_grad():
            outs[v] = torch.as_tensor(forward_fn(model, v)(x))
    session = build_variant(dict(spec, variant='ours_onnx'))
    threads = session.get_session_options().intra_op_num_threads
    assert threads == torch.get_num_threads()
    for v in ('ours_unfused', 'ours_onnx', 'ours_onnx23'):
        assert (outs[v] - outs['ours']).abs().max() <= 1e-4, v
    assert applies('ours_onnx', 'infer', 'fp32')
    assert not applies('ours_onnx', 'infer', 'bf16')
    assert not applies('ours_onnx', 'train', 'fp32')
    assert not applies('ours_unfused', 'train', 'fp32')


def test_classifier_step_is_like_for_like(tmp_path, tiny_arch):
    """trainstep cases: our class-token classifier and transformers'
    CvtForImageClassification load the same weights and give the same
    logits; the worker runs forward, loss, backward and AdamW."""
    pytest.importorskip('transformers')
    import torch
    arch = parse_arch(tiny_arch)
    weights = str(tmp_path / 'cls.pth')
    save_reference_weights(arch, weights, num_labels=1000)
    spec = dict(arch=arch, weights=weights, mode='train_cls', batch=2, h=48,
                w=40, dtype='fp32', device='cpu', warmup=0, iters=1)
    ours = build_variant(dict(spec, variant='ours')).eval()
    theirs = build_variant(dict(spec, variant='theirs')).eval()
    x = torch.randn(2, 3, 48, 40)
    with torch.no_grad():
        a = forward_fn(ours, 'ours')(x)
        b = forward_fn(theirs, 'theirs')(x)
    assert a.shape == b.shape == (2, 1000)
    assert (a - b).abs().max() <= 1e-4
    for dtype in ('fp32', 'bf16'):
        res = run_model_worker(dict(spec, variant='ours', dtype=dtype,
                                    profile=True))
        assert len(res['times']) == 1 and res['mem_mb'] >= 0
        assert res['profile'] and 0 < res['profile'][0]['share'] <= 1
