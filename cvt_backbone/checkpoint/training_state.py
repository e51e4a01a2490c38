"""Training checkpoints that survive a kill mid-save, and finding the newest
readable one to resume from.

mmengine writes a checkpoint in place (``open(path, 'wb')``), so a process
killed (pre-empted, out of disk, power lost) while writing leaves a cut
file under the newest name, and ``--resume`` then dies in ``torch.load``
with "failed finding central directory" and no way on. Here:

* :func:`write_atomically` writes to a hidden temporary file in the same
  folder, flushes it to disk and renames it over the final name
  (``os.replace``, atomic on one file system), so the final name only ever
  holds a complete file;
* :func:`checkpoint_problem` says why a file cannot be resumed from
  (missing, empty, cut short, a damaged record), reading its zip directory
  and the CRC of every record without unpickling anything;
* :func:`resume_candidates` lists a work dir's checkpoints newest first,
  the one ``last_checkpoint`` names at the head, for a caller that falls
  back from a broken newest file to the newest readable one
  (:class:`~cvt_backbone.engine.ResilientRunner`).
"""
import glob
import os
import os.path as osp
import zipfile
from contextlib import contextmanager
from typing import Iterator, List, Optional

from .errors import CheckpointError

TEMP_MARK = '.tmp-'


def temp_name(path: str) -> str:
    """The hidden temporary file a checkpoint is written to before it is
    renamed to ``path`` (same folder, so the rename is atomic)."""
    folder, name = osp.split(path)
    return osp.join(folder, f'.{name}{TEMP_MARK}{os.getpid()}')


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def write_atomically(path: str) -> Iterator[str]:
    """Yield a temporary path to write ``path``'s content to; on success it
    is synced to disk and renamed to ``path``, on an error it is removed
    and the error re-raised with ``path`` named (a failed write never
    leaves a broken ``path``, and an older file of that name stays)."""
    tmp = temp_name(path)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(osp.dirname(osp.abspath(path)))
    except BaseException as e:
        if osp.exists(tmp):
            os.remove(tmp)
        if isinstance(e, OSError):
            raise CheckpointError(
                f'could not write the checkpoint {path}: {e}; the previous '
                'checkpoints are untouched') from e
        raise


def stale_temp_files(folder: str) -> List[str]:
    """Temporary checkpoint files left by a process killed mid-save."""
    return sorted(glob.glob(osp.join(folder, f'.*.pth{TEMP_MARK}*')))


def checkpoint_problem(path: str) -> Optional[str]:
    """Why the training checkpoint ``path`` cannot be resumed from, or
    ``None`` when it reads whole.

    torch's checkpoints are zip files: a file cut short loses the zip's
    central directory (at its end), and a damaged record fails its CRC;
    both are found without unpickling anything. A file in torch's legacy
    (non-zip) format is loaded once, safely, to check it.
    """
    if not osp.isfile(path):
        return 'no such file'
    if osp.getsize(path) == 0:
        return 'empty file (0 bytes)'
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                bad = z.testzip()
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
            return f'damaged ({e})'
        if bad is not None:
            return f'damaged record {bad!r} (CRC mismatch)'
        return None
    with open(path, 'rb') as f:
        head = f.read(4)
    if head[:2] == b'PK':
        return (f'cut short ({osp.getsize(path)} bytes, the zip directory '
                'at its end is missing): probably killed while it was '
                'written')
    try:
        from .reading import load_checkpoint_file
        load_checkpoint_file(path)
    except Exception as e:  # any reason the legacy file does not load
        return f'unreadable ({type(e).__name__}: {e})'
    return None


def resume_candidates(work_dir: str) -> List[str]:
    """The checkpoints of ``work_dir`` to resume from, best first: the one
    its ``last_checkpoint`` file names, then every ``*.pth`` newest first
    (by modification time, then name). mmengine's ``best_*.pth`` files are
    left out: they are saved without the optimizer and schedulers, so a
    run resumed from one would go on with a fresh optimizer."""
    found = sorted((p for p in glob.glob(osp.join(work_dir, '*.pth'))
                    if not osp.basename(p).startswith('best_')),
                   key=lambda p: (osp.getmtime(p), p), reverse=True)
    last = osp.join(work_dir, 'last_checkpoint')
    named = []
    if osp.isfile(last):
        with open(last) as f:
            text = f.read().strip()
        if text:
            named = [text]
    seen, out = set(), []
    for p in named + found:
        key = osp.abspath(p)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out
