"""Deconv2d: the strided transposed convolution that upsamples at the end of FSRCNN."""

import numpy as np

from ..kernels import reference
from ..kernels.conv import (channel_sum, conv2d_backward_input, conv2d_backward_weight,
                            conv2d_forward)
from ..shapes import deconv_out_size
from .base import Layer, Parameter, pack, require_forward, unpack


class Deconv2d(Layer):
    """Transposed convolution with stride ``s`` (scatter-add, no kernel flip).

    x (N, C_in, H, W) -> y (N, C_out, H', W'). Every input pixel stamps a weighted
    k x k kernel onto a ``full`` canvas, ``s`` canvas pixels apart::

        full[n, o, s*i + u, s*j + v] += w[c, o, u, v] * x[n, c, i, j]
        y[n, o, r, q] = b[o] + full[n, o, r + padding, q + padding]

    The canvas has size ``s*(H - 1) + k``; cropping ``padding`` pixels from each side
    gives ``H' = s*(H - 1) + k - 2*padding``, which for FSRCNN's k = 9, padding = 4 is
    Caffe's ``s*H - s + 1``. At inference a target ``output_size`` (e.g. exactly
    ``(s*H, s*W)``) crops the canvas from the same starting point instead.

    Gradients, with ``dfull`` = dy put back where the crop took it from (zeros elsewhere)::

        dx[n, c, i, j] = sum_{o, u, v} w[c, o, u, v] * dfull[n, o, s*i + u, s*j + v]
        dw[c, o, u, v] = sum_{n, i, j} x[n, c, i, j] * dfull[n, o, s*i + u, s*j + v]
        db[o] = sum_{n, r, q} dy[n, o, r, q]

    Reference kernels (``kernels="reference"``): the literal scatter-add and crop,
    :func:`minisr.kernels.reference.conv_transpose2d_forward`,
    ``conv_transpose2d_backward_input``, ``conv_transpose2d_backward_weight``,
    ``conv2d_backward_bias``. The fast kernels are the convolution's own with the passes
    reversed: forward = :func:`conv2d_backward_input` (on the sub-pixel grid: s*s small
    convolutions whose outputs interleave), input gradient = :func:`conv2d_forward` with
    stride s, weight gradient = :func:`conv2d_backward_weight` with ``x`` as the
    "upstream gradient".

    Parameters: ``weight`` (C_in, C_out, k, k) (Caffe/PyTorch layout), He-initialised
    (Gaussian, std ``sqrt(2 / fan_in)`` with ``fan_in = C_in * k * k / s**2``, the
    number of products in one output pixel's sum on average; drawn from ``seed``: an int
    or a ``np.random.Generator``; FSRCNN replaces it by the paper's std 0.001);
    ``bias`` (C_out,), zeros.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int,
                 padding: int = 0, bias: bool = True, dtype=np.float32, seed=0, kernels=None):
        super().__init__(kernels)
        if kernel_size < 1:
            raise ValueError(f"kernel_size must be >= 1, got {kernel_size}")
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        if padding < 0:
            raise ValueError(f"padding must be >= 0, got {padding}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.has_bias = bias
        shape = (in_channels, out_channels, kernel_size, kernel_size)
        std = np.sqrt(2.0 * stride ** 2 / (in_channels * kernel_size ** 2))  # He et al. 2015
        self.weight = Parameter(np.random.default_rng(seed).normal(0.0, std, shape).astype(dtype))
        self.params = {"weight": self.weight}
        if bias:
            self.bias = Parameter(np.zeros(out_channels, dtype))
            self.params["bias"] = self.bias
        self._cache = None  # the input x (the weight gradient needs it) and the crop

    def canvas_size(self, size: int) -> int:
        """Size of the uncropped output along one axis: ``s*(size - 1) + k``."""
        return self.stride * (size - 1) + self.kernel_size

    def output_size(self, size: int) -> int:
        """Default output size along one axis: ``s*(size - 1) + k - 2*padding``."""
        return deconv_out_size(size, self.kernel_size, self.stride, self.padding)

    def forward_packed(self, x, batch, output_size=None):
        """x (C_in, H, W*N) -> (C_out, H', W'*N), batch-packed.

        ``output_size=(H', W')`` overrides the default size; the crop still starts at
        ``padding``, so it must satisfy ``padding + H' <= s*(H - 1) + k``.
        """
        height, width = x.shape[1], x.shape[2] // batch
        canvas_h, canvas_w = self.canvas_size(height), self.canvas_size(width)
        if output_size is None:
            out_h, out_w = self.output_size(height), self.output_size(width)
        else:
            out_h, out_w = output_size
            if out_h < 1 or out_w < 1 or self.padding + out_h > canvas_h or self.padding + out_w > canvas_w:
                raise ValueError(
                    f"{self!r}: output size {(out_h, out_w)} does not fit the "
                    f"{canvas_h}x{canvas_w} canvas of a {height}x{width} input cropped from {self.padding}"
                )
        if self.use_reference_kernels:
            images = unpack(x, batch)  # (N, C_in, H, W)
            self._cache = (images, batch)
            bias = self.bias.data if self.has_bias else np.zeros(self.out_channels, x.dtype)
            return pack(reference.conv_transpose2d_forward(images, self.weight.data, bias,
                                                           self.stride, self.padding, out_h, out_w))
        # The canvas is cropped (from ``padding``) and the bias added inside the kernel.
        bias = self.bias.data if self.has_bias else None
        y = conv2d_backward_input(x, self.weight.data, self.stride, out_h, out_w, batch,
                                  offset=self.padding, bias=bias)
        self._cache = (x, batch, (self.out_channels, canvas_h, canvas_w * batch), (out_h, out_w))
        return y

    def backward_packed(self, dout, input_grad=True):
        """dout (C_out, H', W'*N) -> dx (C_in, H, W*N) (None if not ``input_grad``)."""
        if self.use_reference_kernels:
            x, batch = require_forward(self._cache, repr(self))
            dx = self._backward_reference(x, unpack(dout, batch), input_grad)
            return None if dx is None else pack(dx)
        x, batch, canvas_shape, (out_h, out_w) = require_forward(self._cache, repr(self))
        if self.has_bias:
            self.bias.grad += channel_sum(dout.reshape(self.out_channels, -1))
        # Put the gradient back where the crop took the output from.
        dcanvas = np.zeros(canvas_shape, dout.dtype)
        p = self.padding
        dcanvas[:, p:p + out_h, p * batch:(p + out_w) * batch] = dout
        self.weight.grad += conv2d_backward_weight(x, dcanvas, self.stride, self.kernel_size, batch)
        if not input_grad:
            return None
        no_bias = np.zeros(self.in_channels, dout.dtype)
        dx = conv2d_forward(dcanvas, self.weight.data, no_bias, self.stride, batch)
        assert dx.shape == x.shape
        return dx

    def _backward_reference(self, x, dy, input_grad=True):
        """The reference gradients on (N, C, H, W) arrays (x: the forward input)."""
        if self.has_bias:
            self.bias.grad += reference.conv2d_backward_bias(dy)
        self.weight.grad += reference.conv_transpose2d_backward_weight(dy, x, self.stride, self.padding,
                                                                       self.kernel_size)
        if not input_grad:
            return None
        return reference.conv_transpose2d_backward_input(dy, self.weight.data, self.stride, self.padding,
                                                         x.shape[2], x.shape[3])

    def output_shape(self, input_shape):
        n, _, h, w = input_shape
        return (n, self.out_channels, self.output_size(h), self.output_size(w))

    def weight_count(self):
        return self.weight.data.size

    def macs_per_input_pixel(self):
        return self.weight.data.size

    def __repr__(self):
        return (f"Deconv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}{self.kernels_suffix()})")
