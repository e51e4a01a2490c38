"""A stand-in for the Hugging Face Hub on 127.0.0.1, for tests of every path
that downloads from (or uploads to) the Hub: no network is needed, and
``huggingface_hub``'s own client talks to it: point ``HF_ENDPOINT`` at
:attr:`FakeHub.url` (:func:`hub_env`, for a subprocess). In-process,
``endpoint=hub.url`` suffices for downloads; uploads also need
``huggingface_hub.constants.ENDPOINT`` set to it (what ``HF_ENDPOINT`` sets
at import), since the client parses the returned commit URL against it.

What it answers, the way the Hub does for ``huggingface_hub``:

- downloads (``hf_hub_download``): ``GET``/``HEAD``
  ``/<org>/<name>/resolve/<rev>/<file>`` with the headers the client needs
  (``X-Repo-Commit``: 40 hex digits, ``ETag``, ``Content-Length``); a
  missing file is 404 with ``X-Error-Code: EntryNotFound`` (the client
  raises ``EntryNotFoundError``), a missing repo 404 with ``RepoNotFound``;
- the file list: ``GET /api/models/<org>/<name>`` (optionally
  ``/revision/<rev>``): JSON with ``siblings``, and ``GET
  /api/models/<org>/<name>/tree/<rev>[/<folder>]`` (what
  ``list_repo_files`` asks since huggingface_hub 0.2x): the files as
  ``{type, path, size, oid}``, always recursive;
- uploads (``HfApi.create_repo``, ``HfApi.upload_folder`` /
  ``upload_file`` / ``create_commit``): ``POST /api/repos/create``,
  ``POST /api/models/<org>/<name>/preupload/<rev>`` (every file is a
  "regular" upload, so no LFS or Xet transfer is asked for) and
  ``POST /api/models/<org>/<name>/commit/<rev>`` (the NDJSON commit:
  ``file`` entries with base64 content and ``deletedFile`` entries; an
  ``lfsFile`` entry is refused with 400, as nothing is ever sent as LFS);
  ``POST /api/validate-yaml`` (the client sends a ``README.md`` model
  card's metadata there before committing it): 200 when the front matter
  is a YAML mapping, 400 otherwise;
- plain files (``/files/<name>``, for URL checkpoint sources); a ``cut``
  file sends its full ``Content-Length`` and then closes the connection
  half-way (an interrupted download).

Every repo has one branch: the revision in a URL is not checked. Each commit
gives the repo a new commit id, so ``hf_hub_download`` sees a change.
Extension points: another endpoint is one more branch in
:meth:`FakeHub._route` (``GET``/``HEAD``) or :meth:`FakeHub._post`
(``POST``), returning ``(status, headers, body)``.
"""
import base64
import hashlib
import json
import os
import os.path as osp
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional, Tuple

# (status, headers, body, name of a served plain file or None)
Answer = Tuple[int, Dict[str, str], bytes, Optional[str]]

_REPO = r'([^/]+/[^/]+)'


def _json(status: int, payload, **headers) -> Answer:
    return (status, dict({'Content-Type': 'application/json'}, **headers),
            json.dumps(payload).encode(), None)


def _not_found(code: str, message: str) -> Answer:
    """A 404 as the Hub sends it: ``huggingface_hub`` reads the error kind
    from ``X-Error-Code``."""
    return _json(404, dict(error=message), **{'X-Error-Code': code,
                                              'X-Error-Message': message})


class FakeHub:
    """An HTTP server on 127.0.0.1 that answers like the Hugging Face Hub for
    the repos added to it (see the module docstring).

    Use as a context manager; ``url`` is the endpoint (``HF_ENDPOINT``),
    ``requests`` the ``(method, path)`` asked for, ``repos`` the files of
    each repo (``{repo_id: {path: bytes}}``, uploads included) and
    ``commits`` the ``(repo_id, summary)`` of each commit received.
    """

    COMMIT = 'a' * 40  # the commit id of a repo added with add_repo

    def __init__(self) -> None:
        self.repos: Dict[str, Dict[str, bytes]] = {}
        self.files: Dict[str, bytes] = {}
        self.cut = set()
        self.requests: List[Tuple[str, str]] = []
        self.commits: List[Tuple[str, str]] = []
        self._heads: Dict[str, str] = {}
        self._server = None

    # -- content ------------------------------------------------------------
    def add_repo(self, repo_id: str, folder) -> None:
        """Serve the files of ``folder`` (e.g. a ``save_pretrained`` output)
        as the Hugging Face repo ``repo_id``."""
        files = {}
        for name in os.listdir(folder):
            if osp.isfile(osp.join(folder, name)):
                with open(osp.join(folder, name), 'rb') as f:
                    files[name] = f.read()
        self.repos[repo_id] = files

    def add_file(self, name: str, data: bytes, cut: bool = False) -> str:
        """Serve ``data`` at ``/files/<name>``; returns its URL."""
        self.files[name] = data
        if cut:
            self.cut.add(name)
        return f'{self.url}/files/{name}'

    @property
    def url(self) -> str:
        host, port = self._server.server_address
        return f'http://{host}:{port}'

    def head(self, repo_id: str) -> str:
        """The current commit id of ``repo_id``."""
        return self._heads.get(repo_id, self.COMMIT)

    # -- answers ------------------------------------------------------------
    def _route(self, path: str) -> Answer:
        """The answer to a ``GET``/``HEAD`` of ``path``."""
        path = path.split('?')[0]
        if path.startswith('/files/'):
            name = path[len('/files/'):]
            if name not in self.files:
                return 404, {}, b'not found', None
            return 200, {}, self.files[name], name
        m = re.fullmatch(rf'/api/models/{_REPO}(?:/revision/.+)?', path)
        if m:
            repo = m.group(1)
            if repo not in self.repos:
                return _not_found('RepoNotFound', 'Repository not found')
            return _json(200, dict(id=repo, sha=self.head(repo), siblings=[
                dict(rfilename=f) for f in self.repos[repo]]))
        m = re.fullmatch(rf'/api/models/{_REPO}/tree/[^/]+(?:/(.+))?', path)
        if m:
            repo, folder = m.group(1), (m.group(2) or '').rstrip('/')
            if repo not in self.repos:
                return _not_found('RepoNotFound', 'Repository not found')
            return _json(200, [
                dict(type='file', path=name, size=len(data),
                     oid=hashlib.sha1(b'blob %d\0' % len(data) + data)
                     .hexdigest())
                for name, data in sorted(self.repos[repo].items())
                if not folder or name.startswith(folder + '/')])
        m = re.fullmatch(rf'/{_REPO}/resolve/([^/]+)/(.+)', path)
        if not m or m.group(1) not in self.repos:
            return 404, {'X-Error-Code': 'RepoNotFound',
                         'X-Error-Message': 'Repository not found'}, b'', None
        repo, name = m.group(1), m.group(3)
        if name not in self.repos[repo]:
            return 404, {'X-Error-Code': 'EntryNotFound',
                         'X-Error-Message': 'Entry not found'}, b'', None
        data = self.repos[repo][name]
        return 200, {'X-Repo-Commit': self.head(repo),
                     'ETag': f'"{hashlib.sha256(data).hexdigest()}"'}, \
            data, name

    def _post(self, path: str, body: bytes) -> Answer:
        """The answer to a ``POST`` of ``body`` to ``path`` (the upload
        API)."""
        path = path.split('?')[0]
        if path == '/api/repos/create':
            return self._create_repo(json.loads(body or b'{}'))
        if path == '/api/validate-yaml':
            return self._validate_yaml(json.loads(body or b'{}'))
        m = re.fullmatch(rf'/api/models/{_REPO}/(preupload|commit)/.+', path)
        if not m:
            return _not_found('NotFound', f'no endpoint {path}')
        repo, action = m.groups()
        if repo not in self.repos:
            return _not_found('RepoNotFound', 'Repository not found')
        if action == 'preupload':
            files = json.loads(body)['files']
            return _json(200, dict(files=[
                dict(path=f['path'], uploadMode='regular', shouldIgnore=False)
                for f in files]))
        return self._commit(repo, body)

    def _create_repo(self, request: dict) -> Answer:
        if not request.get('organization'):
            return _json(400, dict(error='give the repo id as <org>/<name>'))
        if request.get('type') not in (None, 'model'):
            return _json(400, dict(error='only model repos are served'))
        repo = f"{request['organization']}/{request['name']}"
        if repo in self.repos:
            return _json(409, dict(error='You already created this model '
                                   'repo', url=f'{self.url}/{repo}'))
        self.repos[repo] = {}
        return _json(200, dict(url=f'{self.url}/{repo}'))

    @staticmethod
    def _validate_yaml(request: dict) -> Answer:
        """A model card's front matter (between ``---`` lines) must be a
        YAML mapping."""
        import yaml
        parts = (request.get('content') or '').split('---')
        try:
            meta = yaml.safe_load(parts[1]) if len(parts) > 2 else {}
        except yaml.YAMLError as e:
            return _json(400, dict(error=f'invalid YAML: {e}'))
        if not isinstance(meta, dict):
            return _json(400, dict(error='the metadata is not a mapping'))
        return _json(200, dict(errors=[], warnings=[]))

    def _commit(self, repo: str, body: bytes) -> Answer:
        """Apply an NDJSON commit (``header``, ``file``, ``deletedFile``
        lines) to ``repo``."""
        files = dict(self.repos[repo])
        summary = ''
        for line in body.splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item['key'], item['value']
            if key == 'header':
                summary = value.get('summary', '')
            elif key == 'file' and value.get('encoding') == 'base64':
                files[value['path']] = base64.b64decode(value['content'])
            elif key == 'deletedFile' and value['path'] in files:
                del files[value['path']]
            else:
                return _json(400, dict(error=f'{key} entries are not '
                                       f'served: {value.get("path")}'))
        self.repos[repo] = files
        digest = hashlib.sha1(repr(sorted(files.items())).encode())
        self._heads[repo] = digest.hexdigest()
        self.commits.append((repo, summary))
        return _json(200, dict(commitUrl=f'{self.url}/{repo}/commit/'
                               f'{self._heads[repo]}',
                               commitOid=self._heads[repo],
                               pullRequestUrl=None))

    # -- the server ---------------------------------------------------------
    def __enter__(self) -> 'FakeHub':
        hub = self

        class Handler(BaseHTTPRequestHandler):

            def log_message(self, *args):
                pass

            def _send(self, answer: Answer, body_too: bool = True) -> None:
                status, headers, body, name = answer
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                if not body_too:
                    return
                if name in hub.cut:
                    self.wfile.write(body[:len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def do_HEAD(self):
                hub.requests.append((self.command, self.path))
                self._send(hub._route(self.path), body_too=False)

            def do_GET(self):
                hub.requests.append((self.command, self.path))
                self._send(hub._route(self.path))

            def do_POST(self):
                hub.requests.append((self.command, self.path))
                size = int(self.headers.get('Content-Length') or 0)
                self._send(hub._post(self.path, self.rfile.read(size)))

        self._server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def hub_env(hub_url: str, home, offline: bool = False) -> dict:
    """Environment variables pointing ``huggingface_hub`` and this project's
    URL cache at a stand-in hub and test caches under ``home`` (a
    ``pathlib.Path``), for command lines run in a subprocess."""
    return dict(HF_ENDPOINT=hub_url, HF_HOME=str(home / 'hf'),
                CVT_BACKBONE_CACHE=str(home / 'urls'),
                HF_HUB_OFFLINE='1' if offline else '0',
                HF_HUB_DISABLE_TELEMETRY='1')
