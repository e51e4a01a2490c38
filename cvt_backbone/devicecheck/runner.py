"""Runs the device check's stages one after another, each in a fresh
process with its own time cap, and writes the report.

Each stage is a process forked from this runner after the heavy imports
(:func:`preload`), in its own process group: its CUDA context, memory
statistics and loader workers are its own, and past its cap the group is
killed.

A stage that fails, crashes or passes its cap (its process group is
killed) is recorded as such with whatever figures it had written, and the
next stage runs. The caps shrink as the whole budget runs out, keeping the
least time each later stage needs, so one slow stage cannot take the
others' time. The output folder gets ``report.md``, ``results.json`` and
``logs.txt`` (this runner's lines and every stage's log); scratch data
(JPEGs, work dirs) goes to a temporary folder, removed at the end.
"""
import datetime
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

from . import plan
from .report import evaluate_targets, render_markdown

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
LOG_TAIL_BYTES = 2 * 2**20  # per stage in logs.txt (the files that come
# back from the GPU host are limited in number and size)
DRY_MIN_S = 10


def _kill_group(pid: int) -> None:
    """SIGTERM, then SIGKILL, to the stage's process group (its loader
    workers and compile workers too); reaps the stage process."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            break
        if _wait(pid, 5.) is not None:
            return
    _wait(pid, 5.)


def _wait(pid: int, timeout: float) -> Optional[int]:
    """The exit code of child ``pid``, or None if it still runs after
    ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return -1
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() >= end:
            return None
        time.sleep(0.1)


def _stage_child(name: str, spec_path: str, result_path: str,
                 log_path: str) -> None:
    """In the forked process: its own process group, stdout and stderr to
    the log, the stage, then exit without returning to the runner."""
    code = 1
    try:
        os.setsid()
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        from .stage import main
        code = main([name, spec_path, result_path])
    except BaseException:
        import traceback
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def preload() -> str:
    """Import, once in the runner, what every stage imports (torch,
    mmengine, mmpretrain's and mmseg's models where they import, this
    package, transformers' CvT), so
    the forked stages start at once (these imports take seconds, tens of
    seconds on a loaded 2-core machine). Nothing here touches CUDA, which
    each stage initialises in its own process. Returns what the
    mmpretrain guard did (see :func:`.stage.guard_mmpretrain_multimodal`).
    """
    import importlib

    from .stage import guard_mmpretrain_multimodal
    note = guard_mmpretrain_multimodal()
    for name in ('cvt_backbone', 'mmpretrain.models', 'mmseg.models',
                 'transformers.models.cvt.modeling_cvt'):
        try:
            importlib.import_module(name)
        except Exception:  # the stages report it
            pass
    return note


def run_stage(name: str, spec: Dict[str, Any], cap_s: float,
              work: str) -> Dict[str, Any]:
    """Run stage ``name`` with ``spec`` in a forked process (its own
    process group) for at most ``cap_s``; returns its result with
    ``status`` (``ok``, ``failed``, ``timeout``, ``crashed``),
    ``elapsed_s``, ``cap_s`` and ``log``."""
    spec_path = os.path.join(work, f'{name}.spec.json')
    result_path = os.path.join(work, f'{name}.result.json')
    log_path = os.path.join(work, f'{name}.log')
    with open(spec_path, 'w') as f:
        json.dump(spec, f)
    t0 = time.perf_counter()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _stage_child(name, spec_path, result_path, log_path)
    rc = _wait(pid, cap_s)
    timed_out = rc is None
    if timed_out:
        _kill_group(pid)
    else:
        try:  # what the stage left behind (a train.py's loader workers)
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    elapsed = time.perf_counter() - t0
    try:
        with open(result_path) as f:
            result = json.load(f)
    except (OSError, ValueError):
        result = dict(status='running', summary='', figures={}, skipped={})
    if timed_out:
        result['status'] = 'timeout'
        result['summary'] = (f'stopped at its {cap_s:.0f} s cap; '
                             + (result.get('summary') or 'figures so far '
                                'kept'))
    elif result.get('status') == 'running':
        result['status'] = 'crashed'
        result['summary'] = f'exited {rc} without a result: ' + _tail(
            log_path, 3)
    result.update(elapsed_s=elapsed, cap_s=cap_s, returncode=rc,
                  log=log_path)
    return result


def _tail(path: str, lines: int) -> str:
    try:
        with open(path, errors='replace') as f:
            return ' | '.join(f.read().strip().splitlines()[-lines:])
    except OSError:
        return ''


def stage_caps(names: Sequence[str], dry_run: bool, scale: float = 1.
               ) -> Dict[str, tuple]:
    """``name -> (cap, least time worth starting it with)``, both times
    ``scale``."""
    caps = {}
    for name, _, cap, least, dry_cap in plan.STAGES:
        if name in names:
            c, m = (dry_cap, DRY_MIN_S) if dry_run else (cap, least)
            caps[name] = (c * scale, m * scale)
    return caps


def run_check(out_dir: str, dry_run: bool = False,
              stages: Optional[Sequence[str]] = None,
              budget_s: Optional[float] = None,
              started: Optional[float] = None, keep_scratch: bool = False,
              command: str = '', cap_scale: float = 1.,
              log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Run the check and write its report; returns the results.
    ``cap_scale`` multiplies every stage's cap (a slower machine)."""
    started = started or time.time()
    budget = budget_s or (plan.DRY_BUDGET_S if dry_run else plan.BUDGET_S)
    deadline = started + budget
    names = plan.select(list(stages)) if stages else list(plan.STAGE_NAMES)
    os.makedirs(out_dir, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix='cvt_devicecheck_')
    lines: List[str] = []

    def say(msg: str) -> None:
        lines.append(msg)
        log(msg)

    results: Dict[str, Any] = dict(
        dry_run=dry_run, date=datetime.datetime.now().isoformat(
            timespec='seconds'), command=command, budget_s=budget,
        cap_scale=cap_scale, stages={})
    caps = stage_caps(names, dry_run, cap_scale)
    results['mmpretrain_multimodal'] = preload()
    say(f"device check ({'dry run, CPU' if dry_run else 'GPU'}): stages "
        f"{', '.join(names)}; budget {budget:.0f} s")
    try:
        for i, name in enumerate(names):
            cap, least = caps[name]
            later = sum(caps[n][1] for n in names[i + 1:])
            left = deadline - time.time() - plan.RESERVE_S
            # keep the least time of the later stages, but give this one
            # at least its own least time while the budget has it
            cap = min(cap, max(least, left - later), left)
            if cap < least:
                res = dict(status='skipped', elapsed_s=0., cap_s=max(cap, 0),
                           summary=f'not started: {max(left, 0):.0f} s left '
                           f'of the budget, it needs {least} s', figures={},
                           skipped={})
            else:
                spec = plan.stage_spec(name, dry_run)
                spec.update(scratch=scratch, cap_s=cap)
                res = run_stage(name, spec, cap, scratch)
            results['stages'][name] = res
            say(f"[{name}] {res['status']} in {res['elapsed_s']:.0f} s "
                f"(cap {res['cap_s']:.0f} s): {res.get('summary', '')}")
    finally:
        results['wall_s'] = time.time() - started
        results['host_line'] = host_line(results)
        results['targets'] = evaluate_targets(results)
        for t in results['targets']:
            say(f"target {t['case']}: {_verdict(t['passed'])} "
                f"{t.get('measured', '')} {t.get('note', '')}".rstrip())
        write_outputs(results, out_dir, lines)
        if keep_scratch:
            say(f'scratch kept in {scratch}')
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    return results


def _verdict(passed: Optional[bool]) -> str:
    return {True: 'PASS', False: 'FAIL', None: 'n/a'}[passed]


def host_line(results: Dict[str, Any]) -> str:
    env = (results['stages'].get('env') or {}).get('figures') or {}
    host, ver = env.get('host', {}), env.get('versions', {})
    if not host:
        return 'host not recorded'
    where = host.get('gpu') or f"CPU, {host.get('cpus')} cores"
    return (f"{where}, torch {ver.get('torch')}, CUDA {host.get('torch_cuda')}"
            f", python {host.get('python')}, transformers "
            f"{ver.get('transformers')}")


def write_outputs(results: Dict[str, Any], out_dir: str,
                  lines: List[str]) -> None:
    with open(os.path.join(out_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1, default=str)
    with open(os.path.join(out_dir, 'report.md'), 'w') as f:
        f.write(render_markdown(results))
    with open(os.path.join(out_dir, 'logs.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
        for name, st in results['stages'].items():
            path = st.get('log')
            if not path or not os.path.isfile(path):
                continue
            f.write(f'\n===== {name} ({st["status"]}) =====\n')
            with open(path, 'rb') as src:
                src.seek(max(0, os.path.getsize(path) - LOG_TAIL_BYTES))
                f.write(src.read().decode(errors='replace'))
