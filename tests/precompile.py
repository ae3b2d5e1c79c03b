"""Kernels the test suite reaches late, compiled ahead in a process of its own.

The first ``pytest`` run after a clone (or after a kernel changed) compiles every kernel
as the tests reach it, one after another on one core: about 118 s of a 313 s run on the
2-core Zen 3 test machine. Numba compiles under a lock, but two processes can compile
at once, and each writes to the same on-disk cache (``cache=True``). So at the first
compilation of a minisr kernel, ``conftest.py`` starts this script on the second core
(``python tests/precompile.py``); it compiles what the suite needs *late* (the float64
kernels of the gradient checks, the reference kernels, the kernels of
``minisr.bench --compare-kernels``), so that the tests find it in the cache when they
get there. It changes no result: a kernel it has not finished yet is compiled by the
test process as before. On a warm cache it is never started.
"""

import numpy as np

from minisr import FSRCNN, mse_loss
from minisr.profiling import compare_kernels


def train_and_infer(dtype, kernels: str, padding_mode: str = "zeros") -> None:
    """One forward, backward (input gradient included) and inference pass of a small
    FSRCNN x3: every kernel of every layer kind, for ``dtype`` and ``kernels``."""
    model = FSRCNN(8, 4, 1, scale=3, padding_mode=padding_mode, dtype=dtype, kernels=kernels)
    x = np.random.default_rng(0).random((2, 1, 7, 7)).astype(dtype)
    y = model.forward(x)
    _, dy = mse_loss(y, np.zeros_like(y))
    model.backward(dy)
    model.infer(x)


def main() -> None:
    for dtype, kernels, padding_mode in [(np.float64, "fast", "zeros"),        # gradient checks
                                         (np.float64, "reference", "zeros"),
                                         (np.float64, "fast", "replicate"),
                                         (np.float64, "reference", "replicate"),
                                         (np.float32, "reference", "zeros")]:  # fast = reference
        train_and_infer(dtype, kernels, padding_mode)
    compare_kernels(8, 4, 1, 3, lr_size=12, batch=2, patch=7, repeat=1)  # its ablation kernels


if __name__ == "__main__":
    main()
