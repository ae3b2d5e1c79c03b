"""Upsample: MATLAB's bicubic enlargement as a layer, for networks that work on the
upscaled image (SRCNN)."""

import numpy as np

from ..image.resize import resize_matrix
from .base import Layer, pack, require_forward, unpack


def along_both_axes(images: np.ndarray, rows, cols) -> np.ndarray:
    """``rows @ image @ cols.T`` for every (N, C) plane of ``images`` (N, C, H, W), in
    float64: ``rows`` (H', H) and ``cols`` (W', W) sparse. -> (N, C, H', W')."""
    n, c, height, width = images.shape
    by_rows = rows @ images.transpose(2, 0, 1, 3).reshape(height, -1).astype(np.float64)  # (H', N*C*W)
    by_rows = by_rows.reshape(-1, n * c, width).transpose(2, 0, 1).reshape(width, -1)  # (W, H'*N*C)
    out = cols @ by_rows  # (W', H'*N*C)
    return out.reshape(-1, by_rows.shape[1] // (n * c), n, c).transpose(2, 3, 1, 0)


class Upsample(Layer):
    """Bicubic upscaling by ``scale``, exactly MATLAB's ``imresize(x, scale)``, of every
    channel: x (N, C, H, W) -> y (N, C, H', W') with ``y = A x B^T`` per channel, where
    ``A`` (nH, H) and ``B`` (nW, W) are the 1-D resize matrices
    (:func:`minisr.image.resize.resize_matrix`, 4 taps per row, so each output pixel is
    a sum of 16 input pixels). Its gradient is ``dx = A^T dy B``.

    The output keeps the first ``H' = n(H - 1) + 1`` rows and columns by default, the
    size FSRCNN's deconvolution gives (Caffe's), so that SRCNN-style networks train on
    the same LR/HR pairs; ``output_size=(nH, nW)`` gives the whole image at inference.
    No parameters; the same arithmetic on both kernel sets.
    """

    resizes = True  # takes output_size, like Deconv2d

    def __init__(self, scale: int, kernels=None):
        super().__init__(kernels)
        if scale < 1:
            raise ValueError(f"scale must be >= 1, got {scale}")
        self.scale = scale
        self._matrices = {}  # (H, W) -> (A, B), made once per input size
        self._cache = None  # (input size, output size): the backward pass needs them

    def matrices(self, height: int, width: int):
        """(A, B): the sparse resize matrices of an H x W input (4 taps per row)."""
        key = (height, width)
        if key not in self._matrices:
            n = self.scale
            self._matrices[key] = (resize_matrix(height, n * height, float(n)),
                                   resize_matrix(width, n * width, float(n)))
        return self._matrices[key]

    def output_size(self, size: int) -> int:
        """Default output size along one axis: ``n(size - 1) + 1``."""
        return self.scale * (size - 1) + 1

    def forward_packed(self, x, batch, output_size=None):
        """x (C, H, W*N) -> (C, H', W'*N), batch-packed."""
        height, width = x.shape[1], x.shape[2] // batch
        out_h, out_w = output_size or (self.output_size(height), self.output_size(width))
        a, b = self.matrices(height, width)
        self._batch, self._cache = batch, ((height, width), (out_h, out_w), x.dtype)
        # Each output pixel sums its 4 taps in one fixed order (a sparse row), whatever the
        # image size: a tile's pixels equal the whole image's bit for bit.
        return pack(along_both_axes(unpack(x, batch), a[:out_h], b[:out_w]).astype(x.dtype))

    def backward_packed(self, dout, input_grad=True):
        """dout (C, H', W'*N) -> dx (C, H, W*N)."""
        (height, width), (out_h, out_w), dtype = require_forward(self._cache, repr(self))
        if not input_grad:
            return None
        a, b = self.matrices(height, width)
        dy = unpack(dout, self._batch)
        return pack(along_both_axes(dy, a[:out_h].T.tocsr(), b[:out_w].T.tocsr()).astype(dtype))

    def infer_packed(self, x, batch, border, workspace, out_border=(0, False), output_size=None):
        """Inference: the forward pass (x arrives without a border; y leaves without one)."""
        return self.forward_packed(x, batch, output_size), 0

    def output_shape(self, input_shape):
        n, c, h, w = input_shape
        return (n, c, self.output_size(h), self.output_size(w))

    def __repr__(self):
        return f"Upsample(scale={self.scale}{self.kernels_suffix()})"
