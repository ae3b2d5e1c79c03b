"""Pure Numba kernels: arrays in, arrays out, no state.

Memory layout: "batch-packed" rows
----------------------------------
The public layout of minisr is (N, C, H, W). Inside, the kernels work on
``(C, H, W*N)`` arrays in which the N images are interleaved pixel by pixel::

    packed[c, y, x*N + n] = image[n, c, y, x]

so that every pixel holds a contiguous run of N values, one per image. A step of one
pixel along a row is a step of N elements. The innermost loop of every kernel runs
along such a row, which is ``W*N`` long: 253 for one 253x253 inference image, 1408 for
a training batch of 128 patches 11 pixels wide, so it vectorises in both cases (a
plain NCHW row of an 11x11 patch would be 11 long). For N = 1 the packed array *is*
the (C, H, W) image. ``pack``/``unpack`` (in ``layers/base.py``) convert.

Three convolution kernels make every layer of FSRCNN (``conv.py``): a convolution's
forward pass, its input gradient and its weight gradient. The transposed convolution
(deconvolution) reuses them with the roles swapped, as Caffe does. ``pointwise.py`` is
the 1x1 convolution's fast path, ``padding.py`` the borders, ``prelu.py`` the
activation.
"""
