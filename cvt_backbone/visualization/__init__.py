from .curves import plot_curves, read_scalars, split_records

__all__ = ['plot_curves', 'read_scalars', 'split_records']
