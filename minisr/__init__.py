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
    """``minisr.upscale`` and ``minisr.load_model``, imported on first use.

    ``minisr.upscale`` is the module ``minisr/upscale.py`` (so that
    ``python -m minisr.upscale`` runs it) made callable: ``minisr.upscale(image)``
    calls ``minisr.upscale.upscale(image)``.
    """
    if name in ("upscale", "load_model"):
        import importlib

        module = importlib.import_module(".upscale", __name__)
        return module if name == "upscale" else module.load_model
    raise AttributeError(f"module 'minisr' has no attribute {name!r}")

