"""Shape formulas as properties."""

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

from minisr import Conv2d, Deconv2d, FSRCNN
from minisr.shapes import conv_out_size, deconv_out_size


@given(n=st.integers(1, 40), f=st.integers(1, 6))
def test_fsrcnn_deconv_gives_caffe_size(n, f):
    """Kernel 9, pad 4: n*f - n + 1 (f = LR size, n = stride)."""
    assert deconv_out_size(f, 9, n, 4) == n * f - n + 1
    y = Deconv2d(1, 1, 9, stride=n, padding=4).forward(np.zeros((1, 1, f, 2), np.float32))
    assert y.shape[2] == n * f - n + 1


@given(h=st.integers(1, 8), k=st.integers(1, 9), stride=st.integers(1, 5), pad=st.integers(0, 4))
def test_deconv_output_follows_the_general_formula(h, k, stride, pad):
    expected = stride * (h - 1) + k - 2 * pad
    assume(expected >= 1)
    layer = Deconv2d(1, 1, k, stride=stride, padding=pad)
    y = layer.forward(np.ones((1, 1, h, h + 1), np.float32))
    assert y.shape == (1, 1, expected, stride * h + k - 2 * pad)
    assert layer.output_shape((1, 1, h, h + 1)) == y.shape


@given(h=st.integers(1, 12), w=st.integers(1, 12), k=st.sampled_from([1, 3, 5, 7, 9]),
       mode=st.sampled_from(["zeros", "replicate"]))
def test_same_padding_keeps_height_and_width(h, w, k, mode):
    layer = Conv2d(2, 3, k, padding=(k - 1) // 2, padding_mode=mode)
    y = layer.forward(np.ones((1, 2, h, w), np.float32))
    assert y.shape == (1, 3, h, w) == layer.output_shape((1, 2, h, w))
    assert conv_out_size(h, k, 1, (k - 1) // 2) == h


@given(h=st.integers(1, 10), w=st.integers(1, 10), scale=st.integers(2, 4))
def test_fsrcnn_output_sizes(h, w, scale):
    model = FSRCNN(3, 2, 1, scale)
    x = np.zeros((1, 1, h, w), np.float32)
    assert model.forward(x).shape == (1, 1, scale * h - scale + 1, scale * w - scale + 1)
    assert model.forward(x, exact_size=True).shape == (1, 1, scale * h, scale * w)
    official = FSRCNN(3, 2, 1, scale, padding_mode="replicate", shared_prelu=True, deconv_border="replicate")
    assert official.forward(x, exact_size=True).shape == (1, 1, scale * h, scale * w)


def test_one_by_one_image():
    """The degenerate 1x1 LR image goes through the whole network."""
    model = FSRCNN(4, 2, 1, 3)
    y = model.forward(np.ones((1, 1, 1, 1), np.float32))
    assert y.shape == (1, 1, 1, 1)
    assert model.backward(np.ones_like(y)).shape == (1, 1, 1, 1)
