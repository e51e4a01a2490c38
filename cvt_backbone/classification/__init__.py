"""Classification on mmengine alone: dataset, transforms, classifier, metric.
Everything is registered in mmengine's root registries."""
from .data import (ColorJitter, ImageNetFolder, LoadImage, PackClsInputs,
                   RandAugment, RandomResizedCrop)
from .metric import Accuracy
from .model import (ClsDataPreprocessor, CvTClassifier, CvTClsHead,
                    cutmix_box, random_erase)

__all__ = [
    'Accuracy', 'ClsDataPreprocessor', 'ColorJitter', 'CvTClassifier',
    'CvTClsHead', 'ImageNetFolder', 'LoadImage', 'PackClsInputs',
    'RandAugment', 'RandomResizedCrop', 'cutmix_box', 'random_erase'
]
