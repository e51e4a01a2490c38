from setuptools import find_packages, setup

version = {}
with open('cvt_backbone/version.py') as f:
    exec(f.read(), version)

setup(
    name='cvt_backbone',
    version=version['__version__'],
    description='CvT (Convolutional vision Transformer) backbone for '
    'OpenMMLab: mmpretrain, mmdet and mmseg',
    packages=find_packages(include=['cvt_backbone', 'cvt_backbone.*']),
    # mmpretrain's and openmim's model index, and the configs it names
    # (cvt_backbone/.mim links to the repository's model-index.yml and
    # configs/; the wheel gets copies), as mmpretrain ships its own
    # (every folder of configs: _base_, ablations, transfer...), and the
    # command lines, where `mim train`/`mim test` look for them
    package_data={'cvt_backbone': ['.mim/model-index.yml',
                                   '.mim/configs/*.py', '.mim/configs/*.yml',
                                   '.mim/configs/*/*.py',
                                   '.mim/configs/*/*/*.py',
                                   '.mim/tools/*.py', '.mim/tools/*.sh',
                                   '.mim/tools/*/*.py', '.mim/tools/*/*.sh']},
    python_requires='>=3.10',
    # torch/torchvision and the compiled mmcv are installed by the Makefile
    # first (see README); listing them here would let pip pick other builds.
    install_requires=['mmengine>=0.10,<0.11', 'mmpretrain>=1.2,<1.3', 'numpy',
                      'safetensors'],
    # ONNX export (tools/deploy/export_onnx.py): onnx for the checker,
    # onnxruntime (CPU build) to verify and run the exported graph,
    # onnxscript because torch.onnx imports it. `pip install -e .[deploy]`.
    # Hugging Face export (tools/model_converters/export_hf.py):
    # transformers' CvtConfig, CvtForImageClassification and image
    # processor write and check the folder. `pip install -e .[hf]`.
    # openmim (`mim search cvt_backbone`, `mim download`): `.[mim]`.
    extras_require={'deploy': ['onnx>=1.17', 'onnxruntime>=1.20',
                               'onnxscript>=0.5'],
                    'hf': ['transformers>=4.40'],
                    'mim': ['openmim>=0.3.9']},
)
