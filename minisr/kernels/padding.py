"""Border padding of (N, C, H, W) images and its gradient.

Two modes, chosen by ``replicate``:

* zeros:     xp[y, x] = x[y - p, x - p] inside, 0 outside
* replicate: xp[y, x] = x[clamp(y - p, 0, H-1), clamp(x - p, 0, W-1)]
  (the border pixel repeated, MATLAB's ``imfilter(..., 'replicate')``).
"""

import numpy as np

from .._jit import kernel, prange


@kernel
def pad2d(x, pad, replicate):
    """Pad ``x`` (N, C, H, W) by ``pad`` pixels on every side -> (N, C, H+2p, W+2p)."""
    n_batch, channels, height, width = x.shape
    out = np.zeros((n_batch, channels, height + 2 * pad, width + 2 * pad), dtype=x.dtype)
    for task in prange(n_batch * channels):
        n = task // channels
        c = task % channels
        for y in range(height + 2 * pad):
            src_y = y - pad
            if src_y < 0 or src_y >= height:
                if not replicate:
                    continue
                src_y = min(max(src_y, 0), height - 1)
            for xx in range(width):
                out[n, c, y, pad + xx] = x[n, c, src_y, xx]
            if replicate:
                for xx in range(pad):
                    out[n, c, y, xx] = x[n, c, src_y, 0]
                    out[n, c, y, pad + width + xx] = x[n, c, src_y, width - 1]
    return out


@kernel
def pad2d_backward(dxp, pad, replicate):
    """Gradient of :func:`pad2d`: (N, C, H+2p, W+2p) -> (N, C, H, W).

    Zeros: the centre crop. Replicate: every padded pixel's gradient is added to the
    border pixel it copied.
    """
    n_batch, channels, padded_h, padded_w = dxp.shape
    height = padded_h - 2 * pad
    width = padded_w - 2 * pad
    dx = np.zeros((n_batch, channels, height, width), dtype=dxp.dtype)
    for task in prange(n_batch * channels):
        n = task // channels
        c = task % channels
        for y in range(padded_h):
            dst_y = y - pad
            if dst_y < 0 or dst_y >= height:
                if not replicate:
                    continue
                dst_y = min(max(dst_y, 0), height - 1)
            for xx in range(width):
                dx[n, c, dst_y, xx] += dxp[n, c, y, pad + xx]
            if replicate:
                for xx in range(pad):
                    dx[n, c, dst_y, 0] += dxp[n, c, y, xx]
                    dx[n, c, dst_y, width - 1] += dxp[n, c, y, pad + width + xx]
    return dx
