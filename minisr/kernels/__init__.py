"""Pure Numba kernels: arrays in, arrays out, no state.

Three convolution kernels make every layer of FSRCNN (``conv.py``): a convolution's
forward pass, its input gradient and its weight gradient. The transposed convolution
(deconvolution) reuses them with the roles swapped, as Caffe does. ``pointwise.py`` is
the 1x1 convolution's fast path, ``padding.py`` the borders, ``prelu.py`` the
activation. Layout is (N, C, H, W) everywhere.
"""
