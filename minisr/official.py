"""Import the authors' released MATLAB weights into a minisr FSRCNN (reference only).

The FSRCNN test package of Dong et al. ships ``x2.mat``, ``x3.mat``, ``x4.mat`` for
FSRCNN(56, 12, 4) and FSRCNN-s(32, 5, 1). Their licence is academic use only: minisr
never ships them; a user who has them can evaluate and upscale with them.

Layout (MATLAB 5 MAT-file): ``weights_conv`` is a cell array, one entry per layer; a
convolution's array is ``[C_in, k*k, C_out]`` and one filter ``W[c_in, :, c_out]`` is a
k x k matrix stored column-major (MATLAB's ``reshape``). The deconvolution's array is
``[1, 81, d]``: one 9x9 filter per input channel. ``biases_conv`` holds one column per
layer; ``prelu_conv`` one shared slope per PReLU layer.

Their test code runs the network with

* every convolution as a correlation with REPLICATE border padding;
* one PReLU slope shared by all channels of a layer;
* the deconvolution as a scatter-add (no kernel flip) on a 1-pixel replicate-padded
  input, cropped to exactly ``n*H x n*W`` with HR row ``n*i + u - 4`` receiving LR row
  ``i`` through kernel row ``u`` (Caffe's pad 4); the bias is added last;
* at x3 only, an output one HR pixel up and to the left: their pixel (r-1, c-1)
  estimates ground-truth pixel (r, c) (their x3 test code shaved differently). minisr
  moves the crop by one pixel so that output pixel (r, c) estimates (r, c).

:func:`load_official_model` builds exactly that network (``FSRCNN`` with
``padding_mode="replicate"``, ``shared_prelu=True``, ``deconv_border="replicate"``);
run it with ``model.infer(x)`` (or ``model.forward(x, exact_size=True)``).
"""

import os
import re

import numpy as np

from .model import FSRCNN, check_finite

# The authors' x3 models are one HR pixel off (see the module docstring).
ALIGNMENT_SHIFT = {3: 1}


def _cells(mat, key, path) -> list:
    """The entries of the cell array ``mat[key]`` as float64 arrays of at least 3
    dimensions (MATLAB drops trailing singleton dimensions: (56, 1) is (56, 1, 1)).
    Raises ValueError naming the file and the entry that is missing or not numbers."""
    if key not in mat:
        raise ValueError(f"{path}: not an FSRCNN weights file (no '{key}' entry)")
    if mat[key].dtype != object:
        raise ValueError(f"{path}: '{key}' is not a cell array (it holds {mat[key].dtype} values)")
    cells = []
    for index, cell in enumerate(mat[key].ravel()):
        array = np.asarray(cell)
        if array.dtype.kind not in "fiu" or array.ndim > 3:
            kind = {"U": "text", "S": "text", "O": "cells", "V": "a struct"}.get(array.dtype.kind, array.dtype)
            raise ValueError(f"{path}: {key}{{{index + 1}}} is not a numeric array of at most "
                             f"3 dimensions (it holds {kind} of shape {array.shape})")
        cells.append(array.astype(np.float64).reshape(array.shape + (1,) * (3 - array.ndim)))
    return cells


def _check_size(array, size, what, path) -> np.ndarray:
    """``array`` flattened, if it has ``size`` values; ValueError naming ``what`` otherwise."""
    if array.size != size:
        raise ValueError(f"{path}: {what} has {array.size} values, expected {size}")
    return array.ravel()


def scale_from_filename(path):
    """``.../x3.mat`` -> 3; None when the name carries no scale."""
    match = re.search(r"x(\d+)\.mat$", os.path.basename(os.fspath(path)))
    return int(match.group(1)) if match else None


def load_official_model(path, scale=None, dtype=np.float32, kernels=None) -> FSRCNN:
    """Read one of the authors' ``.mat`` files into an FSRCNN that runs as their test code.

    ``scale`` defaults to the one in the file name (``x2.mat`` -> 2). (d, s, m) are read
    from the array shapes, so both FSRCNN and FSRCNN-s load. ``kernels``: as for FSRCNN.
    (:func:`minisr.models.load_model` calls this for a ``.mat`` file.)
    """
    import scipy.io

    path = os.fspath(path)
    if scale is None:
        scale = scale_from_filename(path)
        if scale is None:
            raise ValueError(f"{path}: cannot tell the scale from the file name; pass scale=")
    try:
        mat = scipy.io.loadmat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such weights file") from None
    except Exception as error:  # scipy raises several types for a file that is not a MAT-file
        raise ValueError(f"{path}: not a readable MATLAB weights file ({error})") from None
    weights = _cells(mat, "weights_conv", path)
    biases = _cells(mat, "biases_conv", path)
    slopes = _cells(mat, "prelu_conv", path)
    if len(weights) < 4 or len(biases) != len(weights) or len(slopes) != len(weights):
        raise ValueError(f"{path}: expected matching cell arrays of at least 4 layers, got "
                         f"{len(weights)} weights, {len(biases)} biases, {len(slopes)} PReLU slopes")
    d = weights[0].shape[2]
    s = weights[1].shape[2]
    m = len(weights) - 4
    try:
        model = FSRCNN(d, s, m, scale, padding_mode="replicate", shared_prelu=True,
                       deconv_border="replicate",
                       deconv_padding=4 + scale - ALIGNMENT_SHIFT.get(scale, 0), dtype=dtype,
                       kernels=kernels)
    except ValueError as error:  # e.g. an empty first layer: d = 0
        raise ValueError(f"{path}: {error}") from None
    convs = [layer for layer in model.layers if hasattr(layer, "kernel_size") and layer is not model.deconv]
    prelus = [layer for layer in model.layers if hasattr(layer, "slope")]
    for index, (conv, w, b, a) in enumerate(zip(convs, weights, biases, slopes)):
        k = conv.kernel_size
        expected = (conv.in_channels, k * k, conv.out_channels)
        if w.shape != expected:
            raise ValueError(f"{path}: layer {index + 1} weights have shape {w.shape}, expected {expected}")
        # W[c_in, :, c_out] is a column-major k x k filter -> ours is (c_out, c_in, k, k).
        filters = w.reshape(conv.in_channels, k, k, conv.out_channels, order="F")
        conv.weight.data[...] = filters.transpose(3, 0, 1, 2)
        conv.bias.data[...] = _check_size(b, conv.out_channels, f"layer {index + 1} bias", path)
        prelus[index].slope.data[...] = _check_size(a, 1, f"layer {index + 1} PReLU slope", path)
    w = weights[-1]
    if w.shape != (1, 81, d):
        raise ValueError(f"{path}: deconvolution weights have shape {w.shape}, expected (1, 81, {d})")
    model.deconv.weight.data[:, 0] = w.reshape(9, 9, d, order="F").transpose(2, 0, 1)
    model.deconv.bias.data[...] = _check_size(biases[-1], 1, "deconvolution bias", path)
    check_finite([(name, p.data) for name, p in model.named_parameters()], path)
    return model
