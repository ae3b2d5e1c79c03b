"""Deconv2d: the strided transposed convolution that upsamples at the end of FSRCNN."""

import numpy as np

from ..kernels import reference
from ..kernels.padding import pad2d_forward
from ..kernels.conv import (conv2d_backward_bias, conv2d_forward, conv_transpose2d_backward_input,
                            conv_transpose2d_backward_weight, conv_transpose2d_forward, interleave_phases,
                            subpixel_kernel)
from ..shapes import deconv_out_size
from .base import Layer, check_at_least, pack, require_forward, unpack


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
    ``conv2d_backward_bias``. Fast kernels: the same names in ``kernels/conv.py``, where
    the transposed convolution is the convolution's kernels with the passes reversed (as
    in Caffe): forward = s*s small convolutions on the LR grid, one per output phase,
    whose outputs interleave (``conv.subpixel_kernel``); input gradient = a stride-s
    convolution; weight gradient = the convolution's, with ``x`` as the "upstream
    gradient".

    Parameters: ``weight`` (C_in, C_out, k, k) (Caffe/PyTorch layout), He-initialised
    (Gaussian, std ``sqrt(2 / fan_in)`` with ``fan_in = C_in * k * k / s**2``, the
    number of products in one output pixel's sum on average; drawn from ``seed``: an int
    or a ``np.random.Generator``; FSRCNN replaces it by the paper's std 0.001);
    ``bias`` (C_out,), zeros.
    """

    resizes = True  # changes the resolution: takes output_size (``Chain.forward``, ``infer_chain``)

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int,
                 padding: int = 0, bias: bool = True, dtype=np.float32, seed=0, kernels=None):
        super().__init__(kernels)
        check_at_least(kernel_size=(kernel_size, 1), stride=(stride, 1), padding=(padding, 0))
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        std = np.sqrt(2.0 * stride ** 2 / (in_channels * kernel_size ** 2))  # He et al. 2015
        self.init_parameters((in_channels, out_channels, kernel_size, kernel_size), std, bias, dtype, seed)
        self._cache = None  # the packed input x: the weight gradient needs it

    def canvas_size(self, size: int) -> int:
        """Size of the uncropped output along one axis: ``s*(size - 1) + k``."""
        return self.stride * (size - 1) + self.kernel_size

    def output_size(self, size: int) -> int:
        """Default output size along one axis: ``s*(size - 1) + k - 2*padding``."""
        return deconv_out_size(size, self.kernel_size, self.stride, self.padding)

    def _checked_output_size(self, height, width, output_size):
        """(out_h, out_w): ``output_size`` if it fits the canvas of a ``height`` x
        ``width`` input cropped from ``padding``, the default size if None."""
        if output_size is None:
            return self.output_size(height), self.output_size(width)
        out_h, out_w = output_size
        canvas_h, canvas_w = self.canvas_size(height), self.canvas_size(width)
        if out_h < 1 or out_w < 1 or self.padding + out_h > canvas_h or self.padding + out_w > canvas_w:
            raise ValueError(f"{self!r}: output size {(out_h, out_w)} does not fit the "
                             f"{canvas_h}x{canvas_w} canvas of a {height}x{width} input cropped from {self.padding}")
        return out_h, out_w

    def forward_packed(self, x, batch, output_size=None):
        """x (C_in, H, W*N) -> (C_out, H', W'*N), batch-packed.

        ``output_size=(H', W')`` overrides the default size; the crop still starts at
        ``padding``, so it must satisfy ``padding + H' <= s*(H - 1) + k``.
        """
        out_h, out_w = self._checked_output_size(x.shape[1], x.shape[2] // batch, output_size)
        self._batch = batch
        self._cache = x  # the weight gradient needs the input
        if self.use_reference_kernels:
            return pack(reference.conv_transpose2d_forward(unpack(x, batch), self.weight.data, self.bias_or_zeros(),
                                                           self.stride, self.padding, out_h, out_w))
        return conv_transpose2d_forward(x, self.weight.data, self.bias_or_zeros(), self.stride, self.padding,
                                        out_h, out_w, batch)

    def backward_packed(self, dout, input_grad=True):
        """dout (C_out, H', W'*N) -> dx (C_in, H, W*N) (None if not ``input_grad``)."""
        x, batch = require_forward(self._cache, repr(self)), self._batch
        height, width = x.shape[1], x.shape[2] // batch
        if self.use_reference_kernels:
            return self._backward_reference(unpack(x, batch), unpack(dout, batch), input_grad)
        if self.has_bias:
            self.bias.grad += conv2d_backward_bias(dout)
        self.weight.grad += conv_transpose2d_backward_weight(dout, x, self.stride, self.padding,
                                                             self.kernel_size, batch)
        if not input_grad:
            return None
        return conv_transpose2d_backward_input(dout, self.weight.data, self.stride, self.padding,
                                               height, width, batch)

    def _backward_reference(self, x, dy, input_grad):
        """The same gradients from ``reference.py``, on (N, C, H, W) arrays."""
        if self.has_bias:
            self.bias.grad += reference.conv2d_backward_bias(dy)
        self.weight.grad += reference.conv_transpose2d_backward_weight(dy, x, self.stride, self.padding,
                                                                       self.kernel_size)
        if not input_grad:
            return None
        return pack(reference.conv_transpose2d_backward_input(dy, self.weight.data, self.stride, self.padding,
                                                              x.shape[2], x.shape[3]))

    # Inference (``FSRCNN.infer``): the input arrives already zero-padded for the
    # sub-pixel convolutions, whose output array is kept in the workspace.
    def input_border(self):
        """(T - 1 pixels of zeros, False): the padding of the s*s sub-pixel convolutions
        (T = ceil(k / s) taps each) of the fast forward pass."""
        return -(-self.kernel_size // self.stride) - 1, False

    def infer_packed(self, x, batch, border, workspace, out_border=(0, False), output_size=None):
        """Inference: x (C_in, H + 2b, (W + 2b)*N) with ``border`` b >= 0 pixels of zeros
        already around it -> (y (C_out, H', W'*N), 0), the numbers of
        ``forward_packed(x without its border, batch, output_size)``. A border wider
        than :meth:`input_border` (a trunk shared by several scales pads for the
        widest) moves the canvas by s pixels per extra pixel, and the crop with it."""
        height, width = x.shape[1] - 2 * border, x.shape[2] // batch - 2 * border
        if self.use_reference_kernels:  # the formula (reference layers pass no border)
            return self.forward_packed(x, batch, output_size), 0
        out_h, out_w = self._checked_output_size(height, width, output_size)
        need = self.input_border()[0]
        if border < need:  # e.g. after a Pad2d layer: pad the rest here
            x, border = pad2d_forward(x, need - border, False, batch), need
        extra = border - need
        s = self.stride
        taps = -(-self.kernel_size // s)
        phases = workspace.array(self, (self.out_channels * s * s, x.shape[1] - taps + 1,
                                        x.shape[2] - (taps - 1) * batch), x.dtype)
        phase_bias = np.repeat(self.bias_or_zeros(), s * s)
        conv2d_forward(x, subpixel_kernel(self.weight.data, s), phase_bias, 1, 0, False, batch, phases)
        return interleave_phases(phases, s, batch, out_h, out_w, self.padding + s * extra), 0

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
