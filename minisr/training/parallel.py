"""Data-parallel training steps: one minibatch split across worker threads.

A training step on 128 patches of 11x11 is a chain of about 40 short kernels. Run with
Numba's own threads, every kernel is cut into pieces for the cores, and the threads
meet (and, waiting passively, sleep and wake) at the end of each of the 40. Here the
batch is cut instead: worker ``k`` runs the whole forward and backward pass of its
share ``B_k`` of the patches on one core, in its own copy of the model (a *replica*:
the same weight arrays, its own gradients and caches), and the workers meet once per
step, when the gradients are added up. It is what distributed data-parallel training
does across machines, here across the cores of one::

    loss = sum_k (B_k / B) * loss_k          (the mean over the batch is the weighted
    grad = sum_k (B_k / B) * grad_k           mean of the means over its parts)

Numba kernels release the GIL (``nogil=True``), so plain Python threads run them at the
same time; each worker asks Numba for one thread (``numba.set_num_threads`` applies to
the calling thread only). The sum is taken in a fixed order, so a run is reproducible
bit for bit for a given number of workers.
"""

import math
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from ..layers import mse_loss


def batch_gradients(model, x, t, offset: int = 0, stop_at: int = 0) -> float:
    """Zero ``model``'s gradients, then forward, MSE loss and backward on one batch.

    x (B, 1, f, f) -> y (B, 1, F', F'); the target ``t`` (B, 1, F, F) is compared with the
    window of y that starts ``offset`` rows and columns in (the rest of y gets zero
    gradient). Back-propagates through ``model.layers[stop_at:]`` only, without the
    gradient with respect to x. Returns the loss; a non-finite loss stops before the
    backward pass.
    """
    model.zero_grad()
    y = model.forward(x)
    window = (Ellipsis, slice(offset, offset + t.shape[2]), slice(offset, offset + t.shape[3]))
    loss, dwindow = mse_loss(y[window], t)
    if not math.isfinite(loss):
        return loss
    if dwindow.shape == y.shape:
        dy = dwindow
    else:
        dy = np.zeros_like(y)
        dy[window] = dwindow
    model.backward(dy, input_grad=False, stop_at=stop_at)
    return loss


class DataParallel:
    """Computes a batch's gradients in ``workers`` threads (see the module's docstring).

    ``gradients(x, t, offset, stop_at)`` leaves in ``model``'s ``.grad`` exactly what
    ``batch_gradients(model, x, t, offset, stop_at)`` would (up to float rounding) and
    returns the same loss. ``workers=1`` runs the batch in the calling thread with
    Numba's threads as set, i.e. it is ``batch_gradients``.
    """

    def __init__(self, model, workers: int):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.model = model
        self.workers = workers
        self.replicas = [model] + [model.replica() for _ in range(workers - 1)]
        self._pool = None
        if workers > 1:
            self._pool = ThreadPoolExecutor(workers, thread_name_prefix="minisr-worker",
                                            initializer=numba.set_num_threads, initargs=(1,))

    def gradients(self, x, t, offset: int = 0, stop_at: int = 0) -> float:
        if self._pool is None or len(x) < 2:
            return batch_gradients(self.model, x, t, offset, stop_at)
        parts = min(self.workers, len(x))
        bounds = [round(k * len(x) / parts) for k in range(parts + 1)]
        shares = [(bounds[k + 1] - bounds[k]) / len(x) for k in range(parts)]
        for replica in self.replicas[1:parts]:  # the weights may have been replaced (astype)
            for mine, theirs in zip(self.model.parameters(), replica.parameters()):
                theirs.data = mine.data
                if theirs.grad.dtype != mine.data.dtype or theirs.grad.shape != mine.data.shape:
                    theirs.grad = np.zeros_like(mine.data)
        futures = [self._pool.submit(batch_gradients, self.replicas[k],
                                     x[bounds[k]:bounds[k + 1]], t[bounds[k]:bounds[k + 1]],
                                     offset, stop_at)
                   for k in range(parts)]
        losses = [future.result() for future in futures]
        loss = sum(share * part for share, part in zip(shares, losses))
        if not math.isfinite(loss):
            return loss
        for k, (share, replica) in enumerate(zip(shares, self.replicas[:parts])):
            for mine, theirs in zip(self.model.parameters(), replica.parameters()):
                if k == 0:
                    mine.grad *= mine.grad.dtype.type(share)
                else:
                    mine.grad += mine.grad.dtype.type(share) * theirs.grad
        return loss

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
