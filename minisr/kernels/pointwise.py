"""The 1x1 convolution's fast path: a matrix product over channels at every pixel.

    out[f, p] = b[f] + sum_c w[f, c] * x[c, p]        (p runs over every pixel of every image)

With the batch-packed layout, x is (C, H, W*N), every pixel of every image is a column,
and the layer is ``out = w @ x + b`` (Caffe's ``is_1x1_`` shortcut: no padding, no im2col). The input
gradient is the same product with ``w.T``; the weight gradient is ``dout @ x.T``.
"""

import numpy as np

from .._jit import kernel, prange

PIXEL_BLOCK = 512  # pixels per task: rows of this length stay in L1 cache
LANES = 16  # sweeps run over a multiple of this many values (see conv.forward_stride1)


@kernel
def pointwise_forward(x, w, b, slopes, out, pad, batch):
    """x (C, H, L) C-contiguous, w (F, C), b (F,) -> (F, H, L) written into the interior
    of ``out`` (F, H + 2*pad, L + 2*pad*N): ``out[f, pad + y, pad*N + q]``, border
    untouched (as in ``conv.forward_stride1``; ``pad`` = 0: ``out`` is exactly the result).

    ``slopes`` of length F or 1 fuses a PReLU (inference); length 0: linear output.

    Tasks are blocks of up to PIXEL_BLOCK pixels of one row; each computes every output
    channel of its block, four filters and two input channels per sweep (8 multiply-adds
    for every 4 values stored), summing in a scratch array over a whole number of SIMD
    vectors (``LANES``, as in ``conv.forward_stride1``: the extra values come from the
    next row and are not copied out).
    """
    channels, height, length = x.shape
    filters = w.shape[0]
    flat = x.reshape(-1)
    plane = height * length
    shift = pad * batch
    per_row = (length + PIXEL_BLOCK - 1) // PIXEL_BLOCK
    groups = filters // 4
    for task in prange(height * per_row):
        y = task // per_row
        start = (task % per_row) * PIXEL_BLOCK
        size = min(PIXEL_BLOCK, length - start)
        lanes = -(-size // LANES) * LANES
        if (channels - 1) * plane + y * length + start + lanes > flat.shape[0]:
            lanes = size  # no next row to read past into
        acc = np.empty((filters, lanes), dtype=x.dtype)
        for g in range(groups):
            f = 4 * g
            r0, r1, r2, r3 = acc[f], acc[f + 1], acc[f + 2], acc[f + 3]
            r0[:] = b[f]
            r1[:] = b[f + 1]
            r2[:] = b[f + 2]
            r3[:] = b[f + 3]
            c = 0
            # The same shape as conv.forward_stride1's two-tap sweep (other names): written
            # out for speed, so that Numba keeps the 8 weights and 4 rows in registers.
            while c < channels:  # two input channels per sweep, then the odd one
                u = flat[c * plane + y * length + start:]
                a0, a1, a2, a3 = w[f, c], w[f + 1, c], w[f + 2, c], w[f + 3, c]
                if c + 1 < channels:
                    v = flat[(c + 1) * plane + y * length + start:]
                    b0, b1, b2, b3 = w[f, c + 1], w[f + 1, c + 1], w[f + 2, c + 1], w[f + 3, c + 1]
                    for p in range(lanes):
                        up, vp = u[p], v[p]
                        r0[p] += a0 * up + b0 * vp
                        r1[p] += a1 * up + b1 * vp
                        r2[p] += a2 * up + b2 * vp
                        r3[p] += a3 * up + b3 * vp
                    c += 2
                else:
                    for p in range(lanes):
                        up = u[p]
                        r0[p] += a0 * up
                        r1[p] += a1 * up
                        r2[p] += a2 * up
                        r3[p] += a3 * up
                    c += 1
        for f in range(4 * groups, filters):  # the last F % 4 filters
            r = acc[f]
            r[:] = b[f]
            for c in range(channels):
                weight = w[f, c]
                u = flat[c * plane + y * length + start:]
                for p in range(lanes):
                    r[p] += weight * u[p]
        for f in range(filters):  # copy out, with the PReLU if fused
            dst = out[f, y + pad][shift + start:shift + start + size]
            src = acc[f]
            if slopes.shape[0] == 0:
                for p in range(size):
                    dst[p] = src[p]
            else:
                slope = slopes[0] if slopes.shape[0] == 1 else slopes[f]
                for p in range(size):
                    v = src[p]
                    dst[p] = v if v > 0 else slope * v


@kernel
def pointwise_backward_weight(dout, x):
    """dout (F, P), x (C, P) -> dw (F, C), ``dw[f, c] = sum_p dout[f, p] x[c, p]``.

    Tasks are blocks of 4 filters x 3 input channels: one sweep over the pixels keeps 12
    running sums, so every value loaded (4 of ``dout``, 3 of ``x``) feeds 12
    multiply-adds, where one sum per sweep would load 2 values for each. The filters and
    channels left over at the edges (F % 4, C % 3) are summed one pair per sweep.
    """
    filters, pixels = dout.shape
    channels = x.shape[0]
    dw = np.zeros((filters, channels), dtype=dout.dtype)
    zero = np.zeros(1, dtype=dout.dtype)[0]  # accumulate in the data's precision
    filter_blocks, channel_blocks = filters // 4, channels // 3
    for task in prange(filter_blocks * channel_blocks):
        f = (task // channel_blocks) * 4
        c = (task % channel_blocks) * 3
        g0, g1, g2, g3 = dout[f], dout[f + 1], dout[f + 2], dout[f + 3]
        u0, u1, u2 = x[c], x[c + 1], x[c + 2]
        t00 = t01 = t02 = t10 = t11 = t12 = zero
        t20 = t21 = t22 = t30 = t31 = t32 = zero
        for p in range(pixels):
            a, b, d = u0[p], u1[p], u2[p]
            e0, e1, e2, e3 = g0[p], g1[p], g2[p], g3[p]
            t00 += e0 * a
            t01 += e0 * b
            t02 += e0 * d
            t10 += e1 * a
            t11 += e1 * b
            t12 += e1 * d
            t20 += e2 * a
            t21 += e2 * b
            t22 += e2 * d
            t30 += e3 * a
            t31 += e3 * b
            t32 += e3 * d
        dw[f, c], dw[f, c + 1], dw[f, c + 2] = t00, t01, t02
        dw[f + 1, c], dw[f + 1, c + 1], dw[f + 1, c + 2] = t10, t11, t12
        dw[f + 2, c], dw[f + 2, c + 1], dw[f + 2, c + 2] = t20, t21, t22
        dw[f + 3, c], dw[f + 3, c + 1], dw[f + 3, c + 2] = t30, t31, t32
    # the edges: every (f, c) with f >= 4 * filter_blocks or c >= 3 * channel_blocks
    edge_filters = filters - 4 * filter_blocks
    edge_channels = channels - 3 * channel_blocks
    edge = edge_filters * channels + 4 * filter_blocks * edge_channels
    for task in prange(edge):
        if task < edge_filters * channels:
            f = 4 * filter_blocks + task // channels
            c = task % channels
        else:
            k = task - edge_filters * channels
            f = k // edge_channels
            c = 3 * channel_blocks + k % edge_channels
        total = zero
        grad = dout[f]
        src = x[c]
        for p in range(pixels):
            total += grad[p] * src[p]
        dw[f, c] = total
    return dw
