"""ONNX export (cvt_backbone.deploy): tiny CvT backbone, classifier and
segmenter, each exported once at 64x64 batch 2; onnxruntime, run directly
here, must give the outputs of the torch model as built (BatchNorms
unfolded; the classifier's and segmenter's own mmpretrain/mmseg forward)
at three other sizes and batches, so the graph's batch, height and width
are dynamic. Bad requests fail early with errors that say why."""
import copy
import subprocess
import sys

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from torch.nn.modules.batchnorm import _BatchNorm

from cvt_backbone import CvT, deploy
from cvt_backbone.apis import build_model
from cvt_backbone.checkpoint import CheckpointError
from cvt_backbone.deploy.parts import part_module
from cvt_backbone.models.layers import (
    DynamicAdaptiveAvgPool2d,
    DynamicUpsample,
)
from cvt_backbone.testing import TINY_DENSE_ARCH, randomise_bn

from compare import max_diff
from oracles import conv_sizes, ort_outputs
from tiny_configs import config_path, shrink, tiny_classifier_config

EXPORT_HW = (64, 64)
# (batch, height, width), none of them the export's; 97x61 is non-square
# and not a multiple of 16
SIZES = [(1, 97, 61), (3, 48, 80), (2, 130, 98)]
TOL = 1e-4  # the bound on the max abs difference
UPERNET = 'upernet_cvt13_512x512_160k_ade20k.py'


def inputs(seed: int = 0, raw: bool = False):
    g = torch.Generator().manual_seed(seed)
    if raw:
        return [torch.rand(b, 3, h, w, generator=g) * 255
                for b, h, w in SIZES]
    return [torch.randn(b, 3, h, w, generator=g) for b, h, w in SIZES]


def tiny(cfg: Config) -> nn.Module:
    """The config's model, built for export, with non-trivial BatchNorm
    statistics (so folding them must be right)."""
    torch.manual_seed(0)
    return randomise_bn(build_model(cfg))


def dense(name: str) -> Config:
    return shrink(Config.fromfile(config_path(name)))


def export(model, tmp_path_factory, name, **kwargs):
    path = str(tmp_path_factory.mktemp('onnx') / f'{name}.onnx')
    report = deploy.export_onnx(model, path, input_size=EXPORT_HW, **kwargs)
    return path, report


@pytest.fixture(scope='module')
def backbone_export(tmp_path_factory):
    torch.manual_seed(0)
    model = randomise_bn(CvT(TINY_DENSE_ARCH, out_norm=True)).eval()
    return (model, ) + export(model, tmp_path_factory, 'backbone')


@pytest.fixture(scope='module')
def classifier_export(tmp_path_factory):
    model = tiny(tiny_classifier_config(num_classes=10))
    return (model, ) + export(model, tmp_path_factory, 'classifier')


@pytest.fixture(scope='module')
def segmenter_export(tmp_path_factory):
    model = tiny(dense(UPERNET))
    return (model, ) + export(model, tmp_path_factory, 'upernet')


# -- onnxruntime equals torch at sizes other than the export size -------------
def test_backbone_stage_maps_match_torch(backbone_export):
    model, path, report = backbone_export
    assert report.part == 'backbone'
    for x in inputs():
        got = ort_outputs(path, x)
        with torch.no_grad():
            want = model(x)
        assert list(got) == ['stage0', 'stage1', 'stage2']
        sizes = conv_sizes(*x.shape[2:])
        for (name, g), w, hw, c in zip(got.items(), want, sizes,
                                       TINY_DENSE_ARCH['embed_dims']):
            assert tuple(g.shape) == (x.shape[0], c, *hw), name
            assert max_diff(g, w) <= TOL, (name, tuple(x.shape))


def test_classifier_logits_match_torch(classifier_export):
    model, path, report = classifier_export
    assert (report.part, report.input_name) == ('classifier', 'input')
    for x in inputs():
        got = ort_outputs(path, x)['logits']
        with torch.no_grad():
            want = model(x, mode='tensor')  # mmpretrain's forward
        assert tuple(got.shape) == (x.shape[0], 10)
        assert max_diff(got, want) <= TOL, tuple(x.shape)


def seg_predict(model, x):
    """mmseg's own test path: logits resized to each image's size."""
    from mmseg.structures import SegDataSample
    h, w = x.shape[2:]
    samples = [SegDataSample(metainfo=dict(img_shape=(h, w),
                                           ori_shape=(h, w)))
               for _ in range(x.shape[0])]
    with torch.no_grad():
        preds = model.predict(x, samples)
    return torch.stack([p.seg_logits.data for p in preds])


def test_segmenter_logits_at_input_size_match_mmseg(segmenter_export):
    model, path, report = segmenter_export
    assert report.part == 'segmenter'
    for x in inputs():
        got = ort_outputs(path, x)['seg_logits']
        assert tuple(got.shape) == (x.shape[0], 150, *x.shape[2:])
        assert max_diff(got, seg_predict(model, x)) <= TOL, tuple(x.shape)


def test_report_holds_the_checks_at_a_size_not_exported(classifier_export):
    _, _, report = classifier_export
    assert report.export_shape == (2, 3, *EXPORT_HW)
    (check, ) = report.checks
    assert check['shape'][2:] != EXPORT_HW and check['shape'][0] == 1
    assert 0 <= check['max_abs_diff'] <= TOL


# -- the graph itself ---------------------------------------------------------
def test_graph_is_dynamic_and_standard_onnx(classifier_export):
    import onnx
    _, path, _ = classifier_export
    onnx.checker.check_model(path, full_check=True)
    proto = onnx.load(path)

    def dims(value):
        return [d.dim_param or d.dim_value
                for d in value.type.tensor_type.shape.dim]

    assert [i.name for i in proto.graph.input] == ['input']
    assert dims(proto.graph.input[0]) == ['batch', 3, 'height', 'width']
    assert dims(proto.graph.output[0]) == ['batch', 10]
    assert {o.domain: o.version for o in proto.opset_import}[''] == 18
    # plain ONNX: no custom domains or functions a runtime would need
    assert {n.domain for n in proto.graph.node} <= {'', 'ai.onnx'}
    assert not proto.functions


# -- the pieces ---------------------------------------------------------------
@pytest.mark.parametrize('out', [2, 3, 6, (2, 5)])
def test_dynamic_adaptive_pool_is_torchs(out):
    pool = DynamicAdaptiveAvgPool2d(out)
    for h, w in [(1, 1), (4, 4), (5, 7), (13, 6), (32, 17)]:
        x = torch.randn(2, 3, h, w)
        assert max_diff(pool(x), F.adaptive_avg_pool2d(x, out)) <= 1e-6


def test_dynamic_upsample_is_mmsegs():
    from mmseg.models.utils import Upsample
    for mode, corners in [('bilinear', False), ('bilinear', True),
                          ('nearest', None)]:
        ref = Upsample(scale_factor=2, mode=mode, align_corners=corners)
        new = DynamicUpsample((2, 2), mode, corners)
        for h, w in [(3, 5), (8, 8), (13, 6)]:
            x = torch.randn(1, 4, h, w)
            assert torch.equal(new(x), ref(x))


def test_prepare_for_export_folds_and_replaces_on_a_copy():
    model = tiny(dense(UPERNET))
    pools = [m for m in model.modules()
             if isinstance(m, nn.AdaptiveAvgPool2d)]
    prepared = deploy.prepare_for_export(model)
    assert not any(isinstance(m, _BatchNorm)
                   for m in prepared.backbone.modules())
    assert any(isinstance(m, _BatchNorm) for m in model.backbone.modules())
    replaced = [m for m in prepared.modules()
                if isinstance(m, DynamicAdaptiveAvgPool2d)]
    kept = [m for m in prepared.modules()
            if isinstance(m, nn.AdaptiveAvgPool2d)]
    assert len(replaced) == 3 and len(kept) == 1  # scales 2, 3, 6 and 1
    assert len(pools) == 4  # the model itself is unchanged
    x = torch.randn(1, 3, 97, 61)
    with torch.no_grad():
        assert max_diff(prepared(x, mode='tensor'),
                        model(x, mode='tensor')) <= 1e-4


def test_classifier_backbone_exports_its_stage_maps():
    """part='backbone' of a class-token classifier: the three raw stage
    maps, as a feature-map CvT with the same weights gives them."""
    model = tiny(tiny_classifier_config())
    part = part_module(model, deploy.resolve_part(model, 'backbone'))
    assert part.output_names() == ['stage0', 'stage1', 'stage2']
    maps = CvT(TINY_DENSE_ARCH, out_indices=(0, 1, 2)).eval()
    state = {k: v for k, v in model.backbone.state_dict().items()
             if not k.startswith('cls_norm.')}
    maps.load_state_dict(state)
    x = torch.randn(2, 3, 97, 61)
    with torch.no_grad():
        for a, b in zip(part(x), maps(x)):
            assert torch.equal(a, b)
    assert model.backbone.out_type == 'cls_token'  # not changed


def test_published_layout_checkpoint_is_converted_and_exported(tmp_path):
    """A checkpoint in transformers' layout (what the hub serves) is read
    through the converter by the strict load; the exported classifier then
    gives transformers' logits (an independent implementation) at a size
    that was not the export size."""
    from cvt_backbone.testing import make_hf_cvt

    # transformers indexes its drop-path list by stage: depth i needs > i
    arch = dict(TINY_DENSE_ARCH, depths=[1, 2, 3])
    hf = make_hf_cvt(arch, num_labels=10, quick_gelu=True, seed=3)
    ckpt = str(tmp_path / 'pytorch_model.bin')
    torch.save(hf.state_dict(), ckpt)
    cfg = tiny_classifier_config(10)
    cfg.model.backbone.arch = arch
    model = build_model(cfg, ckpt)
    path = str(tmp_path / 'hf.onnx')
    deploy.export_onnx(model, path, input_size=EXPORT_HW)
    x = torch.randn(2, 3, 97, 61)
    with torch.no_grad():
        want = hf(x).logits
    assert max_diff(ort_outputs(path, x)['logits'], want) <= TOL


def test_build_reverts_syncbn_and_loads_the_checkpoint(tmp_path):
    cfg = dense(UPERNET)
    cfg.model.backbone.norm_cfg = dict(type='SyncBN', requires_grad=True)
    model = tiny(cfg)
    ckpt = str(tmp_path / 'seg.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)
    loaded = build_model(cfg, ckpt)
    assert not loaded.training
    assert not any(isinstance(m, nn.SyncBatchNorm) for m in loaded.modules())
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k


# -- bad requests -------------------------------------------------------------
def test_checkpoint_that_does_not_fit_the_config_is_refused(tmp_path):
    model = tiny(tiny_classifier_config())
    state = model.state_dict()
    ckpt = str(tmp_path / 'cls.pth')
    torch.save(dict(state_dict=state, meta={}), ckpt)
    other = tiny_classifier_config()
    other.model.backbone.arch = dict(TINY_DENSE_ARCH,
                                     embed_dims=[24, 32, 48])
    with pytest.raises(CheckpointError, match=r'does not match the model.*'
                       r'size mismatch for backbone\.stages\.0'):
        build_model(other, ckpt)
    del state['head.fc.weight']
    torch.save(dict(state_dict=state, meta={}), ckpt)
    with pytest.raises(CheckpointError,
                       match=r'missing keys.*head\.fc\.weight'):
        build_model(tiny_classifier_config(), ckpt)
    with pytest.raises(FileNotFoundError, match="'.*nowhere.pth' not found"):
        build_model(tiny_classifier_config(),
                                      str(tmp_path / 'nowhere.pth'))


def test_detector_is_refused_with_the_reason_and_the_alternative(tmp_path):
    model = tiny(dense('mask-rcnn_cvt13_fpn_1x_coco.py'))
    out = str(tmp_path / 'det.onnx')
    for part in ('auto', 'detector', 'segmenter'):
        with pytest.raises(ValueError, match=r"detector is not exported.*"
                           r"NMS.*RoIAlign.*part='features'"):
            deploy.export_onnx(model, out, part=part)
    assert deploy.resolve_part(model, 'features') == 'features'


def test_part_the_model_lacks_is_refused(segmenter_export, tmp_path):
    model = segmenter_export[0]
    with pytest.raises(ValueError, match=r"part 'classifier' cannot be "
                       r"exported from a segmenter.*'segmenter', 'backbone'"):
        deploy.export_onnx(model, str(tmp_path / 'x.onnx'),
                           part='classifier')


@pytest.mark.parametrize('opset', [11, 13, 16, 24])
def test_opset_out_of_range_is_refused(backbone_export, tmp_path, opset):
    with pytest.raises(ValueError, match=rf'opset {opset} is not supported.*'
                       'LayerNormalization.*17'):
        deploy.export_onnx(backbone_export[0], str(tmp_path / 'x.onnx'),
                           opset=opset)


def test_baking_normalization_needs_a_preprocessor(backbone_export,
                                                   tmp_path):
    with pytest.raises(ValueError, match='data preprocessor'):
        deploy.export_onnx(backbone_export[0], str(tmp_path / 'x.onnx'),
                           bake_normalization=True)


def test_a_disagreeing_runtime_is_reported(classifier_export):
    model, path, _ = classifier_export
    x = inputs()[0]

    def shifted(x):
        return model(x, mode='tensor') + 1e-3

    with pytest.raises(deploy.OnnxMismatchError,
                       match=r'input \(1, 3, 97, 61\).*by 0\.001 in '
                       'logits'):
        deploy.verify_onnx(path, shifted, [x], tolerance=TOL)
    assert deploy.verify_onnx(path, shifted, [x], tolerance=2e-3)


def test_importing_the_package_does_not_import_onnx():
    code = ('import sys, cvt_backbone, cvt_backbone.apis, '
            'cvt_backbone.deploy; print(sorted(m for m in sys.modules '
            'if m.split(".")[0] in ("onnx", "onnxruntime", "onnxscript")))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == '[]'


# -- more exports (slow) ------------------------------------------------------
@pytest.mark.slow
def test_semantic_fpn_segmenter_matches_mmseg(tmp_path_factory):
    """Semantic FPN's head upsamples by 2 with mmseg's Upsample, whose
    size the export would otherwise keep from the export input."""
    model = tiny(dense('fpn_cvt13_512x512_160k_ade20k.py'))
    path, _ = export(model, tmp_path_factory, 'fpn')
    for x in inputs():
        got = ort_outputs(path, x)['seg_logits']
        assert max_diff(got, seg_predict(model, x)) <= TOL, tuple(x.shape)


@pytest.mark.slow
def test_detector_features_match_extract_feat(tmp_path_factory):
    model = tiny(dense('mask-rcnn_cvt13_fpn_1x_coco.py'))
    path, report = export(model, tmp_path_factory, 'features',
                          part='features')
    assert report.output_names == [f'neck{i}' for i in range(5)]
    for x in inputs():
        got = ort_outputs(path, x)
        with torch.no_grad():
            want = model.extract_feat(x)  # mmdet's backbone + neck
        assert len(got) == len(want) == 5
        for g, w in zip(got.values(), want):
            assert max_diff(g, w) <= TOL, tuple(x.shape)


@pytest.mark.slow
def test_baked_normalization_matches_the_library_preprocessor(
        tmp_path_factory):
    """The graph takes raw BGR pixels; torch's reference goes through
    mmpretrain's own data preprocessor (BGR->RGB, mean/std)."""
    model = tiny(tiny_classifier_config())
    assert model.data_preprocessor.to_rgb
    path, report = export(model, tmp_path_factory, 'baked',
                          bake_normalization=True)
    assert report.input_name == 'image'
    for img in inputs(raw=True):
        got = ort_outputs(path, img)['logits']
        with torch.no_grad():
            x = model.data_preprocessor(dict(inputs=list(img)),
                                        False)['inputs']
            want = model(x, mode='tensor')
        assert max_diff(got, want) <= TOL, tuple(img.shape)


@pytest.mark.slow
@pytest.mark.parametrize('opset', [17, 23])
def test_other_opsets_are_written_and_match(backbone_export, opset,
                                            tmp_path_factory):
    import onnx
    model = copy.deepcopy(backbone_export[0])
    path, _ = export(model, tmp_path_factory, f'opset{opset}', opset=opset)
    proto = onnx.load(path)
    assert {o.domain: o.version for o in proto.opset_import}[''] == opset
    ops = {n.op_type for n in proto.graph.node}
    assert ('Attention' in ops) == (opset >= 23)  # ONNX's native attention
    x = inputs()[0]
    with torch.no_grad():
        want = model(x)
    for g, w in zip(ort_outputs(path, x).values(), want):
        assert max_diff(g, w) <= TOL
