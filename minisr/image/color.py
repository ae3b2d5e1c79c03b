"""MATLAB-compatible colour conversion between RGB and YCbCr (ITU-R BT.601).

Super-resolution papers (SRCNN, FSRCNN, VDSR, ...) evaluate on the luminance
channel Y computed by MATLAB's ``rgb2ycbcr``.  That function uses the
*studio range* form of BT.601: for R, G, B in [0, 1],

    Y  =  16 + ( 65.481 R + 128.553 G +  24.966 B)      in [16, 235]
    Cb = 128 + (-37.797 R -  74.203 G + 112.000 B)      in [16, 240]
    Cr = 128 + (112.000 R -  93.786 G -  18.214 B)      in [16, 240]

(values on the 0..255 scale).  MATLAB keeps the class of its input:

* ``uint8`` in  -> ``uint8`` out, rounded half away from zero and saturated;
* float in [0, 1] -> float out, divided by 255 (so Y lies in [16/255, 235/255]).

``ycbcr_to_rgb`` is the exact inverse matrix; like MATLAB it clips float
output to [0, 1] and rounds/saturates ``uint8`` output.

All images are arrays of shape (H, W, 3); ``rgb_to_y`` returns (H, W).
"""

import math

import numpy as np

from .._jit import exact_kernel, prange

__all__ = ["rgb_to_ycbcr", "ycbcr_to_rgb", "ycbcr_to_rgb_uint8", "rgb_to_y", "round_half_up"]

#: Rows map (R, G, B) in [0, 1] to (Y, Cb, Cr) on the 0..255 scale.
RGB_TO_YCBCR = np.array(
    [
        [65.481, 128.553, 24.966],
        [-37.797, -74.203, 112.0],
        [112.0, -93.786, -18.214],
    ]
)
#: Offset added after the matrix product, on the 0..255 scale.
YCBCR_OFFSET = np.array([16.0, 128.0, 128.0])
#: Inverse matrix: (Y, Cb, Cr) - offset on the 0..255 scale -> (R, G, B) in [0, 1].
YCBCR_TO_RGB = np.linalg.inv(RGB_TO_YCBCR)


def round_half_up(x):
    """Round like MATLAB's integer casts: halves go away from zero.

    ``np.round`` rounds halves to even (2.5 -> 2); MATLAB's ``uint8(2.5)`` is 3.
    For the non-negative values used here this is ``floor(x + 0.5)``; the sign
    handling makes it correct for negative numbers too.
    """
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _to_uint8(x):
    """Round half away from zero and saturate to [0, 255], as MATLAB's uint8()."""
    return np.clip(round_half_up(x), 0, 255).astype(np.uint8)


def _check_colour(img):
    img = np.asarray(img)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) colour image, got shape {img.shape}")
    return img


def _is_uint8(img):
    return img.dtype == np.uint8


def _lincomb(img, matrix, offset):
    """out[..., p] = m[p,0]*img[...,0] + m[p,1]*img[...,1] + m[p,2]*img[...,2] + offset[p].

    Summed term by term in this order (as MATLAB's ``imlincomb``), in float64,
    so that values landing exactly on a rounding half are treated the same way.
    ``img`` is (H, W, 3); ``matrix`` is (K, 3); the result is (H, W, K).
    """
    height, width = img.shape[:2]
    out = np.empty((height, width, matrix.shape[0]), np.float64)
    _lincomb_pixels(np.ascontiguousarray(img).reshape(height, width, 3), np.asarray(matrix, np.float64),
                    np.broadcast_to(np.asarray(offset, np.float64), matrix.shape[:1]).copy(), out)
    return out


@exact_kernel
def _lincomb_pixels(img, matrix, offset, out):
    """:func:`_lincomb`'s loop: each pixel's channels read once, as float64, each sum
    evaluated left to right with no fused multiply-adds (NumPy's numbers, bit for bit)."""
    height, width = img.shape[:2]
    for i in prange(height):
        for j in range(width):
            r = np.float64(img[i, j, 0])
            g = np.float64(img[i, j, 1])
            b = np.float64(img[i, j, 2])
            for p in range(matrix.shape[0]):
                out[i, j, p] = matrix[p, 0] * r + matrix[p, 1] * g + matrix[p, 2] * b + offset[p]


def rgb_to_ycbcr(img):
    """Convert an RGB image to YCbCr exactly as MATLAB's ``rgb2ycbcr``.

    ``ycbcr = (T / 255) @ rgb + offset`` per pixel, where T is
    :data:`RGB_TO_YCBCR`; the offset is (16, 128, 128) for ``uint8`` and
    (16, 128, 128) / 255 for float input (input ``uint8`` values stay 0..255).

    Parameters
    ----------
    img : array (H, W, 3)
        ``uint8`` in [0, 255] or float in [0, 1].

    Returns
    -------
    array (H, W, 3)
        ``uint8`` (rounded half away from zero) for ``uint8`` input, otherwise
        float64 with Y in [16/255, 235/255] and Cb, Cr in [16/255, 240/255].
    """
    img = _check_colour(img)
    matrix = (1.0 / 255.0) * RGB_TO_YCBCR
    if _is_uint8(img):
        return _to_uint8(_lincomb(img, matrix, YCBCR_OFFSET))
    return _lincomb(img, matrix, (1.0 / 255.0) * YCBCR_OFFSET)


def ycbcr_to_rgb(img):
    """Convert a YCbCr image back to RGB exactly as MATLAB's ``ycbcr2rgb``.

    ``rgb = 255 inv(T) @ ycbcr - inv(T) @ offset`` for float input (then
    clipped to [0, 1], as MATLAB does), and
    ``uint8(255 inv(T) @ ycbcr - 255 inv(T) @ offset)`` for ``uint8`` input.

    Parameters
    ----------
    img : array (H, W, 3)
        ``uint8`` on the 0..255 scale or float on the 0..1 scale.

    Returns
    -------
    array (H, W, 3)
        ``uint8`` for ``uint8`` input, otherwise float64 in [0, 1].
    """
    img = _check_colour(img)
    matrix = 255.0 * YCBCR_TO_RGB
    if _is_uint8(img):
        return _to_uint8(_lincomb(img, matrix, -(matrix @ YCBCR_OFFSET)))
    return np.clip(_lincomb(img, matrix, -(YCBCR_TO_RGB @ YCBCR_OFFSET)), 0.0, 1.0)


def rgb_to_y(img):
    """Luminance channel of :func:`rgb_to_ycbcr`, shape (H, W), same dtype rules.

    For ``uint8`` input: ``uint8(65.481/255 R + 128.553/255 G + 24.966/255 B + 16)``
    with R, G, B in 0..255 -- the Y channel every SR paper evaluates on.
    """
    img = _check_colour(img)
    matrix = (1.0 / 255.0) * RGB_TO_YCBCR[:1]
    if _is_uint8(img):
        return _to_uint8(_lincomb(img, matrix, YCBCR_OFFSET[:1]))[..., 0]
    return _lincomb(img, matrix, (1.0 / 255.0) * YCBCR_OFFSET[:1])[..., 0]


def ycbcr_to_rgb_uint8(y, cbcr):
    """The 8-bit RGB picture of float Y (H, W) and Cb, Cr (H, W, 2) on the 0..1 scale:
    the numbers of ``uint8(round_half_up(255 * ycbcr_to_rgb(dstack([y, cbcr]))))``, bit
    for bit, in one pass and without the float64 temporaries (about a third of an
    upscale's time went to them)."""
    out = np.empty(y.shape + (3,), np.uint8)
    _ycbcr_to_rgb_uint8(np.ascontiguousarray(y), np.ascontiguousarray(cbcr, np.float64),
                        255.0 * YCBCR_TO_RGB, -(YCBCR_TO_RGB @ YCBCR_OFFSET), out)
    return out


@exact_kernel
def _ycbcr_to_rgb_uint8(y, cbcr, matrix, offset, out):
    """Per pixel and channel p: ``v = m[p,0] y + m[p,1] cb + m[p,2] cr + offset[p]`` summed
    in this order in float64 (as :func:`_lincomb`), clipped to [0, 1] (as
    :func:`ycbcr_to_rgb`), then ``floor(255 v + 0.5)`` (:func:`round_half_up` of a
    value >= 0) into ``out``."""
    height, width = y.shape
    for i in prange(height):
        for j in range(width):
            a = np.float64(y[i, j])
            b = cbcr[i, j, 0]
            c = cbcr[i, j, 1]
            for p in range(3):
                v = matrix[p, 0] * a + matrix[p, 1] * b + matrix[p, 2] * c + offset[p]
                v = min(max(v, 0.0), 1.0)
                out[i, j, p] = np.uint8(min(math.floor(v * 255.0 + 0.5), 255.0))
