"""Conv2d: a k x k convolution with stride 1 and "same"-style padding."""

import numpy as np

from ..kernels import reference
from ..kernels.conv import (channel_sum, conv2d_backward_input, conv2d_backward_weight,
                            conv2d_forward)
from ..kernels.padding import pad2d, pad2d_backward
from ..kernels.pointwise import pointwise, pointwise_backward_weight
from ..shapes import conv_out_size
from .base import Layer, Parameter, pack, require_forward, unpack
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
    Fast kernels: ``kernels/conv.py``; a 1x1 convolution without padding takes its own
    fast path, a matrix product over channels (``kernels/pointwise.py``).

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
        if padding < 0:
            raise ValueError(f"padding must be >= 0, got {padding}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.padding = padding
        self.padding_mode = padding_mode
        self._replicate = check_padding_mode(padding_mode)
        self.has_bias = bias
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        std = np.sqrt(2.0 / (in_channels * kernel_size ** 2))  # He et al. 2015, for ReLU
        self.weight = Parameter(np.random.default_rng(seed).normal(0.0, std, shape).astype(dtype))
        self.params = {"weight": self.weight}
        if bias:
            self.bias = Parameter(np.zeros(out_channels, dtype))
            self.params["bias"] = self.bias
        self._cache = None  # the (padded) packed input: the weight gradient needs it

    @property
    def is_pointwise(self) -> bool:
        return self.kernel_size == 1 and self.padding == 0

    def _bias_or_zeros(self):
        if self.has_bias:
            return self.bias.data
        return np.zeros(self.out_channels, self.weight.data.dtype)

    def forward_packed(self, x, batch, prelu=None):
        """x (C_in, H, W*N) -> (C_out, H', W'*N), batch-packed.

        ``prelu``: a PReLU layer to fuse into this pass (inference only: nothing is
        kept for backward, and the output is the activation).
        """
        _, height, length = x.shape
        conv_out_size(height, self.kernel_size, 1, self.padding)  # raises if too small
        conv_out_size(length // batch, self.kernel_size, 1, self.padding)
        self._batch = batch
        if self.use_reference_kernels:
            return pack(self._forward_reference(unpack(x, batch), prelu))
        slopes = np.zeros(0, x.dtype) if prelu is None else prelu.slope.data
        if self.is_pointwise:
            w = self.weight.data.reshape(self.out_channels, self.in_channels)
            self._cache = x if prelu is None else None
            return pointwise(x, w, self._bias_or_zeros(), slopes, batch=batch)
        xp = pad2d(x, self.padding, self._replicate, batch) if self.padding else x
        self._cache = xp if prelu is None else None
        return conv2d_forward(xp, self.weight.data, self._bias_or_zeros(), 1, batch, slopes)

    def backward_packed(self, dout, input_grad=True):
        """dout (C_out, H', W'*N) -> dx (C_in, H, W*N) (None if not ``input_grad``)."""
        xp = require_forward(self._cache, repr(self))
        batch = self._batch
        if self.use_reference_kernels:
            dx = self._backward_reference(unpack(dout, batch), input_grad)
            return None if dx is None else pack(dx)
        if self.has_bias:
            self.bias.grad += channel_sum(dout.reshape(self.out_channels, -1))
        if self.is_pointwise:
            flat_dout = dout.reshape(self.out_channels, -1)
            dw = pointwise_backward_weight(flat_dout, xp.reshape(self.in_channels, -1))
            self.weight.grad += dw.reshape(self.weight.shape)
            if not input_grad:
                return None
            w_t = np.ascontiguousarray(self.weight.data.reshape(self.out_channels, self.in_channels).T)
            return pointwise(dout, w_t, np.zeros(self.in_channels, xp.dtype), batch=batch)
        self.weight.grad += conv2d_backward_weight(dout, xp, 1, self.kernel_size, batch)
        if not input_grad:
            return None
        dxp = conv2d_backward_input(dout, self.weight.data, 1, xp.shape[1], xp.shape[2] // batch, batch)
        return pad2d_backward(dxp, self.padding, self._replicate, batch) if self.padding else dxp

    # The reference path: the formulas of the docstring, on (N, C, H, W) arrays.
    def _forward_reference(self, x, prelu=None):
        y = reference.conv2d_forward(x, self.weight.data, self._bias_or_zeros(), 1, self.padding,
                                     self._replicate)
        if prelu is None:
            self._cache = x  # the weight gradient needs the input
            return y
        self._cache = None  # fused with a PReLU: inference, nothing kept for backward
        return reference.prelu_forward(y, prelu.slope.data)

    def _backward_reference(self, dy, input_grad=True):
        x = self._cache
        if self.has_bias:
            self.bias.grad += reference.conv2d_backward_bias(dy)
        self.weight.grad += reference.conv2d_backward_weight(dy, x, 1, self.padding, self._replicate,
                                                             self.kernel_size)
        if not input_grad:
            return None
        return reference.conv2d_backward_input(dy, self.weight.data, 1, self.padding, self._replicate,
                                               x.shape[2], x.shape[3])

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
