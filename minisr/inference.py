"""FSRCNN's fast inference path (``FSRCNN.infer``): the numbers of ``forward``, sooner.

``forward`` runs every layer as training needs it: each convolution pads a copy of its
input, keeps it for the backward pass, and a separate PReLU pass follows. Inference
needs none of that, so ``infer`` runs the same kernels differently:

1. **Fused PReLU.** Each convolution applies its PReLU to an output row while the row
   is still in cache (one pass over memory instead of two).
2. **Padded outputs.** Each convolution writes its output straight into the interior of
   the padded array that the next layer reads (for a 3x3 map: one pixel of border; for
   the deconvolution: ``ceil(9/n) - 1`` pixels of zeros), so no layer copies its input
   only to pad it. Zero borders are written once; replicated borders are refilled.
3. **A workspace.** Those arrays are kept between calls with the same input size, so a
   video frame or the next tile of a large image allocates nothing but its output: no
   time goes to the operating system handing out and zeroing fresh memory (about a
   quarter of the pass at 253x253 -> 759x759). ``release()`` frees them. A call made
   while another thread is using the workspace gets a private one for that call, so
   one model can serve several threads at once.

Shapes are batch-packed, (C, H, W*N), as in every kernel (``kernels/__init__.py``).
"""

import threading

import numpy as np

from .kernels.conv import conv2d_backward_input, conv2d_forward
from .kernels.padding import pad2d, replicate_border
from .kernels.pointwise import pointwise
from .layers import Conv2d, Deconv2d, PReLU
from .layers.base import pack, unpack


def input_padding(layer) -> tuple:
    """(pixels, replicate) of border that ``layer`` adds around its input before its
    stride-1 kernel runs: its own padding for a convolution, ``T - 1`` zeros for a
    deconvolution (``T = ceil(k / stride)`` taps of its sub-pixel kernels), else none."""
    if isinstance(layer, Conv2d):
        return layer.padding, layer._replicate
    if isinstance(layer, Deconv2d):
        return -(-layer.kernel_size // layer.stride) - 1, False
    return 0, False


class Inference:
    """Runs ``model``'s layers for inference, reusing its arrays between calls."""

    def __init__(self, model):
        self.model = model
        self._arrays = {}
        self._busy = threading.Lock()  # held while a call uses the workspace

    def run(self, x: np.ndarray, output_size) -> np.ndarray:
        """``self(x, output_size)``, or, if another thread is using the workspace right
        now, the same with a private workspace that is freed afterwards."""
        if not self._busy.acquire(blocking=False):
            return Inference(self.model)(x, output_size)
        try:
            return self(x, output_size)
        finally:
            self._busy.release()

    def release(self) -> None:
        """Free the workspace (the next call allocates it again)."""
        self._arrays.clear()

    def array(self, key, shape, dtype) -> np.ndarray:
        """The workspace array for ``key``: kept if its shape and dtype still fit, else a
        new one of zeros (its border, never written by the kernels, stays zero)."""
        array = self._arrays.get(key)
        if array is None or array.shape != shape or array.dtype != dtype:
            array = self._arrays[key] = np.zeros(shape, dtype)
        return array

    def __call__(self, x: np.ndarray, output_size) -> np.ndarray:
        """x (N, 1, H, W) -> (N, 1, *output_size), the deconvolution cropped to
        ``output_size`` (rows and columns, from its ``padding``)."""
        layers, batch, dtype = self.model.layers, x.shape[0], x.dtype
        no_slopes = np.zeros(0, dtype)
        h, h_pad = pack(x), 0  # h_pad: border already around h, as its consumer wants it
        index = 0
        while index < len(layers) - 1:
            layer = layers[index]
            if not isinstance(layer, Conv2d):  # e.g. Pad2d: as in forward()
                h, h_pad = layer.forward_packed(h, batch), 0
                index += 1
                continue
            prelu = layers[index + 1] if isinstance(layers[index + 1], PReLU) else None
            following = index + (2 if prelu else 1)
            if layer.padding and not h_pad:  # only the first layer pads its own input
                h = pad2d(h, layer.padding, layer._replicate, batch)
            pad, replicate = input_padding(layers[following])
            k = layer.kernel_size
            out_h, out_len = h.shape[1] - k + 1, h.shape[2] - (k - 1) * batch
            out = self.array(index, (layer.out_channels, out_h + 2 * pad, out_len + 2 * pad * batch), dtype)
            slopes = no_slopes if prelu is None else prelu.slope.data
            bias = layer._bias_or_zeros()
            if layer.is_pointwise:
                w = layer.weight.data.reshape(layer.out_channels, layer.in_channels)
                pointwise(h, w, bias, slopes, out, pad, batch)
            else:
                conv2d_forward(h, layer.weight.data, bias, 1, batch, slopes, out, pad)
            if replicate and pad:
                replicate_border(out, pad, batch)
            h, h_pad, index = out, pad, following

        deconv = layers[-1]
        taps_pad, _ = input_padding(deconv)  # h_pad is this, or 0 after a Pad2d layer
        padded_h = h.shape[1] + (0 if h_pad else 2 * taps_pad)
        padded_len = h.shape[2] + (0 if h_pad else 2 * taps_pad * batch)
        s = deconv.stride
        sub_pixel_shape = (deconv.out_channels * s * s, padded_h - taps_pad, padded_len - taps_pad * batch)
        bias = deconv.bias.data if deconv.has_bias else None
        y = conv2d_backward_input(h, deconv.weight.data, s, output_size[0], output_size[1], batch,
                                  offset=deconv.padding, bias=bias, dout_padded=h_pad > 0,
                                  work=self.array("deconv", sub_pixel_shape, dtype))
        return unpack(y, batch)
