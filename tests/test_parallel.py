"""Data-parallel training steps (minisr/training/parallel.py): splitting a batch across
worker threads gives the gradients and loss of the whole batch."""

import numpy as np
import pytest

from minisr import FSRCNN
from minisr.training.parallel import DataParallel, batch_gradients


def make_batch(model, batch, size=7, offset=0, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((batch, 1, size, size)).astype(model.dtype)
    out = model.scale * size - model.scale + 1  # the deconvolution's n*f - n + 1
    t = rng.random((batch, 1, out - 2 * offset, out - 2 * offset)).astype(model.dtype)
    return x, t


def whole_batch_grads(model, x, t, offset=0, stop_at=0):
    loss = batch_gradients(model, x, t, offset, stop_at)
    return loss, [p.grad.copy() for p in model.parameters()]


@pytest.mark.parametrize("workers,batch", [(2, 8), (2, 7), (3, 7), (4, 2)])
def test_split_batch_equals_whole_batch(workers, batch):
    model = FSRCNN(8, 4, 1, 2, seed=3).astype(np.float64)
    x, t = make_batch(model, batch)
    loss, grads = whole_batch_grads(model, x, t)
    parallel = DataParallel(model, workers)
    try:
        split_loss = parallel.gradients(x, t)
    finally:
        parallel.close()
    assert split_loss == pytest.approx(loss, rel=1e-12)
    for (name, p), g in zip(model.named_parameters(), grads):
        np.testing.assert_allclose(p.grad, g, rtol=1e-10, atol=1e-14, err_msg=name)


def test_offset_and_stop_at():
    model = FSRCNN(8, 4, 1, 3, seed=1).astype(np.float64)
    x, t = make_batch(model, 5, size=9, offset=3)
    stop_at = len(model.layers) - 1  # deconvolution only
    loss, grads = whole_batch_grads(model, x, t, 3, stop_at)
    parallel = DataParallel(model, 2)
    try:
        assert parallel.gradients(x, t, 3, stop_at) == pytest.approx(loss, rel=1e-12)
    finally:
        parallel.close()
    np.testing.assert_allclose(model.deconv.weight.grad, grads[-2], rtol=1e-10)
    assert np.any(model.deconv.weight.grad != 0)


def test_replicas_share_weights_and_follow_updates():
    model = FSRCNN(8, 4, 1, 2)
    twin = model.replica()
    for mine, theirs in zip(model.parameters(), twin.parameters()):
        assert theirs.data is mine.data
        assert theirs.grad is not mine.grad
    model.layers[0].weight.data[...] += 1.0  # an optimiser's in-place update
    x = np.random.default_rng(0).random((1, 1, 6, 6), dtype=np.float32)
    np.testing.assert_array_equal(twin.forward(x), model.forward(x))


def test_non_finite_loss_is_returned():
    model = FSRCNN(8, 4, 1, 2)
    x, t = make_batch(model, 4)
    x[3, 0, 2, 2] = np.nan
    parallel = DataParallel(model, 2)
    try:
        assert not np.isfinite(parallel.gradients(x, t))
    finally:
        parallel.close()


def test_workers_must_be_positive():
    with pytest.raises(ValueError, match="workers"):
        DataParallel(FSRCNN(8, 4, 1, 2), 0)
