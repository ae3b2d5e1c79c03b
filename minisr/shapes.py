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
