"""Slow, obviously correct references that the Numba kernels are compared with.

Plain loops or SciPy; nothing clever. Layout (N, C, H, W).
"""

import numpy as np
from scipy.signal import correlate2d


def pad_reference(x, pad, mode):
    """np.pad with zeros ('constant') or the repeated border ('edge')."""
    np_mode = {"zeros": "constant", "replicate": "edge"}[mode]
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode=np_mode)


def conv_reference(x, w, b, pad, mode="zeros"):
    """y[n, f] = b[f] + sum_c correlate2d(pad(x)[n, c], w[f, c], 'valid')."""
    xp = pad_reference(x, pad, mode)
    n_batch, channels = x.shape[:2]
    filters = w.shape[0]
    rows = []
    for n in range(n_batch):
        maps = []
        for f in range(filters):
            acc = sum(correlate2d(xp[n, c], w[f, c], mode="valid") for c in range(channels))
            maps.append(acc + b[f])
        rows.append(maps)
    return np.array(rows, dtype=x.dtype)


def deconv_reference(x, w, b, stride, pad, output_size=None):
    """Scatter-add: every input pixel adds ``x[n, c, i, j] * w[c]`` (a k x k stamp of
    every output channel) at (stride*i, stride*j) of a canvas; crop ``pad`` from the
    top-left, keep ``output_size`` (default: ``pad`` cropped from every side)."""
    n_batch, channels, height, width = x.shape
    _, out_channels, k, _ = w.shape
    canvas = np.zeros((n_batch, out_channels, stride * (height - 1) + k, stride * (width - 1) + k))
    for n in range(n_batch):
        for c in range(channels):
            for i in range(height):
                for j in range(width):
                    canvas[n, :, stride * i:stride * i + k, stride * j:stride * j + k] += x[n, c, i, j] * w[c]
    if output_size is None:
        output_size = (canvas.shape[2] - 2 * pad, canvas.shape[3] - 2 * pad)
    out = canvas[:, :, pad:pad + output_size[0], pad:pad + output_size[1]]
    return (out + b[None, :, None, None]).astype(x.dtype)


def prelu_reference(x, slopes):
    a = slopes.reshape(1, -1, 1, 1)
    return np.where(x > 0, x, a * x)
