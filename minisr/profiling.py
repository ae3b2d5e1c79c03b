"""Timing FSRCNN's passes, layer by layer: the measurements behind ``python -m minisr.bench``
(and ``benchmarks/speed.py``).

Every time is the median of ``repeat`` runs after a warm-up run (which also triggers
Numba's compilation); FLOP counts are 2 per multiply-add. The functions return numbers
(rows of ``(name, seconds, flops)``) or, for the comparisons, markdown tables.
"""

import time

import numpy as np

from ._jit import kernel, prange
from .kernels.prelu import prelu_backward
from .layers import Deconv2d, mse_loss
from .layers.base import KERNEL_CHOICES, Workspace, pack, unpack
from .model import FSRCNN, inference_steps
from .training.parallel import DataParallel


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def gemm_gflops(size: int = 1024, repeat: int = 5) -> float:
    """float32 GEMM speed of NumPy's BLAS on ``size`` x ``size`` matrices."""
    rng = np.random.default_rng(0)
    a = rng.random((size, size), dtype=np.float32)
    b = rng.random((size, size), dtype=np.float32)
    a @ b
    return 2 * size ** 3 / median_time(lambda: a @ b, repeat) / 1e9


def layer_flops(layer, batch: int, packed_input: np.ndarray, border: int = 0) -> float:
    """2 FLOP per multiply-add, for every input pixel of every image (not counting a
    ``border`` already around the input)."""
    _, h, length = packed_input.shape
    return 2.0 * layer.macs_per_input_pixel() * (h - 2 * border) * (length - 2 * border * batch)


def profile_forward(model: FSRCNN, x: np.ndarray, repeat: int):
    """Time each step of ``FSRCNN.infer`` (a convolution with its fused PReLU) on its
    real input, as ``infer`` runs it (``infer_packed``, bordered input, a kept
    workspace). Returns rows and the whole pass's time."""
    model.infer(x)  # warm-up (compiles on first use)
    total = median_time(lambda: model.infer(x), repeat)
    names = {id(layer): name for name, layer in model.named_layers}
    steps = inference_steps(model.layers[:-1]) + [(model.deconv, None)]
    rows, batch, workspace = [], x.shape[0], Workspace()
    h, border = pack(x), 0
    for index, (layer, prelu) in enumerate(steps):
        if layer is model.deconv:
            options = {"output_size": (model.scale * x.shape[2], model.scale * x.shape[3])}
        else:
            options = {"out_border": steps[index + 1][0].input_border()}
            if prelu is not None:
                options["prelu"] = prelu

        def run(layer=layer, h=h, border=border, options=options):
            return layer.infer_packed(h, batch, border, workspace, **options)

        seconds = median_time(run, repeat)
        name = names[id(layer)] + ("" if prelu is None else "+prelu")
        rows.append((name, seconds, layer_flops(layer, batch, h, border)))
        h, border = run()
    return rows, total


def data_parallel_step_time(model: FSRCNN, x: np.ndarray, target: np.ndarray, repeat: int) -> float:
    """The training step as ``python -m minisr.train`` runs it: the batch split across
    one worker thread per Numba thread (``minisr/training/parallel.py``)."""
    import numba
    parallel = DataParallel(model, numba.get_num_threads())
    try:
        parallel.gradients(x, target)
        return median_time(lambda: parallel.gradients(x, target), repeat)
    finally:
        parallel.close()


def profile_training_step(model: FSRCNN, x: np.ndarray, target: np.ndarray, repeat: int):
    """Time each layer's forward + backward inside a full training step (the first
    layer's input gradient is skipped, as in training), every kernel using all of
    Numba's threads. Returns the rows and the whole step's time."""
    def step():
        model.zero_grad()
        _, dy = mse_loss(model.forward(x), target)
        model.backward(dy, input_grad=False)

    step()
    total = median_time(step, repeat)
    batch, h = x.shape[0], pack(x)
    inputs = []
    for layer in model.layers:
        inputs.append(h)
        h = layer.forward_packed(h, batch)
    _, dy = mse_loss(unpack(h, batch), target)
    d = pack(dy)
    grads = [None] * len(model.layers)
    for i in reversed(range(len(model.layers))):
        grads[i] = d
        d = model.layers[i].backward_packed(d, input_grad=i > 0)
    rows = []
    for i, ((name, layer), inp, grad) in enumerate(zip(model.named_layers, inputs, grads)):
        def fwd_bwd(layer=layer, inp=inp, grad=grad, first=i == 0):
            layer.forward_packed(inp, batch)
            layer.backward_packed(grad, input_grad=not first)
        seconds = median_time(fwd_bwd, repeat)
        products = 2 if i == 0 else 3  # forward, weight gradient, input gradient
        rows.append((name, seconds, products * layer_flops(layer, batch, inp)))
    return rows, total


def compare_kernels(d, s, m, scale, lr_size, batch, patch, repeat) -> str:
    """A markdown table: each pass on the fast and on the reference kernels, same inputs,
    same run (medians of ``repeat`` runs after a warm-up), for FSRCNN(d, s, m) x``scale``
    on one ``lr_size`` image and ``batch`` patches of ``patch`` pixels."""
    rng = np.random.default_rng(0)
    size = lr_size
    x = rng.random((1, 1, size, size), dtype=np.float32)
    xb = rng.random((batch, 1, patch, patch), dtype=np.float32)
    times = {}  # row name -> {kernels: seconds}

    def timed(row, kernels, fn):
        fn()  # warm-up (compiles on first use)
        times.setdefault(row, {})[kernels] = median_time(fn, repeat)
        return fn()

    for kernels in KERNEL_CHOICES:
        model = FSRCNN(d, s, m, scale, kernels=kernels)
        target = np.random.default_rng(1).random(model.forward(xb).shape, dtype=np.float32)

        def step(model=model, target=target):
            model.zero_grad()
            _, dy = mse_loss(model.forward(xb), target)
            model.backward(dy, input_grad=False)

        timed(f"forward (infer), LR {size}x{size}", kernels, lambda: model.infer(x))
        timed(f"forward(x, exact_size=True), LR {size}x{size}", kernels,
              lambda: model.forward(x, exact_size=True))
        timed(f"training step, {batch} patches {patch}x{patch}", kernels, step)
        h = pack(x)
        for name, layer in model.named_layers:  # each layer's forward pass on its real input
            if isinstance(layer, Deconv2d):
                out = (scale * size, scale * size)
                h = timed(f"{name} forward", kernels,
                          lambda layer=layer, h=h: layer.forward_packed(h, 1, output_size=out))
            else:
                h = timed(f"{name} forward", kernels, lambda layer=layer, h=h: layer.forward_packed(h, 1))
    lines = ["| pass | fast ms | reference ms | reference / fast |", "|---|---:|---:|---:|"]
    for row, t in times.items():
        lines.append(f"| {row} | {t['fast'] * 1e3:.2f} | {t['reference'] * 1e3:.1f} | "
                     f"{t['reference'] / t['fast']:.0f}x |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# The variants some tricks are measured against: the fast kernel without the trick.
@kernel
def forward_one_tap_per_sweep(xp, w, b, batch):
    """``conv.forward_stride1`` without trick 3: the same four-filter blocks and row
    tasks, but one tap per sweep, each sweep over exactly Wo*N values (a scalar
    remainder loop where that is not a whole number of SIMD vectors), no skipped
    zero taps. xp (C, Hp, Wp*N), w (F, C, K, K) with F a multiple of 4 -> (F, Ho, Wo*N)."""
    channels, padded_h, padded_len = xp.shape
    filters, _, ksize, _ = w.shape
    out_h, out_len = padded_h - ksize + 1, padded_len - (ksize - 1) * batch
    out = np.empty((filters, out_h, out_len), dtype=xp.dtype)
    groups = filters // 4
    for task in prange(out_h * groups):
        y, f = task // groups, (task % groups) * 4
        r0, r1, r2, r3 = out[f, y], out[f + 1, y], out[f + 2, y], out[f + 3, y]
        r0[:], r1[:], r2[:], r3[:] = b[f], b[f + 1], b[f + 2], b[f + 3]
        for c in range(channels):
            for i in range(ksize):
                for j in range(ksize):
                    src = xp[c, y + i, j * batch:j * batch + out_len]
                    a0, a1, a2, a3 = w[f, c, i, j], w[f + 1, c, i, j], w[f + 2, c, i, j], w[f + 3, c, i, j]
                    for x in range(out_len):
                        v = src[x]
                        r0[x] += a0 * v
                        r1[x] += a1 * v
                        r2[x] += a2 * v
                        r3[x] += a3 * v
    return out


@kernel
def weight_grad_one_sum_per_sweep(dout, xp, ksize, batch):
    """``conv.weight_grad_stride1`` without trick 8: the same (4 filters, channel) tasks,
    but one tap per sweep, 4 running sums. dout (F, Ho, Wo*N) with F a multiple of 4,
    xp (C, Hp, Wp*N) -> dw (F, C, K, K)."""
    filters, out_h, out_len = dout.shape
    channels = xp.shape[0]
    dw = np.zeros((filters, channels, ksize, ksize), dtype=dout.dtype)
    zero = np.zeros(1, dtype=dout.dtype)[0]
    groups = filters // 4
    for task in prange(groups * channels):
        f, c = (task // channels) * 4, task % channels
        for y in range(out_h):
            g0, g1, g2, g3 = dout[f, y], dout[f + 1, y], dout[f + 2, y], dout[f + 3, y]
            for i in range(ksize):
                for j in range(ksize):
                    s = xp[c, y + i, j * batch:]
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


@kernel
def prelu_backward_with_branches(x, slopes, dout):
    """``prelu.prelu_backward`` without trick 9: an ``if`` per value and one float64
    sum per channel. x, dout (C, P) -> (dx (C, P), dslopes (C,)); per-channel slopes."""
    channels, pixels = x.shape
    dx = np.empty_like(dout)
    dslopes = np.empty_like(slopes)
    for c in prange(channels):
        total = 0.0
        for p in range(pixels):
            if x[c, p] > 0:
                dx[c, p] = dout[c, p]
            else:
                dx[c, p] = slopes[c] * dout[c, p]
                total += dout[c, p] * x[c, p]
        dslopes[c] = total
    return dx, dslopes


def trick_ablations(d, s, m, scale, lr_size, batch, patch, repeat) -> str:
    """A markdown table: some of the fast kernels' tricks (``minisr/kernels/__init__.py``),
    each timed with and without it, everything else the same (fast kernels, float32;
    the sizes as for :func:`compare_kernels`)."""
    from .kernels.conv import conv2d_forward, conv_transpose2d_forward, flip_transpose, weight_grad_stride1

    rng = np.random.default_rng(0)
    size = lr_size
    model = FSRCNN(d, s, m, scale, kernels="fast")
    rows = []

    def compare(trick, with_it, without_it):
        with_it(), without_it()  # warm-up (compiles on first use)
        rows.append((trick, median_time(with_it, repeat), median_time(without_it, repeat)))

    # Fused PReLU, padded outputs and a kept workspace (the layers' infer_packed) vs forward().
    x = rng.random((1, 1, size, size), dtype=np.float32)
    compare(f"fused PReLU + padded outputs + workspace: infer() vs forward(), LR {size}x{size}",
            lambda: model.infer(x), lambda: model.forward(x, exact_size=True))

    # Batch-packed rows: one call on the whole batch vs one call per patch (rows P long).
    xb = rng.random((batch, 1, patch, patch), dtype=np.float32)
    target = rng.random(model.forward(xb).shape, dtype=np.float32)

    def step(lo, hi):
        _, dy = mse_loss(model.forward(xb[lo:hi]), target[lo:hi])
        model.backward(dy, input_grad=False)

    compare(f"batch-packed rows: training step on {batch} patches {patch}x{patch}, "
            "one call vs one call per patch",
            lambda: step(0, batch), lambda: [step(k, k + 1) for k in range(batch)])

    # Filter blocks: a 3x3 s -> s layer, four filters per task vs one filter per call.
    hp = rng.random((s, size + 2, size + 2), dtype=np.float32)
    w = rng.normal(size=(s, s, 3, 3)).astype(np.float32)
    b = np.zeros(s, np.float32)
    compare(f"filter blocks: 3x3 convolution {s} -> {s} on {size}x{size}, 4 filters at a time vs 1",
            lambda: conv2d_forward(hp, w, b, 1, 0, False, 1),
            lambda: [conv2d_forward(hp, w[f:f + 1], b[f:f + 1], 1, 0, False, 1) for f in range(s)])

    # Tap sweeps and whole vectors: the same layer, three taps per sweep over whole SIMD
    # vectors vs one tap per sweep over exactly the row (filters: a multiple of 4 here).
    f4 = s - s % 4 or 4
    w4, b4 = rng.normal(size=(f4, s, 3, 3)).astype(np.float32), np.zeros(f4, np.float32)
    np.testing.assert_allclose(forward_one_tap_per_sweep(hp, w4, b4, 1), conv2d_forward(hp, w4, b4, 1, 0, False, 1),
                               rtol=1e-4, atol=1e-4)  # the same numbers
    compare(f"tap sweeps + whole vectors: 3x3 convolution {s} -> {f4} on {size}x{size}, "
            "3 taps per sweep vs 1", lambda: conv2d_forward(hp, w4, b4, 1, 0, False, 1),
            lambda: forward_one_tap_per_sweep(hp, w4, b4, 1))

    # Many running sums per sweep: a 3x3 s -> s layer's weight gradient on a training
    # batch, 4 filters x 3 taps per sweep vs one tap per sweep.
    xpb = rng.random((s, patch + 2, (patch + 2) * batch), dtype=np.float32)
    dyb = rng.normal(size=(f4, patch, patch * batch)).astype(np.float32)
    np.testing.assert_allclose(weight_grad_stride1(dyb, xpb, 3, batch), weight_grad_one_sum_per_sweep(dyb, xpb, 3, batch),
                               rtol=1e-3, atol=1e-2)  # the same sums (of ~10^4 terms), in another order
    compare(f"running sums per sweep: weight gradient of a 3x3 convolution {s} -> {f4}, {batch} patches "
            f"{patch}x{patch}, 12 sums per sweep vs 4", lambda: weight_grad_stride1(dyb, xpb, 3, batch),
            lambda: weight_grad_one_sum_per_sweep(dyb, xpb, 3, batch))

    # Branch-free PReLU backward vs an if per value with a float64 sum.
    xd = rng.normal(size=(d, size * size)).astype(np.float32)
    gd = rng.normal(size=(d, size * size)).astype(np.float32)
    slopes = np.full(d, 0.25, np.float32)
    np.testing.assert_allclose(prelu_backward(xd, slopes, gd)[0], prelu_backward_with_branches(xd, slopes, gd)[0])
    compare(f"branch-free PReLU backward: {d} channels of {size}x{size}, selects vs branches",
            lambda: prelu_backward(xd, slopes, gd), lambda: prelu_backward_with_branches(xd, slopes, gd))

    # Sub-pixel deconvolution vs the same stride-1 kernel on a zero-stuffed canvas.
    deconv, k = model.deconv, model.deconv.kernel_size
    h = rng.random((d, size, size), dtype=np.float32)
    wd = rng.normal(scale=1e-3, size=deconv.weight.shape).astype(np.float32)
    bd = np.zeros(1, np.float32)
    out, p = scale * size, deconv.padding

    def sub_pixel():
        return conv_transpose2d_forward(h, wd, bd, scale, p, out, out, 1)

    def zero_stuffed():  # x at every s-th pixel of a zero canvas, padded by k - 1: s*s times the work
        stuffed = np.zeros((d, scale * (size - 1) + 1 + 2 * (k - 1), scale * (size - 1) + 1 + 2 * (k - 1)),
                           np.float32)
        stuffed[:, k - 1:k - 1 + scale * (size - 1) + 1:scale, k - 1:k - 1 + scale * (size - 1) + 1:scale] = h
        full = conv2d_forward(stuffed, flip_transpose(wd), bd, 1, 0, False, 1)
        return full[:, p:p + out, p:p + out]

    np.testing.assert_allclose(sub_pixel(), zero_stuffed(), rtol=1e-4, atol=1e-6)  # the same numbers
    compare(f"sub-pixel deconvolution: 9x9 stride {scale}, {d} -> 1 on {size}x{size}, "
            "sub-pixel vs zero-stuffed", sub_pixel, zero_stuffed)

    lines = ["| trick | with ms | without ms | speed-up |", "|---|---:|---:|---:|"]
    for trick, with_it, without_it in rows:
        lines.append(f"| {trick} | {with_it * 1e3:.2f} | {without_it * 1e3:.2f} | {without_it / with_it:.1f}x |")
    return "\n".join(lines)
