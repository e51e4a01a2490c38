from setuptools import find_packages, setup

setup(
    name='cvt_backbone',
    version='0.1.0',
    description='CvT (Convolutional vision Transformer) backbone for '
    'OpenMMLab: mmengine, mmdet and mmseg',
    packages=find_packages(include=['cvt_backbone', 'cvt_backbone.*']),
    python_requires='>=3.8',
    # torch and the compiled mmcv are installed by the Makefile first (see
    # README); listing them here would let pip pick a CUDA torch build.
    install_requires=['mmengine>=0.10,<0.11', 'numpy', 'safetensors'],
)
