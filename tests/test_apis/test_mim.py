"""openmim reads the model index of the package as a user installs it (a
wheel, not this checkout): ``mim search cvt_backbone`` lists the published
models with their weights and configs, and ``mim download`` writes a
model's config and its published weights, which then build and load the
published model. The weights come from the stand-in hub on 127.0.0.1:
mim fetches the index's ``https://huggingface.co/...`` URLs with
``requests``, so the driver below sends those requests to the stand-in
(the only change to mim's own code path)."""
import json
import os.path as osp
import subprocess
import sys

import pytest
import torch

from cvt_backbone.checkpoint import MODEL_ZOO
from cvt_backbone.testing import FakeHub, hub_env

from compare import max_diff
from published_model import serve_published
from tiny_configs import tiny_cls_config
from tool_runner import run_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

pytest.importorskip('mim', reason='openmim is installed by requirements-test')


@pytest.fixture(scope='module')
def wheel_site(tmp_path_factory):
    """The package built as a wheel and installed (no dependencies) into a
    folder of its own, which the subprocesses put first on their path."""
    root = tmp_path_factory.mktemp('wheel')
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps',
                    '--no-build-isolation', '-w', str(root / 'dist'), ROOT],
                   check=True, capture_output=True, timeout=600)
    wheel = next((root / 'dist').glob('cvt_backbone-*.whl'))
    subprocess.run([sys.executable, '-m', 'pip', 'install', '-q',
                    '--no-deps', '--target', str(root / 'site'), str(wheel)],
                   check=True, capture_output=True, timeout=600)
    return root / 'site'


def mim_env(site):
    """Run from a folder outside the checkout (whose own package and
    egg-info would come first), with the installed wheel first."""
    return dict(PYTHONPATH=str(site))


def test_wheel_ships_the_index_and_its_configs(wheel_site):
    mim = wheel_site / 'cvt_backbone' / '.mim'
    assert (mim / 'model-index.yml').is_file()
    assert not (mim / 'configs').is_symlink()  # copies, not links
    for spec in MODEL_ZOO.values():
        assert (mim / spec.config).is_file(), spec.config
    # the folders the configs inherit from, and the paper's configs
    assert (mim / 'configs' / '_base_' / 'models').is_dir()
    assert list((mim / 'configs' / 'ablations').glob('*.py'))
    assert list((mim / 'configs' / 'transfer').glob('*.py'))
    assert (mim / 'tools' / 'train.py').is_file()  # for `mim train`
    assert (mim / 'tools' / 'test.py').is_file()


@pytest.mark.slow
def test_mim_search_lists_the_published_models(wheel_site, tmp_path):
    found = tmp_path / 'found.json'
    res = run_tool([sys.executable, '-m', 'mim', 'search', 'cvt_backbone',
                    '--json', str(found)],
                   env=mim_env(wheel_site), timeout=300, cwd=str(tmp_path))
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    table = json.loads(found.read_text())  # {field: {model: value}}
    assert set(table['weight']) == \
        {s.mmpretrain_name for s in MODEL_ZOO.values()}
    for spec in MODEL_ZOO.values():
        name = spec.mmpretrain_name
        assert table['weight'][name] == spec.weights_url
        assert table['config'][name] == spec.config
        assert table['parameters'][name] == spec.params
        assert table['imagenet-1k/top_1_accuracy'][name] == spec.top1


# Runs with the wheel first on the path: mim's download command, its
# requests for huggingface.co answered by the stand-in hub.
DOWNLOAD = '''
import sys
import requests.adapters
hub, name, dest = sys.argv[1:]
send = requests.adapters.HTTPAdapter.send
def to_stand_in(self, request, **kwargs):
    request.url = request.url.replace('https://huggingface.co', hub)
    return send(self, request, **kwargs)
requests.adapters.HTTPAdapter.send = to_stand_in
from mim.commands.download import download
print(download('cvt_backbone', [name], dest_root=dest))
'''

# Builds the downloaded config with the downloaded weights as the README
# tells a mim user to: the file is in the Hub's layout, so `cvt://` sends it
# through this project's converter.
BUILD = '''
import sys, torch
import cvt_backbone
from mmpretrain import get_model
config, weights, x_path, out = sys.argv[1:]
model = get_model(config, pretrained='cvt://' + weights)
with torch.no_grad():
    torch.save(model(torch.load(x_path), mode='tensor'), out)
'''


@pytest.mark.slow
def test_mim_download_gives_the_published_model(wheel_site, published,
                                                tmp_path):
    name = 'cvt-13_3rdparty_in1k'
    dest = tmp_path / 'models'
    with FakeHub() as hub:
        serve_published(hub, published)
        res = run_tool([sys.executable, '-c', DOWNLOAD, hub.url, name,
                        str(dest)], env=mim_env(wheel_site),
                       timeout=300, cwd=str(tmp_path))
        fetched = [p for m, p in hub.requests if m == 'GET']
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert fetched == ['/microsoft/cvt-13/resolve/main/pytorch_model.bin']
    weights = dest / 'pytorch_model.bin'
    assert weights.read_bytes() == \
        (published['root'] / 'pytorch_model.bin').read_bytes()
    config = dest / f'{name}.py'
    assert config.is_file()

    # the dumped config and the published (Hugging Face layout) file build
    # the published model: transformers' logits
    out = tmp_path / 'logits.pt'
    res = run_tool([sys.executable, '-c', BUILD, str(config), str(weights),
                    str(published['root'] / 'x.pt'), str(out)],
                   env=hub_env('http://127.0.0.1:9', tmp_path,
                               offline=True),
                   timeout=300, cwd=str(tmp_path))
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert max_diff(torch.load(out), published['ref']['logits']) <= 1e-4



@pytest.mark.slow
def test_mim_train_runs_the_packaged_train_tool(wheel_site, tmp_path,
                                                tiny_cls_data):
    """`mim train cvt_backbone CONFIG` runs the wheel's tools/train.py
    (the tiny classifier on the generated set): it trains and checkpoints."""
    config = tiny_cls_config(tmp_path / 'tiny.py', tiny_cls_data,
                             max_epochs=2)
    work = tmp_path / 'work'
    res = run_tool([sys.executable, '-m', 'mim', 'train', 'cvt_backbone',
                    str(config), '--work-dir', str(work)],
                   env=mim_env(wheel_site), timeout=600, cwd=str(tmp_path))
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert osp.join(str(wheel_site), 'cvt_backbone', '.mim', 'tools',
                    'train.py') in res.stdout
    assert (work / 'epoch_2.pth').is_file()
