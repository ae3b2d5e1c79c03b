"""Border padding as a layer of its own (used before the deconvolution when running the
authors' released models, whose test code pads the deconvolution's input by one
replicated pixel)."""

from ..kernels import reference
from ..kernels.padding import pad2d_backward, pad2d_forward
from .base import Layer, pack, unpack

PADDING_MODES = ("zeros", "replicate")


def check_padding_mode(mode: str) -> bool:
    """Return True for 'replicate', False for 'zeros'; reject anything else."""
    if mode not in PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {mode!r}")
    return mode == "replicate"


class Pad2d(Layer):
    """Pad (N, C, H, W) -> (N, C, H + 2p, W + 2p), zeros or replicated border::

        xp[n, c, r, q] = x[n, c, r - p, q - p]                              inside
                       = 0                                                  outside ("zeros")
                       = x[n, c, clamp(r - p, 0, H-1), clamp(q - p, 0, W-1)]  ("replicate")

    Its gradient sends every padded pixel's gradient to the pixel it copied:
    ``dx[n, c, clamp(r - p), clamp(q - p)] += dxp[n, c, r, q]``.

    Reference kernels (``kernels="reference"``): :func:`minisr.kernels.reference.pad2d_forward`,
    ``pad2d_backward``. Fast kernels: ``kernels/padding.py``.
    """

    def __init__(self, pad: int, mode: str = "zeros", kernels=None):
        super().__init__(kernels)
        if pad < 0:
            raise ValueError(f"pad must be >= 0, got {pad}")
        self.pad = pad
        self.mode = mode
        self._replicate = check_padding_mode(mode)

    def forward_packed(self, x, batch):
        """x (C, H, W*N) -> (C, H + 2p, (W + 2p)*N)."""
        self._batch = batch
        if self.use_reference_kernels:
            return pack(reference.pad2d_forward(unpack(x, batch), self.pad, self._replicate))
        return pad2d_forward(x, self.pad, self._replicate, batch)

    def backward_packed(self, dout, input_grad=True):
        if self.use_reference_kernels:
            return pack(reference.pad2d_backward(unpack(dout, self._batch), self.pad, self._replicate))
        return pad2d_backward(dout, self.pad, self._replicate, self._batch)

    def output_shape(self, input_shape):
        n, c, h, w = input_shape
        return (n, c, h + 2 * self.pad, w + 2 * self.pad)

    def __repr__(self):
        return f"Pad2d({self.pad}, mode={self.mode!r}{self.kernels_suffix()})"
