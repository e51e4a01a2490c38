"""How a result is compared with its reference: tensors (:func:`max_diff`),
images (:func:`psnr`) and converted state dicts (:func:`split_converted`,
into the parts a reference gives separately)."""
import torch


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """The largest absolute difference; the shapes must match."""
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a - b).abs().max().item()


def psnr(a, b) -> float:
    """Peak signal-to-noise ratio (dB) of two uint8 images."""
    import numpy as np
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64))**2)
    return float('inf') if mse == 0 else 10 * np.log10(255**2 / mse)


def split_converted(converted: dict):
    """A converted state dict -> (backbone keys, head keys), both bare."""
    backbone = {k[len('backbone.'):]: v for k, v in converted.items()
                if k.startswith('backbone.')}
    head = {k[len('head.'):]: v for k, v in converted.items()
            if k.startswith('head.')}
    assert len(backbone) + len(head) == len(converted)
    return backbone, head
