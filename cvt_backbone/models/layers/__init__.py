from .dynamic_shape import DynamicAdaptiveAvgPool2d, DynamicUpsample

__all__ = ['DynamicAdaptiveAvgPool2d', 'DynamicUpsample']
