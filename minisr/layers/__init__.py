"""Layers: each owns its parameters and the cache its backward pass needs.

    Conv2d    k x k convolution (1x1 on a fast path)   (N, C, H, W) -> (N, F, H, W)
    Deconv2d  strided transposed convolution           (N, C, H, W) -> (N, F, sH - s + 1, ...)
    PReLU     parametric ReLU                           (N, C, H, W) -> same
    ReLU      PReLU with its slope fixed at 0           (N, C, H, W) -> same
    ChannelSum  the sum of the channels                 (N, C, H, W) -> (N, 1, H, W)
    Upsample  MATLAB's bicubic enlargement (SRCNN)      (N, C, H, W) -> (N, C, nH - n + 1, ...)
    Pad2d     zero / replicate border                   (N, C, H, W) -> (N, C, H + 2p, W + 2p)
"""

from .activation import ChannelSum, PReLU, ReLU
from .base import Layer, Parameter
from .conv import Conv2d
from .deconv import Deconv2d
from .loss import mse_loss
from .padding import Pad2d
from .upsample import Upsample

__all__ = ["ChannelSum", "Conv2d", "Deconv2d", "Layer", "PReLU", "Pad2d", "Parameter", "ReLU", "Upsample", "mse_loss"]
