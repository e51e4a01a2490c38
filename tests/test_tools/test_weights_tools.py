"""The command lines with published weights by name, against a stand-in
Hugging Face Hub on 127.0.0.1 (HF_ENDPOINT): the converter from a zoo name
and a URL, tools/infer.py's top-5 and tools/test.py's accuracy, each checked
against the transformers model with torchvision's preprocessing."""
import re
import sys

import pytest
import torch
import torch.nn.functional as F

from cvt_backbone import CvT
from cvt_backbone.testing import FakeHub, hub_env

from compare import max_diff
from published_model import PUBLISHED_LABELS, serve_published
from tool_runner import run_tool


def published_preprocessing(path: str) -> torch.Tensor:
    """The release's 224 test preprocessing, by torchvision: resize the short
    side to 256 (bicubic), centre-crop 224, ImageNet mean/std."""
    from PIL import Image
    from torchvision import transforms as T
    tf = T.Compose([T.Resize(256, interpolation=T.InterpolationMode.BICUBIC),
                    T.CenterCrop(224), T.ToTensor(),
                    T.Normalize([0.485, 0.456, 0.406],
                                [0.229, 0.224, 0.225])])
    return tf(Image.open(path).convert('RGB'))


@pytest.mark.slow
def test_tools_take_weights_by_name(published, tiny_cls_data, tmp_path):
    reference = published['model']
    image = f'{tiny_cls_data}/val/ring/ring_00003.png'
    with FakeHub() as hub:
        urls = serve_published(hub, published)
        env = hub_env(hub.url, tmp_path)

        # the converter, from a zoo name and from a URL (release layout)
        for n, source in enumerate(('cvt-13', urls['url_orig'])):
            dst = tmp_path / f'converted_{n}.pth'
            res = run_tool([sys.executable,
                            'tools/model_converters/convert_weights.py',
                            source, str(dst)], env=env)
            assert res.returncode == 0, res.stderr[-3000:]
            state = torch.load(dst, weights_only=True)['state_dict']
            backbone = CvT('13', out_type='cls_token').eval()
            backbone.load_state_dict(
                {k[9:]: v for k, v in state.items()
                 if k.startswith('backbone.')}, strict=True)
            x = torch.load(published['root'] / 'x.pt')
            with torch.no_grad():
                logits = F.linear(backbone(x)[0], state['head.fc.weight'],
                                  state['head.fc.bias'])
            assert max_diff(logits, published['ref']['logits']) <= 1e-4

        # tools/infer.py NAME IMAGE: the top 5 with names and probabilities
        res = run_tool([sys.executable, 'tools/infer.py', 'cvt-13', image],
                       env=env)
        assert res.returncode == 0, res.stderr[-3000:]
        rows = re.findall(r'^\s+(\d)\. (\S+)\s+([\d.]+)$', res.stdout, re.M)
        assert [int(r[0]) for r in rows] == [1, 2, 3, 4, 5]
        with torch.no_grad():
            probs = reference(published_preprocessing(image)[None]).logits \
                .softmax(-1)[0]
        top = probs.topk(5)
        assert [r[1] for r in rows] == [PUBLISHED_LABELS[int(i)]
                                        for i in top.indices]
        for (_, _, p), want in zip(rows, top.values):
            assert float(p) == pytest.approx(float(want), abs=2e-4)

        # tools/test.py CONFIG NAME on a generated val folder
        res = run_tool([
            sys.executable, 'tools/test.py', 'configs/cvt13_classify.py',
            'cvt-13', '--work-dir', str(tmp_path / 'test'), '--cfg-options',
            f'test_dataloader.dataset.data_root={tiny_cls_data}',
            'test_dataloader.num_workers=0',
            'test_dataloader.persistent_workers=False'], env=env)
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    got = float(re.search(r'accuracy/top1: ([\d.]+)', res.stdout).group(1))
    lines = open(f'{tiny_cls_data}/meta/val.txt').read().split('\n')
    samples = [line.split() for line in lines if line.strip()]
    with torch.no_grad():
        hits = sum(
            int(reference(published_preprocessing(
                f'{tiny_cls_data}/val/{path}')[None]).logits.argmax())
            == int(label) for path, label in samples)
    # the same model and preprocessing: the same accuracy (a near-tie may
    # flip one image)
    assert abs(got - 100 * hits / len(samples)) <= 100 / len(samples) + 1e-6
