"""modcrop, shave, PSNR and SSIM (Wang et al.'s ssim_index.m)."""

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.signal import correlate2d

from minisr.image.metrics import gaussian_window_1d, modcrop, psnr, shave, ssim

FEW = settings(max_examples=25, deadline=None)


def fspecial_gaussian(size=11, sigma=1.5):
    """MATLAB fspecial('gaussian', size, sigma), written out in 2-D."""
    r = (size - 1) / 2
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    h = np.exp(-(x * x + y * y) / (2 * sigma * sigma))
    h[h < np.finfo(float).eps * h.max()] = 0
    return h / h.sum()


def ssim_reference(a, b):
    """ssim_index.m line by line, with 2-D 'valid' correlations."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    w = fspecial_gaussian()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def filt(img):
        return correlate2d(img, w, mode="valid")

    mu1, mu2 = filt(a), filt(b)
    s1 = filt(a * a) - mu1**2
    s2 = filt(b * b) - mu2**2
    s12 = filt(a * b) - mu1 * mu2
    ssim_map = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1**2 + mu2**2 + c1) * (s1 + s2 + c2))
    return ssim_map.mean()


# --- modcrop / shave ---------------------------------------------------------


@pytest.mark.parametrize("shape", [(7, 10), (7, 10, 3)])
def test_modcrop_keeps_top_left_and_crops_bottom_right(shape):
    img = np.arange(np.prod(shape)).reshape(shape)
    out = modcrop(img, 3)
    assert out.shape == (6, 9) + shape[2:]
    np.testing.assert_array_equal(out, img[:6, :9])


@FEW
@given(st.integers(1, 40), st.integers(1, 40), st.integers(1, 5))
def test_modcrop_gives_multiples(h, w, n):
    out = modcrop(np.zeros((h, w)), n)
    assert out.shape == (h - h % n, w - w % n)


def test_shave_removes_border_on_every_side():
    img = np.arange(8 * 9 * 3).reshape(8, 9, 3)
    np.testing.assert_array_equal(shave(img, 2), img[2:6, 2:7])
    np.testing.assert_array_equal(shave(img, 0), img)
    with pytest.raises(ValueError):
        shave(img, 4)


# --- PSNR --------------------------------------------------------------------


def test_psnr_known_value():
    a = np.zeros((4, 4))
    b = np.full((4, 4), 1.0)  # MSE = 1
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2))  # 48.1308 dB
    b[0, 0] = 5  # MSE = (15 + 25) / 16 = 2.5
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 2.5))


def test_psnr_identical_is_infinite_and_shave_ignores_border():
    a = np.random.default_rng(0).integers(0, 256, (10, 10)).astype(np.uint8)
    assert psnr(a, a) == math.inf
    b = a.copy()
    b[0, :] = 255 - b[0, :]
    assert psnr(a, b) < 30
    assert psnr(a, b, shave=1) == math.inf


def test_psnr_of_uint8_does_not_wrap_around():
    a = np.array([[0]], np.uint8)
    b = np.array([[255]], np.uint8)
    assert psnr(a, b) == pytest.approx(0.0)


def test_psnr_rejects_shape_mismatch():
    with pytest.raises(ValueError, match="shape"):
        psnr(np.zeros((4, 4)), np.zeros((4, 5)))


# --- SSIM --------------------------------------------------------------------


def test_separable_window_equals_fspecial():
    g = gaussian_window_1d()
    np.testing.assert_allclose(np.outer(g, g), fspecial_gaussian(), atol=1e-16)


@FEW
@given(
    arrays(np.uint8, (17, 14)),
    arrays(np.uint8, (17, 14)),
)
@example(np.full((17, 14), 240, np.uint8), np.full((17, 14), 251, np.uint8))
def test_ssim_matches_reference_formula(a, b):
    # The local variances are E[x^2] - E[x]^2 of values up to 255: for a flat image the two
    # terms (~6e4) cancel, and separable and 2-D filtering round differently by ~1e-12
    # (hypothesis found constant 240 vs 251: a difference of 1.5e-12). 1e-9 is still far
    # below the 1e-4 at which SSIM is reported.
    assert ssim(a, b) == pytest.approx(ssim_reference(a, b), abs=1e-9)


def test_ssim_of_constant_images_by_hand():
    # sigma = 0 everywhere: SSIM = (2 mu1 mu2 + C1) / (mu1^2 + mu2^2 + C1)
    c1 = (0.01 * 255) ** 2
    expected = (2 * 100 * 120 + c1) / (100**2 + 120**2 + c1)
    assert ssim(np.full((12, 12), 100.0), np.full((12, 12), 120.0)) == pytest.approx(expected)


@FEW
@given(arrays(np.uint8, (13, 16)), arrays(np.uint8, (13, 16)))
def test_ssim_symmetric_bounded_and_one_for_identical(a, b):
    assert ssim(a, a) == pytest.approx(1.0)
    s = ssim(a, b)
    assert s == pytest.approx(ssim(b, a))
    assert -1.0 <= s <= 1.0 + 1e-12


def test_ssim_shave_and_colour():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (20, 20, 3)).astype(np.float64)
    b = np.clip(a + rng.normal(0, 10, a.shape), 0, 255)
    per_channel = [ssim(a[..., c], b[..., c]) for c in range(3)]
    assert ssim(a, b) == pytest.approx(np.mean(per_channel))
    assert ssim(a, b, shave=2) == pytest.approx(ssim(a[2:-2, 2:-2], b[2:-2, 2:-2]))


def test_ssim_rejects_images_smaller_than_window():
    with pytest.raises(ValueError, match="window"):
        ssim(np.zeros((10, 20)), np.zeros((10, 20)))
