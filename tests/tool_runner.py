"""The repository's command lines (``tools/``) as a user meets them: run in
a subprocess from the repository root (:func:`run_tool`), or imported as a
module to reach one function (:func:`load_tool`; tools are scripts, not a
package)."""
import os
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))  # the repository


def run_tool(args, timeout=900, **kw) -> subprocess.CompletedProcess:
    """Run a command line (``tools/...``) from the repository root (or
    ``cwd``)."""
    env = dict(os.environ, PYTHONUNBUFFERED='1', PYTHON=sys.executable)
    env.update(kw.pop('env', {}))
    cwd = kw.pop('cwd', ROOT)
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, **kw)


def load_tool(relpath: str):
    """Import a command line under tools/ as a module (tools are scripts,
    not a package)."""
    import importlib.util
    name = osp.splitext(osp.basename(relpath))[0]
    spec = importlib.util.spec_from_file_location(
        f'tool_{name}', osp.join(ROOT, 'tools', relpath))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
