"""Networks beyond FSRCNN, by name: the steps of the paper's Table 1 and the variants
behind its design claims, all chains of minisr layers trained, saved and loaded like
FSRCNN (``python -m minisr.train --arch NAME``, ``minisr.load_model(file)``).

Notation as in the paper: Conv(k, n_out, c_in), DeConv(k, n_out, c_in).

    srcnn-ex       Upsample(bicubic) - Conv(9,64,1)-ReLU - Conv(5,32,64)-ReLU - Conv(5,1,32)
                   SRCNN-Ex, on the bicubic-upscaled image (the upscaling is its first
                   layer, so it takes the LR image like every other network here)
    transition-1   Conv(9,64,1)-ReLU - Conv(5,32,64)-ReLU - DeConv(9,1,32), on the LR image:
                   SRCNN-Ex with its last convolution replaced by a deconvolution
    transition-2   Conv(9,64,1)-PReLU - Conv(1,12,64)-PReLU - 4 x [Conv(3,12,12)-PReLU]
                   - Conv(1,64,12)-PReLU - DeConv(9,1,64): shrinking, mapping, expanding
    fsrcnn         FSRCNN(56, 12, 4) (``minisr.model.FSRCNN``; --d/--s/--m for others)
    fsrcnn-relu    FSRCNN(56, 12, 4) with ReLU instead of PReLU (claim: PReLU is more stable)
    fsrcnn-no-expand  FSRCNN(56, 12, 4) without the expanding layer: the deconvolution
                   takes the 12 mapped channels, DeConv(9,1,12) (claim: up to 0.3 dB lost)
    fsrcnn-shared-deconv  FSRCNN(56, 12, 4) whose 56 deconvolution filters are one and the
                   same: ChannelSum, then DeConv(9,1,1) (claim: at least 0.9 dB lost)

Weights (the paper's count: no biases, no PReLU slopes): 57,184 / 58,976 / 17,088 /
12,464, as in the paper's Table 1. Convolutions: padding keeps the size ("same"),
zeros; He initialisation for PReLU (slope 0.25) or ReLU; deconvolutions: Gaussian, std
0.001, as FSRCNN's. Every name builds one network for a given ``scale``.
"""

import numpy as np

from .layers import ChannelSum, Conv2d, Deconv2d, PReLU, ReLU, Upsample
from .layers.base import kernel_choice
from .model import DECONV_INIT_STD, PRELU_INIT, Chain

#: A layer of a network description: ("conv", k, n_out, c_in, activation),
#: ("deconv", k, n_out, c_in), ("upsample",) or ("sum", channels); activation "prelu",
#: "relu" or None.
SRCNN_EX = [("upsample",), ("conv", 9, 64, 1, "relu"), ("conv", 5, 32, 64, "relu"), ("conv", 5, 1, 32, None)]
TRANSITION_1 = [("conv", 9, 64, 1, "relu"), ("conv", 5, 32, 64, "relu"), ("deconv", 9, 1, 32)]


def hourglass(d: int, s: int, m: int, first: int = 5, activation: str = "prelu", expand: bool = True,
              shared_deconv: bool = False) -> list:
    """Feature extraction (first x first), shrinking, m mappings, expanding, deconvolution
    (with ``shared_deconv``: one filter for every channel, as a channel sum first)."""
    layers = [("conv", first, d, 1, activation), ("conv", 1, s, d, activation)]
    layers += [("conv", 3, s, s, activation)] * m
    if expand:
        layers.append(("conv", 1, d, s, activation))
    channels = d if expand else s
    if shared_deconv:
        return layers + [("sum", channels), ("deconv", 9, 1, 1)]
    return layers + [("deconv", 9, 1, channels)]


ARCHITECTURES = {
    "srcnn-ex": SRCNN_EX,
    "transition-1": TRANSITION_1,
    "transition-2": hourglass(64, 12, 4, first=9),
    "fsrcnn-relu": hourglass(56, 12, 4, activation="relu"),
    "fsrcnn-no-expand": hourglass(56, 12, 4, expand=False),
    "fsrcnn-shared-deconv": hourglass(56, 12, 4, shared_deconv=True),
}


class Network(Chain):
    """The network named ``arch`` (a key of :data:`ARCHITECTURES`) for upscaling factor
    ``scale``. Its layers are named ``conv1``, ``conv1_act``, ..., ``upsample`` and
    ``deconv`` (so that ``--deconv-lr`` applies to the deconvolution as in FSRCNN)."""

    def __init__(self, arch: str, scale: int = 3, *, seed=0, dtype=np.float32, kernels=None):
        if arch not in ARCHITECTURES:
            raise ValueError(f"unknown network {arch!r}; known: fsrcnn, {', '.join(ARCHITECTURES)}")
        if not isinstance(scale, (int, np.integer)) or not 1 <= scale <= 16:
            raise ValueError(f"{arch}: scale must be an integer in 1..16, got {scale!r}")
        self.arch = arch
        kernels = kernel_choice(kernels)
        rng = np.random.default_rng(seed)
        named, convs = [], 0
        for spec in ARCHITECTURES[arch]:
            if spec[0] == "upsample":
                named.append(("upsample", Upsample(scale, kernels=kernels)))
            elif spec[0] == "sum":
                named.append(("sum", ChannelSum(spec[1], kernels=kernels)))
            elif spec[0] == "deconv":
                _, k, n_out, c_in = spec
                layer = Deconv2d(c_in, n_out, k, stride=scale, padding=4, dtype=dtype, kernels=kernels)
                layer.weight.data[...] = rng.normal(0.0, DECONV_INIT_STD, layer.weight.shape)
                named.append(("deconv", layer))
            else:
                _, k, n_out, c_in, activation = spec
                convs += 1
                layer = Conv2d(c_in, n_out, k, padding=(k - 1) // 2, dtype=dtype, kernels=kernels)
                slope = PRELU_INIT if activation == "prelu" else 0.0
                std = np.sqrt(2.0 / ((1 + slope ** 2) * c_in * k * k))  # He et al. for (P)ReLU
                layer.weight.data[...] = rng.normal(0.0, std, layer.weight.shape)
                named.append((f"conv{convs}", layer))
                if activation == "prelu":
                    named.append((f"conv{convs}_act", PReLU(n_out, init=PRELU_INIT, dtype=dtype, kernels=kernels)))
                elif activation == "relu":
                    named.append((f"conv{convs}_act", ReLU(n_out, dtype=dtype, kernels=kernels)))
        self._finish(named, scale, {"arch": arch, "scale": int(scale)}, kernels)

    def title(self) -> str:
        return self.arch

    def __repr__(self):
        return f"Network({self.arch!r}, scale={self.scale}{self.kernels_suffix()})"


def check_arch_config(config: dict, path) -> dict:
    """The ``__config__`` of a named network's file, checked: ``{"arch": NAME, "scale": n}``
    and nothing else. ValueError naming ``path``."""
    unknown = sorted(set(config) - {"arch", "scale"})
    if unknown:
        raise ValueError(f"{path}: __config__ has unknown keys {unknown} for a named network (known: arch, scale)")
    if config["arch"] not in ARCHITECTURES:
        raise ValueError(f"{path}: __config__ arch={config['arch']!r} is not one of {', '.join(ARCHITECTURES)}")
    scale = config.get("scale")
    if type(scale) is not int or not 1 <= scale <= 16:
        raise ValueError(f"{path}: __config__ scale={scale!r} is not an integer in 1..16")
    return config
