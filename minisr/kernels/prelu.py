"""Parametric ReLU (He et al. 2015), one slope per channel or one shared slope.

    y = x            if x > 0
    y = a[c] * x     otherwise

    dx = dy * (1 if x > 0 else a[c])
    da[c] = sum_{p : x[c, p] <= 0} dy[c, p] * x[c, p]

Arrays are (C, P): channel first, every pixel of every image after it. ``slopes``
has length C (per channel) or 1 (shared by every channel).
"""

import numpy as np

from .._jit import kernel, prange

PIXEL_BLOCK = 4096


@kernel
def prelu_forward(x, slopes):
    """x (C, P), slopes (C,) or (1,) -> y (C, P)."""
    channels, pixels = x.shape
    shared = slopes.shape[0] == 1
    out = np.empty_like(x)
    blocks = (pixels + PIXEL_BLOCK - 1) // PIXEL_BLOCK
    for task in prange(channels * blocks):
        c = task // blocks
        start = (task % blocks) * PIXEL_BLOCK
        stop = min(start + PIXEL_BLOCK, pixels)
        slope = slopes[0] if shared else slopes[c]
        src, dst = x[c, start:stop], out[c, start:stop]
        for p in range(stop - start):
            v = src[p]
            dst[p] = v if v > 0 else slope * v
    return out


@kernel
def prelu_backward(x, slopes, dout):
    """x, dout (C, P) -> (dx (C, P), dslopes with the shape of ``slopes``).

    Written without branches (both sides of each ``if`` are selects) and with one
    partial sum per task in the data's precision, so that the loop vectorises: an
    ``if`` around a float64 accumulation made this kernel 40x slower.
    """
    channels, pixels = x.shape
    shared = slopes.shape[0] == 1
    dx = np.empty_like(dout)
    zero = np.zeros(1, dtype=x.dtype)[0]
    blocks = (pixels + PIXEL_BLOCK - 1) // PIXEL_BLOCK
    partial = np.zeros(channels * blocks, dtype=np.float64)  # one sum per task, no races
    for task in prange(channels * blocks):
        c = task // blocks
        start = (task % blocks) * PIXEL_BLOCK
        stop = min(start + PIXEL_BLOCK, pixels)
        slope = slopes[0] if shared else slopes[c]
        src, grad, dst = x[c, start:stop], dout[c, start:stop], dx[c, start:stop]
        total = zero  # at most PIXEL_BLOCK terms; the blocks are added in float64 below
        for p in range(stop - start):
            v = src[p]
            g = grad[p]
            positive = v > 0
            dst[p] = g if positive else slope * g
            total += zero if positive else g * v
        partial[task] = total
    per_channel = partial.reshape(channels, blocks).sum(axis=1)
    dslopes = np.empty_like(slopes)
    if shared:
        dslopes[0] = per_channel.sum()
    else:
        for c in range(channels):
            dslopes[c] = per_channel[c]
    return dx, dslopes
