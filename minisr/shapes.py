"""Output-size formulas, one helper per formula.

Sizes are along one spatial axis (height or width); every layer in minisr treats the
two axes the same way.
"""


def conv_out_size(size: int, kernel: int, stride: int = 1, pad: int = 0) -> int:
    """Output size of a convolution: ``(size + 2*pad - kernel) // stride + 1``.

    With stride 1 and ``pad = (kernel - 1) // 2`` (odd kernel) this is ``size``:
    the "same" convolution that FSRCNN uses everywhere before the deconvolution.
    """
    if size + 2 * pad < kernel:
        raise ValueError(
            f"input of size {size} with padding {pad} is smaller than the kernel ({kernel})"
        )
    return (size + 2 * pad - kernel) // stride + 1


def deconv_out_size(size: int, kernel: int, stride: int, pad: int = 0,
                    output_padding: int = 0) -> int:
    """Output size of a transposed convolution:
    ``stride*(size - 1) + kernel - 2*pad + output_padding``.

    FSRCNN's deconvolution (kernel 9, pad 4, stride n) gives Caffe's ``n*size - n + 1``;
    ``output_padding = n - 1`` gives exactly ``n*size``.
    """
    out = stride * (size - 1) + kernel - 2 * pad + output_padding
    if out < 1:
        raise ValueError(
            f"transposed convolution of size {size} (kernel {kernel}, stride {stride}, "
            f"pad {pad}) has no output"
        )
    return out


def input_rows(first: int, last: int, m: int, scale: int, deconv_padding: int = 4,
               deconv_border: str = "zeros") -> tuple:
    """FSRCNN's receptive field: the LR rows ``(lo, hi)`` that output rows
    ``first..last`` depend on (columns behave the same way; rows outside ``0..H-1``
    are padding). Every "how far does the network see" question in minisr is this.

    Walk back from the output, one layer at a time:

    * Deconvolution (kernel 9, stride n, crop ``p = deconv_padding``): output row r is
      row ``R = r + p`` of the uncropped canvas, and input row i is scattered onto canvas
      rows ``n*i .. n*i + 8``; so rows ``first..last`` read input rows
      ``ceil((first + p - 8) / n) .. floor((last + p) / n)``. With
      ``deconv_border="replicate"`` the deconvolution reads a copy of its input padded by
      one pixel, so its row i is row ``i - 1`` of the features.
    * Expanding and shrinking (1x1 convolutions) and PReLU: the same rows.
    * Each of the m mapping convolutions (3x3, "same" padding 1): one row more on each side.
    * Feature extraction (5x5, padding 2): two rows more on each side.

    For FSRCNN(56, 12, 4) x3 with zero padding, output rows 0..2 (those of LR row 0)
    read LR rows ``-7 .. 8``: the tiles of :mod:`minisr.tiling` need 8 pixels of context.
    """
    n, p = scale, deconv_padding
    lo, hi = -((8 - first - p) // n), (last + p) // n  # -(-a // n) is ceil(a / n)
    if deconv_border == "replicate":
        lo, hi = lo - 1, hi - 1
    trunk = m * (3 - 1) // 2 + (5 - 1) // 2
    return lo - trunk, hi + trunk
