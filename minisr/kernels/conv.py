"""The three kernels of a k x k convolution (cross-correlation, no kernel flip).

Notation: padded input ``xp`` (C, Hp, Wp*N) in the batch-packed layout (see
``kernels/__init__.py``; pixel (y, x) of image n is ``xp[c, y, x*N + n]``), weights
``w`` (F, C, K, K), stride ``s``, output ``out`` (F, Ho, Wo*N) with
``Ho = (Hp - K) // s + 1``. Written per image n::

    forward:      out[f, y, x]   = b[f] + sum_{c, i, j} w[f, c, i, j] * xp[c, s*y + i, s*x + j]
    input grad:   dxp[c, s*y + i, s*x + j] += w[f, c, i, j] * dout[f, y, x]
    weight grad:  dw[f, c, i, j] = sum_{n, y, x} dout[f, y, x] * xp[c, s*y + i, s*x + j]

The transposed convolution (``Deconv2d``) is the same trio read backwards: its forward
pass is the convolution's input gradient and its input gradient is a strided
convolution ("DeconvolutionLayer is ConvolutionLayer with the forward and backward
passes reversed", Caffe).

The functions the layers call are at the end of this file, under the names of
``reference.py`` and with its arguments (on batch-packed arrays, hence ``batch``; the
forward passes also take an optional ``out`` buffer for inference):
:func:`conv2d_forward`, :func:`conv2d_prelu_forward`, :func:`conv2d_backward_input`,
:func:`conv2d_backward_weight`, :func:`conv2d_backward_bias`,
:func:`conv_transpose2d_forward`, :func:`conv_transpose2d_backward_input`,
:func:`conv_transpose2d_backward_weight`. Above them: the two Numba kernels that do
the work, and the sub-pixel reshuffles.

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
padded output if asked (inference: each layer's ``infer_packed``). Every ``prange`` runs
over work that owns its output: output rows (forward), filter groups (weight
gradient).
"""

import numpy as np

from .._jit import kernel, prange
from .padding import pad2d_backward, pad2d_forward
from .pointwise import pointwise_backward_weight, pointwise_forward

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
                # Every sweep below repeats one shape with other names (as does
                # pointwise.pointwise_forward): written out for speed, so that Numba keeps
                # the weights and the four accumulator rows in registers.
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

    Tasks are (group of 4 filters, input channel): each owns its 4 x K x K slice. For
    each output row y and kernel row i, one sweep along the row sums three taps j, j+1,
    j+2 for the 4 filters: 12 running sums, so every value loaded (3 of the input, 4 of
    ``dout``) feeds 12 multiply-adds, not 4 (one tap per sweep: 1 + 4 loads for 4).
    The last K % 3 taps are summed one per sweep.
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
                j = 0
                # The 12 sums are written out (as in pointwise_backward_weight): a shared
                # helper returning them as a tuple was 10-30% slower here (measured).
                while j + 3 <= ksize:  # three taps per sweep: sums t<filter><tap>
                    s0, s1, s2 = src[j * batch:], src[(j + 1) * batch:], src[(j + 2) * batch:]
                    t00 = t01 = t02 = t10 = t11 = t12 = zero
                    t20 = t21 = t22 = t30 = t31 = t32 = zero
                    for x in range(out_len):
                        p, q, r = s0[x], s1[x], s2[x]
                        d0, d1, d2, d3 = g0[x], g1[x], g2[x], g3[x]
                        t00 += d0 * p
                        t01 += d0 * q
                        t02 += d0 * r
                        t10 += d1 * p
                        t11 += d1 * q
                        t12 += d1 * r
                        t20 += d2 * p
                        t21 += d2 * q
                        t22 += d2 * r
                        t30 += d3 * p
                        t31 += d3 * q
                        t32 += d3 * r
                    dw[f, c, i, j] += t00
                    dw[f, c, i, j + 1] += t01
                    dw[f, c, i, j + 2] += t02
                    dw[f + 1, c, i, j] += t10
                    dw[f + 1, c, i, j + 1] += t11
                    dw[f + 1, c, i, j + 2] += t12
                    dw[f + 2, c, i, j] += t20
                    dw[f + 2, c, i, j + 1] += t21
                    dw[f + 2, c, i, j + 2] += t22
                    dw[f + 3, c, i, j] += t30
                    dw[f + 3, c, i, j + 1] += t31
                    dw[f + 3, c, i, j + 2] += t32
                    j += 3
                while j < ksize:  # the last K % 3 taps, one per sweep
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
                    j += 1
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


def subpixel_kernel(w, stride):
    """The transposed convolution with weights ``w`` (C_in, C_out, K, K) and stride s as a
    stride-1 convolution on the LR grid: (C_out*s*s, C_in, T, T) weights, T = ceil(K/s),
    one group of C_out filters per output phase (``subpixel_weights``, then flipped and
    transposed as for an input gradient). Its output, of the input zero-padded by T - 1,
    interleaved by :func:`depth_to_space`, is the transposed convolution's canvas."""
    return flip_transpose(subpixel_weights(w, stride))


def _weight_grad_any_filters(dout, xp, ksize, batch):
    filters = dout.shape[0]
    extra = -filters % FILTER_BLOCK
    if extra:
        dout = np.concatenate([dout, np.zeros((extra,) + dout.shape[1:], dout.dtype)])
    return weight_grad_stride1(dout, xp, ksize, batch)[:filters]


def _output_buffer(out, filters, out_h, out_len, batch, dtype):
    """``out`` checked as a (F, Ho + 2q, (Wo + 2q)*N) buffer for a (F, Ho, Wo*N) result,
    and q; a new (F, Ho, Wo*N) array and q = 0 if ``out`` is None."""
    if out is None:
        return np.empty((filters, out_h, out_len), dtype), 0
    border = (out.shape[1] - out_h) // 2
    if (out.shape != (filters, out_h + 2 * border, out_len + 2 * border * batch) or border < 0
            or out.dtype != dtype or not out.flags.c_contiguous):
        raise ValueError(f"out: a C-contiguous {np.dtype(dtype)} buffer of shape (F, Ho + 2q, (Wo + 2q)*N) "
                         f"for a {(filters, out_h, out_len)} result, got {out.shape} {out.dtype}")
    return out, border


# ------------------------------------------------------------- the kernels layers call
# Each takes the arguments of its namesake in ``reference.py`` (on batch-packed arrays,
# hence ``batch``), plus an optional ``out`` buffer for inference.

def conv2d_forward(x, w, b, stride, pad, replicate, batch, out=None):
    """Convolution: x (C, H, W*N), w (F, C, K, K), b (F,) -> (F, Ho, Wo*N) with
    ``Ho = (H + 2*pad - K) // stride + 1`` (same for W); ``reference.conv2d_forward``.

    ``out`` (stride 1 only): a zero-bordered (F, Ho + 2q, (Wo + 2q)*N) buffer; the
    result is written into its centre and its q-pixel border left untouched, so a layer
    can hand the next layer its input already padded (inference).
    """
    return _conv2d_stride1_or_s(x, w, b, np.zeros(0, x.dtype), stride, pad, replicate, batch, out)


def conv2d_prelu_forward(x, w, b, slopes, pad, replicate, batch, out=None):
    """Stride-1 convolution with a PReLU fused into the pass (inference): the numbers of
    ``reference.prelu_forward(reference.conv2d_forward(x, w, b, 1, pad, replicate), slopes)``,
    each output row activated while it is still in cache. ``slopes`` (F,) or (1,);
    ``out`` as in :func:`conv2d_forward`."""
    slopes = np.ascontiguousarray(slopes, x.dtype)
    return _conv2d_stride1_or_s(x, w, b, slopes, 1, pad, replicate, batch, out)


def _conv2d_stride1_or_s(x, w, b, slopes, stride, pad, replicate, batch, out):
    filters, _, ksize, _ = w.shape
    xp = pad2d_forward(x, pad, replicate, batch) if pad else np.ascontiguousarray(x)
    b = np.ascontiguousarray(b, x.dtype)
    if stride > 1:  # stride 1 on the s*s phases of the input (module docstring)
        if out is not None:
            raise ValueError("conv2d_forward: out is for stride 1 only")
        out_h = (xp.shape[1] - ksize) // stride + 1
        out_w = (xp.shape[2] // batch - ksize) // stride + 1
        phases = space_to_depth(xp, stride, batch)
        y = _conv2d_stride1_or_s(phases, subpixel_weights(w, stride), b, slopes, 1, 0, False, batch, None)
        return np.ascontiguousarray(y[:, :out_h, :out_w * batch])
    out_h, out_len = xp.shape[1] - ksize + 1, xp.shape[2] - (ksize - 1) * batch
    out, border = _output_buffer(out, filters, out_h, out_len, batch, x.dtype)
    if ksize == 1:  # a matrix product over channels (pointwise.py)
        pointwise_forward(xp, np.ascontiguousarray(w.reshape(filters, -1)), b, slopes, out, border, batch)
    else:
        forward_stride1(xp, np.ascontiguousarray(w), b, batch, slopes, out, border)
    return out


def conv2d_backward_input(dy, w, stride, pad, replicate, height, width, batch):
    """Gradient of :func:`conv2d_forward` with respect to x: dy (F, Ho, Wo*N),
    w (F, C, K, K) -> dx (C, height, width*N), the scatter
    ``dxp[c, s*i + u, s*j + v] += w[f, c, u, v] * dy[f, i, j]`` folded back through the
    padding; ``reference.conv2d_backward_input``. The scatter is the transposed
    convolution of dy (the same weights, the canvas cropped to the padded input)."""
    no_bias = np.zeros(w.shape[1], dy.dtype)
    dxp = conv_transpose2d_forward(dy, w, no_bias, stride, 0, height + 2 * pad, width + 2 * pad, batch)
    return pad2d_backward(dxp, pad, replicate, batch) if pad else dxp


def conv2d_backward_weight(dy, x, stride, pad, replicate, ksize, batch):
    """Gradient of :func:`conv2d_forward` with respect to w: dy (F, Ho, Wo*N),
    x (C, H, W*N) -> dw (F, C, K, K),
    ``dw[f, c, u, v] = sum_{n, i, j} dy[f, i, j] * xp[c, s*i + u, s*j + v]``;
    ``reference.conv2d_backward_weight``."""
    xp = pad2d_forward(x, pad, replicate, batch) if pad else np.ascontiguousarray(x)
    filters, channels = dy.shape[0], xp.shape[0]
    if ksize == 1 and stride == 1:  # dw = dy @ x.T over every pixel (pointwise.py)
        dw = pointwise_backward_weight(np.ascontiguousarray(dy).reshape(filters, -1), xp.reshape(channels, -1))
        return dw.reshape(filters, channels, 1, 1)
    if stride == 1:
        return _weight_grad_any_filters(np.ascontiguousarray(dy), xp, ksize, batch)
    taps = -(-ksize // stride)
    phases = space_to_depth(xp, stride, batch)
    return subpixel_weights_inverse(_weight_grad_any_filters(np.ascontiguousarray(dy), phases, taps, batch),
                                    stride, ksize)


def conv2d_backward_bias(dy):
    """Bias gradient (of a convolution or a transposed convolution): dy (F, H, W*N) ->
    (F,), ``db[f] = sum of dy[f]``; ``reference.conv2d_backward_bias``."""
    return channel_sum(np.ascontiguousarray(dy).reshape(dy.shape[0], -1))


def conv_transpose2d_forward(x, w, b, stride, pad, out_h, out_w, batch):
    """Transposed convolution: x (C_in, H, W*N), w (C_in, C_out, K, K), b (C_out,) ->
    (C_out, out_h, out_w*N), the canvas ``full[o, s*i + u, s*j + v] += w[c, o, u, v] *
    x[c, i, j]`` cropped from (pad, pad), plus b; ``reference.conv_transpose2d_forward``.

    Computed on the LR grid: s*s stride-1 convolutions of x zero-padded by T - 1
    (T = ceil(K/s) taps), one per output phase, whose outputs interleave
    (:func:`subpixel_kernel`, :func:`depth_to_space`).
    """
    taps = -(-w.shape[2] // stride)
    phase_bias = np.repeat(np.asarray(b, x.dtype), stride * stride)  # every phase of o gets b[o]
    phases = conv2d_forward(x, subpixel_kernel(w, stride), phase_bias, 1, taps - 1, False, batch)
    return interleave_phases(phases, stride, batch, out_h, out_w, pad)


def interleave_phases(phases, stride, batch, out_h, out_w, offset):
    """The (C*s*s, H', W'*N) phase outputs of :func:`subpixel_kernel` as the
    (C, out_h, out_w*N) canvas crop that starts at (offset, offset)."""
    if stride == 1 and offset == 0 and phases.shape[1:] == (out_h, out_w * batch):
        return phases  # one phase: already the canvas (a convolution's input gradient)
    return depth_to_space(phases, stride, batch, out_h, out_w, offset)


def uncrop(dy, pad, canvas_h, canvas_w, batch):
    """Gradient of the crop of :func:`conv_transpose2d_forward`: dy (C_out, out_h,
    out_w*N) put back at (pad, pad) of a zero (C_out, canvas_h, canvas_w*N) canvas."""
    canvas = np.zeros((dy.shape[0], canvas_h, canvas_w * batch), dy.dtype)
    canvas[:, pad:pad + dy.shape[1], pad * batch:pad * batch + dy.shape[2]] = dy
    return canvas


def conv_transpose2d_backward_input(dy, w, stride, pad, height, width, batch):
    """Gradient of :func:`conv_transpose2d_forward` with respect to x: dy (C_out, out_h,
    out_w*N) -> dx (C_in, height, width*N),
    ``dx[c, i, j] = sum_{o, u, v} w[c, o, u, v] * dfull[o, s*i + u, s*j + v]``: the
    stride-s convolution of the uncropped gradient; ``reference.conv_transpose2d_backward_input``."""
    ksize = w.shape[2]
    canvas = uncrop(dy, pad, stride * (height - 1) + ksize, stride * (width - 1) + ksize, batch)
    return conv2d_forward(canvas, w, np.zeros(w.shape[0], dy.dtype), stride, 0, False, batch)


def conv_transpose2d_backward_weight(dy, x, stride, pad, ksize, batch):
    """Gradient of :func:`conv_transpose2d_forward` with respect to w: dy (C_out, out_h,
    out_w*N), x (C_in, H, W*N) -> dw (C_in, C_out, K, K),
    ``dw[c, o, u, v] = sum_{n, i, j} x[c, i, j] * dfull[o, s*i + u, s*j + v]``: the
    convolution's weight gradient with x as the upstream gradient;
    ``reference.conv_transpose2d_backward_weight``."""
    height, width = x.shape[1], x.shape[2] // batch
    canvas = uncrop(dy, pad, stride * (height - 1) + ksize, stride * (width - 1) + ksize, batch)
    return conv2d_backward_weight(x, canvas, stride, 0, False, ksize, batch)


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
