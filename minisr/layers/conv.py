"""Conv2d: a k x k convolution with stride 1 and "same"-style padding."""

import numpy as np

from ..kernels import reference
from ..kernels.conv import (conv2d_backward_bias, conv2d_backward_input, conv2d_backward_weight,
                            conv2d_forward, conv2d_prelu_forward)
from ..kernels.padding import pad2d_forward, replicate_border
from ..shapes import conv_out_size
from .base import Layer, check_at_least, pack, require_forward, unpack
from .padding import check_padding_mode


class Conv2d(Layer):
    """k x k convolution (cross-correlation), stride 1.

    x (N, C_in, H, W) -> y (N, C_out, H', W') with ``H' = H + 2*padding - k + 1``
    (``H' = H`` for ``padding = (k - 1) // 2``)::

        y[n, f, i, j] = b[f] + sum_{c, u, v} w[f, c, u, v] * xp[n, c, i + u, j + v]

    where ``xp`` is ``x`` padded by ``padding`` pixels of zeros (``padding_mode="zeros"``,
    as FSRCNN is trained) or of the replicated border (``"replicate"``, as the authors'
    MATLAB test code runs). Gradients::

        dx = the scatter  dxp[n, c, i + u, j + v] += w[f, c, u, v] * dy[n, f, i, j],
             folded back through the padding
        dw[f, c, u, v] = sum_{n, i, j} dy[n, f, i, j] * xp[n, c, i + u, j + v]
        db[f] = sum_{n, i, j} dy[n, f, i, j]

    Reference kernels (``kernels="reference"``): :func:`minisr.kernels.reference.conv2d_forward`,
    ``conv2d_backward_input``, ``conv2d_backward_weight``, ``conv2d_backward_bias``.
    Fast kernels: the same names in ``kernels/conv.py`` (a 1x1 convolution runs there
    as a matrix product over channels, ``kernels/pointwise.py``).

    Parameters: ``weight`` (C_out, C_in, k, k), He-initialised (Gaussian, std
    ``sqrt(2 / fan_in)``, ``fan_in = C_in * k * k``, drawn from ``seed``: an int or a
    ``np.random.Generator``); ``bias`` (C_out,), zeros.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 padding: int = 0, padding_mode: str = "zeros", bias: bool = True,
                 dtype=np.float32, seed=0, kernels=None):
        super().__init__(kernels)
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd number, got {kernel_size}")
        check_at_least(padding=(padding, 0))
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.padding = padding
        self.padding_mode = padding_mode
        self._replicate = check_padding_mode(padding_mode)
        std = np.sqrt(2.0 / (in_channels * kernel_size ** 2))  # He et al. 2015, for ReLU
        self.init_parameters((out_channels, in_channels, kernel_size, kernel_size), std, bias, dtype, seed)
        self._cache = None  # the packed input (padded, on the fast kernels): the weight gradient needs it

    def _check_size(self, height, width):
        conv_out_size(height, self.kernel_size, 1, self.padding)  # raises if too small
        conv_out_size(width, self.kernel_size, 1, self.padding)

    def forward_packed(self, x, batch):
        """x (C_in, H, W*N) -> (C_out, H', W'*N), batch-packed."""
        self._check_size(x.shape[1], x.shape[2] // batch)
        self._batch = batch
        if self.use_reference_kernels:
            self._cache = x  # the weight gradient needs the input
            return pack(reference.conv2d_forward(unpack(x, batch), self.weight.data, self.bias_or_zeros(), 1,
                                                 self.padding, self._replicate))
        # Padded here rather than in the kernel, so that the weight gradient finds it padded.
        xp = pad2d_forward(x, self.padding, self._replicate, batch) if self.padding else x
        self._cache = xp  # the weight gradient needs the (padded) input
        return conv2d_forward(xp, self.weight.data, self.bias_or_zeros(), 1, 0, False, batch)

    def backward_packed(self, dout, input_grad=True):
        """dout (C_out, H', W'*N) -> dx (C_in, H, W*N) (None if not ``input_grad``)."""
        cached, batch = require_forward(self._cache, repr(self)), self._batch
        if self.use_reference_kernels:
            return self._backward_reference(cached, dout, batch, input_grad)
        if self.has_bias:
            self.bias.grad += conv2d_backward_bias(dout)
        self.weight.grad += conv2d_backward_weight(dout, cached, 1, 0, False, self.kernel_size, batch)
        if not input_grad:
            return None
        height, width = cached.shape[1] - 2 * self.padding, cached.shape[2] // batch - 2 * self.padding
        return conv2d_backward_input(dout, self.weight.data, 1, self.padding, self._replicate, height, width,
                                     batch)

    def _backward_reference(self, x, dout, batch, input_grad):
        """The same gradients from ``reference.py``, on (N, C, H, W) arrays."""
        x, dy = unpack(x, batch), unpack(dout, batch)
        if self.has_bias:
            self.bias.grad += reference.conv2d_backward_bias(dy)
        self.weight.grad += reference.conv2d_backward_weight(dy, x, 1, self.padding, self._replicate,
                                                             self.kernel_size)
        if not input_grad:
            return None
        return pack(reference.conv2d_backward_input(dy, self.weight.data, 1, self.padding, self._replicate,
                                                    x.shape[2], x.shape[3]))

    # Inference (``FSRCNN.infer``): nothing kept for backward, the PReLU after this layer
    # fused into the pass, the output written already padded for the next layer.
    def input_border(self):
        """(pixels, replicate): the border :meth:`infer_packed` can take ready-made around
        its input (its own padding), so the layer before writes its output into it."""
        return self.padding, self._replicate

    def infer_packed(self, x, batch, border, workspace, out_border=(0, False), prelu=None):
        """Inference: x (C_in, H + 2b, (W + 2b)*N), ``border`` b = 0 or this layer's
        padding (already around x) -> (y, q): y (C_out, H' + 2q, (W' + 2q)*N), the
        output with ``out_border`` = (q pixels, replicate?) around it, in an array of
        ``workspace`` (reused by the next call of the same size). ``prelu``: the PReLU
        layer that follows, applied in the same pass."""
        if self.use_reference_kernels:  # the formulas, one after the other
            y = self.forward_packed(x, batch)
            return (y if prelu is None else prelu.forward_packed(y, batch)), 0
        pad = 0 if border else self.padding  # x arrives padded, or the kernel pads it
        if border and border != self.padding:
            raise ValueError(f"{self!r}: input border {border}, expected {self.padding}")
        self._check_size(x.shape[1] - 2 * border, x.shape[2] // batch - 2 * border)
        q, replicate = out_border
        k = self.kernel_size
        out_h, out_len = x.shape[1] + 2 * pad - k + 1, x.shape[2] + (2 * pad - k + 1) * batch
        out = workspace.array(self, (self.out_channels, out_h + 2 * q, out_len + 2 * q * batch), x.dtype, q, batch)
        if prelu is None:
            conv2d_forward(x, self.weight.data, self.bias_or_zeros(), 1, pad, self._replicate, batch, out)
        else:
            conv2d_prelu_forward(x, self.weight.data, self.bias_or_zeros(), prelu.slope.data, pad,
                                 self._replicate, batch, out)
        if replicate and q:
            replicate_border(out, q, batch)
        return out, q

    def output_shape(self, input_shape):
        n, _, h, w = input_shape
        k, p = self.kernel_size, self.padding
        return (n, self.out_channels, conv_out_size(h, k, 1, p), conv_out_size(w, k, 1, p))

    def weight_count(self):
        return self.weight.data.size

    def macs_per_input_pixel(self):
        return self.weight.data.size

    def __repr__(self):
        mode = "" if self.padding_mode == "zeros" else f", padding_mode={self.padding_mode!r}"
        return (f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"padding={self.padding}{mode}{self.kernels_suffix()})")
