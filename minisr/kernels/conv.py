"""The three kernels of a k x k convolution (cross-correlation, no kernel flip).

Notation: input ``xp`` (N, C, Hp, Wp) already padded, weights ``w`` (F, C, K, K),
stride ``s``, output ``out`` (N, F, Ho, Wo) with ``Ho = (Hp - K) // s + 1``.

    forward:       out[n, f, y, x]   = b[f] + sum_{c, i, j} w[f, c, i, j] * xp[n, c, s*y + i, s*x + j]
    input grad:    dxp[n, c, s*y + i, s*x + j] += w[f, c, i, j] * dout[n, f, y, x]
    weight grad:   dw[f, c, i, j]    = sum_{n, y, x} dout[n, f, y, x] * xp[n, c, s*y + i, s*x + j]

The transposed convolution (``Deconv2d``) is the same pair read backwards: its
forward pass is :func:`conv2d_backward_input` and its input gradient is
:func:`conv2d_forward` ("DeconvolutionLayer is ConvolutionLayer with the forward and
backward passes reversed", Caffe).

Every kernel loops over output rows in parallel (``prange``) so that each thread owns
the rows it writes, and keeps the innermost loop on the contiguous width axis so that
it vectorises.
"""

import numpy as np

from .._jit import kernel, prange


def conv2d_forward(xp, w, b, stride):
    """Convolution of a padded input. xp (N, C, Hp, Wp), w (F, C, K, K), b (F,)
    -> out (N, F, Ho, Wo), ``Ho = (Hp - K) // stride + 1`` (same for W)."""
    if stride == 1:
        return conv2d_forward_stride1(xp, w, b)
    return conv2d_forward_strided(xp, w, b, stride)


@kernel
def conv2d_forward_stride1(xp, w, b):
    """:func:`conv2d_forward` for stride 1. Tasks are output rows (n, f, y); the
    inner loop runs along the contiguous width and vectorises."""
    n_batch, channels, padded_h, padded_w = xp.shape
    filters, _, ksize, _ = w.shape
    out_h = padded_h - ksize + 1
    out_w = padded_w - ksize + 1
    out = np.empty((n_batch, filters, out_h, out_w), dtype=xp.dtype)
    for task in prange(n_batch * filters * out_h):
        n = task // (filters * out_h)
        f = (task // out_h) % filters
        y = task % out_h
        row = out[n, f, y]
        row[:] = b[f]
        for c in range(channels):
            for i in range(ksize):
                src = xp[n, c, y + i]
                for j in range(ksize):
                    weight = w[f, c, i, j]
                    for x in range(out_w):
                        row[x] += weight * src[x + j]
    return out


@kernel
def conv2d_forward_strided(xp, w, b, stride):
    """:func:`conv2d_forward` for stride s > 1 (the deconvolution's input gradient).

    Tasks are (n, y), each writing row y of every output channel. Each input row is
    first split into its s phases, ``phases[p, X] = src[s*X + p]``, so that tap j
    reads the contiguous run ``phases[j % s, x + j // s]`` instead of every s-th
    element; the split is shared by all F filters.
    """
    n_batch, channels, padded_h, padded_w = xp.shape
    filters, _, ksize, _ = w.shape
    out_h = (padded_h - ksize) // stride + 1
    out_w = (padded_w - ksize) // stride + 1
    out = np.empty((n_batch, filters, out_h, out_w), dtype=xp.dtype)
    phase_w = (padded_w + stride - 1) // stride
    for task in prange(n_batch * out_h):
        n = task // out_h
        y = task % out_h
        for f in range(filters):
            out[n, f, y, :] = b[f]
        phases = np.zeros((stride, phase_w), dtype=xp.dtype)
        for c in range(channels):
            for i in range(ksize):
                src = xp[n, c, stride * y + i]
                for q in range(padded_w):
                    phases[q % stride, q // stride] = src[q]
                for f in range(filters):
                    row = out[n, f, y]
                    for j in range(ksize):
                        weight = w[f, c, i, j]
                        run = phases[j % stride]
                        shift = j // stride
                        for x in range(out_w):
                            row[x] += weight * run[x + shift]
    return out


@kernel
def conv2d_backward_input(dout, w, stride, padded_h, padded_w):
    """Gradient of :func:`conv2d_forward` with respect to its padded input.

    dout (N, F, Ho, Wo), w (F, C, K, K) -> dxp (N, C, padded_h, padded_w), where
    ``dxp[n, c, s*y + i, s*x + j] += w[f, c, i, j] * dout[n, f, y, x]``.

    Each task owns one output row ``dxp[n, c, r]`` and gathers the kernel rows ``i``
    with ``r = s*y + i``: no two threads write the same memory. With stride s > 1 the
    row is built one phase at a time (the sub-pixel view): the columns
    ``q = s*X + p`` get taps ``j = p + s*t`` from ``dout[..., X - t]``, accumulated in
    a contiguous buffer and interleaved into the row at the end.
    """
    n_batch, filters, out_h, out_w = dout.shape
    _, channels, ksize, _ = w.shape
    dxp = np.zeros((n_batch, channels, padded_h, padded_w), dtype=dout.dtype)
    phase_w = (padded_w + stride - 1) // stride
    for task in prange(n_batch * channels * padded_h):
        n = task // (channels * padded_h)
        c = (task // padded_h) % channels
        r = task % padded_h
        row = dxp[n, c, r]
        phases = np.zeros((stride, phase_w + ksize), dtype=dout.dtype)
        for i in range(ksize):
            if (r - i) % stride != 0:
                continue
            y = (r - i) // stride
            if y < 0 or y >= out_h:
                continue
            for f in range(filters):
                grad = dout[n, f, y]
                for j in range(ksize):
                    weight = w[f, c, i, j]
                    if stride == 1:  # contiguous: the inner loop vectorises
                        for x in range(out_w):
                            row[x + j] += weight * grad[x]
                    else:
                        run = phases[j % stride]
                        shift = j // stride
                        for x in range(out_w):
                            run[x + shift] += weight * grad[x]
        if stride > 1:
            for q in range(padded_w):
                row[q] = phases[q % stride, q // stride]
    return dxp


@kernel
def conv2d_backward_weight(dout, xp, stride, ksize):
    """Gradient of :func:`conv2d_forward` with respect to its weights.

    dout (N, F, Ho, Wo), xp (N, C, Hp, Wp) -> dw (F, C, K, K),
    ``dw[f, c, i, j] = sum_{n, y, x} dout[n, f, y, x] * xp[n, c, s*y + i, s*x + j]``.

    Each task owns one (f, c) filter slice and sums over the batch and the image.
    """
    n_batch, filters, out_h, out_w = dout.shape
    channels, padded_w = xp.shape[1], xp.shape[3]
    dw = np.zeros((filters, channels, ksize, ksize), dtype=dout.dtype)
    phase_w = (padded_w + stride - 1) // stride
    for task in prange(filters * channels):
        f = task // channels
        c = task % channels
        acc = np.zeros((ksize, ksize), dtype=dout.dtype)
        phases = np.zeros((stride, phase_w), dtype=dout.dtype)
        for n in range(n_batch):
            for y in range(out_h):
                grad = dout[n, f, y]
                for i in range(ksize):
                    src = xp[n, c, stride * y + i]
                    if stride > 1:  # split the row into phases, as in conv2d_forward
                        for q in range(padded_w):
                            phases[q % stride, q // stride] = src[q]
                    for j in range(ksize):
                        total = acc[i, j]
                        if stride == 1:
                            for x in range(out_w):
                                total += grad[x] * src[x + j]
                        else:
                            run = phases[j % stride]
                            shift = j // stride
                            for x in range(out_w):
                                total += grad[x] * run[x + shift]
                        acc[i, j] = total
        dw[f, c] = acc
    return dw


@kernel
def channel_sum(dout):
    """Bias gradient: dout (N, F, H, W) -> (F,), ``db[f] = sum_{n, y, x} dout[n, f, y, x]``."""
    n_batch, filters, height, width = dout.shape
    db = np.zeros(filters, dtype=dout.dtype)
    for f in prange(filters):
        total = 0.0  # float64 accumulator: a sum over a whole batch of images
        for n in range(n_batch):
            for y in range(height):
                for x in range(width):
                    total += dout[n, f, y, x]
        db[f] = total
    return db
