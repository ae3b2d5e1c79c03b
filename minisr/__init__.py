"""minisr: FSRCNN super-resolution from scratch in NumPy and Numba.

    from minisr import FSRCNN
    model = FSRCNN(d=56, s=12, m=4, scale=3)
    y = model.forward(x)          # x (N, 1, H, W) float32 -> y (N, 1, 3H - 2, 3W - 2)
    dx = model.backward(dy)       # accumulates every parameter's .grad

    big = minisr.upscale(image, scale=3)   # a NumPy array or PIL image -> the same kind
"""

from .layers import Conv2d, Deconv2d, Pad2d, PReLU, mse_loss
from .model import FSRCNN

__version__ = "0.1.0"
__all__ = ["FSRCNN", "Conv2d", "Deconv2d", "PReLU", "Pad2d", "load_model", "mse_loss", "upscale"]


def __getattr__(name):
    """``minisr.upscale`` and ``minisr.load_model``, imported on first use (they pull in
    Pillow and SciPy, which ``import minisr`` alone does not need).

    ``minisr.load_model`` is :func:`minisr.models.load_model`; ``minisr.upscale`` is
    :func:`minisr.superres.upscale`. Once ``minisr.upscale`` the command-line module has
    been imported (``python -m minisr.upscale``, ``from minisr.upscale import main``),
    ``minisr.upscale`` names that module, which is made callable to do the same.
    """
    if name == "load_model":
        from .models import load_model
        return load_model
    if name == "upscale":
        from .superres import upscale
        return upscale
    raise AttributeError(f"module 'minisr' has no attribute {name!r}")
