"""The 1x1 convolution's fast path: a matrix product over channels at every pixel.

    out[f, p] = b[f] + sum_c w[f, c] * x[c, p]        (p runs over every pixel of every image)

With the batch-packed layout, x is (C, H, W*N), every pixel of every image is a column,
and the layer is ``out = w @ x + b`` (Caffe's ``is_1x1_`` shortcut: no padding, no im2col). The input
gradient is the same product with ``w.T``; the weight gradient is ``dout @ x.T``.
"""

import numpy as np

from .._jit import kernel, prange

PIXEL_BLOCK = 512  # pixels per task: rows of this length stay in L1 cache


@kernel
def pointwise_forward(x, w, b, slopes, out, pad, batch):
    """x (C, H, L), w (F, C), b (F,) -> (F, H, L) written into the interior of ``out``
    (F, H + 2*pad, L + 2*pad*N): ``out[f, pad + y, pad*N + q]``, border untouched (as in
    ``conv.forward_stride1``; ``pad`` = 0: ``out`` is exactly the result).

    ``slopes`` of length F or 1 fuses a PReLU (inference); length 0: linear output.

    Tasks are blocks of up to PIXEL_BLOCK pixels of one row; each computes every output
    channel of its block, four at a time so that every loaded input value feeds four
    multiply-adds.
    """
    channels, height, length = x.shape
    filters = w.shape[0]
    shift = pad * batch
    per_row = (length + PIXEL_BLOCK - 1) // PIXEL_BLOCK
    groups = filters // 4
    for task in prange(height * per_row):
        y = task // per_row
        start = (task % per_row) * PIXEL_BLOCK
        stop = min(start + PIXEL_BLOCK, length)
        row = y + pad
        lo, hi = shift + start, shift + stop  # the block's place in the output row
        for g in range(groups):
            f = 4 * g
            r0, r1 = out[f, row][lo:hi], out[f + 1, row][lo:hi]
            r2, r3 = out[f + 2, row][lo:hi], out[f + 3, row][lo:hi]
            r0[:] = b[f]
            r1[:] = b[f + 1]
            r2[:] = b[f + 2]
            r3[:] = b[f + 3]
            for c in range(channels):
                w0, w1, w2, w3 = w[f, c], w[f + 1, c], w[f + 2, c], w[f + 3, c]
                src = x[c, y][start:stop]
                for p in range(stop - start):
                    v = src[p]
                    r0[p] += w0 * v
                    r1[p] += w1 * v
                    r2[p] += w2 * v
                    r3[p] += w3 * v
        for f in range(4 * groups, filters):  # the last F % 4 filters
            acc = out[f, row][lo:hi]
            acc[:] = b[f]
            for c in range(channels):
                weight = w[f, c]
                src = x[c, y][start:stop]
                for p in range(stop - start):
                    acc[p] += weight * src[p]
        if slopes.shape[0] > 0:
            for f in range(filters):
                slope = slopes[0] if slopes.shape[0] == 1 else slopes[f]
                acc = out[f, row][lo:hi]
                for p in range(stop - start):
                    v = acc[p]
                    acc[p] = v if v > 0 else slope * v


def pointwise(x, w, b, slopes=None, out=None, pad=0, batch=1):
    """:func:`pointwise_forward` into ``out`` (a new (F, H, L) array if None)."""
    slopes = np.zeros(0, x.dtype) if slopes is None else slopes
    if out is None:
        out = np.empty((w.shape[0],) + x.shape[1:], x.dtype)
        pad = 0
    pointwise_forward(x, w, b, slopes, out, pad, batch)
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
