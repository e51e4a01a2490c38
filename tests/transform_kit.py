"""What the transform tests feed and build: JPEG inputs written with PIL
(with an EXIF orientation when asked) and a transform built the way
mmpretrain's configs build it."""


def write_jpeg(path, bgr, quality: int = 92, orientation=None) -> str:
    """Write a BGR uint8 image as a JPEG with PIL (an EXIF orientation tag
    when ``orientation`` is given)."""
    from PIL import Image
    img = Image.fromarray(bgr[..., ::-1].copy())
    kw = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        kw['exif'] = exif.tobytes()
    img.save(str(path), 'JPEG', quality=quality, **kw)
    return str(path)


def build_transform(cfg: dict):
    """A transform as mmpretrain's configs build it (its default scope, the
    root registry as parent)."""
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import TRANSFORMS
    init_default_scope('mmpretrain')
    return TRANSFORMS.build(cfg)
