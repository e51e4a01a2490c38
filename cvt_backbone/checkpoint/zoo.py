"""The published CvT models: the one table of names, repositories and
figures (the README's model-zoo table is generated from it).

Every published model is an ImageNet-1k classifier (the 22k models were
fine-tuned on 1k at 384 and keep the 1000-class head). The weights live in
the Hugging Face repositories ``microsoft/cvt-*`` (the original release's
OneDrive is unreachable for many users); top-1 and GFLOPs are the release
README's (the paper's abstract gives 87.7 for CvT-W24), parameters are the
exact counts of these models with their 1000-class head.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple


@dataclass(frozen=True)
class ModelSpec:
    name: str
    repo: str  # Hugging Face repository id
    arch: str  # CvT arch: '13', '21', 'w24'
    pretrain: str  # 'ImageNet-1k' or 'ImageNet-22k' (then fine-tuned on 1k)
    resolution: int  # fine-tune / test resolution
    top1: float  # published ImageNet-1k top-1 (%)
    params: int  # with the 1000-class head
    gflops: float  # published multiply-adds (G) at `resolution`
    release_file: str  # the original release's file name
    aliases: Tuple[str, ...] = ()

    @property
    def num_classes(self) -> int:
        return 1000


def _spec(name: str, arch: str, pretrain: str, res: int, top1: float,
          gflops: float, *aliases: str) -> ModelSpec:
    params = {'13': 19_997_480, '21': 31_622_696, 'w24': 277_196_392}[arch]
    data = '1k' if pretrain == 'ImageNet-1k' else '22k'
    release = f'CvT-{arch}-{res}x{res}-IN-{data}.pth'
    return ModelSpec(name=name, repo=f'microsoft/{name}', arch=arch,
                     pretrain=pretrain, resolution=res, top1=top1,
                     params=params, gflops=gflops, release_file=release,
                     aliases=aliases)


MODEL_ZOO: Dict[str, ModelSpec] = {s.name: s for s in (
    _spec('cvt-13', '13', 'ImageNet-1k', 224, 81.6, 4.5, 'cvt-13_in1k',
          'cvt13'),
    _spec('cvt-13-384', '13', 'ImageNet-1k', 384, 83.0, 16.3,
          'cvt-13_in1k-384'),
    _spec('cvt-13-384-22k', '13', 'ImageNet-22k', 384, 83.3, 16.3,
          'cvt-13_in22k-in1k-384'),
    _spec('cvt-21', '21', 'ImageNet-1k', 224, 82.5, 7.1, 'cvt-21_in1k',
          'cvt21'),
    _spec('cvt-21-384', '21', 'ImageNet-1k', 384, 83.3, 24.9,
          'cvt-21_in1k-384'),
    _spec('cvt-21-384-22k', '21', 'ImageNet-22k', 384, 84.9, 24.9,
          'cvt-21_in22k-in1k-384'),
    _spec('cvt-w24-384-22k', 'w24', 'ImageNet-22k', 384, 87.6, 193.2,
          'cvt-w24_in22k-in1k-384', 'cvt-w24'),
)}

_LOOKUP: Dict[str, ModelSpec] = {}
for _s in MODEL_ZOO.values():
    for _key in (_s.name, _s.repo, _s.release_file,
                 _s.release_file[:-len('.pth')], *_s.aliases):
        _LOOKUP[_key.lower()] = _s


def find_model(name: str) -> Optional[ModelSpec]:
    """The spec a zoo name, alias, repo id or release file name refers to
    (case-insensitive), or ``None``."""
    return _LOOKUP.get(name.lower()) if isinstance(name, str) else None


def list_models() -> List[str]:
    """The zoo's names."""
    return list(MODEL_ZOO)


def zoo_names() -> List[str]:
    """Every name :func:`find_model` accepts except repo ids (lower case)."""
    return sorted(k for k in _LOOKUP if '/' not in k)


def model_zoo_markdown() -> str:
    """The README's model-zoo table."""
    lines = [
        '| name | Hugging Face repo | arch | pre-training | resolution | '
        'top-1 (%) | params | GFLOPs | original file |',
        '|---|---|---|---|---:|---:|---:|---:|---|',
    ]
    for s in MODEL_ZOO.values():
        lines.append(
            f'| `{s.name}` | [{s.repo}](https://huggingface.co/{s.repo}) | '
            f'CvT-{s.arch.upper()} | {s.pretrain} | {s.resolution} | '
            f'{s.top1:.1f} | {s.params:,} | {s.gflops} | `{s.release_file}` '
            '|')
    return '\n'.join(lines) + '\n'
