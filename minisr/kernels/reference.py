"""Reference kernels: every layer of FSRCNN written as its formula, one loop nest each.

Read these first. They compute the same numbers as the fast kernels next to them
(``conv.py``, ``pointwise.py``, ``padding.py``, ``prelu.py``), which reorganise the same
sums for speed (how, trick by trick: ``kernels/__init__.py``). The tests check that the
two agree, forward and backward (``tests/test_reference_kernels.py``), and select them
with ``FSRCNN(..., kernels="reference")`` or ``MINISR_KERNELS=reference``.

Conventions
-----------
* Every array is ``(N, C, H, W)``: image n, channel c, row i, column j. Weights are
  ``(F, C, K, K)`` for a convolution (F output channels) and ``(C, O, K, K)`` for a
  transposed convolution (C input channels, O output channels), as in Caffe and PyTorch.
* Stride ``s``, padding ``p``. Padding is either zeros or the replicated border
  (``replicate=True``): the padded image is ``xp[n, c, r, q] = x[n, c, r - p, q - p]``
  inside, and outside either 0 or the nearest edge pixel. :func:`source_index` turns a
  padded coordinate into the coordinate of ``x`` it reads (or -1 for a zero).
* Pure functions: arrays in, new arrays out. Sums over many terms are added up in a
  float64 scalar ``total`` and rounded once to the arrays' dtype; scatters (``+=`` into
  an array) add in the arrays' dtype.
* Compiled by Numba (``reference_kernel`` in ``minisr/_jit.py``: no fastmath, no
  parallel loops) so that they run at training sizes; with ``NUMBA_DISABLE_JIT=1`` they
  are plain Python that a debugger steps through line by line.
"""

import numpy as np

from .._jit import reference_kernel


# ------------------------------------------------------------------------- padding
@reference_kernel
def source_index(r, size, replicate):
    """The coordinate of the unpadded image that padded coordinate ``r + p`` reads, given
    ``r`` (already shifted by ``-p``): ``r`` itself if ``0 <= r < size``; outside, the
    nearest edge ``clamp(r, 0, size - 1)`` (replicate) or -1 (zeros: nothing to read)."""
    if 0 <= r < size:
        return r
    if replicate:
        return min(max(r, 0), size - 1)
    return -1


@reference_kernel
def padded_pixel(x, n, c, r, q, replicate):
    """``xp[n, c, r + p, q + p]``: the value of the padded input at ``(r, q)`` given in
    the unpadded image's coordinates (negative, or past the edge, in the border): the
    pixel itself inside; outside, the nearest edge pixel (replicate) or 0 (zeros)."""
    i = source_index(r, x.shape[2], replicate)
    j = source_index(q, x.shape[3], replicate)
    if i < 0 or j < 0:
        return 0.0
    return x[n, c, i, j]


@reference_kernel
def pad2d_forward(x, pad, replicate):
    """Pad every side by ``pad`` pixels: x (N, C, H, W) -> xp (N, C, H + 2p, W + 2p)::

        xp[n, c, r, q] = x[n, c, r - p, q - p]                           inside
                       = 0                                               outside (zeros)
                       = x[n, c, clamp(r - p, 0, H-1), clamp(q - p, 0, W-1)]   (replicate)
    """
    n_images, channels, height, width = x.shape
    xp = np.zeros((n_images, channels, height + 2 * pad, width + 2 * pad), dtype=x.dtype)
    for n in range(n_images):
        for c in range(channels):
            for r in range(height + 2 * pad):
                for q in range(width + 2 * pad):
                    i = source_index(r - pad, height, replicate)
                    j = source_index(q - pad, width, replicate)
                    if i >= 0 and j >= 0:
                        xp[n, c, r, q] = x[n, c, i, j]
    return xp


@reference_kernel
def pad2d_backward(dxp, pad, replicate):
    """Gradient of :func:`pad2d_forward`: dxp (N, C, H + 2p, W + 2p) -> dx (N, C, H, W).
    Every padded pixel sends its gradient to the pixel it copied::

        dx[n, c, src(r - p), src(q - p)] += dxp[n, c, r, q]

    (zeros: only the interior copies anything, so this is the centre crop).
    """
    n_images, channels, padded_h, padded_w = dxp.shape
    height, width = padded_h - 2 * pad, padded_w - 2 * pad
    dx = np.zeros((n_images, channels, height, width), dtype=dxp.dtype)
    for n in range(n_images):
        for c in range(channels):
            for r in range(padded_h):
                for q in range(padded_w):
                    i = source_index(r - pad, height, replicate)
                    j = source_index(q - pad, width, replicate)
                    if i >= 0 and j >= 0:
                        dx[n, c, i, j] += dxp[n, c, r, q]
    return dx


# ------------------------------------------------------------------------- convolution
# The three loop nests below walk the same index space (images, filters, channels, output
# pixels, taps) in the orders their formulas sum in, so they look alike by design: each
# is its formula written out in full, which is what this file is for.
@reference_kernel
def conv2d_forward(x, w, b, stride, pad, replicate):
    """Convolution (cross-correlation, no kernel flip) with stride s and padding p.

    x (N, C, H, W), w (F, C, K, K), b (F,) -> y (N, F, Ho, Wo),
    ``Ho = (H + 2p - K) // s + 1`` (same for W)::

        y[n, f, i, j] = b[f] + sum_{c, u, v} w[f, c, u, v] * xp[n, c, s*i + u, s*j + v]

    with ``xp`` the padded input (see :func:`pad2d_forward`).
    """
    n_images, channels, height, width = x.shape
    filters, _, ksize, _ = w.shape
    out_h = (height + 2 * pad - ksize) // stride + 1
    out_w = (width + 2 * pad - ksize) // stride + 1
    y = np.empty((n_images, filters, out_h, out_w), dtype=x.dtype)
    for n in range(n_images):
        for f in range(filters):
            for i in range(out_h):
                for j in range(out_w):
                    total = 0.0
                    for c in range(channels):
                        for u in range(ksize):
                            for v in range(ksize):
                                total += w[f, c, u, v] * padded_pixel(x, n, c, stride * i + u - pad,
                                                                      stride * j + v - pad, replicate)
                    y[n, f, i, j] = b[f] + total
    return y


@reference_kernel
def conv2d_backward_input(dy, w, stride, pad, replicate, height, width):
    """Gradient of :func:`conv2d_forward` with respect to x, as a scatter: every output
    pixel sends ``w * dy`` back to the input pixels it read.

    dy (N, F, Ho, Wo), w (F, C, K, K) -> dx (N, C, height, width)::

        dxp[n, c, s*i + u, s*j + v] += w[f, c, u, v] * dy[n, f, i, j]

    and the padding's gradient folded in: the padded pixel (s*i + u, s*j + v) is the
    input pixel ``(src(s*i + u - p), src(s*j + v - p))`` (or a zero, which has none).
    """
    n_images, filters, out_h, out_w = dy.shape
    channels, ksize = w.shape[1], w.shape[2]
    dx = np.zeros((n_images, channels, height, width), dtype=dy.dtype)
    for n in range(n_images):
        for f in range(filters):
            for i in range(out_h):
                for j in range(out_w):
                    for c in range(channels):
                        for u in range(ksize):
                            for v in range(ksize):
                                r = source_index(stride * i + u - pad, height, replicate)
                                q = source_index(stride * j + v - pad, width, replicate)
                                if r >= 0 and q >= 0:
                                    dx[n, c, r, q] += w[f, c, u, v] * dy[n, f, i, j]
    return dx


@reference_kernel
def conv2d_backward_weight(dy, x, stride, pad, replicate, ksize):
    """Gradient of :func:`conv2d_forward` with respect to w.

    dy (N, F, Ho, Wo), x (N, C, H, W) -> dw (F, C, K, K)::

        dw[f, c, u, v] = sum_{n, i, j} dy[n, f, i, j] * xp[n, c, s*i + u, s*j + v]
    """
    n_images, filters, out_h, out_w = dy.shape
    channels = x.shape[1]
    dw = np.empty((filters, channels, ksize, ksize), dtype=dy.dtype)
    for f in range(filters):
        for c in range(channels):
            for u in range(ksize):
                for v in range(ksize):
                    total = 0.0
                    for n in range(n_images):
                        for i in range(out_h):
                            for j in range(out_w):
                                total += dy[n, f, i, j] * padded_pixel(x, n, c, stride * i + u - pad,
                                                                       stride * j + v - pad, replicate)
                    dw[f, c, u, v] = total
    return dw


@reference_kernel
def conv2d_backward_bias(dy):
    """Gradient with respect to the bias (of a convolution or a transposed convolution):
    dy (N, F, Ho, Wo) -> db (F,), ``db[f] = sum_{n, i, j} dy[n, f, i, j]``."""
    n_images, filters, out_h, out_w = dy.shape
    db = np.empty(filters, dtype=dy.dtype)
    for f in range(filters):
        total = 0.0
        for n in range(n_images):
            for i in range(out_h):
                for j in range(out_w):
                    total += dy[n, f, i, j]
        db[f] = total
    return db


# ------------------------------------------------------------------------- transposed convolution
@reference_kernel
def conv_transpose2d_forward(x, w, b, stride, pad, out_h, out_w):
    """Transposed convolution ("deconvolution"): the literal scatter-add, then the crop.

    x (N, C, H, W), w (C, O, K, K), b (O,) -> y (N, O, out_h, out_w). Every input pixel
    stamps its value times the kernel onto a canvas ``full`` (N, O, s*(H-1) + K,
    s*(W-1) + K), the stamps ``s`` pixels apart::

        full[n, o, s*i + u, s*j + v] += w[c, o, u, v] * x[n, c, i, j]
        y[n, o, r, q] = b[o] + full[n, o, r + p, q + p]

    Caffe's size is ``out_h = s*(H-1) + K - 2p`` (p pixels cropped from every side; for
    FSRCNN's K = 9, p = 4: ``s*H - s + 1``). At inference FSRCNN asks for exactly
    ``out_h = s*H``: the crop still starts at p and keeps s - 1 more rows of the canvas.
    Needs ``p + out_h <= s*(H-1) + K`` (``Deconv2d`` checks).
    """
    n_images, channels, height, width = x.shape
    out_channels, ksize = w.shape[1], w.shape[2]
    full = np.zeros((n_images, out_channels, stride * (height - 1) + ksize,
                     stride * (width - 1) + ksize), dtype=x.dtype)
    for n in range(n_images):
        for c in range(channels):
            for i in range(height):
                for j in range(width):
                    for o in range(out_channels):
                        for u in range(ksize):
                            for v in range(ksize):
                                full[n, o, stride * i + u, stride * j + v] += w[c, o, u, v] * x[n, c, i, j]
    y = np.empty((n_images, out_channels, out_h, out_w), dtype=x.dtype)
    for n in range(n_images):
        for o in range(out_channels):
            for r in range(out_h):
                for q in range(out_w):
                    y[n, o, r, q] = b[o] + full[n, o, r + pad, q + pad]
    return y


@reference_kernel
def uncrop(dy, pad, canvas_h, canvas_w):
    """Gradient of the crop in :func:`conv_transpose2d_forward`: dy (N, O, out_h, out_w)
    put back where it was cut from, in a zero canvas (N, O, canvas_h, canvas_w)::

        dfull[n, o, r + p, q + p] = dy[n, o, r, q]     (0 where nothing was kept)
    """
    n_images, out_channels, out_h, out_w = dy.shape
    dfull = np.zeros((n_images, out_channels, canvas_h, canvas_w), dtype=dy.dtype)
    for n in range(n_images):
        for o in range(out_channels):
            for r in range(out_h):
                for q in range(out_w):
                    dfull[n, o, r + pad, q + pad] = dy[n, o, r, q]
    return dfull


@reference_kernel
def conv_transpose2d_backward_input(dy, w, stride, pad, height, width):
    """Gradient of :func:`conv_transpose2d_forward` with respect to x: each input pixel
    gathers the gradient of every canvas pixel its stamp touched.

    dy (N, O, out_h, out_w), w (C, O, K, K) -> dx (N, C, height, width)::

        dfull = uncrop(dy)
        dx[n, c, i, j] = sum_{o, u, v} w[c, o, u, v] * dfull[n, o, s*i + u, s*j + v]

    (a strided convolution of ``dfull`` with the kernel: why Caffe runs a deconvolution's
    input gradient with the convolution's forward code).
    """
    ksize = w.shape[2]
    dfull = uncrop(dy, pad, stride * (height - 1) + ksize, stride * (width - 1) + ksize)
    # The formula above is conv2d_forward's, with dfull as the input and w read as
    # (C, O, K, K) filters: the same loop nest, so it is called rather than written again.
    return conv2d_forward(dfull, w, np.zeros(w.shape[0], dy.dtype), stride, 0, False)


@reference_kernel
def conv_transpose2d_backward_weight(dy, x, stride, pad, ksize):
    """Gradient of :func:`conv_transpose2d_forward` with respect to w.

    dy (N, O, out_h, out_w), x (N, C, H, W) -> dw (C, O, K, K)::

        dfull = uncrop(dy)
        dw[c, o, u, v] = sum_{n, i, j} x[n, c, i, j] * dfull[n, o, s*i + u, s*j + v]

    The bias gradient is :func:`conv2d_backward_bias` of dy.
    """
    height, width = x.shape[2], x.shape[3]
    dfull = uncrop(dy, pad, stride * (height - 1) + ksize, stride * (width - 1) + ksize)
    # The formula above is conv2d_backward_weight's, with x as the upstream gradient and
    # dfull as the input: the same loop nest, so it is called rather than written again.
    return conv2d_backward_weight(x, dfull, stride, 0, False, ksize)


# ------------------------------------------------------------------------- PReLU
@reference_kernel
def prelu_forward(x, slopes):
    """Parametric ReLU: x (N, C, H, W), slopes (C,) or (1,) (shared) -> y (N, C, H, W)::

        y[n, c, i, j] = x[n, c, i, j]          if x[n, c, i, j] > 0
                      = a[c] * x[n, c, i, j]   otherwise

    where ``a[c] = slopes[c]`` (one slope per channel) or ``slopes[0]`` (shared).
    """
    n_images, channels, height, width = x.shape
    y = np.empty_like(x)
    for n in range(n_images):
        for c in range(channels):
            a = slopes[0] if slopes.shape[0] == 1 else slopes[c]
            for i in range(height):
                for j in range(width):
                    v = x[n, c, i, j]
                    y[n, c, i, j] = v if v > 0 else a * v
    return y


@reference_kernel
def prelu_backward(x, slopes, dy):
    """Gradients of :func:`prelu_forward`: x, dy (N, C, H, W) -> (dx (N, C, H, W),
    dslopes with the shape of ``slopes``)::

        dx[n, c, i, j] = dy[n, c, i, j]          if x[n, c, i, j] > 0
                       = a[c] * dy[n, c, i, j]   otherwise
        da[c] = sum_{n, i, j with x <= 0} dy[n, c, i, j] * x[n, c, i, j]

    A shared slope gets the sum over every channel, ``da[0] = sum_c da[c]``.
    """
    n_images, channels, height, width = x.shape
    shared = slopes.shape[0] == 1
    dx = np.empty_like(dy)
    totals = np.zeros(slopes.shape[0], dtype=np.float64)
    for n in range(n_images):
        for c in range(channels):
            a = slopes[0] if shared else slopes[c]
            k = 0 if shared else c  # which slope channel c uses
            for i in range(height):
                for j in range(width):
                    v = x[n, c, i, j]
                    g = dy[n, c, i, j]
                    if v > 0:
                        dx[n, c, i, j] = g
                    else:
                        dx[n, c, i, j] = a * g
                        totals[k] += g * v
    return dx, totals.astype(slopes.dtype)
