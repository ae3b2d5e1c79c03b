"""Workspace: the arrays infer() keeps are reused for later calls of other sizes (tiles,
a folder of pictures) without changing a single output value."""

import numpy as np
import pytest

from minisr.layers.base import Workspace, check_input
from minisr.model import FSRCNN
from minisr.networks import Network

SHAPES = [(1, 1, 20, 30), (1, 1, 7, 9), (2, 1, 11, 5), (1, 1, 20, 30), (1, 1, 25, 31), (3, 1, 6, 6)]


@pytest.mark.parametrize("make", [lambda: FSRCNN(8, 4, 2, 3, seed=1), lambda: FSRCNN(8, 4, 1, 2, seed=2),
                                  lambda: Network("transition-2", 3)], ids=["fsrcnn-x3", "fsrcnn-x2", "transition-2"])
def test_reused_arrays_give_the_numbers_of_fresh_ones(make):
    model = make()
    rng = np.random.default_rng(0)
    for shape in SHAPES:
        x = rng.random(shape, dtype=np.float32)
        fresh = model.run_inference(check_input(x, 1, model.dtype, "test"), Workspace(keep=False))
        np.testing.assert_array_equal(model.infer(x), fresh, err_msg=str(shape))


def test_a_smaller_array_is_a_view_of_the_kept_memory_with_zero_frames():
    workspace, owner = Workspace(), object()
    big = workspace.array(owner, (2, 10, 12), np.float32, 1, 1)
    big[...] = 7.0  # as if a kernel and a border had written everything
    small = workspace.array(owner, (2, 6, 2 * 5), np.float32, 1, 2)  # 2 images of 3x3 + frame, interleaved
    assert np.shares_memory(big, small)
    inside = np.zeros((2, 6, 10), bool)
    inside[:, 1:-1, 2:-2] = True  # columns x*2 + n for x = 1..3: the frame is 2 columns each side
    assert (small[~inside] == 0).all() and (small[inside] == 7).all()
    larger = workspace.array(owner, (3, 10, 12), np.float32)  # does not fit: new memory
    assert not np.shares_memory(big, larger)
