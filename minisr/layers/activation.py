"""PReLU: the parametric ReLU that follows every convolution in FSRCNN."""

import numpy as np

from ..kernels.prelu import prelu_backward, prelu_forward
from .base import Layer, Parameter, check_gradient, check_input, require_forward


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

    def forward(self, x):
        x = check_input(x, self.channels, self.slope.data.dtype, repr(self))
        self._cache = x
        return prelu_forward(x, self.slope.data)

    def backward(self, dout):
        x = require_forward(self._cache, repr(self))
        dout = check_gradient(dout, x.shape, x.dtype, repr(self))
        dx, dslope = prelu_backward(x, self.slope.data, dout)
        self.slope.grad += dslope
        return dx

    def __repr__(self):
        return f"PReLU({self.channels}{', shared=True' if self.shared else ''})"
