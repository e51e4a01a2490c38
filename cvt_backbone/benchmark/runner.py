"""How measurements are run: each in a fresh process (:func:`spawn`, so
that peak memory belongs to that measurement alone), and the one
alternate-and-median routine (:func:`alternate`) the model, pipeline and
trainloop cases all use: the implementations take turns, their order
reversed every other repeat, a failed run is reported and left out of the
medians (:class:`Runs`)."""
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Sequence, Union

Result = Dict[str, Any]


def package_env() -> Dict[str, str]:
    """The environment of a child process, with this ``cvt_backbone`` first
    on its path (the worker runs the same code as the driver)."""
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    path = os.environ.get('PYTHONPATH')
    return dict(os.environ,
                PYTHONPATH=root + (os.pathsep + path if path else ''))


def failure(what: str, proc: subprocess.CompletedProcess) -> Dict[str, str]:
    """A failed run as a result: its exit code and last output lines."""
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
    return dict(error=f'{what} exited {proc.returncode}: ' + ' | '.join(tail))


def spawn(spec: Dict[str, Any], timeout: float) -> Result:
    """Run one measurement (:mod:`.worker`) in a fresh process; its result,
    or ``{'error': ...}`` when it fails or runs past ``timeout`` s."""
    try:
        proc = subprocess.run(
            [sys.executable, '-m', 'cvt_backbone.benchmark.worker',
             json.dumps(spec)], capture_output=True, text=True,
            timeout=timeout, env=package_env())
    except subprocess.TimeoutExpired:
        return dict(error=f'worker ran past {timeout:.0f} s (timeout)')
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('{')]
    if proc.returncode != 0 or not lines:
        return failure('worker', proc)
    return json.loads(lines[-1])


@dataclass
class Runs:
    """One implementation's results over the repeats, in repeat order, the
    failed ones (``{'error': ...}``) included."""
    results: List[Result]

    @property
    def ok(self) -> List[Result]:
        return [r for r in self.results if 'error' not in r]

    def median(self, key: Union[str, Callable[[Result], float]]) -> float:
        """The median of ``key`` (a result's key, or a function of a
        result) over the runs that did not fail."""
        get = key if callable(key) else (lambda r: r[key])
        return statistics.median(get(r) for r in self.ok)


def alternate(names: Sequence, repeats: int,
              measure: Callable[[List, int], Dict[Any, Result]],
              label: Callable[[Any], str] = str,
              log: Callable[[str], None] = print) -> Dict[Any, Runs]:
    """Measure every name ``repeats`` times, in the order of ``names`` on
    even repeats and reversed on odd ones, so that neither goes first (warm
    caches, a busy machine) every time.

    ``measure(order, repeat)`` runs one repeat and returns each name's
    result: one process per name (:func:`each`), or one for all, as the
    pipeline case does. A failed result is logged (``label(name): error``,
    once per repeat for one error) and kept in the :class:`Runs`, which
    leave it out of their medians.
    """
    runs: Dict[Any, List[Result]] = {n: [] for n in names}
    for r in range(repeats):
        order = list(names) if r % 2 == 0 else list(names)[::-1]
        got = measure(order, r)
        logged = set()
        for n in order:
            error = got[n].get('error')
            if error and error not in logged:
                logged.add(error)
                log(f'{label(n)}: {error}')
            runs[n].append(got[n])
    return {n: Runs(rs) for n, rs in runs.items()}


def each(measure_one: Callable[[Any, int], Result]
         ) -> Callable[[List, int], Dict[Any, Result]]:
    """A :func:`alternate` measure that runs ``measure_one(name, repeat)``
    for each name in turn."""
    return lambda order, r: {n: measure_one(n, r) for n in order}
