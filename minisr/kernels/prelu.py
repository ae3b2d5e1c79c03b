"""Parametric ReLU (He et al. 2015), one slope per channel or one shared slope.

    y = x            if x > 0
    y = a[c] * x     otherwise

    dx = dy * (1 if x > 0 else a[c])
    da[c] = sum_{n, y, x : x <= 0} dy * x

``slopes`` has length C (per channel) or 1 (shared by every channel).
"""

import numpy as np

from .._jit import kernel, prange


@kernel
def prelu_forward(x, slopes):
    """x (N, C, H, W), slopes (C,) or (1,) -> y (N, C, H, W)."""
    n_batch, channels, height, width = x.shape
    shared = slopes.shape[0] == 1
    out = np.empty_like(x)
    for task in prange(n_batch * channels):
        n = task // channels
        c = task % channels
        slope = slopes[0] if shared else slopes[c]
        for y in range(height):
            for xx in range(width):
                v = x[n, c, y, xx]
                out[n, c, y, xx] = v if v > 0 else slope * v
    return out


@kernel
def prelu_backward(x, slopes, dout):
    """x, dout (N, C, H, W) -> (dx (N, C, H, W), dslopes with the shape of ``slopes``)."""
    n_batch, channels, height, width = x.shape
    shared = slopes.shape[0] == 1
    dx = np.empty_like(dout)
    partial = np.zeros((n_batch, channels), dtype=np.float64)  # per-task sums, no races
    for task in prange(n_batch * channels):
        n = task // channels
        c = task % channels
        slope = slopes[0] if shared else slopes[c]
        total = 0.0
        for y in range(height):
            for xx in range(width):
                v = x[n, c, y, xx]
                g = dout[n, c, y, xx]
                if v > 0:
                    dx[n, c, y, xx] = g
                else:
                    dx[n, c, y, xx] = slope * g
                    total += g * v
        partial[n, c] = total
    per_channel = partial.sum(axis=0)
    dslopes = np.empty_like(slopes)
    if shared:
        dslopes[0] = per_channel.sum()
    else:
        for c in range(channels):
            dslopes[c] = per_channel[c]
    return dx, dslopes
