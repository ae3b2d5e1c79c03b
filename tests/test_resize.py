"""MATLAB bicubic imresize: hand-worked weights, a loop reference, properties."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from minisr.image.resize import apply_across, apply_down, cubic, imresize, resize_matrix, resize_weights

FEW = settings(max_examples=25, deadline=None)
SCALES = [1 / 4, 1 / 3, 1 / 2, 0.7, 1.0, 1.5, 2.0, 3.0, 4.0]


def resize_1d_reference(x, scale):
    """MATLAB's imresize contributions(), one output pixel at a time (1-based maths)."""
    n_in = len(x)
    n_out = math.ceil(scale * n_in)
    width = 4.0 / scale if scale < 1 else 4.0
    aux = list(range(1, n_in + 1)) + list(range(n_in, 0, -1))  # MATLAB's mirror table
    out = np.zeros(n_out)
    for i in range(1, n_out + 1):
        u = i / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        taps = range(left, left + math.ceil(width) + 2)
        if scale < 1:
            w = [scale * cubic(scale * (u - j)) for j in taps]
        else:
            w = [cubic(u - j) for j in taps]
        total = sum(w)
        for j, wj in zip(taps, w):
            out[i - 1] += wj / total * x[aux[(j - 1) % (2 * n_in)] - 1]
    return out


# --- hand-worked cases ----------------------------------------------------------


def test_cubic_kernel_values():
    # k(0) = 1, k(+-1) = k(+-2) = 0, k(0.5) = 0.5625, k(1.5) = -0.0625
    np.testing.assert_allclose(
        cubic([0, 0.5, -0.5, 1, 1.5, 2, 2.5]), [1, 0.5625, 0.5625, 0, -0.0625, 0, 0]
    )


def test_upscale_4_pixels_by_2_by_hand():
    """Output x = 1 maps to u = 1/2 + 0.5 (1 - 1/2) = 0.75; taps j = -1, 0, 1, 2 get
    k(1.75) = -0.0234375, k(0.75) = 0.2265625, k(0.25) = 0.8671875, k(1.25) = -0.0703125.
    Mirroring sends j = 0 -> 1 and j = -1 -> 2, so out[1] = 1.09375 x1 - 0.09375 x2.
    Output x = 2: u = 1.25; taps 0..3 get k(1.25), k(0.25), k(0.75), k(1.75)."""
    a, b, c, d = 10.0, 20.0, 50.0, 30.0
    k1, k2, k3, k4 = -0.0234375, 0.2265625, 0.8671875, -0.0703125
    first = (k2 + k3) * a + (k1 + k4) * b
    second = (k4 + k3) * a + k2 * b + k1 * c
    out = imresize(np.array([[a, b, c, d]]), 2.0)
    assert out.shape == (2, 8)
    np.testing.assert_allclose(out[0, :2], [first, second], atol=1e-12)
    by_hand = [1.09375 * a - 0.09375 * b, 0.796875 * a + 0.2265625 * b - 0.0234375 * c]
    np.testing.assert_allclose(out[0, :2], by_hand)
    # mirror-symmetric layout: the last two outputs mirror the first two
    np.testing.assert_allclose(out[0, ::-1], imresize(np.array([[d, c, b, a]]), 2.0)[0], atol=1e-12)
    np.testing.assert_allclose(out[1], out[0])  # a single row stays a single row, duplicated


def test_downscale_4_pixels_by_half_by_hand():
    """x = 1 -> u = 1.5; antialiased kernel h(t) = k(t/2)/2, width 8: taps j = -2..5 get
    k(t/2)/2 for t = 3.5 .. -3.5: -0.01171875, -0.03515625, 0.11328125, 0.43359375 (x2, mirrored).
    Mirror (1-based, n = 4): -2 -> 3, -1 -> 2, 0 -> 1, 5 -> 4."""
    a, b, c, d = 10.0, 20.0, 50.0, 30.0
    first = (0.11328125 + 0.43359375) * a + (-0.03515625 + 0.43359375) * b
    first += (-0.01171875 + 0.11328125) * c + (-0.03515625 - 0.01171875) * d
    np.testing.assert_allclose(first, 0.546875 * a + 0.3984375 * b + 0.1015625 * c - 0.046875 * d)
    out = imresize(np.array([[a, b, c, d]]), 0.5)
    assert out.shape == (1, 2)
    second = 0.546875 * d + 0.3984375 * c + 0.1015625 * b - 0.046875 * a  # mirror image
    np.testing.assert_allclose(out[0], [first, second])


def test_weights_rows_sum_to_one_and_indices_in_range():
    for n_in, scale in [(4, 2.0), (4, 0.5), (7, 1 / 3), (1, 3.0), (5, 0.25)]:
        n_out = math.ceil(n_in * scale)
        w, idx = resize_weights(n_in, n_out, scale)
        np.testing.assert_allclose(w.sum(axis=1), 1.0)
        assert idx.min() >= 0 and idx.max() < n_in
        assert resize_matrix(n_in, n_out, scale).shape == (n_out, n_in)


# --- against the loop reference ---------------------------------------------------


@FEW
@given(arrays(np.float64, st.integers(1, 12), elements=st.floats(0, 1)), st.sampled_from(SCALES))
def test_matches_loop_reference_1d(x, scale):
    out = imresize(x[None, :], scale)
    expected = resize_1d_reference(x, scale)
    np.testing.assert_allclose(out[0], expected, atol=1e-12)
    # along axis 0 as well
    np.testing.assert_allclose(imresize(x[:, None], scale)[:, 0], expected, atol=1e-12)


@FEW
@given(
    arrays(np.float64, st.tuples(st.integers(1, 9), st.integers(1, 9)), elements=st.floats(0, 1)),
    st.sampled_from(SCALES),
)
def test_2d_is_separable_rows_then_columns(img, scale):
    rows = np.stack([resize_1d_reference(col, scale) for col in img.T], axis=1)
    expected = np.stack([resize_1d_reference(row, scale) for row in rows])
    np.testing.assert_allclose(imresize(img, scale), expected, atol=1e-12)


# --- properties -----------------------------------------------------------------------


@FEW
@given(st.integers(1, 30), st.integers(1, 30), st.sampled_from(SCALES), st.floats(-2, 2))
def test_constant_stays_constant_and_size_is_ceil(h, w, scale, value):
    out = imresize(np.full((h, w), value), scale)
    assert out.shape == (math.ceil(h * scale), math.ceil(w * scale))
    np.testing.assert_allclose(out, value, atol=1e-12)


def test_scale_one_is_identity():
    img = np.random.default_rng(0).random((6, 5))
    np.testing.assert_allclose(imresize(img, 1.0), img, atol=1e-15)


@pytest.mark.parametrize("scale, pad", [(2.0, 4), (3.0, 4), (0.5, 8), (0.25, 16)])
def test_border_is_symmetric_padding(scale, pad):
    """Resizing a symmetrically padded image and cropping equals resizing the image:
    the border treatment is MATLAB's mirror (edge pixel repeated), not clamping."""
    img = np.random.default_rng(1).random((8, 8))
    padded = np.pad(img, pad, mode="symmetric")  # [b a | a b c ... | z y]
    crop = int(pad * scale)
    out = imresize(padded, scale)[crop:-crop, crop:-crop]
    np.testing.assert_allclose(out, imresize(img, scale), atol=1e-12)
    clamped = imresize(np.pad(img, pad, mode="edge"), scale)[crop:-crop, crop:-crop]
    assert not np.allclose(clamped, out)


def test_output_shape_gives_each_axis_its_own_scale():
    img = np.random.default_rng(2).random((6, 9))
    out = imresize(img, output_shape=(12, 3))  # scales 2 (rows) and 1/3 (columns)
    cols = np.stack([resize_1d_reference(r, 1 / 3) for r in img])
    expected = np.stack([resize_1d_reference(c, 2.0) for c in cols.T], axis=1)
    assert out.shape == (12, 3)
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_channels_are_resized_independently():
    img = np.random.default_rng(3).random((7, 5, 3))
    out = imresize(img, 1 / 3)
    assert out.shape == (3, 2, 3)
    for c in range(3):
        np.testing.assert_allclose(out[..., c], imresize(img[..., c], 1 / 3), atol=1e-12)


def test_float_is_unclipped_uint8_is_rounded_and_clipped():
    checker = (np.indices((8, 8)).sum(axis=0) % 2).astype(np.float64)
    up = imresize(checker, 2.0)
    assert up.dtype == np.float64 and up.min() < 0 and up.max() > 1  # bicubic overshoot
    up8 = imresize((checker * 255).astype(np.uint8), 2.0)
    assert up8.dtype == np.uint8
    assert up8.min() == 0 and up8.max() == 255  # saturated, not wrapped


@FEW
@given(
    arrays(np.uint8, st.tuples(st.integers(2, 10), st.integers(2, 10))),
    st.sampled_from(SCALES),
    st.booleans(),
)
def test_uint8_is_rounded_after_each_pass(img, scale, colour):
    """MATLAB keeps uint8 between the two 1-D passes (rows first on equal scales)."""
    if colour:
        img = np.stack([img, 255 - img, img // 2], axis=-1)
    h, w = img.shape[:2]
    out_h, out_w = math.ceil(h * scale), math.ceil(w * scale)
    rows = resize_matrix(h, out_h, scale)
    cols = resize_matrix(w, out_w, scale)

    def to_u8(x):
        return np.clip(np.floor(x + 0.5), 0, 255)

    flat = img.reshape(h, w, -1).astype(np.float64)
    first = to_u8(np.stack([rows @ flat[..., c] for c in range(flat.shape[2])], axis=-1))
    second = to_u8(np.stack([(cols @ first[..., c].T).T for c in range(flat.shape[2])], axis=-1))
    expected = second.reshape((out_h, out_w) + img.shape[2:])
    np.testing.assert_array_equal(imresize(img, scale), expected)


def test_bad_arguments():
    with pytest.raises(ValueError):
        imresize(np.zeros((4, 4)))
    with pytest.raises(ValueError):
        imresize(np.zeros((4, 4)), 2.0, output_shape=(8, 8))
    with pytest.raises(ValueError):
        imresize(np.zeros((4, 4)), -1.0)
    with pytest.raises(ValueError):
        imresize(np.zeros((0, 4)), 2.0)


@pytest.mark.parametrize("shape, scale, rows, cols", [
    ((40, 33), 3, (3, 100), (0, 99)), ((21, 17, 2), 2, (0, 42), (5, 30)), ((9, 12, 3), 4, (4, 36), (0, 48))])
def test_apply_down_and_across_equal_the_sparse_products_bit_for_bit(shape, scale, rows, cols):
    """The upscale tool's fast passes (Numba loops over the CSR taps) give SciPy's numbers."""
    image = np.random.default_rng(scale).random(shape)
    height, width = shape[:2]
    down = resize_matrix(height, scale * height, float(scale))[rows[0]:rows[1], 1:height - 1]
    across = resize_matrix(width, scale * width, float(scale))[cols[0]:cols[1], :]
    cut = image[1:height - 1]
    expected_down = (down @ cut.reshape(cut.shape[0], -1)).reshape((down.shape[0],) + cut.shape[1:])
    got_down = apply_down(down, cut)
    assert np.array_equal(got_down, expected_down)
    moved = np.moveaxis(expected_down, 1, 0)
    expected = np.moveaxis((across @ moved.reshape(moved.shape[0], -1)).reshape((across.shape[0],) + moved.shape[1:]), 0, 1)
    got = apply_across(across, got_down)
    assert np.array_equal(got, expected) and got.flags.c_contiguous


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_apply_across_any_channel_count(channels):
    from scipy import sparse
    matrix = sparse.random(13, 7, density=0.4, random_state=channels, format="csr")
    image = np.random.default_rng(channels).random((5, 7, channels))
    expected = np.einsum("mw,hwc->hmc", matrix.toarray(), image)
    np.testing.assert_allclose(apply_across(matrix, image), expected, rtol=1e-12, atol=1e-15)
