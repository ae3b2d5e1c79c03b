"""Image-quality metrics of the SR literature: PSNR and SSIM, plus cropping helpers.

Conventions (those of the SRCNN/FSRCNN MATLAB test code):

* images are arrays of shape (H, W) or (H, W, C) on the 0..255 scale
  (``uint8`` or float); the metrics compute in float64;
* ``modcrop`` trims the bottom/right so that H and W are multiples of the scale;
* ``shave`` drops a border of ``n`` pixels on every side before measuring.

PSNR (``compute_psnr.m``)::

    MSE  = mean((a - b)^2)               over all pixels (and channels)
    PSNR = 10 log10(255^2 / MSE)         in dB; +inf when a == b

SSIM (Wang et al., ``ssim_index.m``, 2004), on one channel::

    w      = 11 x 11 Gaussian window, sigma 1.5, normalised to sum 1
    mu_a   = w * a,   sigma_a^2 = w * a^2 - mu_a^2,   sigma_ab = w * ab - mu_a mu_b
    map    = (2 mu_a mu_b + C1)(2 sigma_ab + C2) /
             ((mu_a^2 + mu_b^2 + C1)(sigma_a^2 + sigma_b^2 + C2))
    SSIM   = mean(map)

where ``*`` is a 'valid' correlation (no padding: the map is (H-10, W-10)),
C1 = (0.01 * 255)^2 and C2 = (0.03 * 255)^2.
"""

import numpy as np
from scipy.ndimage import correlate1d

__all__ = ["modcrop", "shave", "psnr", "ssim", "gaussian_window_1d"]

PEAK = 255.0
SSIM_WINDOW_SIZE = 11
SSIM_SIGMA = 1.5
SSIM_C1 = (0.01 * PEAK) ** 2
SSIM_C2 = (0.03 * PEAK) ** 2


def modcrop(img, n):
    """Crop H and W down to multiples of ``n``, keeping the top-left corner.

    (H, W[, C]) -> (H - H mod n, W - W mod n[, C]), as MATLAB's ``modcrop``.
    """
    img = np.asarray(img)
    if n < 1:
        raise ValueError(f"modcrop: n must be >= 1, got {n}")
    h, w = img.shape[:2]
    return img[: h - h % n, : w - w % n]


def shave(img, n):
    """Remove ``n`` pixels from each border: (H, W[, C]) -> (H - 2n, W - 2n[, C])."""
    img = np.asarray(img)
    if n < 0:
        raise ValueError(f"shave: n must be >= 0, got {n}")
    h, w = img.shape[:2]
    if 2 * n >= min(h, w):
        raise ValueError(f"shave: cannot remove {n} pixels from each side of a {h}x{w} image")
    return img[n : h - n, n : w - n]


def _pair(a, b, n):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    if n:
        a, b = shave(a, n), shave(b, n)
    return a, b


def psnr(a, b, shave=0):
    """Peak signal-to-noise ratio in dB of two images on the 0..255 scale.

    ``10 log10(255^2 / mean((a - b)^2))`` after removing ``shave`` border pixels;
    returns ``inf`` for identical images.
    """
    a, b = _pair(a, b, shave)
    mse = np.mean((a - b) ** 2)
    if mse == 0:
        return float("inf")
    return float(10.0 * np.log10(PEAK**2 / mse))


def gaussian_window_1d(size=SSIM_WINDOW_SIZE, sigma=SSIM_SIGMA):
    """1-D Gaussian g of length ``size``, sum 1; ``outer(g, g)`` is MATLAB's
    ``fspecial('gaussian', size, sigma)`` (the 2-D window is separable)."""
    x = np.arange(size) - (size - 1) / 2.0
    g = np.exp(-(x**2) / (2.0 * sigma**2))
    return g / g.sum()


def _filter_valid(img, g):
    """'valid' correlation of a (H, W) image with the separable window outer(g, g)."""
    r = len(g) // 2
    out = correlate1d(img, g, axis=0, mode="constant")[r:-r]
    return correlate1d(out, g, axis=1, mode="constant")[:, r:-r]


def _ssim_channel(a, b, g):
    mu_a, mu_b = _filter_valid(a, g), _filter_valid(b, g)
    mu_aa, mu_bb, mu_ab = mu_a * mu_a, mu_b * mu_b, mu_a * mu_b
    var_a = _filter_valid(a * a, g) - mu_aa
    var_b = _filter_valid(b * b, g) - mu_bb
    cov_ab = _filter_valid(a * b, g) - mu_ab
    ssim_map = ((2 * mu_ab + SSIM_C1) * (2 * cov_ab + SSIM_C2)) / (
        (mu_aa + mu_bb + SSIM_C1) * (var_a + var_b + SSIM_C2)
    )
    return float(ssim_map.mean())


def ssim(a, b, shave=0):
    """Mean structural similarity of two images on the 0..255 scale.

    Wang et al.'s ``ssim_index.m`` (see the module docstring) after removing
    ``shave`` border pixels.  (H, W) images give one value; for (H, W, C)
    images the per-channel values are averaged.  Each side must be at least
    11 pixels after shaving.
    """
    a, b = _pair(a, b, shave)
    if min(a.shape[:2]) < SSIM_WINDOW_SIZE:
        raise ValueError(f"ssim: images of shape {a.shape} are smaller than the 11x11 window")
    g = gaussian_window_1d()
    if a.ndim == 2:
        return _ssim_channel(a, b, g)
    return float(np.mean([_ssim_channel(a[..., c], b[..., c], g) for c in range(a.shape[2])]))
