"""Pure Numba kernels: arrays in, arrays out, no state.

Two sets compute the same numbers:

* ``reference.py``: every formula of every layer as one plain loop nest on
  ``(N, C, H, W)`` arrays, its formula in its docstring. **Start here.**
  ``FSRCNN(..., kernels="reference")`` or ``MINISR_KERNELS=reference`` runs a whole
  model (``forward``, ``backward``, ``infer``, training) on them.
* ``conv.py``, ``pointwise.py``, ``padding.py``, ``prelu.py``: the fast kernels that
  every layer uses by default. They add up the same products in another order, so they
  agree with the references to rounding (``tests/test_reference_kernels.py`` checks
  every one, forward and backward, float32 and float64).

How the fast kernels get the same numbers sooner, trick by trick
----------------------------------------------------------------
Measured with ``NUMBA_NUM_THREADS=1 python -m minisr.bench --compare-kernels --repeat 10``
(FSRCNN(56, 12, 4) x3, float32, one 253x253 LR image, training batches of 128 patches
11x11; medians of 10 runs) on the 2-core test machine, one Numba thread, nothing else
running, 2026-12-02; even so one pass varies by a few tens of percent from run to run
on that virtual machine. All of it together: the whole inference pass took 25 ms with
the fast kernels and 1422 ms with the reference kernels (58x), a training step 21 ms
and 825 ms (39x). Each trick below is timed with and without it in the same run, the
rest unchanged (the last table of that command; the variants without a trick are in
``minisr/profiling.py``).

1. **Batch-packed layout.** The public layout is (N, C, H, W); inside, the kernels work
   on ``(C, H, W*N)`` arrays in which the N images are interleaved pixel by pixel::

       packed[c, y, x*N + n] = image[n, c, y, x]

   so that every pixel holds a contiguous run of N values, one per image, and a step
   of one pixel along a row is a step of N elements. The innermost loop of every fast
   kernel runs along such a row, which is ``W*N`` long: 253 for one 253x253 inference
   image, 1408 for a training batch of 128 patches 11 pixels wide, so it vectorises in
   both cases (a plain NCHW row of an 11x11 patch would be 11 long). For N = 1 the
   packed array *is* the (C, H, W) image. ``pack``/``unpack`` (in ``layers/base.py``)
   convert; the reference kernels index ``x[n, c, i, j]`` directly. Measured: a
   training step on the 128 patches as one packed batch took 22 ms, one patch at a
   time (rows 11 long, and 128 times the calls) 156 ms: 7.1x.
2. **Filter blocks** (``conv.forward_stride1``, ``conv.weight_grad_stride1``,
   ``pointwise.pointwise_forward``). Four filters are computed together, so every
   input value loaded from memory feeds four multiply-adds instead of one. Measured: a
   3x3 convolution 12 -> 12 on 253x253 took 1.6 ms four filters at a time, 4.3 ms one
   filter per call: 2.8x.
3. **Tap sweeps and whole vectors** (``conv.forward_stride1``). Up to three taps of a
   kernel row are applied in one sweep along the row (one load and store of the
   accumulator for three multiply-adds), each output row is summed in a small scratch
   array over a whole number of SIMD vectors (no scalar remainder loop), and sweeps
   whose weights are all zero are skipped. Measured together, against the same
   four-filter kernel with one tap per sweep over exactly the row
   (``profiling.forward_one_tap_per_sweep``): the 3x3 convolution 12 -> 12 on 253x253
   took 1.75 ms and 3.97 ms: 2.3x.
4. **Gradients as forward passes.** The input gradient of a stride-1 convolution, the
   scatter ``dxp[c, y + i, x + j] += w[f, c, i, j] * dout[f, y, x]`` of
   ``reference.conv2d_backward_input``, is the same sum as a forward convolution of
   ``dout`` padded by K - 1 with the kernel flipped and its channel axes swapped
   (``conv.flip_transpose``), so one well-tuned kernel does both; the transposed
   convolution is the convolution's kernels with the passes swapped, as in Caffe. Not
   a speed-up of its own to time apart: it is how the gradients get tricks 2, 3 and 5
   (the training step above, 39x the reference's, measures it with the rest).
5. **Sub-pixel deconvolution** (``conv.space_to_depth``, ``conv.subpixel_weights``,
   ``conv.depth_to_space``). ``reference.conv_transpose2d_forward`` stamps every input
   pixel onto the HR canvas; the same numbers come from s*s small stride-1
   convolutions on the LR grid (one per output phase, each with a ``ceil(K/s)`` x
   ``ceil(K/s)`` kernel) whose outputs interleave into the HR image. The stride-s
   convolution (the deconvolution's input gradient) is likewise stride 1 on the input's
   phases. Measured against the textbook alternative, the same stride-1 kernel on a
   zero-stuffed HR canvas (x at every s-th pixel, s*s times the multiply-adds, most of
   them by zero): 9x9 stride 3, 56 -> 1 channels on 253x253, 16 ms vs 91 ms: 5.8x.
6. **Fused PReLU and padded outputs** (``conv.conv2d_prelu_forward`` and the ``out``
   buffer of ``conv.conv2d_forward``, planned by each layer's ``infer_packed``;
   ``FSRCNN.infer``, fast kernels only). Each convolution applies its PReLU to an
   output row while the row is still in cache, writes straight into the interior of the next layer's padded input
   (so no layer pads a copy of its input), and those arrays are kept for the next call
   of the same size. Measured together: ``infer`` 25 ms, ``forward(x,
   exact_size=True)`` on the same fast kernels 37 ms: 1.5x. On the reference kernels
   ``infer`` is ``forward(x, exact_size=True)``.
7. **The 1x1 convolution as a matrix product** (``pointwise.py``): no padding, no
   taps, ``out = w @ x + b`` over every pixel of every image. The shrinking layer
   (1x1, 56 -> 12) took 2.2 ms fast and 254 ms on the reference kernel (117x; the
   reference's innermost loop walks the 56 input channels, H*W values apart).
8. **Many running sums per sweep in the weight gradients** (``conv.weight_grad_stride1``,
   ``pointwise.pointwise_backward_weight``). A weight gradient is a dot product over
   every pixel of the batch for each weight. One dot product per sweep loads two
   values for one multiply-add; summing 4 filters x 3 taps (or x 3 input channels) in
   one sweep keeps 12 sums in registers and loads 7 values for 12 multiply-adds.
   Measured (the table of the command above, one thread): the weight gradient of a
   3x3 convolution 12 -> 12 on the 128 patches took 0.24 ms with 12 sums per sweep and
   0.48 ms with 4 (``profiling.weight_grad_one_sum_per_sweep``): 2.0x. With the 1x1
   layers' blocks of 4 filters x 3 channels as well, the training step as
   ``python -m minisr.train`` runs it went from 10.0 to 9.0 ms (2 workers, medians of
   6 alternating processes each).
9. **Branch-free PReLU backward** (``prelu.prelu_backward``): both sides of each
   ``if`` are selects, so the loop vectorises. Measured against an ``if`` per value
   with a float64 sum per channel (``profiling.prelu_backward_with_branches``): 56
   channels of 253x253, 1.46 ms and 4.19 ms: 2.9x. A PReLU forward pass costs about the
   same on both sets of kernels (0.5 ms for 56 channels at 253x253).

Every ``prange`` of the fast kernels runs over work that owns its output (output rows,
filter groups), so the threads never add into the same value; the reference kernels
run on one thread. ``fastmath`` (re-association, contraction; ``minisr/_jit.py``) lets
the fast sums vectorise; the reference kernels are compiled without it.

Files: ``conv.py`` (a convolution's three kernels), ``pointwise.py`` (the 1x1 fast
path), ``padding.py`` (borders), ``prelu.py`` (the activation), ``reference.py``.
"""
