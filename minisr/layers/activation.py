"""PReLU: the parametric ReLU that follows every convolution in FSRCNN."""

import numpy as np

from ..kernels import reference
from ..kernels.prelu import prelu_backward, prelu_forward
from .base import Layer, Parameter, pack, require_forward, unpack


class PReLU(Layer):
    """Parametric ReLU, element-wise on (N, C, H, W)::

        y[n, c, i, j] = x             if x > 0
                      = a[c] * x      otherwise
        dx = dy if x > 0 else a[c] * dy
        da[c] = sum_{n, i, j with x <= 0} dy * x

    One learnable slope per channel (``slope`` of shape (C,)), or one slope shared by
    all channels (``shared=True``, shape (1,), as in the authors' released weights; its
    gradient sums over every channel). Slopes start at ``init`` = 0.25 (He et al. 2015).

    Reference kernels (``kernels="reference"``): :func:`minisr.kernels.reference.prelu_forward`,
    ``prelu_backward``. Fast kernels: ``kernels/prelu.py`` (and, at inference, fused into
    the convolution before it).
    """

    def __init__(self, channels: int, shared: bool = False, init: float = 0.25,
                 dtype=np.float32, kernels=None):
        super().__init__(kernels)
        self.channels = channels
        self.shared = shared
        self.slope = Parameter(np.full(1 if shared else channels, init, dtype))
        self.params = {"slope": self.slope}
        self._cache = None  # the input: its sign picks the branch, its value is da's factor

    @property
    def in_channels(self):
        return self.channels

    def forward_packed(self, x, batch):
        """x (C, H, W*N) -> same shape."""
        self._cache = x
        if self.use_reference_kernels:
            self._batch = batch
            return pack(reference.prelu_forward(unpack(x, batch), self.slope.data))
        return prelu_forward(x.reshape(self.channels, -1), self.slope.data).reshape(x.shape)

    def backward_packed(self, dout, input_grad=True):
        x = require_forward(self._cache, repr(self))
        if self.use_reference_kernels:
            dx, dslope = reference.prelu_backward(unpack(x, self._batch), self.slope.data,
                                                  unpack(dout, self._batch))
            self.slope.grad += dslope
            return pack(dx)
        dx, dslope = prelu_backward(x.reshape(self.channels, -1), self.slope.data,
                                    dout.reshape(self.channels, -1))
        self.slope.grad += dslope
        return dx.reshape(x.shape)

    def __repr__(self):
        return f"PReLU({self.channels}{', shared=True' if self.shared else ''}{self.kernels_suffix()})"


class ReLU(PReLU):
    """ReLU, ``y = max(x, 0)``, element-wise on (N, C, H, W)::

        y = x if x > 0 else 0,    dx = dy if x > 0 else 0

    A PReLU whose slope is fixed at 0 and not learned (no parameters), so it runs on the
    same kernels, forward and backward, fast and reference, and fuses into the
    convolution before it at inference like a PReLU. SRCNN's activation; in the paper's
    Table 1 networks and its claim that PReLU trains more stably than ReLU.
    """

    def __init__(self, channels: int, dtype=np.float32, kernels=None):
        super().__init__(channels, shared=True, init=0.0, dtype=dtype, kernels=kernels)
        self.params = {}  # the slope stays 0: nothing to learn

    def __repr__(self):
        return f"ReLU({self.channels}{self.kernels_suffix()})"


class ChannelSum(Layer):
    """The sum of the channels: x (N, C, H, W) -> y (N, 1, H, W), ``y = sum_c x[:, c]``,
    and back, ``dx[:, c] = dy`` for every c. No parameters.

    It turns FSRCNN's deconvolution into one with 56 *identical* filters: a
    DeConv(9, 1, d) whose d filters all equal w0 is DeConv(9, 1, 1) with w0 after this
    layer, because the deconvolution is linear (the paper's claim that forcing the
    filters to be identical costs at least 0.9 dB, ``minisr.networks``).
    """

    def __init__(self, channels: int, kernels=None):
        super().__init__(kernels)
        self.channels = channels
        self.in_channels = channels

    def forward_packed(self, x, batch):
        """x (C, H, W*N) -> (1, H, W*N)."""
        return x.sum(axis=0, keepdims=True, dtype=x.dtype)

    def backward_packed(self, dout, input_grad=True):
        """dout (1, H, W*N) -> dx (C, H, W*N): the same gradient for every channel."""
        return np.repeat(dout, self.channels, axis=0)

    def output_shape(self, input_shape):
        n, _, h, w = input_shape
        return (n, 1, h, w)

    def __repr__(self):
        return f"ChannelSum({self.channels}{self.kernels_suffix()})"
