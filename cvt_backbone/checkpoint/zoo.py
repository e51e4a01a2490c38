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
    def weights_url(self) -> str:
        """The published weights file's URL on the Hub (its
        ``pytorch_model.bin``: every ``microsoft/cvt-*`` repo has one), the
        model index's ``Weights``: an http(s) URL because openmim's
        ``mim download`` fetches it with ``requests``; this project's
        registered checkpoint scheme reads it through the Hub cache."""
        return (f'https://huggingface.co/{self.repo}/resolve/main/'
                'pytorch_model.bin')

    @property
    def num_classes(self) -> int:
        return 1000

    @property
    def mmpretrain_name(self) -> str:
        """The name in mmpretrain's convention
        (``{arch}_{origin}_{data}[-{resolution}px]``; ``3rdparty``: the
        release's weights), e.g. ``cvt-13_3rdparty_in22k-pre_in1k-384px``:
        what ``mmpretrain.list_models('cvt*')`` lists."""
        data = 'in1k' if self.pretrain == 'ImageNet-1k' else \
            'in22k-pre_in1k'
        size = '' if self.resolution == 224 else f'-{self.resolution}px'
        return f'cvt-{self.arch}_3rdparty_{data}{size}'

    @property
    def config(self) -> str:
        """The repository's config of this model (its published test
        pipeline), relative to the repository root (``.mim`` in the
        installed package)."""
        size = '' if self.resolution == 224 else f'_{self.resolution}'
        return f'configs/cvt{self.arch}_classify{size}.py'


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
                 _s.release_file[:-len('.pth')], _s.mmpretrain_name,
                 *_s.aliases):
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


PAPER = dict(Title='CvT: Introducing Convolutions to Vision Transformers',
             URL='https://arxiv.org/abs/2103.15808')


def model_index() -> dict:
    """The published models in the model-index format that mmpretrain's
    ``ModelHub`` and openmim read (``Collections``/``Models``, each model
    with ``Metadata`` (FLOPs: multiply-adds, parameters), ``Results``
    (ImageNet-1k top-1), ``Weights`` and ``Config``). The weights are
    the Hub files' URLs (:attr:`ModelSpec.weights_url`), which this
    project's registered checkpoint scheme downloads (the Hugging Face
    cache) and converts."""
    models = [dict(
        Name=s.mmpretrain_name,
        Metadata=dict(FLOPs=int(round(s.gflops * 1e9)), Parameters=s.params,
                      **{'Training Data': ['ImageNet-1k'] if
                         s.pretrain == 'ImageNet-1k' else
                         ['ImageNet-22k', 'ImageNet-1k']}),
        **{'In Collection': 'CvT'},
        Results=[dict(Task='Image Classification', Dataset='ImageNet-1k',
                      Metrics={'Top 1 Accuracy': s.top1})],
        Weights=s.weights_url,
        Config=s.config,
        **{'Converted From': dict(
            Weights=f'https://huggingface.co/{s.repo}',
            Code='https://github.com/microsoft/CvT')})
        for s in MODEL_ZOO.values()]
    return dict(Collections=[dict(
        Name='CvT',
        Metadata=dict(Architecture=['Convolutional Token Embedding',
                                    'Convolutional Projection',
                                    'Multi-head Attention']),
        Paper=PAPER,
        README='README.md',
        Code=dict(URL='https://github.com/microsoft/CvT'))],
        Models=models)


def model_index_yaml() -> str:
    """``configs/metafile.yml`` (:func:`model_index`), as committed."""
    import yaml
    return ('# Generated from cvt_backbone/checkpoint/zoo.py '
            '(model_index_yaml); do not edit.\n'
            + yaml.safe_dump(model_index(), sort_keys=False, width=79))
