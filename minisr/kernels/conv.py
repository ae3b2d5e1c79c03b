"""The three kernels of a k x k convolution (cross-correlation, no kernel flip).

Notation: padded input ``xp`` (C, Hp, Wp*N) in the batch-packed layout (see
``kernels/__init__.py``; pixel (y, x) of image n is ``xp[c, y, x*N + n]``), weights
``w`` (F, C, K, K), stride ``s``, output ``out`` (F, Ho, Wo*N) with
``Ho = (Hp - K) // s + 1``. Written per image n::

    forward:      out[f, y, x]   = b[f] + sum_{c, i, j} w[f, c, i, j] * xp[c, s*y + i, s*x + j]
    input grad:   dxp[c, s*y + i, s*x + j] += w[f, c, i, j] * dout[f, y, x]
    weight grad:  dw[f, c, i, j] = sum_{n, y, x} dout[f, y, x] * xp[c, s*y + i, s*x + j]

The transposed convolution (``Deconv2d``) is the same trio read backwards: its forward
pass is :func:`conv2d_backward_input` and its input gradient is :func:`conv2d_forward`
("DeconvolutionLayer is ConvolutionLayer with the forward and backward passes
reversed", Caffe).

Stride 1 (every convolution of FSRCNN): tap j of a row is the same row shifted by
j pixels = ``j*N`` elements, so the inner loops run over contiguous memory. (The shift
is taken as a slice, ``row[j*N:]``, and the loop indexes it from 0: Numba then knows
the index is not negative, skips its wrap-around check and vectorises the loop.)

Stride s > 1 (the deconvolution): a row is split into its s *phases*,
``phases[p, X] = row[s*X + p]`` (pixel granularity), the sub-pixel view: tap j of
output pixel x reads phase ``j % s`` at pixel ``x + j // s``, again a contiguous run.
The input gradient is accumulated in phase form and interleaved at the end.

Every kernel loops in parallel (``prange``) over work that owns its output: output
rows for the forward pass and the input gradient, (f, c) filter slices for the
weight gradient.
"""

import numpy as np

from .._jit import kernel, prange


# ----------------------------------------------------------------------- phases
@kernel
def split_phases(xp, stride, batch):
    """(C, H, W*N) -> (C, H, s, ceil(W/s)*N): ``out[c, y, p, X*N + n] = xp[c, y, (s*X + p)*N + n]``
    (zero where ``s*X + p >= W``)."""
    channels, height, length = xp.shape
    width = length // batch
    phase_w = (width + stride - 1) // stride
    out = np.zeros((channels, height, stride, phase_w * batch), dtype=xp.dtype)
    for task in prange(channels * height):
        c = task // height
        y = task % height
        for q in range(width):
            dst = out[c, y, q % stride]
            start = (q // stride) * batch
            for n in range(batch):
                dst[start + n] = xp[c, y, q * batch + n]
    return out


@kernel
def merge_phases(phases, width, batch):
    """Inverse of :func:`split_phases`: (C, H, s, L) -> (C, H, W*N), keeping W pixels."""
    channels, height, stride, _ = phases.shape
    out = np.empty((channels, height, width * batch), dtype=phases.dtype)
    for task in prange(channels * height):
        c = task // height
        y = task % height
        for q in range(width):
            src = phases[c, y, q % stride]
            start = (q // stride) * batch
            for n in range(batch):
                out[c, y, q * batch + n] = src[start + n]
    return out


# ----------------------------------------------------------------------- forward
def conv2d_forward(xp, w, b, stride, batch):
    """Convolution of a padded input. xp (C, Hp, Wp*N), w (F, C, K, K), b (F,)
    -> out (F, Ho, Wo*N), ``Ho = (Hp - K) // stride + 1`` (same for W)."""
    if stride == 1:
        return conv2d_forward_stride1(xp, w, b, batch)
    width = xp.shape[2] // batch
    return conv2d_forward_phases(split_phases(xp, stride, batch), w, b, stride, width, batch)


@kernel
def conv2d_forward_stride1(xp, w, b, batch):
    """:func:`conv2d_forward` for stride 1. Tasks are output rows (f, y)."""
    channels, padded_h, padded_len = xp.shape
    filters, _, ksize, _ = w.shape
    out_h = padded_h - ksize + 1
    out_len = padded_len - (ksize - 1) * batch
    out = np.empty((filters, out_h, out_len), dtype=xp.dtype)
    for task in prange(filters * out_h):
        f = task // out_h
        y = task % out_h
        row = out[f, y]
        row[:] = b[f]
        for c in range(channels):
            for i in range(ksize):
                for j in range(ksize):
                    weight = w[f, c, i, j]
                    src = xp[c, y + i, j * batch:]  # the row shifted by j pixels
                    for x in range(out_len):
                        row[x] += weight * src[x]
    return out


@kernel
def conv2d_forward_phases(phases, w, b, stride, padded_w, batch):
    """:func:`conv2d_forward` for stride s > 1, reading the input split into phases
    (C, Hp, s, L) by :func:`split_phases`. Tasks are output rows (f, y)."""
    channels, padded_h, _, _ = phases.shape
    filters, _, ksize, _ = w.shape
    out_h = (padded_h - ksize) // stride + 1
    out_len = ((padded_w - ksize) // stride + 1) * batch
    out = np.empty((filters, out_h, out_len), dtype=phases.dtype)
    for task in prange(filters * out_h):
        f = task // out_h
        y = task % out_h
        row = out[f, y]
        row[:] = b[f]
        for c in range(channels):
            for i in range(ksize):
                for j in range(ksize):
                    weight = w[f, c, i, j]
                    run = phases[c, stride * y + i, j % stride, (j // stride) * batch:]
                    for x in range(out_len):
                        row[x] += weight * run[x]
    return out


# ----------------------------------------------------------------------- input gradient
def conv2d_backward_input(dout, w, stride, padded_h, padded_w, batch):
    """Gradient of :func:`conv2d_forward` with respect to its padded input.

    dout (F, Ho, Wo*N), w (F, C, K, K) -> dxp (C, padded_h, padded_w*N), where
    ``dxp[c, s*y + i, s*x + j] += w[f, c, i, j] * dout[f, y, x]``.
    """
    if stride == 1:
        return conv2d_backward_input_stride1(dout, w, padded_h, padded_w, batch)
    phases = conv2d_backward_input_phases(dout, w, stride, padded_h, padded_w, batch)
    return merge_phases(phases, padded_w, batch)


@kernel
def conv2d_backward_input_stride1(dout, w, padded_h, padded_w, batch):
    """Stride-1 input gradient. Each task owns one row ``dxp[c, r]`` and gathers
    the kernel rows i with ``r = y + i``: no two threads write the same memory."""
    filters, out_h, out_len = dout.shape
    _, channels, ksize, _ = w.shape
    dxp = np.zeros((channels, padded_h, padded_w * batch), dtype=dout.dtype)
    for task in prange(channels * padded_h):
        c = task // padded_h
        r = task % padded_h
        row = dxp[c, r]
        for i in range(ksize):
            y = r - i
            if y < 0 or y >= out_h:
                continue
            for f in range(filters):
                grad = dout[f, y]
                for j in range(ksize):
                    weight = w[f, c, i, j]
                    dst = row[j * batch:]
                    for x in range(out_len):
                        dst[x] += weight * grad[x]
    return dxp


@kernel
def conv2d_backward_input_phases(dout, w, stride, padded_h, padded_w, batch):
    """Strided input gradient in phase form (C, padded_h, s, L): the column
    ``s*x + j`` of row ``s*y + i`` is phase ``j % s`` at pixel ``x + j // s``."""
    filters, out_h, out_len = dout.shape
    _, channels, ksize, _ = w.shape
    phase_len = ((padded_w + stride - 1) // stride) * batch
    phases = np.zeros((channels, padded_h, stride, phase_len), dtype=dout.dtype)
    for task in prange(channels * padded_h):
        c = task // padded_h
        r = task % padded_h
        for i in range(ksize):
            if (r - i) % stride != 0:
                continue
            y = (r - i) // stride
            if y < 0 or y >= out_h:
                continue
            for f in range(filters):
                grad = dout[f, y]
                for j in range(ksize):
                    weight = w[f, c, i, j]
                    run = phases[c, r, j % stride, (j // stride) * batch:]
                    for x in range(out_len):
                        run[x] += weight * grad[x]
    return phases


# ----------------------------------------------------------------------- weight gradient
def conv2d_backward_weight(dout, xp, stride, ksize, batch):
    """Gradient of :func:`conv2d_forward` with respect to its weights.

    dout (F, Ho, Wo*N), xp (C, Hp, Wp*N) -> dw (F, C, K, K),
    ``dw[f, c, i, j] = sum_{n, y, x} dout[f, y, x] * xp[c, s*y + i, s*x + j]``.
    """
    if stride == 1:
        src = xp.reshape(xp.shape[0], xp.shape[1], 1, xp.shape[2])
    else:
        src = split_phases(xp, stride, batch)
    return conv2d_backward_weight_phases(dout, src, stride, ksize, batch)


@kernel
def conv2d_backward_weight_phases(dout, phases, stride, ksize, batch):
    """Weight gradient from the input in phase form (C, Hp, s, L) (for stride 1,
    the input itself with a phase axis of length 1). Each task owns one (f, c)
    filter slice and sums over the batch and the image."""
    filters, out_h, out_len = dout.shape
    channels = phases.shape[0]
    dw = np.zeros((filters, channels, ksize, ksize), dtype=dout.dtype)
    zero = np.zeros(1, dtype=dout.dtype)[0]  # accumulate in the data's precision
    for task in prange(filters * channels):
        f = task // channels
        c = task % channels
        for y in range(out_h):
            grad = dout[f, y]
            for i in range(ksize):
                for j in range(ksize):
                    run = phases[c, stride * y + i, j % stride, (j // stride) * batch:]
                    total = zero
                    for x in range(out_len):
                        total += grad[x] * run[x]
                    dw[f, c, i, j] += total
    return dw


@kernel
def channel_sum(dout):
    """Bias gradient: dout (F, P) -> (F,), ``db[f] = sum_p dout[f, p]``."""
    filters, pixels = dout.shape
    db = np.zeros(filters, dtype=dout.dtype)
    for f in prange(filters):
        total = 0.0  # float64 accumulator: a sum over a whole batch of images
        for p in range(pixels):
            total += dout[f, p]
        db[f] = total
    return db
