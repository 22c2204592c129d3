"""What a saved figure must show to count as drawn: a real image with marks in several colours."""

from pathlib import Path

import numpy as np


def assert_drawn_figure(path: Path, min_width: int = 500, min_height: int = 300) -> np.ndarray:
    """Fail unless ``path`` is a PNG of at least the given size with plotted content.

    A blank or nearly blank canvas fails: at least 2 % of the pixels must differ from white and
    the image must hold at least 8 distinct colours (lines, bands, text).
    """
    import matplotlib.image as mpimg

    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[2] in (3, 4), f"{path.name}: not an RGB(A) image"
    height, width = img.shape[:2]
    assert width >= min_width and height >= min_height, f"{path.name}: {width}×{height} px"
    rgb = img[:, :, :3]
    inked = (rgb < 0.97).any(axis=2).mean()
    assert inked > 0.02, f"{path.name}: only {inked:.1%} of the pixels are drawn"
    colours = np.unique((rgb * 255).astype(np.uint8).reshape(-1, 3), axis=0).shape[0]
    assert colours >= 8, f"{path.name}: {colours} colours"
    return img
