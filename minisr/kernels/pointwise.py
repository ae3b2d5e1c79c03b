"""The 1x1 convolution's fast path: a matrix product over channels at every pixel.

    out[f, p] = b[f] + sum_c w[f, c] * x[c, p]        (p runs over every pixel of every image)

With the batch-packed layout, x is simply (C, P) with P = H*W*N, and the layer is
``out = w @ x + b`` (Caffe's ``is_1x1_`` shortcut: no padding, no im2col). The input
gradient is the same product with ``w.T``; the weight gradient is ``dout @ x.T``.
"""

import numpy as np

from .._jit import kernel, prange

PIXEL_BLOCK = 512  # pixels per task: rows of this length stay in L1 cache


@kernel
def pointwise_forward(x, w, b, slopes):
    """x (C, P), w (F, C), b (F,) -> out (F, P).

    ``slopes`` of length F or 1 fuses a PReLU (inference); length 0: linear output.

    Tasks are blocks of pixels; each computes every output channel of its block, four
    at a time so that every loaded input value feeds four multiply-adds.
    """
    channels, pixels = x.shape
    filters = w.shape[0]
    out = np.empty((filters, pixels), dtype=x.dtype)
    blocks = (pixels + PIXEL_BLOCK - 1) // PIXEL_BLOCK
    groups = filters // 4
    for block in prange(blocks):
        start = block * PIXEL_BLOCK
        stop = min(start + PIXEL_BLOCK, pixels)
        for g in range(groups):
            f = 4 * g
            r0, r1 = out[f, start:stop], out[f + 1, start:stop]
            r2, r3 = out[f + 2, start:stop], out[f + 3, start:stop]
            r0[:] = b[f]
            r1[:] = b[f + 1]
            r2[:] = b[f + 2]
            r3[:] = b[f + 3]
            for c in range(channels):
                w0, w1, w2, w3 = w[f, c], w[f + 1, c], w[f + 2, c], w[f + 3, c]
                src = x[c, start:stop]
                for p in range(stop - start):
                    v = src[p]
                    r0[p] += w0 * v
                    r1[p] += w1 * v
                    r2[p] += w2 * v
                    r3[p] += w3 * v
        for f in range(4 * groups, filters):  # the last F % 4 filters
            acc = out[f, start:stop]
            acc[:] = b[f]
            for c in range(channels):
                weight = w[f, c]
                src = x[c, start:stop]
                for p in range(stop - start):
                    acc[p] += weight * src[p]
        if slopes.shape[0] > 0:
            for f in range(filters):
                slope = slopes[0] if slopes.shape[0] == 1 else slopes[f]
                acc = out[f, start:stop]
                for p in range(stop - start):
                    v = acc[p]
                    acc[p] = v if v > 0 else slope * v
    return out


@kernel
def pointwise_backward_weight(dout, x):
    """dout (F, P), x (C, P) -> dw (F, C), ``dw[f, c] = sum_p dout[f, p] x[c, p]``."""
    filters, pixels = dout.shape
    channels = x.shape[0]
    dw = np.zeros((filters, channels), dtype=dout.dtype)
    zero = np.zeros(1, dtype=dout.dtype)[0]  # accumulate in the data's precision
    for task in prange(filters * channels):
        f = task // channels
        c = task % channels
        total = zero
        grad = dout[f]
        src = x[c]
        for p in range(pixels):
            total += grad[p] * src[p]
        dw[f, c] = total
    return dw
