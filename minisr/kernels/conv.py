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

How the work reduces to two fast stride-1 kernels
-------------------------------------------------
* **Input gradient = forward pass.** For stride 1, scattering ``w * dout`` back onto
  the input is the same as a "full" correlation of ``dout`` (zero-padded by K - 1)
  with the kernel flipped in both axes and its channel axes swapped:
  ``dxp = forward(pad(dout, K - 1), flip_transpose(w))``.
* **Stride s = stride 1 on the sub-pixel grid.** Split the input into its s x s
  phases (:func:`space_to_depth`: pixel (s*Y + py, s*X + px) of channel c becomes
  pixel (Y, X) of channel ``c*s*s + py*s + px``). Tap (i, j) = (py + s*ti, px + s*tj)
  of a stride-s kernel reads phase (py, px) at offset (ti, tj), so a stride-s
  convolution is a stride-1 convolution of the phases with a
  ``ceil(K/s) x ceil(K/s)`` kernel (:func:`subpixel_weights`). Its input gradient
  comes back through :func:`depth_to_space`: the deconvolution of FSRCNN is s*s small
  convolutions on the LR grid whose outputs interleave into the HR image.

The two kernels (:func:`forward_stride1`, :func:`weight_grad_stride1`) compute four
filters at a time, so that every input value loaded from memory feeds four
multiply-adds; the forward pass also adds up to three taps of a kernel row per
sweep along the row, sums each output row in a small scratch array over a whole
number of SIMD vectors (no scalar remainder loop: a 253-wide row cost a quarter more
without this), and writes the finished row, PReLU applied, into the interior of a
padded output if asked (inference: ``minisr/inference.py``). Every ``prange`` runs
over work that owns its output: output rows (forward), filter groups (weight
gradient).
"""

import numpy as np

from .._jit import kernel, prange

FILTER_BLOCK = 4  # filters computed together by the fast kernels
LANES = 16  # sweeps of the forward kernel run over a multiple of this many values


# ----------------------------------------------------------------------- fast kernels
@kernel
def forward_stride1(xp, w, b, batch, slopes, out, pad):
    """Stride-1 convolution. xp (C, Hp, Wp*N) C-contiguous, w (F, C, K, K), b (F,)
    -> (F, Ho, Wo*N) with Ho = Hp - K + 1, Wo = Wp - K + 1, written into the interior of
    ``out`` (F, Ho + 2*pad, (Wo + 2*pad)*N): ``out[f, pad + y, (pad + x)*N + n]``. The
    border of ``out`` is left as it is, so a zeroed buffer comes back zero-padded for
    the next layer (``pad`` = 0: ``out`` is exactly the result).

    ``slopes`` fuses a PReLU into the pass (inference): length F (per channel) or 1
    (shared) applies ``out = out if out > 0 else a * out`` to each finished row while it
    is still in cache; length 0 leaves the output linear.

    Tasks are (output row, group of 4 filters), then (output row, one of the last
    F % 4 filters). A task sums its rows in a small scratch array ``acc``, then copies
    them out (applying the PReLU). For each input row ``xp[c, y + i]`` the taps j, j+1,
    j+2 are applied in one sweep (then two, then one, for the last K % 3; a sweep whose
    twelve weights are all zero is skipped): ``acc[f, x] += w[f,c,i,j] * src[x + j*N] + ...`` for
    the 4 filters, the shifted rows taken as slices of the flat input so that the loop
    indexes from 0 (Numba then skips its negative-index check and vectorises).

    Every sweep runs over ``lanes`` = Wo*N rounded up to a multiple of LANES values: a
    whole number of SIMD vectors, with no scalar remainder loop (at 253 wide the
    remainder cost a quarter of the time). The extra values are read from the start of
    the next input row and land in the scratch columns that are not copied out; near the
    end of the array, where there is no next row, the sweeps stop at Wo*N.
    """
    channels, padded_h, padded_len = xp.shape
    filters, _, ksize, _ = w.shape
    out_h = padded_h - ksize + 1
    out_len = padded_len - (ksize - 1) * batch
    lanes = -(-out_len // LANES) * LANES
    flat = xp.reshape(-1)
    shift = pad * batch
    groups = filters // FILTER_BLOCK
    tail = filters - groups * FILTER_BLOCK
    per_row = groups + tail  # tasks per output row: the groups of 4, then single filters
    for task in prange(out_h * per_row):  # row-major: neighbouring tasks share input rows
        y = task // per_row
        first = task % per_row
        count = FILTER_BLOCK if first < groups else 1
        f = first * FILTER_BLOCK if first < groups else groups * FILTER_BLOCK + first - groups
        acc = np.empty((FILTER_BLOCK, lanes), dtype=xp.dtype)
        for k in range(count):
            acc[k, :] = b[f + k]
        r0, r1, r2, r3 = acc[0], acc[1], acc[2], acc[3]
        for c in range(channels):
            for i in range(ksize):
                row_start = (c * padded_h + y + i) * padded_len
                # whole vectors, unless they would run off the end of the array
                n = lanes if row_start + (ksize - 1) * batch + lanes <= flat.shape[0] else out_len
                j = 0
                while j + 3 <= ksize:  # three taps per sweep
                    s0 = flat[row_start + j * batch:]
                    s1 = flat[row_start + (j + 1) * batch:]
                    s2 = flat[row_start + (j + 2) * batch:]
                    if count == FILTER_BLOCK:
                        a0, a1, a2, a3 = w[f, c, i, j], w[f + 1, c, i, j], w[f + 2, c, i, j], w[f + 3, c, i, j]
                        b0, b1, b2, b3 = (w[f, c, i, j + 1], w[f + 1, c, i, j + 1],
                                          w[f + 2, c, i, j + 1], w[f + 3, c, i, j + 1])
                        c0, c1, c2, c3 = (w[f, c, i, j + 2], w[f + 1, c, i, j + 2],
                                          w[f + 2, c, i, j + 2], w[f + 3, c, i, j + 2])
                        if (a0 == 0 and a1 == 0 and a2 == 0 and a3 == 0 and b0 == 0 and b1 == 0
                                and b2 == 0 and b3 == 0 and c0 == 0 and c1 == 0 and c2 == 0 and c3 == 0):
                            j += 3  # nothing to add (the zero taps of a sub-pixel kernel)
                            continue
                        for x in range(n):
                            p, q, r = s0[x], s1[x], s2[x]
                            r0[x] += a0 * p + b0 * q + c0 * r
                            r1[x] += a1 * p + b1 * q + c1 * r
                            r2[x] += a2 * p + b2 * q + c2 * r
                            r3[x] += a3 * p + b3 * q + c3 * r
                    else:
                        a0, b0, c0 = w[f, c, i, j], w[f, c, i, j + 1], w[f, c, i, j + 2]
                        for x in range(n):
                            r0[x] += a0 * s0[x] + b0 * s1[x] + c0 * s2[x]
                    j += 3
                if j + 2 <= ksize:  # two taps in one sweep (K = 5: 3 + 2)
                    s0 = flat[row_start + j * batch:]
                    s1 = flat[row_start + (j + 1) * batch:]
                    if count == FILTER_BLOCK:
                        a0, a1, a2, a3 = w[f, c, i, j], w[f + 1, c, i, j], w[f + 2, c, i, j], w[f + 3, c, i, j]
                        b0, b1, b2, b3 = (w[f, c, i, j + 1], w[f + 1, c, i, j + 1],
                                          w[f + 2, c, i, j + 1], w[f + 3, c, i, j + 1])
                        for x in range(n):
                            p, q = s0[x], s1[x]
                            r0[x] += a0 * p + b0 * q
                            r1[x] += a1 * p + b1 * q
                            r2[x] += a2 * p + b2 * q
                            r3[x] += a3 * p + b3 * q
                    else:
                        a0, b0 = w[f, c, i, j], w[f, c, i, j + 1]
                        for x in range(n):
                            r0[x] += a0 * s0[x] + b0 * s1[x]
                    j += 2
                while j < ksize:  # the remaining tap
                    s0 = flat[row_start + j * batch:]
                    if count == FILTER_BLOCK:
                        a0, a1, a2, a3 = w[f, c, i, j], w[f + 1, c, i, j], w[f + 2, c, i, j], w[f + 3, c, i, j]
                        for x in range(n):
                            p = s0[x]
                            r0[x] += a0 * p
                            r1[x] += a1 * p
                            r2[x] += a2 * p
                            r3[x] += a3 * p
                    else:
                        a0 = w[f, c, i, j]
                        for x in range(n):
                            r0[x] += a0 * s0[x]
                    j += 1
        for k in range(count):  # copy out, with the PReLU if fused
            dst = out[f + k, y + pad][shift:shift + out_len]
            src = acc[k]
            if slopes.shape[0] == 0:
                for x in range(out_len):
                    dst[x] = src[x]
            else:
                slope = slopes[0] if slopes.shape[0] == 1 else slopes[f + k]
                for x in range(out_len):
                    v = src[x]
                    dst[x] = v if v > 0 else slope * v


@kernel
def weight_grad_stride1(dout, xp, ksize, batch):
    """Stride-1 weight gradient. dout (F, Ho, Wo*N) with F a multiple of 4,
    xp (C, Hp, Wp*N) with Hp >= Ho + K - 1 -> dw (F, C, K, K),
    ``dw[f, c, i, j] = sum_{y, x} dout[f, y, x] * xp[c, y + i, x + j*N]``.

    Tasks are (group of 4 filters, input channel): each owns its 4 x K x K slice.
    """
    filters, out_h, out_len = dout.shape
    channels = xp.shape[0]
    dw = np.zeros((filters, channels, ksize, ksize), dtype=dout.dtype)
    zero = np.zeros(1, dtype=dout.dtype)[0]  # accumulate in the data's precision
    groups = filters // FILTER_BLOCK
    for task in prange(groups * channels):
        f = (task // channels) * FILTER_BLOCK
        c = task % channels
        for y in range(out_h):
            g0, g1, g2, g3 = dout[f, y], dout[f + 1, y], dout[f + 2, y], dout[f + 3, y]
            for i in range(ksize):
                src = xp[c, y + i]
                for j in range(ksize):
                    s = src[j * batch:]
                    t0 = t1 = t2 = t3 = zero
                    for x in range(out_len):
                        v = s[x]
                        t0 += g0[x] * v
                        t1 += g1[x] * v
                        t2 += g2[x] * v
                        t3 += g3[x] * v
                    dw[f, c, i, j] += t0
                    dw[f + 1, c, i, j] += t1
                    dw[f + 2, c, i, j] += t2
                    dw[f + 3, c, i, j] += t3
    return dw


# ----------------------------------------------------------------------- sub-pixel grid
@kernel
def space_to_depth(x, stride, batch):
    """(C, H, W*N) -> (C*s*s, ceil(H/s), ceil(W/s)*N):
    ``out[c*s*s + py*s + px, Y, X] = x[c, s*Y + py, s*X + px]`` (zero past the edge)."""
    channels, height, length = x.shape
    width = length // batch
    out_h, out_w = -(-height // stride), -(-width // stride)
    out = np.zeros((channels * stride * stride, out_h, out_w * batch), dtype=x.dtype)
    for task in prange(channels * height):
        c = task // height
        y = task % height
        src = x[c, y]
        for px in range(min(stride, width)):  # columns px, px + s, px + 2s, ...
            dst = out[(c * stride + y % stride) * stride + px, y // stride]
            for big_x in range((width - px + stride - 1) // stride):
                q = stride * big_x + px
                for n in range(batch):
                    dst[big_x * batch + n] = src[q * batch + n]
    return out


@kernel
def depth_to_space(x, stride, batch, height, width, offset):
    """Inverse of :func:`space_to_depth`, keeping the ``height`` x ``width`` pixels that
    start at (``offset``, ``offset``), zeros past the sub-pixel grid:
    (C*s*s, H', W'*N) -> (C, height, width*N)."""
    channels = x.shape[0] // (stride * stride)
    sub_h, sub_w = x.shape[1], x.shape[2] // batch
    out = np.zeros((channels, height, width * batch), dtype=x.dtype)
    for task in prange(channels * height):
        c = task // height
        y = task % height
        sy = y + offset
        if sy // stride >= sub_h:
            continue  # past the sub-pixel grid: stays zero
        dst = out[c, y]
        for px in range(stride):  # source phase px fills columns q with (q + offset) % s == px
            src = x[(c * stride + sy % stride) * stride + px, sy // stride]
            q = (px - offset) % stride
            big_x = (q + offset) // stride
            count = min((width - q + stride - 1) // stride, sub_w - big_x)
            for k in range(count):  # output pixel q + s*k <- phase pixel big_x + k
                start = (q + stride * k) * batch
                first = (big_x + k) * batch
                for n in range(batch):
                    dst[start + n] = src[first + n]
    return out


def subpixel_weights(w, stride):
    """(F, C, K, K) -> (F, C*s*s, T, T), T = ceil(K/s):
    ``out[f, c*s*s + py*s + px, ti, tj] = w[f, c, py + s*ti, px + s*tj]`` (zero past K)."""
    filters, channels, ksize, _ = w.shape
    taps = -(-ksize // stride)
    padded = np.zeros((filters, channels, taps * stride, taps * stride), w.dtype)
    padded[:, :, :ksize, :ksize] = w
    # index (ti, py) of the padded kernel row is py + s*ti
    split = padded.reshape(filters, channels, taps, stride, taps, stride)
    return np.ascontiguousarray(split.transpose(0, 1, 3, 5, 2, 4)).reshape(
        filters, channels * stride * stride, taps, taps)


def subpixel_weights_inverse(w_sub, stride, ksize):
    """Inverse of :func:`subpixel_weights`: (F, C*s*s, T, T) -> (F, C, K, K)."""
    filters, sub_channels, taps, _ = w_sub.shape
    channels = sub_channels // (stride * stride)
    split = w_sub.reshape(filters, channels, stride, stride, taps, taps).transpose(0, 1, 4, 2, 5, 3)
    full = split.reshape(filters, channels, taps * stride, taps * stride)
    return np.ascontiguousarray(full[:, :, :ksize, :ksize])


def flip_transpose(w):
    """(F, C, K, K) -> (C, F, K, K) flipped in both spatial axes: the kernel that turns a
    forward pass into the input gradient."""
    return np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))


def _zero_pad(x, pad, batch):
    c, h, length = x.shape
    out = np.zeros((c, h + 2 * pad, length + 2 * pad * batch), x.dtype)
    out[:, pad:pad + h, pad * batch:pad * batch + length] = x
    return out


def _forward_any_filters(xp, w, b, batch, slopes=None, out=None, pad=0):
    """:func:`forward_stride1` into ``out`` (a new array if None, then ``pad`` = 0)."""
    slopes = np.zeros(0, xp.dtype) if slopes is None else np.ascontiguousarray(slopes, xp.dtype)
    if out is None:
        ksize = w.shape[2]
        out = np.empty((w.shape[0], xp.shape[1] - ksize + 1, xp.shape[2] - (ksize - 1) * batch), xp.dtype)
        pad = 0
    forward_stride1(np.ascontiguousarray(xp), np.ascontiguousarray(w), np.ascontiguousarray(b),
                    batch, slopes, out, pad)
    return out


def _weight_grad_any_filters(dout, xp, ksize, batch):
    filters = dout.shape[0]
    extra = -filters % FILTER_BLOCK
    if extra:
        dout = np.concatenate([dout, np.zeros((extra,) + dout.shape[1:], dout.dtype)])
    return weight_grad_stride1(dout, xp, ksize, batch)[:filters]


# ----------------------------------------------------------------------- the three kernels
def conv2d_forward(xp, w, b, stride, batch, slopes=None, out=None, pad=0):
    """Convolution of a padded input. xp (C, Hp, Wp*N), w (F, C, K, K), b (F,)
    -> out (F, Ho, Wo*N), ``Ho = (Hp - K) // stride + 1`` (same for W).
    Stride 1 only: ``slopes`` fuses a PReLU into the pass; ``out`` (F, Ho + 2*pad,
    (Wo + 2*pad)*N) receives the result in its interior (see :func:`forward_stride1`)."""
    if stride == 1:
        return _forward_any_filters(xp, w, b, batch, slopes, out, pad)
    if out is not None or slopes is not None:
        raise ValueError("conv2d_forward: out and slopes are for stride 1 only")
    ksize = w.shape[2]
    out_h = (xp.shape[1] - ksize) // stride + 1
    out_w = (xp.shape[2] // batch - ksize) // stride + 1
    phases = space_to_depth(xp, stride, batch)
    out = _forward_any_filters(phases, subpixel_weights(w, stride), b, batch)
    return np.ascontiguousarray(out[:, :out_h, :out_w * batch])


def conv2d_backward_input(dout, w, stride, padded_h, padded_w, batch, offset=0, bias=None,
                          dout_padded=False, work=None):
    """Gradient of :func:`conv2d_forward` with respect to its padded input.

    dout (F, Ho, Wo*N), w (F, C, K, K) -> dxp (C, padded_h, padded_w*N), where
    ``dxp[c, s*y + i, s*x + j] += w[f, c, i, j] * dout[f, y, x]``.

    For the deconvolution, ``offset`` crops: the result starts at pixel
    (offset, offset) of the full gradient; ``bias`` (C,) is added to every pixel.
    Inference passes ``dout`` already zero-padded by ``T - 1`` pixels
    (``dout_padded=True``, T = ceil(K / stride)) and ``work``, a reused array for the
    (C*s*s, Ho + T - 1, (Wo + T - 1)*N) sub-pixel result.
    """
    channels = w.shape[1]
    bias = np.zeros(channels, dout.dtype) if bias is None else bias
    if stride > 1:
        w = subpixel_weights(w, stride)
        bias = np.repeat(bias, stride * stride)  # every phase of channel c gets b[c]
    taps = w.shape[2]
    padded = dout if dout_padded else _zero_pad(dout, taps - 1, batch)
    grad = _forward_any_filters(padded, flip_transpose(w), bias, batch, out=work)
    if stride > 1:
        return depth_to_space(grad, stride, batch, padded_h, padded_w, offset)
    if offset or grad.shape[1] != padded_h:
        grad = np.ascontiguousarray(grad[:, offset:offset + padded_h,
                                         offset * batch:(offset + padded_w) * batch])
    return grad


def conv2d_backward_weight(dout, xp, stride, ksize, batch):
    """Gradient of :func:`conv2d_forward` with respect to its weights.

    dout (F, Ho, Wo*N), xp (C, Hp, Wp*N) -> dw (F, C, K, K),
    ``dw[f, c, i, j] = sum_{n, y, x} dout[f, y, x] * xp[c, s*y + i, s*x + j]``.
    """
    if stride == 1:
        return _weight_grad_any_filters(dout, xp, ksize, batch)
    taps = -(-ksize // stride)
    phases = space_to_depth(xp, stride, batch)
    return subpixel_weights_inverse(_weight_grad_any_filters(dout, phases, taps, batch), stride, ksize)


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
