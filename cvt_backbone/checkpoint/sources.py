"""Where a checkpoint comes from, and getting it onto the disk once.

A checkpoint *source* is one of:

1. a local file or Hugging Face model folder;
2. an ``http://`` or ``https://`` URL, downloaded once into
   ``$CVT_BACKBONE_CACHE`` (default ``~/.cache/cvt_backbone/checkpoints``);
3. a Hugging Face repo id, ``org/name`` or ``hf://org/name``, optionally
   ``@revision``: ``model.safetensors`` when the repo has it, else
   ``pytorch_model.bin``, through ``huggingface_hub`` (its cache,
   resumable downloads, ``HF_ENDPOINT``, ``HF_HOME``, ``HF_HUB_OFFLINE``);
4. a model-zoo name (``cvt-13``, ``cvt-21-384-22k``..., see
   :mod:`cvt_backbone.checkpoint.zoo`), which is its Hugging Face repo;
5. a file URL on the Hub, ``https://huggingface.co/ORG/NAME/resolve/REV/
   FILE`` (what the model index gives mmpretrain and openmim, which need
   http(s) URLs): that file through ``huggingface_hub`` as in 3, so it
   shares the Hub cache with the repo ids and follows ``HF_ENDPOINT``
   (a mirror) and ``HF_HUB_OFFLINE`` rather than going around them.

:func:`resolve_checkpoint` returns the local path; the bytes are then read
by the safe reader (:func:`.reading.read_checkpoint`). A download that
is cut short, a 404 and a file that is not a checkpoint raise
:class:`CheckpointDownloadError` / ``CheckpointError`` naming the source and
what to do; nothing partial is ever read as a checkpoint, and a plain-URL
download enters the cache only once it has been read successfully.
"""
import functools
import hashlib
import http.client
import os
import os.path as osp
import re
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from typing import Optional, Tuple

from .errors import CheckpointDownloadError, CheckpointError
from .reading import HF_WEIGHT_FILES, read_checkpoint
from .zoo import find_model, list_models

_REPO_ID = re.compile(r'[\w][\w.-]*/[\w][\w.-]*')
HUB_URL = 'https://huggingface.co/'
_HUB_FILE_URL = re.compile(re.escape(HUB_URL) + r'(?P<repo>' +
                           _REPO_ID.pattern + r')/resolve/(?P<rev>[^/]+)/'
                           r'(?P<file>[^?#]+)(?:[?#].*)?')
_CHECKPOINT_SUFFIXES = ('.pth', '.pt', '.bin', '.safetensors', '.ckpt')


def url_cache_dir() -> str:
    """Where plain-URL downloads are kept: ``$CVT_BACKBONE_CACHE``, else
    ``$XDG_CACHE_HOME/cvt_backbone/checkpoints`` (``~/.cache/...``)."""
    root = os.environ.get('CVT_BACKBONE_CACHE')
    if root:
        return osp.expanduser(root)
    cache = os.environ.get('XDG_CACHE_HOME') or osp.expanduser('~/.cache')
    return osp.join(cache, 'cvt_backbone', 'checkpoints')


def hub_offline() -> bool:
    from huggingface_hub import constants
    return bool(constants.HF_HUB_OFFLINE)


def parse_hub_file_url(source: str
                       ) -> Optional[Tuple[str, Optional[str], str]]:
    """``(repo_id, revision, filename)`` for a Hub file URL
    (``https://huggingface.co/org/name/resolve/rev/file``), else ``None``."""
    m = _HUB_FILE_URL.fullmatch(source)
    if m is None:
        return None
    rev = urllib.parse.unquote(m['rev'])
    return m['repo'], None if rev == 'main' else rev, m['file']


def parse_hub_source(source: str) -> Optional[Tuple[str, Optional[str]]]:
    """``(repo_id, revision)`` for ``hf://org/name[@rev]``, a zoo name
    (``cvt-13[@rev]``), a bare ``org/name[@rev]`` or a Hub file URL;
    ``None`` otherwise. A bare id is only a repo when no local path of
    that name exists."""
    url = parse_hub_file_url(source)
    if url is not None:
        return url[:2]
    name = source[len('hf://'):] if source.startswith('hf://') else source
    name, _, revision = name.partition('@')
    spec = find_model(name)
    if spec is not None:
        return spec.repo, revision or None
    if source.startswith('hf://') or (
            _REPO_ID.fullmatch(name)
            and not name.lower().endswith(_CHECKPOINT_SUFFIXES)):
        return name, revision or None
    return None


def resolve_checkpoint(source: str) -> str:
    """The local path of the checkpoint ``source`` names (see the module
    docstring), downloading it first if needed."""
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f'a checkpoint source must be a path, URL, repo id '
                        f'or model name, got {type(source).__name__}')
    source = os.fspath(source)
    local = osp.expanduser(source)
    if osp.exists(local):
        return local
    url = parse_hub_file_url(source)
    if url is not None:
        repo_id, revision, filename = url
        return download_from_hub(repo_id, revision, source, filename)
    if source.startswith(('http://', 'https://')):
        return download_url(source)
    hub = parse_hub_source(source)
    if hub is not None:
        return download_from_hub(*hub, source=source)
    raise FileNotFoundError(
        f'checkpoint {source!r} not found: it is not an existing file or '
        'folder, not an http(s) URL, not a Hugging Face repo id '
        '("org/name" or "hf://org/name[@revision]") and not a model-zoo '
        f'name; the names are {list_models()}')


# -- Hugging Face Hub ------------------------------------------------------
@functools.lru_cache(maxsize=None)
def download_from_hub(repo_id: str, revision: Optional[str] = None,
                      source: Optional[str] = None,
                      filename: Optional[str] = None) -> str:
    """The weights file of a Hugging Face repo: ``filename`` if given, else
    ``model.safetensors``, else ``pytorch_model.bin`` (``huggingface_hub``'s
    cache and settings).

    Looked up once per process: ``huggingface_hub`` asks the server whether
    the cached file is current on every call (retrying for about 20 s when
    it cannot be reached), and one run loads the same weights several times
    (``init_cfg``, the class names, ``load_from``)."""
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )
    source = source or repo_id
    where = f'{repo_id}' + (f'@{revision}' if revision else '')
    names = (filename,) if filename else HF_WEIGHT_FILES
    not_cached = None
    for name in names:
        try:
            return hf_hub_download(repo_id, name, revision=revision)
        except LocalEntryNotFoundError as e:  # offline / unreachable
            not_cached = e
        except EntryNotFoundError:  # the repo has no such file
            continue
        except RepositoryNotFoundError as e:
            raise CheckpointDownloadError(
                f'{source}: no local file or folder of that name, and no '
                f'repository {repo_id!r} on {constants.ENDPOINT} (or it is '
                f'private). Check the id; the model-zoo names are '
                f'{list_models()}') from e
        except RevisionNotFoundError as e:
            raise CheckpointDownloadError(
                f'{source}: {repo_id} has no revision {revision!r}') from e
        except OSError as e:  # e.g. size check failed: cut short
            raise CheckpointDownloadError(
                f'{source}: downloading {name} from {where} failed: {e}. '
                'Nothing partial was read; run again to resume the '
                'download.') from e
    if not_cached is not None:
        if hub_offline():
            raise CheckpointDownloadError(
                f'{source}: offline (HF_HUB_OFFLINE=1) and {where} is not '
                f'in the Hugging Face cache ({constants.HF_HUB_CACHE}). Run '
                'once with network access (HF_ENDPOINT for a mirror), copy '
                'that cache here, or give a local file.') from not_cached
        raise CheckpointDownloadError(
            f'{source}: could not reach {constants.ENDPOINT} and {where} is '
            f'not in the Hugging Face cache ({constants.HF_HUB_CACHE}): '
            f'{not_cached}. Check the network or HF_ENDPOINT, or give a '
            'local file.') from not_cached
    raise CheckpointDownloadError(
        f'{source}: {where} has no weights file '
        f'({" or ".join(names)})')


@functools.lru_cache(maxsize=None)
def hub_config_file(repo_id: str, revision: Optional[str] = None
                    ) -> Optional[str]:
    """The repo's ``config.json`` (class names), or ``None`` if it has none
    or it cannot be had."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError
    try:
        return hf_hub_download(repo_id, 'config.json', revision=revision)
    except (HfHubHTTPError, OSError, ValueError):
        return None


def forget_hub_file(path: str) -> None:
    """Remove a downloaded file that failed to read from the Hugging Face
    cache (its snapshot link and blob), so the next attempt fetches it
    afresh instead of reading it again."""
    download_from_hub.cache_clear()
    blob = osp.realpath(path)
    for p in {path, blob}:
        if osp.lexists(p):
            os.remove(p)


# -- plain URLs -----------------------------------------------------------
def download_url(url: str) -> str:
    """Download ``url`` once into :func:`url_cache_dir` and return the path.

    Our own small downloader rather than ``torch.hub.download_url_to_file``:
    that one accepts a body cut short by the server without an error
    (``http.client`` stops at the closed connection), while here the byte
    count is checked against ``Content-Length`` and the file is read by the
    safe reader before it enters the cache, so a cut download, an HTML page
    or a code-running pickle never sits there as a checkpoint.
    """
    name = osp.basename(urllib.request.url2pathname(
        urllib.parse.urlparse(url).path)) or 'checkpoint.pth'
    folder = osp.join(url_cache_dir(),
                      hashlib.sha256(url.encode()).hexdigest()[:16])
    final = osp.join(folder, name)
    if osp.isfile(final):
        return final
    if hub_offline():
        raise CheckpointDownloadError(
            f'{url}: offline (HF_HUB_OFFLINE=1) and not in the cache '
            f'({folder}); run once with network access or give a local file')
    os.makedirs(folder, exist_ok=True)
    partial = tempfile.mkdtemp(prefix='.incomplete-', dir=folder)
    try:
        tmp = osp.join(partial, name)
        _fetch(url, tmp)
        try:
            read_checkpoint(tmp)
        except CheckpointError as e:
            raise CheckpointError(f'{url}: {e}'.replace(tmp, name)) from e
        os.replace(tmp, final)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return final


def _fetch(url: str, dst: str, chunk: int = 1 << 20) -> None:
    from tqdm import tqdm
    request = urllib.request.Request(
        url, headers={'User-Agent': 'cvt_backbone', 'Accept-Encoding':
                      'identity'})
    try:
        response = urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as e:
        raise CheckpointDownloadError(
            f'{url}: HTTP {e.code} {e.reason}: no checkpoint there') from e
    except (urllib.error.URLError, OSError) as e:
        raise CheckpointDownloadError(
            f'{url}: could not connect ({e}); check the URL and the '
            'network, or give a local file') from e
    with response:
        size = response.headers.get('Content-Length')
        size = int(size) if size is not None else None
        done = 0
        with open(dst, 'wb') as f, tqdm(
                total=size, unit='B', unit_scale=True, unit_divisor=1024,
                desc=osp.basename(dst), disable=None) as bar:
            while True:
                try:
                    data = response.read(chunk)
                except (OSError, http.client.HTTPException) as e:
                    raise CheckpointDownloadError(
                        f'{url}: the download broke off after {done} bytes '
                        f'({e}); nothing was kept, run again') from e
                if not data:
                    break
                f.write(data)
                done += len(data)
                bar.update(len(data))
    if size is not None and done != size:
        raise CheckpointDownloadError(
            f'{url}: the download was cut short: {done} of {size} bytes; '
            'nothing was kept, run again')
