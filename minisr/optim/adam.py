"""Adam (Kingma & Ba 2015) with bias correction."""

import numpy as np

from .sgd import Optimizer


class Adam(Optimizer):
    """Adam, per parameter, at step ``t = 1, 2, ...``::

        g  = grad + weight_decay * w                (L2 penalty, off by default)
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g**2
        w <- w - lr * (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + eps)

    The bias corrections undo the zero start of ``m`` and ``v``: the first step
    moves every weight by about ``lr`` against the sign of its gradient.
    """

    buffer_names = ("m", "v")

    def __init__(self, groups, lr=None, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        beta1, beta2 = betas
        if not (0.0 <= beta1 < 1.0 and 0.0 <= beta2 < 1.0):
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.weight_decay = float(weight_decay)
        super().__init__(groups, lr)

    def update(self, w, grad, lr, buffers):
        m, v = buffers["m"], buffers["v"]
        dtype = w.dtype.type
        t = self.steps  # already counts this step
        g = grad + dtype(self.weight_decay) * w if self.weight_decay else grad
        m *= dtype(self.beta1)
        m += dtype(1.0 - self.beta1) * g
        v *= dtype(self.beta2)
        v += dtype(1.0 - self.beta2) * np.square(g)
        step_size = lr / (1.0 - self.beta1 ** t)       # both corrections folded into
        root_correction = np.sqrt(1.0 - self.beta2 ** t)  # two scalars (float64)
        w -= dtype(step_size) * m / (np.sqrt(v) / dtype(root_correction) + dtype(self.eps))

    def hyperparameters(self):
        return {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps,
                "weight_decay": self.weight_decay}
