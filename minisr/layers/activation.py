"""PReLU: the parametric ReLU that follows every convolution in FSRCNN."""

import numpy as np

from ..kernels.prelu import prelu_backward, prelu_forward
from .base import Layer, Parameter, require_forward


class PReLU(Layer):
    """y = x if x > 0 else a * x, element-wise on (N, C, H, W).

    One learnable slope per channel (``slope`` of shape (C,)), or one slope shared by
    all channels (``shared=True``, shape (1,), as in the authors' released weights).
    Slopes start at ``init`` = 0.25 (He et al. 2015).
    """

    def __init__(self, channels: int, shared: bool = False, init: float = 0.25,
                 dtype=np.float32):
        super().__init__()
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
        return prelu_forward(x.reshape(self.channels, -1), self.slope.data).reshape(x.shape)

    def backward_packed(self, dout, input_grad=True):
        x = require_forward(self._cache, repr(self))
        dx, dslope = prelu_backward(x.reshape(self.channels, -1), self.slope.data,
                                    dout.reshape(self.channels, -1))
        self.slope.grad += dslope
        return dx.reshape(x.shape)

    def __repr__(self):
        return f"PReLU({self.channels}{', shared=True' if self.shared else ''})"
