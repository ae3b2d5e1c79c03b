"""Run FSRCNN on a large image tile by tile, with a result equal to the untiled run.

An output pixel of FSRCNN depends only on the low-resolution (LR) pixels near it: the
5x5 feature convolution reaches 2 pixels, each 3x3 mapping convolution 1 more, and the
9x9 deconvolution a pixel or two, depending on the scale. :func:`context_margin`
reads them off the network's receptive field, :func:`minisr.shapes.input_rows`, for
the model's m, scale and deconvolution settings.

A tile is cut from the LR image with ``margin`` real neighbouring pixels on each
*interior* side; its outer sides stop at the image border, where the network pads
exactly as it does for the whole image (zeros or replicate). Only the tile's core is
kept from its output, so every kept pixel has seen exactly the pixels it would have
seen in the untiled run::

    LR image   |<- margin ->|<----- core ----->|<- margin ->|
    HR output               |<- scale * core ->|  (the rest is thrown away)
"""

import math

import numpy as np

from .shapes import input_rows


def context_margin(model) -> int:
    """LR pixels of context a tile needs on each interior side (8 for FSRCNN(56, 12, 4)
    x3 with zero padding).

    The HR pixels of LR pixel 0 are rows ``0 .. scale - 1``; the LR rows they need,
    ``[lo, hi]`` (:func:`minisr.shapes.input_rows`), give the reach before (``-lo``)
    and after (``hi``) a pixel.
    """
    c = model.config
    if "arch" in c:  # another chain of minisr.networks
        return chain_margin(model)
    lo, hi = input_rows(0, model.scale - 1, c["m"], c["scale"], c["deconv_padding"], c["deconv_border"])
    return max(0, -lo, hi)


def chain_margin(model) -> int:
    """An upper bound of the LR context any chain needs (a larger margin than needed
    changes nothing in the result, only the work): each convolution reaches
    ``(k - 1) / 2`` pixels of the grid it works on (HR pixels, n to an LR pixel, after a
    bicubic ``Upsample``, which itself reaches 2 LR pixels), a deconvolution
    ``ceil(k / n)`` LR pixels; one pixel more for rounding."""
    reach, per_lr_pixel = 0.0, 1
    for layer in model.layers:
        if getattr(layer, "resizes", False) and not hasattr(layer, "weight"):  # bicubic Upsample
            reach, per_lr_pixel = reach + 2, model.scale
        elif getattr(layer, "resizes", False):  # the deconvolution
            reach += math.ceil(layer.kernel_size / layer.stride)
        elif hasattr(layer, "kernel_size"):
            reach += (layer.kernel_size - 1) / 2 / per_lr_pixel
    return math.ceil(reach) + 1


def tile_spans(length: int, tile: int, margin: int) -> list:
    """Split ``range(length)`` into cores of ``tile`` pixels (the last may be shorter).

    Returns ``[(core_start, core_stop, cut_start, cut_stop)]``: the cut is the core
    grown by ``margin`` on each side, clipped to the image.
    """
    if tile < 1:
        raise ValueError(f"tile must be >= 1, got {tile}")
    spans = []
    for start in range(0, length, tile):
        stop = min(start + tile, length)
        spans.append((start, stop, max(0, start - margin), min(length, stop + margin)))
    return spans


def forward_image(model, lr: np.ndarray) -> np.ndarray:
    """One (H, W) image through the network: -> (scale*H, scale*W) in ``model.dtype``."""
    x = np.ascontiguousarray(lr, dtype=model.dtype)[None, None]
    return model.infer(x)[0, 0]


def forward_tiled(model, lr: np.ndarray, tile=None) -> np.ndarray:
    """(H, W) LR -> (scale*H, scale*W) in ``model.dtype``, computed in tiles whose cores
    are ``tile`` x ``tile`` LR pixels; equal to :func:`forward_image` bit for bit.

    ``tile=None`` or 0, or an image that fits in one tile, runs in one piece.
    """
    height, width = lr.shape
    if not tile or (height <= tile and width <= tile):
        return forward_image(model, lr)
    n = model.scale
    margin = context_margin(model)
    out = np.empty((n * height, n * width), dtype=model.dtype)
    for r0, r1, cut_r0, cut_r1 in tile_spans(height, tile, margin):
        for c0, c1, cut_c0, cut_c1 in tile_spans(width, tile, margin):
            sr = forward_image(model, lr[cut_r0:cut_r1, cut_c0:cut_c1])
            top, left = n * (r0 - cut_r0), n * (c0 - cut_c0)
            out[n * r0:n * r1, n * c0:n * c1] = sr[top:top + n * (r1 - r0), left:left + n * (c1 - c0)]
    return out
