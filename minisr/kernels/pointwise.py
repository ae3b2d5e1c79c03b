"""The 1x1 convolution's fast path: a matrix product over channels at every pixel.

    out[n, f, p] = b[f] + sum_c w[f, c] * x[n, c, p]        (p = a pixel, H*W of them)

With x (N, C, H, W) seen as (N, C, P), this is ``out[n] = w @ x[n] + b`` (Caffe's
``is_1x1_`` shortcut: no padding, no im2col). The input gradient is the same product
with ``w.T``; the weight gradient is ``sum_n dout[n] @ x[n].T``.
"""

import numpy as np

from .._jit import kernel, prange

PIXEL_BLOCK = 512  # pixels per task: rows of this length stay in L1 cache


@kernel
def pointwise_forward(x, w, b):
    """x (N, C, H, W), w (F, C), b (F,) -> out (N, F, H, W).

    Tasks are (image, block of pixels); each computes every output channel of its
    block, so the block of ``x`` is read from cache F times.
    """
    n_batch, channels, height, width = x.shape
    filters = w.shape[0]
    pixels = height * width
    xf = x.reshape(n_batch, channels, pixels)
    out = np.empty((n_batch, filters, pixels), dtype=x.dtype)
    blocks = (pixels + PIXEL_BLOCK - 1) // PIXEL_BLOCK
    for task in prange(n_batch * blocks):
        n = task // blocks
        start = (task % blocks) * PIXEL_BLOCK
        stop = min(start + PIXEL_BLOCK, pixels)
        for f in range(filters):
            acc = out[n, f, start:stop]
            acc[:] = b[f]
            for c in range(channels):
                weight = w[f, c]
                src = xf[n, c, start:stop]
                for p in range(stop - start):
                    acc[p] += weight * src[p]
    return out.reshape(n_batch, filters, height, width)


@kernel
def pointwise_backward_weight(dout, x):
    """dout (N, F, H, W), x (N, C, H, W) -> dw (F, C), ``dw[f, c] = sum_{n,p} dout[n,f,p] x[n,c,p]``."""
    n_batch, filters, height, width = dout.shape
    channels = x.shape[1]
    pixels = height * width
    df = dout.reshape(n_batch, filters, pixels)
    xf = x.reshape(n_batch, channels, pixels)
    dw = np.zeros((filters, channels), dtype=dout.dtype)
    for task in prange(filters * channels):
        f = task // channels
        c = task % channels
        total = 0.0
        for n in range(n_batch):
            for p in range(pixels):
                total += df[n, f, p] * xf[n, c, p]
        dw[f, c] = total
    return dw
