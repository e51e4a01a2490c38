"""Loss and accuracy curves from an mmengine run's logs, saved as PNG."""
import glob
import json
import os
import os.path as osp
from typing import Dict, List, Optional


def _scalar_files(path: str) -> List[str]:
    """``scalars.json`` of a run folder, or of every run in a work dir (a
    resumed training writes a new timestamped folder), oldest first."""
    direct = osp.join(path, 'vis_data', 'scalars.json')
    if osp.isfile(direct):
        return [direct]
    files = sorted(glob.glob(osp.join(path, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(f'no vis_data/scalars.json under {path}; is '
                                'it a work dir of tools/train.py?')
    return files


def read_scalars(path: str) -> List[Dict]:
    records = []
    for f in _scalar_files(path):
        with open(f) as fh:
            records += [json.loads(line) for line in fh if line.strip()]
    return records


def split_records(records: List[Dict]):
    """Training records ``{iter: record}`` (later runs win) and validation
    records in order."""
    train: Dict[int, Dict] = {}
    val: List[Dict] = []
    for r in records:
        if 'loss' in r and 'iter' in r:
            train[int(r['iter'])] = r
        elif any('/' in k for k in r):  # e.g. accuracy/top1, coco/bbox_mAP
            val.append(r)
    return dict(sorted(train.items())), val


def plot_curves(path: str, out: Optional[str] = None) -> str:
    """Plot training loss against iteration and every validation metric
    against epoch for the run(s) under ``path``; returns the PNG path."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    train, val = split_records(read_scalars(path))
    if not train:
        raise ValueError(f'no training loss records under {path}')
    out = out or osp.join(path, 'curves.png')
    metrics = sorted({k for r in val for k in r if '/' in k})
    fig, axes = plt.subplots(1, 2 if metrics else 1, figsize=(11, 4),
                             squeeze=False)
    ax = axes[0][0]
    iters = list(train)
    ax.plot(iters, [train[i]['loss'] for i in iters], label='train loss')
    ax.set_xlabel('iteration')
    ax.set_ylabel('loss')
    ax.set_title('training loss')
    ax.grid(alpha=.3)
    if metrics:
        ax = axes[0][1]
        for k in metrics:
            pts = [(r['step'], r[k]) for r in val if k in r]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], 'o-', label=k)
        ax.set_xlabel('epoch')
        ax.set_title('validation')
        ax.grid(alpha=.3)
        ax.legend()
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
