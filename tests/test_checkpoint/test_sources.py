"""Checkpoint sources against a stand-in Hugging Face Hub on 127.0.0.1:
zoo names, repo ids and plain URLs through init_cfg and get_model give the
transformers model's outputs; the cache serves later loads with the server
gone; offline, missing, cut, HTML and code-running downloads fail clearly
and leave nothing readable in the caches. No test touches the internet:
every process runs with HF_ENDPOINT pointing at the local server."""
import json
import os
import os.path as osp
import sys

import pytest
import torch

from cvt_backbone.testing import FakeHub, hub_env

from compare import max_diff
from hostile_pickle import CodeRunningPickle
from oracles import hf_to_original_reference
from published_model import PUBLISHED_LABELS, serve_published
from tool_runner import run_tool

HUB_FILE = ('https://huggingface.co/microsoft/cvt-13/resolve/main/'
            'pytorch_model.bin')


def test_hub_file_urls_are_parsed():
    from cvt_backbone.checkpoint.sources import parse_hub_file_url
    assert parse_hub_file_url(HUB_FILE) == \
        ('microsoft/cvt-13', None, 'pytorch_model.bin')
    assert parse_hub_file_url(
        'https://huggingface.co/me/my.cvt-13/resolve/v1.0/sub/w.safetensors'
        '?download=true') == ('me/my.cvt-13', 'v1.0', 'sub/w.safetensors')
    for other in ('https://huggingface.co/microsoft/cvt-13',
                  'https://huggingface.co/microsoft/cvt-13/blob/main/x.bin',
                  'https://example.com/microsoft/cvt-13/resolve/main/x.bin',
                  'hf://microsoft/cvt-13'):
        assert parse_hub_file_url(other) is None, other


def test_mmengine_gives_the_published_repos_urls_to_this_project():
    """mmengine's CheckpointLoader (what mmpretrain's get_model calls with
    the model index's weights) picks this project's loader for the
    published repos' file URLs, and keeps its own for every other URL."""
    from mmengine.runner import CheckpointLoader
    from mmengine.runner.checkpoint import load_from_http

    import cvt_backbone  # noqa: F401  (registers the schemes)
    from cvt_backbone.checkpoint.loading import _mmengine_loader
    pick = CheckpointLoader._get_checkpoint_loader
    assert pick(HUB_FILE) is _mmengine_loader
    assert pick(HUB_FILE.replace('cvt-13', 'cvt-w24-384-22k')) is \
        _mmengine_loader
    for other in ('https://huggingface.co/timm/resnet50.a1_in1k/resolve/'
                  'main/pytorch_model.bin',
                  'https://download.openmmlab.com/mmclassification/x.pth'):
        assert pick(other) is load_from_http, other


# Runs in a subprocess with the hub's environment: loads each (entry point,
# source) pair given and saves the outputs.
LOAD = '''
import json, sys, torch
from cvt_backbone import CvT, get_model
x = torch.load(sys.argv[1])
out = {}
with torch.no_grad():
    for key, (how, source) in json.loads(sys.argv[2]).items():
        if how == 'init_cfg':
            backbone = CvT('13', init_cfg=dict(type='Pretrained',
                                               checkpoint=source)).eval()
            backbone.init_weights()
            out[key] = list(backbone(x))
        elif how == 'get_model':
            model = get_model('13', pretrained=source)
            out[key] = model(x, mode='tensor')
        else:  # a zoo name, published weights and class names
            model = get_model(source, pretrained=True)
            out[key] = model(x, mode='tensor')
            out['classes'] = model._dataset_meta['classes']
torch.save(out, sys.argv[3])
'''


def load(tmp_path, published, loads, env):
    out = tmp_path / 'out.pt'
    res = run_tool([sys.executable, '-c', LOAD,
                    str(published['root'] / 'x.pt'), json.dumps(loads),
                    str(out)], env=env, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return torch.load(out, weights_only=False)


def assert_equal_to_transformers(out, loads, published):
    ref = published['ref']
    for key, (how, _) in loads.items():
        if how == 'init_cfg':
            for o, r in zip(out[key], ref['maps']):
                assert max_diff(o, r) <= 1e-4, key
        else:
            assert max_diff(out[key], ref['logits']) <= 1e-4, key


@pytest.mark.slow
def test_names_repo_ids_and_urls_load_and_cache(published, tmp_path):
    """A zoo name, a repo id and plain URLs (both layouts) through init_cfg
    and get_model (the converter: tests/test_tools); then the caches with
    the server gone; then offline with nothing cached."""
    with FakeHub() as hub:
        urls = serve_published(hub, published)
        env = hub_env(hub.url, tmp_path)
        sources = {'zoo': 'cvt-13', 'repo': 'hf://microsoft/cvt-13@main',
                   'url': urls['url_bin'], 'url_orig': urls['url_orig'],
                   # the model index's weights: a Hub file URL, fetched
                   # through HF_ENDPOINT (here the stand-in) and its cache
                   'hub_url': HUB_FILE}
        loads = {f'{how}/{name}': (how, source)
                 for name, source in sources.items()
                 for how in ('init_cfg', 'get_model')}
        loads['zoo_classifier'] = ('zoo', 'cvt-13')
        out = load(tmp_path, published, loads, env)
        downloads = [p for m, p in hub.requests if m == 'GET']
    assert_equal_to_transformers(out, loads, published)
    # the class names come with the weights (the repo's config.json)
    assert out['classes'] == [PUBLISHED_LABELS[i] for i in range(1000)]
    # safetensors preferred; each file downloaded once for all the loads;
    # the .bin only for the URL that names it
    assert downloads.count(
        '/microsoft/cvt-13/resolve/main/model.safetensors') == 1
    assert [p for p in downloads if 'pytorch_model.bin' in p] == \
        ['/microsoft/cvt-13/resolve/main/pytorch_model.bin']
    assert downloads.count('/files/cvt13.bin') == 1

    # the server is gone: the same weights come from the caches
    again = {k: loads[k] for k in ('init_cfg/zoo', 'get_model/url_orig')}
    out = load(tmp_path, published, again, env)
    assert_equal_to_transformers(out, again, published)

    # offline with an empty cache: a clear error, no network attempt
    empty = tmp_path / 'empty'
    env = hub_env('http://127.0.0.1:9', empty, offline=True)
    code = ('from cvt_backbone import get_model\n'
            'get_model("cvt-13", pretrained=True)')
    res = run_tool([sys.executable, '-c', code], env=env, timeout=300)
    assert res.returncode != 0
    err = res.stderr.strip().splitlines()[-1]
    assert 'CheckpointDownloadError' in err
    assert 'offline (HF_HUB_OFFLINE=1)' in err
    assert 'microsoft/cvt-13' in err and 'not in the Hugging Face cache' in err


# Runs in a subprocess: every bad source, one JSON line of errors.
BAD_SOURCES = '''
import json, sys
from cvt_backbone.checkpoint import load_checkpoint
errors = {}
for name, source in json.loads(sys.argv[1]).items():
    try:
        load_checkpoint(source)
        errors[name] = None
    except Exception as e:
        errors[name] = f'{type(e).__name__}: {e}'
print(json.dumps(errors))
'''


@pytest.mark.slow
def test_bad_downloads_fail_clearly_and_leave_nothing(published, tmp_path):
    marker = tmp_path / 'pwned'
    evil = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'w': CodeRunningPickle(marker)}}, evil)
    data = (published['root'] / 'pytorch_model.bin').read_bytes()
    html = b'<!DOCTYPE html><html><body>Sign in to download</body></html>'
    with FakeHub() as hub:
        hub.add_repo('microsoft/cvt-13', published['root'] / 'hf')
        hub.cut.add('model.safetensors')  # the hub cuts the weights
        hub.repos['someone/cvt-html'] = {'pytorch_model.bin': html}
        hub.repos['someone/cvt-empty'] = {'README.md': b'no weights'}
        sources = {
            'hub_cut': 'cvt-13',
            'hub_404_repo': 'someone/no-such-cvt',
            'hub_no_weights': 'hf://someone/cvt-empty',
            'hub_html': 'someone/cvt-html',
            'url_cut': hub.add_file('cut.pth', data, cut=True),
            'url_404': f'{hub.url}/files/missing.pth',
            'url_html': hub.add_file('page.pth', html),
            'url_pickle': hub.add_file('evil.pth', evil.read_bytes()),
            'unknown_name': 'cvt-14',
        }
        res = run_tool([sys.executable, '-c', BAD_SOURCES,
                        json.dumps(sources)],
                       env=hub_env(hub.url, tmp_path), timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    errors = json.loads(res.stdout.strip().splitlines()[-1])
    for name, source in sources.items():
        assert errors[name] is not None, f'{name} loaded'
        if name != 'unknown_name':
            assert source.replace('hf://', '') in errors[name] or \
                source in errors[name], errors[name]
    assert 'cut short' in errors['url_cut']
    assert 'nothing was kept' in errors['url_cut']
    assert 'HTTP 404' in errors['url_404']
    assert 'web page (HTML)' in errors['url_html']
    assert 'web page (HTML)' in errors['hub_html']
    assert 'refused to load' in errors['url_pickle']
    assert 'no repository' in errors['hub_404_repo']
    assert 'has no weights file' in errors['hub_no_weights']
    assert errors['hub_cut'].startswith('CheckpointDownloadError')
    assert 'resume' in errors['hub_cut']
    assert errors['unknown_name'].startswith('FileNotFoundError')
    assert "'cvt-13', 'cvt-13-384'" in errors['unknown_name']  # the names
    assert not marker.exists()
    # nothing half-read or unreadable stays in the caches
    url_cache = tmp_path / 'urls'
    kept = [f for _, _, fs in os.walk(url_cache) for f in fs]
    assert kept == [], kept
    snapshots = tmp_path / 'hf' / 'hub'
    cached = [osp.join(d, f) for d, _, fs in os.walk(snapshots) for f in fs
              if '/snapshots/' in osp.join(d, f)]
    assert not any(f.endswith(('model.safetensors', 'pytorch_model.bin'))
                   for f in cached), cached


def test_a_local_path_wins_and_unknown_sources_are_named(tmp_path):
    """No network: an existing file is read as it is, a missing one that
    looks like a file is reported as missing, not looked up online."""
    from cvt_backbone.checkpoint import resolve_checkpoint
    path = tmp_path / 'cvt-13'
    path.write_bytes(b'x')
    assert resolve_checkpoint(str(path)) == str(path)
    with pytest.raises(FileNotFoundError, match='not an existing file'):
        resolve_checkpoint(str(tmp_path / 'weights' / 'cvt.pth'))
    with pytest.raises(TypeError, match='checkpoint source'):
        resolve_checkpoint(13)


def test_mmengine_checkpoint_loader_knows_the_names():
    """load_from='cvt-13' in any OpenMMLab tool reaches this project's
    loader (converting published layouts); other paths keep mmengine's."""
    from mmengine.runner import CheckpointLoader

    import cvt_backbone  # noqa: F401  (registers the schemes)
    ours = CheckpointLoader._get_checkpoint_loader
    for source in ('cvt-13', 'CvT-21-384-22K', 'cvt-w24-384-22k@main',
                   'hf://org/name', 'cvt://https://host/x.pth',
                   'CvT-13-224x224-IN-1k'):
        assert ours(source).__name__ == '_mmengine_loader', source
    for source in ('cvt-13.pth', 'work_dirs/cvt-13/epoch_1.pth',
                   'https://host/x.pth'):
        assert ours(source).__name__ != '_mmengine_loader', source


def test_converted_load_through_the_scheme_keeps_meta(released_classifier,
                                                      tmp_path):
    """What load_from / tools/test.py do with a published file: converted
    to the classifier's keys, strict; an mmengine checkpoint keeps its
    meta (class names)."""
    from mmengine.runner import CheckpointLoader

    from cvt_backbone.checkpoint import as_checkpoint_scheme
    torch.save(hf_to_original_reference(released_classifier.state_dict()),
               tmp_path / 'orig.pth')
    ckpt = CheckpointLoader.load_checkpoint(
        as_checkpoint_scheme(str(tmp_path / 'orig.pth')))
    assert 'backbone.cls_norm.weight' in ckpt['state_dict']
    assert ckpt['state_dict']['head.fc.weight'].shape == (7, 384)
    torch.save(dict(state_dict=ckpt['state_dict'],
                    meta=dict(dataset_meta=dict(classes=['a'] * 7))),
               tmp_path / 'ours.pth')
    ckpt = CheckpointLoader.load_checkpoint(
        as_checkpoint_scheme(str(tmp_path / 'ours.pth')))
    assert ckpt['meta']['dataset_meta']['classes'] == ['a'] * 7
