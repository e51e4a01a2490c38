"""The stand-in Hugging Face Hub answers ``huggingface_hub``'s own client:
uploads through ``HfApi.create_repo`` / ``upload_folder`` / ``upload_file``
come back through ``list_repo_files`` and ``hf_hub_download`` byte for
byte, a new commit is seen as one, and the Hub's errors reach the client as
its named exceptions. The client runs in a subprocess with ``HF_ENDPOINT``
set (``hub_env``), as the command lines do: ``huggingface_hub`` reads the
endpoint once, when it is imported."""
import json
import os
import subprocess
import sys

from cvt_backbone.testing import FakeHub, hub_env

CLIENT = r'''
import json, sys
from huggingface_hub import HfApi, hf_hub_download
folder, repo = sys.argv[1], 'someone/cvt-tiny'
api = HfApi(token=False)
out = dict(url=str(api.create_repo(repo)))


def error(call):
    try:
        call()
    except Exception as e:
        return type(e).__name__
    return None


out['again'] = error(lambda: api.create_repo(repo))
out['exist_ok'] = error(lambda: api.create_repo(repo, exist_ok=True))
out['oid'] = api.upload_folder(repo_id=repo, folder_path=folder,
                               commit_message='first weights').oid
out['listed'] = sorted(api.list_repo_files(repo))
get = lambda name: open(hf_hub_download(repo, name), 'rb').read().hex()
out['got'] = {name: get(name) for name in out['listed']}
with open(folder + '/config.json', 'w') as f:
    f.write('{"a": 2}')
out['oid2'] = api.upload_file(path_or_fileobj=folder + '/config.json',
                              path_in_repo='config.json', repo_id=repo).oid
out['config2'] = get('config.json')
out['missing'] = error(lambda: get('missing.bin'))
out['no_repo'] = error(lambda: api.upload_folder(
    repo_id='someone/never-created', folder_path=folder))
print(json.dumps(out))
'''


def test_upload_then_download_round_trip(tmp_path):
    folder = tmp_path / 'model'
    (folder / 'sub').mkdir(parents=True)
    files = {'config.json': b'{"a": 1}',
             'model.safetensors': bytes(range(256)) * 40,
             'sub/notes.txt': b'nested'}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    with FakeHub() as hub:
        proc = subprocess.run(
            [sys.executable, '-c', CLIENT, str(folder)], capture_output=True,
            text=True, timeout=300,
            env=dict(os.environ, **hub_env(hub.url, tmp_path)))
        assert proc.returncode == 0, proc.stderr[-3000:]
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        assert out['url'] == f'{hub.url}/someone/cvt-tiny'
        assert out['again'] == 'HfHubHTTPError'  # 409: it exists
        assert out['exist_ok'] is None
        assert out['listed'] == sorted(files)
        assert out['got'] == {name: data.hex()
                              for name, data in files.items()}
        assert out['oid'] != hub.COMMIT and out['oid2'] != out['oid']
        assert out['oid2'] == hub.head('someone/cvt-tiny')
        assert out['config2'] == b'{"a": 2}'.hex()
        assert out['missing'] == 'EntryNotFoundError'
        assert out['no_repo'] == 'RepositoryNotFoundError'
        assert hub.commits == [
            ('someone/cvt-tiny', 'first weights'),
            ('someone/cvt-tiny', 'Upload config.json with huggingface_hub')]
        assert hub.repos['someone/cvt-tiny']['sub/notes.txt'] == b'nested'
    posts = [p for m, p in hub.requests if m == 'POST']
    assert '/api/models/someone/cvt-tiny/preupload/main' in posts
    assert '/api/models/someone/cvt-tiny/commit/main' in posts
