"""The FSRCNN test-time evaluation protocol (Dong et al., ECCV 2016, MATLAB code).

The authors' ``demo_FSRCNN.m`` evaluates one image like this::

    im = imread(file);
    if size(im, 3) > 1                      % colour: take Y of rgb2ycbcr
        im = rgb2ycbcr(im); im = im(:, :, 1);
    end                                     % grey: the grey image is its Y
    im_gnd = modcrop(im, scale);            % H, W multiples of the scale
    im_gnd = single(im_gnd) / 255;          % HR, float in [0, 1]
    im_l = imresize(im_gnd, 1/scale, 'bicubic');   % LR, float, NOT quantised
    im_b = imresize(im_l, scale, 'bicubic');       % bicubic baseline
    im_gnd = shave(uint8(im_gnd * 255), [scale, scale]);
    im_b   = shave(uint8(im_b * 255), [scale, scale]);
    psnr   = compute_psnr(im_gnd, im_b);   % 10 log10(255^2 / MSE)

This module reproduces those steps in float64 rather than MATLAB's single
(emulating single precision changes the bicubic PSNR of Set5, Set14 and BSD200
by less than 0.00001 dB):

* ``load_test_pair(path, scale)`` -> ``(hr_y, lr_y)``, float64 in [0, 1]
  (``lr_y`` may overshoot slightly: bicubic is not clipped);
* ``bicubic_upscale(lr_y, scale)`` -> the bicubic baseline, same shape as ``hr_y``;
  ``super_resolve(model, lr_y, scale)`` -> the network's output (bicubic for None);
* ``evaluate_pair(sr_y, hr_y, scale)`` -> ``(psnr, ssim)`` on the images
  quantised as MATLAB's ``uint8(x * 255)``, with ``scale`` pixels shaved off
  each border.

Colour versus grey: a file stored as 8-bit grey (Set14's ``bridge.bmp``) is
used as its own Y, unchanged, while a file stored as RGB is always converted
with ``rgb2ycbcr`` -- even when R = G = B (Set14's ``man.bmp``), which maps a
grey level v to Y = 16 + 219 v / 255.  That is what the authors' code does
(``size(im, 3) > 1``), and it is what reproduces the paper's Set14 bicubic
PSNR (see ``tests/test_protocol_datasets.py``).
"""

import numpy as np

from .color import rgb_to_y, round_half_up
from .imageio import read_image
from .metrics import SSIM_WINDOW_SIZE, modcrop, psnr, ssim
from .resize import imresize

__all__ = ["load_test_pair", "check_scorable", "bicubic_upscale", "super_resolve", "evaluate_pair",
           "to_uint8_image", "image_to_y"]


def image_to_y(img):
    """Y channel (H, W) ``uint8`` of an image as the authors' code takes it.

    (H, W, 3) ``uint8`` -> Y of MATLAB's ``rgb2ycbcr``; (H, W) grey -> itself.
    """
    img = np.asarray(img)
    if img.ndim == 3:
        return rgb_to_y(img)
    if img.ndim == 2:
        return img
    raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {img.shape}")


def load_test_pair(path, scale):
    """Ground truth and low-resolution input of one test image.

    Returns ``(hr_y, lr_y)``: ``hr_y`` (H, W) float64 = Y / 255 of the image
    modcropped to a multiple of ``scale``; ``lr_y`` (H/scale, W/scale) float64 =
    ``imresize(hr_y, 1/scale)`` (bicubic with antialiasing), not quantised.

    MATLAB's ``single(Y) / 255`` is kept in float64 here; EXIF orientation is not
    applied (MATLAB's ``imread`` ignores it). An image smaller than ``scale`` on a
    side raises ValueError naming the file; :func:`check_scorable` tells whether a
    pair is large enough to be scored.
    """
    scale = int(scale)
    y = image_to_y(read_image(path, exif_transpose=False))
    h, w = y.shape
    if min(h, w) < scale:  # modcrop would leave nothing
        raise ValueError(f"{path}: image is {w}x{h}, smaller than the scale {scale} "
                         f"(needs at least {scale}x{scale} pixels)")
    hr_y = modcrop(y, scale).astype(np.float64) / 255.0
    lr_y = imresize(hr_y, 1.0 / scale)
    return hr_y, lr_y


def bicubic_upscale(lr_y, scale):
    """Bicubic baseline: MATLAB ``imresize(lr_y, scale, 'bicubic')``, float64."""
    return imresize(lr_y, float(scale))


def super_resolve(model, lr_y, scale):
    """(h, w) float LR -> (scale*h, scale*w) float64 SR: ``model.infer`` on it in the
    model's dtype, or the bicubic baseline when ``model`` is None."""
    if model is None:
        return bicubic_upscale(lr_y, scale)
    x = np.asarray(lr_y)[None, None].astype(model.dtype)
    return model.infer(x)[0, 0].astype(np.float64)


def to_uint8_image(x):
    """MATLAB ``uint8(x * 255)``: scale, round half away from zero, saturate."""
    return np.clip(round_half_up(np.asarray(x, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)


def smallest_test_image(scale: int) -> int:
    """Smallest side an image can have and still be scored at ``scale``: after modcrop
    and shaving ``scale`` pixels per side, SSIM's 11x11 window must fit."""
    return -(-(SSIM_WINDOW_SIZE + 2 * scale) // scale) * scale


def check_scorable(path, hr_y, scale: int) -> None:
    """Raise ValueError naming ``path`` if its (modcropped) HR Y is too small for
    :func:`evaluate_pair` at ``scale``."""
    h, w = np.shape(hr_y)[:2]
    if min(h, w) - 2 * int(scale) < SSIM_WINDOW_SIZE:
        side = smallest_test_image(scale)
        raise ValueError(f"{path}: image is {w}x{h} after modcrop, too small to score at x{scale} "
                         f"(needs at least {side}x{side} pixels: {SSIM_WINDOW_SIZE}x{SSIM_WINDOW_SIZE} "
                         f"for SSIM after shaving {scale} per side)")


def evaluate_pair(sr_y, hr_y, scale):
    """PSNR (dB) and SSIM of a super-resolved Y channel against the ground truth.

    Both (H, W) floats in [0, 1]; each is quantised with :func:`to_uint8_image`
    and ``scale`` pixels are shaved from every border before measuring.
    Returns ``(psnr, ssim)`` as Python floats.
    """
    sr_y, hr_y = np.asarray(sr_y), np.asarray(hr_y)
    if sr_y.shape != hr_y.shape:
        raise ValueError(f"SR and HR images differ in shape: {sr_y.shape} vs {hr_y.shape}")
    sr8, hr8 = to_uint8_image(sr_y), to_uint8_image(hr_y)
    n = int(scale)
    return psnr(sr8, hr8, shave=n), ssim(sr8, hr8, shave=n)
