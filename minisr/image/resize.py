"""MATLAB-compatible bicubic ``imresize`` (the one every SR paper uses).

MATLAB's ``imresize(img, scale, 'bicubic')`` is separable: it resizes along
one image axis, then along the other, each time with a 1-D filter.  For an
input length ``n_in``, output length ``n_out`` and scale ``s`` along an axis:

* output pixel ``x = 1..n_out`` (1-based) maps to input coordinate
  ``u = x / s + 0.5 (1 - 1/s)`` (pixel centres line up: 0.5 -> 0.5);
* the kernel is Keys' cubic with a = -0.5::

      k(t) = 1.5|t|^3 - 2.5|t|^2 + 1             for |t| <= 1
           = -0.5|t|^3 + 2.5|t|^2 - 4|t| + 2      for 1 < |t| <= 2
           = 0                                    otherwise

  of width 4; when shrinking (s < 1) it is stretched to antialias:
  ``h(t) = s k(s t)``, width ``4 / s``;
* the input pixels used are ``j = floor(u - width/2) + 0 .. ceil(width) + 1``,
  with weights ``h(u - j)`` normalised to sum 1 per output pixel;
* indices falling outside ``1..n_in`` are mirrored (symmetric padding:
  ``0 -> 1``, ``-1 -> 2``, ``n_in + 1 -> n_in``).

Here those weights are gathered into a sparse (n_out, n_in) matrix ``A`` and
the pass along an axis is the matrix product ``A @ img`` -- no pixel loops.
(:func:`apply_down` and :func:`apply_across` apply such a matrix to an image tile
with the same numbers and no transposing copies: the upscale tool's chroma.)

Output size is ``ceil(s * n_in)``.  The axis with the smaller scale is resized
first (MATLAB sorts the scales; on a tie, rows -- axis 0 -- go first).  Like
MATLAB, a ``uint8`` image is rounded (half away from zero) and saturated back
to ``uint8`` after each pass; float images are computed in float64 and returned
unclipped (bicubic overshoots slightly past the input range).

For float images the two passes are linear maps that commute, so their order
only moves the last bits; for ``uint8`` images the rounding in between makes
the order matter.  (Old MATLAB releases clamped out-of-range indices instead of
mirroring them; on the Set5/Set14 bicubic baselines that moves PSNR by under
0.003 dB.)
"""

import math

import numpy as np
from scipy import sparse

from .._jit import exact_kernel, prange
from .color import round_half_up

__all__ = ["cubic", "resize_weights", "resize_matrix", "imresize", "output_size_for", "apply_down", "apply_across"]

KERNEL_WIDTH = 4.0


def cubic(t):
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``), elementwise."""
    t = np.abs(np.asarray(t, dtype=np.float64))
    t2, t3 = t * t, t * t * t
    inner = (1.5 * t3 - 2.5 * t2 + 1.0) * (t <= 1.0)
    outer = (-0.5 * t3 + 2.5 * t2 - 4.0 * t + 2.0) * ((t > 1.0) & (t <= 2.0))
    return inner + outer


def resize_weights(in_length, out_length, scale, antialiasing=True):
    """Weights and 0-based input indices of a 1-D MATLAB bicubic resize.

    Returns ``(weights, indices)``, both (out_length, P) with
    P = ceil(kernel width) + 2: output pixel ``i`` is
    ``sum_p weights[i, p] * input[indices[i, p]]``.  Each row of ``weights``
    sums to 1 and indices are already mirrored into ``0..in_length-1``.
    """
    if scale < 1 and antialiasing:
        width = KERNEL_WIDTH / scale

        def kernel(t):
            return scale * cubic(scale * t)

    else:
        width = KERNEL_WIDTH
        kernel = cubic
    x = np.arange(1, out_length + 1, dtype=np.float64)[:, None]  # 1-based output coords
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)  # matching 1-based input coords
    left = np.floor(u - width / 2.0)
    taps = int(math.ceil(width)) + 2
    indices = left + np.arange(taps)  # (out, taps), 1-based, may leave 1..n_in
    weights = kernel(u - indices)
    weights = weights / weights.sum(axis=1, keepdims=True)
    # Mirror 1-based indices into 1..n_in: period 2 n_in, [1..n, n..1].
    period = 2 * in_length
    folded = np.mod(indices - 1, period)
    mirrored = np.where(folded < in_length, folded, period - 1 - folded)
    # Drop taps whose weight is zero for every output pixel (as MATLAB does).
    keep = np.any(weights != 0, axis=0)
    return weights[:, keep], mirrored[:, keep].astype(np.intp)


def resize_matrix(in_length, out_length, scale, antialiasing=True):
    """Sparse (out_length, in_length) matrix A of a 1-D bicubic resize: ``out = A @ in``.

    Mirrored taps that land on the same input pixel are summed.
    """
    weights, indices = resize_weights(in_length, out_length, scale, antialiasing)
    rows = np.repeat(np.arange(out_length), weights.shape[1])
    matrix = sparse.coo_array(
        (weights.ravel(), (rows, indices.ravel())), shape=(out_length, in_length)
    )
    return matrix.tocsr()  # duplicates are summed here


def output_size_for(shape, scale=None, output_shape=None):
    """Return ((out_h, out_w), (scale_h, scale_w)) as MATLAB computes them.

    With ``scale``: out = ceil(scale * in) on both axes, scales = (scale, scale).
    With ``output_shape`` (out_h, out_w): scales = out / in per axis.
    """
    in_h, in_w = shape[:2]
    if (scale is None) == (output_shape is None):
        raise ValueError("give exactly one of scale and output_shape")
    if scale is not None:
        if not scale > 0:
            raise ValueError(f"scale must be positive, got {scale}")
        scale = float(scale)
        return (math.ceil(scale * in_h), math.ceil(scale * in_w)), (scale, scale)
    out_h, out_w = (int(v) for v in output_shape)
    if out_h < 1 or out_w < 1:
        raise ValueError(f"output_shape must be positive, got {output_shape}")
    return (out_h, out_w), (out_h / in_h, out_w / in_w)


def apply_down(matrix, image: np.ndarray) -> np.ndarray:
    """``matrix @ image`` along the rows: (M, h) CSR times (h, w[, C]) -> (M, w[, C])
    float64, C-contiguous: SciPy's product on the image seen as h rows of w C values,
    no copy. With :func:`apply_across`, how the upscale tool makes bicubic chroma tile
    by tile."""
    rows = np.ascontiguousarray(image, dtype=np.float64).reshape(image.shape[0], -1)
    return (matrix @ rows).reshape((matrix.shape[0],) + image.shape[1:])


def apply_across(matrix, image: np.ndarray) -> np.ndarray:
    """``matrix @ image`` along the columns: (M, w) CSR and (h, w[, C]) -> (h, M[, C])
    float64, C-contiguous: the numbers of the product on ``image`` with its columns
    moved first (SciPy's order of the taps), without moving them (moving them back
    copied the whole output once more)."""
    grid = np.ascontiguousarray(image, dtype=np.float64)
    grid = grid[:, :, None] if grid.ndim == 2 else grid
    out = np.empty((grid.shape[0], matrix.shape[0], grid.shape[2]), np.float64)
    _csr_across(matrix.indptr, matrix.indices, matrix.data, grid, out)
    return out.reshape(image.shape[:1] + (matrix.shape[0],) + image.shape[2:])


@exact_kernel
def _csr_across(indptr, indices, data, image, out):
    """out[i, j, c] = sum over k of data[k] image[i, indices[k], c], k = indptr[j] ..
    indptr[j + 1] - 1 in order, from 0.0. Channels go two at a time (Cb and Cr share
    each tap's index and weight): twice as fast as one channel per pass over the taps."""
    channels = image.shape[2]
    for i in prange(image.shape[0]):
        source, target = image[i], out[i]
        for j in range(target.shape[0]):
            first, stop = indptr[j], indptr[j + 1]
            for c in range(0, channels - 1, 2):
                a, b = 0.0, 0.0
                for k in range(first, stop):
                    a = a + data[k] * source[indices[k], c]
                    b = b + data[k] * source[indices[k], c + 1]
                target[j, c], target[j, c + 1] = a, b
            if channels % 2:
                a = 0.0
                for k in range(first, stop):
                    a = a + data[k] * source[indices[k], channels - 1]
                target[j, channels - 1] = a


def _resize_axis(img, axis, out_length, scale):
    """Apply the 1-D resize matrix along ``axis`` (0 or 1) of a float64 array."""
    in_length = img.shape[axis]
    matrix = resize_matrix(in_length, out_length, scale)
    moved = np.moveaxis(img, axis, 0)
    flat = moved.reshape(in_length, -1)
    out = (matrix @ flat).reshape((out_length,) + moved.shape[1:])
    return np.moveaxis(out, 0, axis)


def imresize(img, scale=None, output_shape=None):
    """Bicubic resize exactly like MATLAB's ``imresize(img, scale, 'bicubic')``.

    Parameters
    ----------
    img : array (H, W) or (H, W, C)
        ``uint8`` or float (any range).
    scale : float, optional
        Zoom factor; the output is (ceil(scale H), ceil(scale W)).
    output_shape : (int, int), optional
        Output (height, width) instead of ``scale``; each axis then uses its
        own scale out/in, as MATLAB's ``imresize(img, [rows cols])``.

    Returns
    -------
    array (H', W') or (H', W', C)
        ``uint8`` (rounded half away from zero, clipped to [0, 255]) for
        ``uint8`` input, otherwise float64, unclipped.
    """
    img = np.asarray(img)
    if img.ndim not in (2, 3):
        raise ValueError(f"expected an (H, W) or (H, W, C) image, got shape {img.shape}")
    if img.shape[0] == 0 or img.shape[1] == 0:
        raise ValueError(f"cannot resize an empty image of shape {img.shape}")
    is_uint8 = img.dtype == np.uint8
    out_shape, scales = output_size_for(img.shape, scale, output_shape)
    order = sorted((0, 1), key=lambda axis: scales[axis])  # stable: axis 0 first on ties
    out = img.astype(np.float64)
    for axis in order:
        out = _resize_axis(out, axis, out_shape[axis], scales[axis])
        if is_uint8:  # MATLAB keeps the class between passes
            out = np.clip(round_half_up(out), 0, 255)
    return out.astype(np.uint8) if is_uint8 else out
