"""The carried folder of wheels for a GPU host without a package registry.

The GPU host has Python 3.12 with torch, torchvision, timm, transformers,
huggingface_hub, onnx, onnxruntime, OpenCV (headless), scikit-learn and
pytest, but none of OpenMMLab's packages and no way to download any. The
check carries them: ``make gpu-bundle`` (``build``) downloads Python 3.12
wheels of :data:`WHEELS` with pip into a git-ignored folder, with a
``manifest.json`` naming each wheel's top-level modules; on the host,
``tools/gpu/device_check.sh`` (``install``) installs, with
``pip install --no-index --no-deps --target SITE``, the wheels whose modules
the host's Python cannot import, and puts SITE on ``PYTHONPATH``.

mmcv comes as ``mmcv-lite`` (mmcv's pure-Python build, no compiled ops):
the CvT backbone and mmpretrain's classifier need only ``mmcv.cnn`` and
``mmcv.transforms``. mmdet's and mmseg's model packages import
``mmcv.ops`` at module level and fail without its compiled ``_ext``, so
they are not carried (the check says so for the segmenter).

This file uses the standard library only and runs by its path, before
anything else is importable::

    python3 cvt_backbone/devicecheck/bundle.py build .gpu_bundle
    python3 cvt_backbone/devicecheck/bundle.py install .gpu_bundle /tmp/site
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from typing import Dict, List, Optional, Sequence

# The wheels the check needs beyond the host's packages, pinned; the ones
# without a version here are pinned by the project's constraints.txt
# (mmengine, mmpretrain, matplotlib, setuptools). Not carried, because the
# host's own packages require them: numpy, pillow (torchvision), pyyaml,
# packaging (transformers).
WHEELS = (
    # OpenMMLab
    'mmcv-lite==2.1.0', 'mmengine', 'mmpretrain',
    # mmengine and mmcv
    'addict==2.4.0', 'termcolor==3.3.0', 'yapf==0.43.0',
    'platformdirs==4.14.9', 'rich==15.0.0', 'markdown-it-py==4.3.0',
    'mdurl==0.1.2', 'pygments==2.21.0',
    # mmpretrain
    'einops==0.8.2', 'importlib-metadata==10.2.0', 'zipp==4.1.2',
    'lazy-importer==0.1.0', 'mat4py==0.6.0', 'model-index==0.1.11',
    'ordered-set==4.1.0', 'click==8.5.1', 'markdown==3.11.3',
    # matplotlib (mmengine's visualizer, the run summary's curves)
    'matplotlib', 'contourpy==1.4.0', 'cycler==0.12.1', 'fonttools==4.68.0',
    'kiwisolver==1.5.1', 'pyparsing==3.3.3', 'python-dateutil==4.0.0',
    'tzdata==2026.6',
    # pkg_resources, which mmengine 0.10.7 needs for `mmpretrain::` config
    # paths (setuptools 82 removed it); installed only where it is missing
    'setuptools',
)
PYTHON_VERSION = '3.12'
# the host's glibc is recent; pip needs each manylinux tag a wheel may carry
PLATFORMS = ('manylinux_2_28_x86_64', 'manylinux_2_27_x86_64',
             'manylinux_2_17_x86_64', 'manylinux2014_x86_64')
LIMIT_MIB = 60
MANIFEST = 'manifest.json'
# top-level names that are no module anyone imports (model-index ships its
# own tests package): they do not make a wheel needed
IGNORED_TOP_LEVEL = ('tests', )


def top_level_modules(wheel: str) -> List[str]:
    """The importable top-level names a wheel installs (packages, modules,
    extension modules), from its file list."""
    names = set()
    with zipfile.ZipFile(wheel) as z:
        for path in z.namelist():
            first = path.split('/')[0]
            if first.endswith(('.dist-info', '.data')):
                continue
            if '/' in path:
                names.add(first)
            elif first.endswith('.py'):
                names.add(first[:-3])
            elif first.endswith('.so'):
                names.add(first.split('.')[0])
    return sorted(n for n in names if n not in IGNORED_TOP_LEVEL)


def wheel_meta(wheel: str) -> Dict[str, str]:
    """Name and version from a wheel's file name (PEP 427)."""
    parts = os.path.basename(wheel)[:-len('.whl')].split('-')
    return dict(name=parts[0], version=parts[1], python=parts[-3],
                abi=parts[-2], platform=parts[-1])


def build(dest: str, constraints: Optional[str] = None,
          pip: Sequence[str] = (sys.executable, '-m', 'pip'),
          limit_mib: float = LIMIT_MIB) -> Dict:
    """Download :data:`WHEELS` (binary only, for CPython 3.12 on x86-64
    manylinux, no dependency resolution: the list is complete) into a fresh
    ``dest`` and write its manifest. Raises ``RuntimeError`` when pip fails
    or the folder exceeds ``limit_mib``."""
    work = tempfile.mkdtemp(prefix='gpu_bundle_')
    try:
        cmd = list(pip) + [
            'download', '--no-deps', '--only-binary=:all:',
            '--python-version', PYTHON_VERSION, '--implementation', 'cp',
            '-d', work]
        for p in PLATFORMS:
            cmd += ['--platform', p]
        if constraints:
            cmd += ['-c', constraints]
        proc = subprocess.run(cmd + list(WHEELS), capture_output=True,
                              text=True)
        if proc.returncode != 0:
            raise RuntimeError('pip download failed:\n' + proc.stdout[-2000:]
                               + proc.stderr[-2000:])
        wheels = sorted(f for f in os.listdir(work) if f.endswith('.whl'))
        entries = []
        for f in wheels:
            path = os.path.join(work, f)
            entries.append(dict(wheel_meta(path), file=f,
                                bytes=os.path.getsize(path),
                                top_level=top_level_modules(path)))
        total = sum(e['bytes'] for e in entries)
        if total > limit_mib * 2**20:
            raise RuntimeError(f'the bundle would be {total / 2**20:.1f} MiB, '
                               f'over the {limit_mib} MiB limit')
        manifest = dict(python=PYTHON_VERSION, requested=list(WHEELS),
                        wheels=entries, bytes=total,
                        built=time.strftime('%Y-%m-%dT%H:%M:%S'))
        with open(os.path.join(work, MANIFEST), 'w') as fh:
            json.dump(manifest, fh, indent=1)
        if os.path.isdir(dest):
            shutil.rmtree(dest)
        shutil.copytree(work, dest)
        return manifest
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _importable(name: str) -> bool:
    import importlib.util
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def fits_this_python(entry: Dict) -> bool:
    """Whether a wheel's tags allow this interpreter (pure-Python wheels
    always; compiled ones only for the CPython version they were built for).
    """
    if entry['abi'] == 'none' and entry['python'].startswith('py'):
        return True
    tag = 'cp%d%d' % sys.version_info[:2]
    return tag in entry['python'].split('.')


def plan_install(manifest: Dict, importable=_importable) -> Dict[str, List]:
    """Which wheels to install: those with a top-level module this Python
    cannot import, split into ``install`` and ``unfit`` (needed but built
    for another Python); ``present`` are the ones the host already has."""
    plan: Dict[str, List] = dict(install=[], present=[], unfit=[])
    for e in manifest['wheels']:
        missing = [m for m in e['top_level'] if not importable(m)]
        if not e['top_level'] or not missing:
            plan['present'].append(e)
        elif fits_this_python(e):
            plan['install'].append(e)
        else:
            plan['unfit'].append(e)
    return plan


def unpack_wheel(wheel: str, site: str) -> None:
    """What ``pip install --no-deps --target`` does with a wheel that has
    no scripts: its files into ``site``, a ``.data/purelib`` or
    ``platlib`` folder's content at the top."""
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            parts = info.filename.split('/')
            if parts[0].endswith('.data'):
                if len(parts) < 3 or parts[1] not in ('purelib', 'platlib'):
                    continue
                parts = parts[2:]
            target = os.path.join(site, *parts)
            if info.is_dir():
                os.makedirs(target, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with z.open(info) as src, open(target, 'wb') as dst:
                shutil.copyfileobj(src, dst)


def install(bundle: str, site: str,
            pip: Sequence[str] = (sys.executable, '-m', 'pip')) -> Dict:
    """Install the bundle's wheels this Python lacks into a fresh ``site``
    (``pip install --no-index --no-deps --target``; unpacked by hand where
    this Python has no pip). Returns a record of what was installed, found
    and left out, with the time it took."""
    t0 = time.perf_counter()
    path = os.path.join(bundle, MANIFEST)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path} is missing: build the bundle with '
                                '`make gpu-bundle`')
    with open(path) as fh:
        manifest = json.load(fh)
    # decide against the host's own packages, not a previous install
    site_abs = os.path.abspath(site)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or '.')
                   != site_abs]
    plan = plan_install(manifest)
    if os.path.isdir(site):
        shutil.rmtree(site)
    os.makedirs(site)
    record = dict(site=site, bundle=bundle,
                  installed=[f"{e['name']}=={e['version']}"
                             for e in plan['install']],
                  present=[f"{e['name']}" for e in plan['present']],
                  unfit=[e['file'] for e in plan['unfit']])
    wheels = [os.path.join(bundle, e['file']) for e in plan['install']]
    if wheels and _importable('pip'):
        cmd = list(pip) + ['install', '--no-index', '--no-deps',
                           '--disable-pip-version-check', '--no-compile',
                           '--target', site] + wheels
        proc = subprocess.run(cmd, capture_output=True, text=True)
        record['pip_returncode'] = proc.returncode
        if proc.returncode != 0:
            record['error'] = (proc.stdout[-1500:] + proc.stderr[-1500:])
    elif wheels:
        record['method'] = 'unzipped (this Python has no pip)'
        for w in wheels:
            unpack_wheel(w, site)
    record['seconds'] = round(time.perf_counter() - t0, 2)
    return record


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = p.add_subparsers(dest='cmd', required=True)
    b = sub.add_parser('build', help='download the wheels into DEST')
    b.add_argument('dest')
    b.add_argument('--constraints', default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), '..', '..',
        'constraints.txt'))
    i = sub.add_parser('install', help='install what this Python lacks')
    i.add_argument('bundle')
    i.add_argument('site')
    i.add_argument('--record', help='write the install record (JSON) here')
    args = p.parse_args(argv)
    if args.cmd == 'build':
        try:
            m = build(args.dest, os.path.normpath(args.constraints))
        except RuntimeError as e:
            print(f'gpu-bundle: {e}', file=sys.stderr)
            return 1
        for e in m['wheels']:
            print(f"  {e['bytes'] / 2**20:6.2f} MiB  {e['file']}")
        print(f"gpu-bundle: {len(m['wheels'])} wheels, "
              f"{m['bytes'] / 2**20:.1f} MiB (limit {LIMIT_MIB}) in "
              f'{args.dest}')
        return 0
    try:
        rec = install(args.bundle, args.site)
    except FileNotFoundError as e:
        print(f'bundle: {e}', file=sys.stderr)
        return 1
    if args.record:
        with open(args.record, 'w') as fh:
            json.dump(rec, fh, indent=1)
    print(f"bundle: installed {len(rec['installed'])} wheels into "
          f"{rec['site']} in {rec['seconds']} s: "
          f"{' '.join(rec['installed']) or '-'}; already here: "
          f"{' '.join(rec['present']) or '-'}"
          + (f"; built for another Python: {' '.join(rec['unfit'])}"
             if rec['unfit'] else ''))
    if rec.get('error'):
        print(f"bundle: pip failed: {rec['error']}", file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
