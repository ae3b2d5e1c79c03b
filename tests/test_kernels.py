"""Forward passes of every kernel against slow references, over many shapes."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from minisr import Conv2d, Deconv2d, Pad2d, PReLU
from minisr.kernels.conv import (conv2d_backward_input, conv2d_forward, conv2d_prelu_forward, depth_to_space,
                                 forward_stride1, space_to_depth, subpixel_weights, subpixel_weights_inverse)
from minisr.kernels.padding import pad2d_forward, replicate_border
from minisr.layers.base import pack, unpack
from reference import conv_reference, deconv_reference, pad_reference, prelu_reference

DTYPES = [np.float32, np.float64]


def tolerance(dtype):
    return dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)


def random_layer_params(layer, rng):
    for p in layer.parameters():
        p.data[...] = rng.normal(size=p.shape)


@given(n=st.integers(1, 3), c_in=st.integers(1, 4), c_out=st.integers(1, 4),
       k=st.sampled_from([1, 3, 5, 7]), h=st.integers(1, 9), w=st.integers(1, 9),
       pad_delta=st.integers(-3, 1), mode=st.sampled_from(["zeros", "replicate"]),
       dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_conv_forward_matches_reference(n, c_in, c_out, k, h, w, pad_delta, mode, dtype, seed):
    pad = max(0, (k - 1) // 2 + pad_delta)
    assume(h + 2 * pad >= k and w + 2 * pad >= k)  # else no output: test_conv_too_small_input
    rng = np.random.default_rng(seed)
    layer = Conv2d(c_in, c_out, k, padding=pad, padding_mode=mode, dtype=dtype)
    random_layer_params(layer, rng)
    x = rng.normal(size=(n, c_in, h, w)).astype(dtype)
    y = layer.forward(x)
    expected = conv_reference(x, layer.weight.data, layer.bias.data, pad, mode)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, expected, **tolerance(dtype))


@given(h=st.integers(1, 12), w=st.integers(1, 12), c_in=st.integers(1, 6), c_out=st.integers(1, 6),
       seed=st.integers(0, 2**16))
def test_pointwise_fast_path_equals_general_kernel(h, w, c_in, c_out, seed):
    """A 1x1 convolution runs as a matrix product (pointwise.py); the general k x k
    kernel gives the same numbers."""
    rng = np.random.default_rng(seed)
    layer = Conv2d(c_in, c_out, 1, dtype=np.float64)
    random_layer_params(layer, rng)
    x = rng.normal(size=(2, c_in, h, w))
    general = np.empty((c_out, h, w * 2))
    forward_stride1(pack(x), layer.weight.data, layer.bias.data, 2, np.zeros(0), general, 0)
    np.testing.assert_allclose(layer.forward(x), unpack(general, 2), rtol=1e-12, atol=1e-12)


def test_pointwise_forward_long_rows_cross_block_boundaries():
    """Images larger than one pixel block (512) exercise the block split."""
    rng = np.random.default_rng(0)
    layer = Conv2d(3, 5, 1, dtype=np.float64)
    random_layer_params(layer, rng)
    x = rng.normal(size=(1, 3, 4, 1100))  # rows of 1100 pixels: 3 blocks, the last partial
    expected = conv_reference(x, layer.weight.data, layer.bias.data, 0)
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12, atol=1e-12)


@given(n=st.integers(1, 2), c_in=st.integers(1, 4), c_out=st.integers(1, 3),
       k=st.integers(1, 9), stride=st.integers(1, 4), h=st.integers(1, 6), w=st.integers(1, 6),
       pad=st.integers(0, 4), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_deconv_forward_matches_reference(n, c_in, c_out, k, stride, h, w, pad, dtype, seed):
    assume(stride * (h - 1) + k - 2 * pad >= 1 and stride * (w - 1) + k - 2 * pad >= 1)
    rng = np.random.default_rng(seed)
    layer = Deconv2d(c_in, c_out, k, stride=stride, padding=pad, dtype=dtype)
    random_layer_params(layer, rng)
    x = rng.normal(size=(n, c_in, h, w)).astype(dtype)
    expected = deconv_reference(x, layer.weight.data, layer.bias.data, stride, pad)
    np.testing.assert_allclose(layer.forward(x), expected, **tolerance(dtype))


@given(stride=st.integers(1, 4), h=st.integers(1, 6), w=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_deconv_exact_output_size_matches_reference(stride, h, w, seed):
    rng = np.random.default_rng(seed)
    layer = Deconv2d(3, 1, 9, stride=stride, padding=4, dtype=np.float64)
    random_layer_params(layer, rng)
    x = rng.normal(size=(1, 3, h, w))
    size = (stride * h, stride * w)
    y = layer.forward(x, output_size=size)
    assert y.shape == (1, 1) + size
    expected = deconv_reference(x, layer.weight.data, layer.bias.data, stride, 4, size)
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


def test_deconv_rejects_output_size_beyond_canvas():
    layer = Deconv2d(1, 1, 9, stride=3, padding=4)
    x = np.ones((1, 1, 4, 4), np.float32)  # canvas 18: crop from 4 leaves 14
    with pytest.raises(ValueError, match="does not fit"):
        layer.forward(x, output_size=(15, 12))


@given(stride=st.integers(1, 3), k=st.integers(1, 5), h=st.integers(1, 6), w=st.integers(1, 6),
       seed=st.integers(0, 2**16))
def test_strided_conv_kernel_matches_reference(stride, k, h, w, seed):
    """The strided forward kernel (the deconvolution's input gradient)."""
    assume(h >= k and w >= k)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, 3, h, w))
    wt = rng.normal(size=(2, 3, k, k))
    b = rng.normal(size=2)
    full = conv_reference(x, wt, b, 0)
    ours = unpack(conv2d_forward(pack(x), wt, b, stride, 0, False, 2), 2)
    np.testing.assert_allclose(ours, full[:, :, ::stride, ::stride], rtol=1e-12, atol=1e-12)


def test_conv_input_gradient_kernel_is_the_adjoint_of_forward():
    """<conv(x), g> == <x, conv_backward_input(g)> for stride 1..3."""
    rng = np.random.default_rng(1)
    for stride in (1, 2, 3):
        x = rng.normal(size=(2, 3, 11, 10))
        wt = rng.normal(size=(4, 3, 3, 3))
        y = conv2d_forward(pack(x), wt, np.zeros(4), stride, 0, False, 2)
        g = rng.normal(size=y.shape)
        dx = conv2d_backward_input(g, wt, stride, 0, False, 11, 10, 2)
        assert np.isclose(np.sum(y * g), np.sum(pack(x) * dx), rtol=1e-12)


@given(pad=st.integers(0, 4), mode=st.sampled_from(["zeros", "replicate"]), h=st.integers(1, 6),
       w=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_pad_matches_numpy(pad, mode, h, w, seed):
    x = np.random.default_rng(seed).normal(size=(2, 3, h, w))
    np.testing.assert_array_equal(Pad2d(pad, mode).forward(x), pad_reference(x, pad, mode))


@given(c=st.integers(1, 5), shared=st.booleans(), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_prelu_forward_matches_reference(c, shared, dtype, seed):
    rng = np.random.default_rng(seed)
    layer = PReLU(c, shared=shared, dtype=dtype)
    layer.slope.data[...] = rng.normal(size=layer.slope.shape)
    x = rng.normal(size=(2, c, 4, 5)).astype(dtype)
    np.testing.assert_allclose(layer.forward(x), prelu_reference(x, layer.slope.data), **tolerance(dtype))


def test_conv_replicate_padding_keeps_a_constant_image_constant():
    layer = Conv2d(1, 1, 5, padding=2, padding_mode="replicate", bias=False, dtype=np.float64)
    layer.weight.data[...] = 1 / 25
    y = layer.forward(np.full((1, 1, 7, 6), 3.0))
    np.testing.assert_allclose(y, 3.0, rtol=1e-12)


def test_conv_too_small_input_is_a_clear_error():
    layer = Conv2d(1, 1, 5, padding=0)
    with pytest.raises(ValueError, match="smaller than the kernel"):
        layer.forward(np.zeros((1, 1, 3, 3), np.float32))


@pytest.mark.parametrize("bad, error, match", [
    (np.zeros((1, 1, 4, 4), np.float64), TypeError, "dtype float64"),
    (np.zeros((1, 2, 4, 4), np.float32), ValueError, "input channel"),
    (np.zeros((1, 4, 4), np.float32), ValueError, "4-D"),
    (np.zeros((1, 1, 4, 4), np.int32), TypeError, "dtype"),
    ([[1.0]], TypeError, "NumPy array"),
])
def test_layers_reject_bad_input_clearly(bad, error, match):
    with pytest.raises(error, match=match):
        Conv2d(1, 3, 3, padding=1).forward(bad)


def test_backward_before_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match="before forward"):
        Conv2d(1, 3, 3, padding=1).backward(np.zeros((1, 3, 4, 4), np.float32))


def test_non_contiguous_input_is_accepted():
    rng = np.random.default_rng(0)
    layer = Conv2d(2, 2, 3, padding=1, dtype=np.float64)
    random_layer_params(layer, rng)
    x = rng.normal(size=(1, 2, 8, 8))[:, :, ::2, ::2]
    np.testing.assert_allclose(layer.forward(x), conv_reference(np.ascontiguousarray(x), layer.weight.data,
                                                                 layer.bias.data, 1), rtol=1e-12)


@given(n=st.integers(1, 5), c=st.integers(1, 3), h=st.integers(1, 7), w=st.integers(1, 7),
       stride=st.integers(1, 4))
def test_packed_layout_and_sub_pixel_grid_round_trip(n, c, h, w, stride):
    x = np.random.default_rng(0).normal(size=(n, c, h, w))
    packed = pack(x)
    assert packed.shape == (c, h, w * n)
    assert packed[c - 1, h - 1, (w - 1) * n + n - 1] == x[n - 1, c - 1, h - 1, w - 1]
    np.testing.assert_array_equal(unpack(packed, n), x)
    phases = unpack(space_to_depth(packed, stride, n), n)
    assert phases.shape == (n, c * stride ** 2, -(-h // stride), -(-w // stride))
    py, px = (h - 1) % stride, (w - 1) % stride  # the last pixel's phase
    assert phases[n - 1, (c - 1) * stride ** 2 + py * stride + px, (h - 1) // stride, (w - 1) // stride] == \
        x[n - 1, c - 1, h - 1, w - 1]
    np.testing.assert_array_equal(depth_to_space(space_to_depth(packed, stride, n), stride, n, h, w, 0), packed)


@given(k=st.integers(1, 9), stride=st.integers(1, 4))
def test_subpixel_weights_round_trip(k, stride):
    w = np.random.default_rng(k).normal(size=(2, 3, k, k))
    sub = subpixel_weights(w, stride)
    taps = -(-k // stride)
    assert sub.shape == (2, 3 * stride ** 2, taps, taps)
    assert sub[1, 2 * stride ** 2 + (k - 1) % stride * stride, (k - 1) // stride, 0] == w[1, 2, k - 1, 0]
    np.testing.assert_array_equal(subpixel_weights_inverse(sub, stride, k), w)


@pytest.mark.parametrize("pointwise_layer", [False, True])
@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("pad,batch,filters", [(0, 1, 5), (1, 2, 4), (2, 3, 9)])
def test_forward_into_padded_output(pointwise_layer, fused, pad, batch, filters):
    """Given an ``out`` buffer, the forward kernels write its centre and nothing else."""
    rng = np.random.default_rng(pad)
    k = 1 if pointwise_layer else 3
    x = rng.normal(size=(3, 6 + k - 1, (7 + k - 1) * batch))
    w = rng.normal(size=(filters, 3, k, k))
    b = rng.normal(size=filters)
    slopes = rng.uniform(0.1, 0.5, size=filters)

    def forward(out=None):
        if fused:
            return conv2d_prelu_forward(x, w, b, slopes, 0, False, batch, out)
        return conv2d_forward(x, w, b, 1, 0, False, batch, out)

    expected = forward()
    out = np.full((filters, 6 + 2 * pad, (7 + 2 * pad) * batch), 7.0)
    assert forward(out) is out
    inside = out[:, pad:pad + 6, pad * batch:(pad + 7) * batch]
    np.testing.assert_array_equal(inside, expected)
    border = np.ones(out.shape, bool)
    border[:, pad:pad + 6, pad * batch:(pad + 7) * batch] = False
    assert np.all(out[border] == 7.0)


def test_forward_rejects_an_output_buffer_of_the_wrong_shape():
    x = np.zeros((2, 5, 5), np.float32)
    with pytest.raises(ValueError, match="out: a C-contiguous float32 buffer"):
        conv2d_forward(x, np.zeros((3, 2, 3, 3), np.float32), np.zeros(3, np.float32), 1, 0, False, 1,
                       np.zeros((3, 4, 5), np.float32))


@pytest.mark.parametrize("pad,batch", [(1, 1), (2, 3), (4, 2)])
def test_replicate_border_equals_replicate_padding(pad, batch):
    """Filling the border of a zero-padded array in place gives NumPy's 'edge' padding."""
    x = np.random.default_rng(0).normal(size=(2, 3, 5 * batch))
    expected = pack(pad_reference(unpack(x, batch), pad, "replicate"))
    out = pad2d_forward(x, pad, False, batch)  # the interior in place, a zero border
    replicate_border(out, pad, batch)
    np.testing.assert_array_equal(out, expected)
