"""MATLAB rgb2ycbcr / ycbcr2rgb: known values, dtype rules, round trips."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from minisr.image.color import rgb_to_y, rgb_to_ycbcr, round_half_up, ycbcr_to_rgb

FEW = settings(max_examples=25, deadline=None)
uint8_images = arrays(np.uint8, st.tuples(st.integers(1, 6), st.integers(1, 6), st.just(3)))


def pixel(r, g, b, dtype=np.uint8):
    return np.array([[[r, g, b]]], dtype=dtype)


@pytest.mark.parametrize(
    "rgb, expected",
    [
        ((0, 0, 0), (16, 128, 128)),  # black
        ((255, 255, 255), (235, 128, 128)),  # white: 16 + 219
        ((255, 0, 0), (81, 90, 240)),  # 16 + 65.481 = 81.481; 128 - 37.797; 128 + 112
        ((0, 255, 0), (145, 54, 34)),  # 144.553; 53.797; 34.214
        ((0, 0, 255), (41, 240, 110)),  # 40.966; 240; 109.786
    ],
)
def test_rgb_to_ycbcr_uint8_known_values(rgb, expected):
    out = rgb_to_ycbcr(pixel(*rgb))
    assert out.dtype == np.uint8
    assert tuple(out[0, 0]) == expected


def test_rgb_to_ycbcr_float_is_unrounded_and_scaled_to_unit_range():
    out = rgb_to_ycbcr(pixel(1.0, 0.0, 0.0, np.float64))
    assert out.dtype == np.float64
    np.testing.assert_allclose(out[0, 0], np.array([81.481, 90.203, 240.0]) / 255, atol=1e-12)
    np.testing.assert_allclose(rgb_to_ycbcr(pixel(1.0, 1.0, 1.0, np.float64))[0, 0, 0], 235 / 255)


def test_grey_rgb_is_mapped_to_studio_range():
    """R = G = B = v gives Y = 16 + 219 v / 255, not v (why man.bmp is not its own Y)."""
    v = np.arange(256, dtype=np.uint8)
    img = np.stack([v, v, v], axis=-1)[None]
    expected = np.floor(16 + 219 * v.astype(np.float64) / 255.0 + 0.5)
    np.testing.assert_array_equal(rgb_to_y(img)[0], expected)


def test_round_half_up_goes_away_from_zero_like_matlab():
    np.testing.assert_array_equal(
        round_half_up([0.5, 1.5, 2.5, 2.49, -0.5, -2.5]), [1, 2, 3, 2, -1, -3]
    )


@FEW
@given(uint8_images)
def test_rgb_to_y_is_first_channel_of_rgb_to_ycbcr(img):
    np.testing.assert_array_equal(rgb_to_y(img), rgb_to_ycbcr(img)[..., 0])
    np.testing.assert_array_equal(rgb_to_y(img / 255.0), rgb_to_ycbcr(img / 255.0)[..., 0])


@FEW
@given(uint8_images)
def test_uint8_result_is_rounded_float_result(img):
    from_float = rgb_to_ycbcr(img / 255.0) * 255.0
    diff = np.abs(rgb_to_ycbcr(img).astype(np.float64) - from_float)
    assert diff.max() <= 0.5 + 1e-9


@FEW
@given(uint8_images)
def test_float_round_trip_is_exact(img):
    rgb = img / 255.0
    np.testing.assert_allclose(ycbcr_to_rgb(rgb_to_ycbcr(rgb)), rgb, atol=1e-12)


@FEW
@given(uint8_images)
def test_uint8_round_trip_is_close(img):
    # YCbCr is quantised to uint8 in between, so a few levels may be lost.
    back = ycbcr_to_rgb(rgb_to_ycbcr(img))
    assert back.dtype == np.uint8
    assert np.abs(back.astype(int) - img.astype(int)).max() <= 3


def test_ycbcr_to_rgb_float_is_clipped_like_matlab():
    out = ycbcr_to_rgb(np.array([[[1.0, 0.0, 1.0]]]))  # far outside the RGB cube
    assert out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.parametrize(
    "ycbcr, expected",
    [((16, 128, 128), (0, 0, 0)), ((235, 128, 128), (255, 255, 255)), ((81, 90, 240), (254, 0, 0))],
)
def test_ycbcr_to_rgb_uint8_known_values(ycbcr, expected):
    # (81, 90, 240) is red after rounding; back: R = 1.164 (81 - 16) + 1.596 (240 - 128) ~ 254.4
    assert tuple(ycbcr_to_rgb(pixel(*ycbcr))[0, 0]) == expected


@pytest.mark.parametrize("shape", [(4, 4), (4, 4, 4), (3,)])
def test_non_colour_shape_is_rejected(shape):
    with pytest.raises(ValueError, match="H, W, 3"):
        rgb_to_ycbcr(np.zeros(shape, np.uint8))


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_the_pixel_loop_gives_numpys_numbers_bit_for_bit(dtype):
    """color._lincomb runs a Numba loop; its sums must be NumPy's expression's, term by
    term in float64, or values on a rounding half would round differently."""
    from minisr.image import color
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (23, 30, 3)).astype(dtype) if dtype == np.uint8 else rng.random((23, 30, 3)).astype(dtype)
    for matrix, offset in [((1 / 255) * color.RGB_TO_YCBCR, color.YCBCR_OFFSET),
                           (255 * color.YCBCR_TO_RGB, -(255 * color.YCBCR_TO_RGB @ color.YCBCR_OFFSET))]:
        for picture in (img, img[:, ::2]):  # and a strided view
            x = picture.astype(np.float64)
            expected = matrix[:, 0] * x[..., 0:1] + matrix[:, 1] * x[..., 1:2] + matrix[:, 2] * x[..., 2:3] + offset
            assert np.array_equal(color._lincomb(picture, matrix, offset), expected)
