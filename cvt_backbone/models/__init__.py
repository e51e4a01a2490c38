from .backbones import CvT, QuickGELU

__all__ = ['CvT', 'QuickGELU']
