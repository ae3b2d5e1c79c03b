"""Where a model comes from: the paper's two networks, the shipped weights, and
:func:`load_model`, the one way to get an FSRCNN ready to run.

    load_model("fsrcnn_x3")                 # the shipped weights, minisr/weights/fsrcnn_x3.npz
    load_model("fsrcnn-s", scale=2)         # the same by network name and scale
    load_model("runs/mine/best.npz")        # a minisr model file: size and scale from the file
    load_model("FSRCNN/x3.mat")             # the authors' MATLAB weights: scale from the name
    load_model("their_weights.mat", scale=3)   # ... whose name does not say the scale
    load_model(model)                       # an FSRCNN already built: returned as it is

A keyword argument that the file (or the name) also decides is a check: ``scale=2``
with an x3 file, or ``d=32`` with an FSRCNN(56, 12, 4) file, is a one-line ValueError
naming the file. ``dtype`` and ``kernels`` say how to build the model (see ``FSRCNN``).

Underneath: ``FSRCNN.load(path)`` reads one minisr ``.npz`` and
:func:`minisr.official.load_official_model` one of the authors' ``.mat`` files.
"""

import os
import re
from pathlib import Path

import numpy as np

from .model import CONFIG_CHOICES, CONFIG_RANGES, FSRCNN, load_network, read_config
from .official import load_official_model, scale_from_filename

#: (d, s, m) of the paper's two networks, by name: FSRCNN and FSRCNN-s (Table 2).
PRESETS = {"fsrcnn": (56, 12, 4), "fsrcnn-s": (32, 5, 1)}
#: The weights shipped with minisr: ``<network>_x<scale>.npz`` (trained on T91).
WEIGHTS_DIR = Path(__file__).parent / "weights"
#: ``fsrcnn``, ``fsrcnn-s``, or with a scale: ``fsrcnn_x3``, ``fsrcnn-s_x2``.
SHIPPED_NAME = re.compile(r"^(?P<network>fsrcnn(?:-s)?)(?:_x(?P<scale>\d+))?$")
#: Keyword arguments of :func:`load_model` that say how to build, not what to load.
BUILD_OPTIONS = ("dtype", "kernels")


def shipped_weights_path(network: str, scale: int) -> Path:
    """``minisr/weights/<network>_x<scale>.npz`` (it may not exist for every scale)."""
    return WEIGHTS_DIR / f"{network}_x{scale}.npz"


def network_name(d: int, s: int, m: int) -> str:
    """``fsrcnn`` for (56, 12, 4), ``fsrcnn-s`` for (32, 5, 1), else ``fsrcnn-d-s-m``."""
    for name, dims in PRESETS.items():
        if dims == (d, s, m):
            return name
    return f"fsrcnn-{d}-{s}-{m}"


def model_label(model) -> str:
    """A model's network in words: ``fsrcnn``, ``fsrcnn-s``, ``fsrcnn-d-s-m``, or a
    named network of :mod:`minisr.networks` (``srcnn-ex``, ...)."""
    if "arch" in model.config:
        return model.config["arch"]
    return network_name(model.d, model.s, model.m)


def preset_config(network: str) -> dict:
    """``{"d": 56, "s": 12, "m": 4}`` for ``"fsrcnn"``: a preset as keyword arguments."""
    return dict(zip("dsm", PRESETS[network]))


def check_scale(scale) -> int:
    """``scale`` as an int; ValueError for anything else (``"3"``, ``3.0``, ``True``)."""
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)):
        raise ValueError(f"scale must be an integer such as 3, got {scale!r} ({type(scale).__name__})")
    return int(scale)


def file_scale(path) -> int:
    """The scale a weights file is for: from a minisr file's configuration, from the
    name of one of the authors' files (``x3.mat``). ValueError naming the file."""
    path = os.fspath(path)
    if not path.endswith(".mat"):
        return read_config(path)["scale"]
    scale = scale_from_filename(path)
    if scale is None:
        raise ValueError(f"{path}: cannot tell the scale from the name (expected ...x<scale>.mat); pass scale=")
    return scale


def load_model(spec, scale=None, **config) -> FSRCNN:
    """An FSRCNN from a shipped name, a weights file, or an FSRCNN (see the module
    docstring for the forms of ``spec``).

    ``scale``: needed with a bare network name (``"fsrcnn"``) and with an authors' file
    whose name does not carry it; a check everywhere else. ``config``: ``dtype`` and
    ``kernels`` for building; any of FSRCNN's settings (``d``, ``s``, ``m``,
    ``padding_mode``, ...) as checks on what was loaded.

    Raises FileNotFoundError or ValueError, one line naming the file (or the name).
    """
    build = {key: config.pop(key) for key in BUILD_OPTIONS if key in config}
    unknown = sorted(set(config) - set(CONFIG_RANGES) - set(CONFIG_CHOICES))
    if unknown:
        raise TypeError(f"load_model: unknown keyword arguments {unknown}")
    scale = None if scale is None else check_scale(scale)
    if hasattr(spec, "infer") and hasattr(spec, "scale"):  # an FSRCNN (or a stand-in for one)
        if build:
            raise ValueError(f"{spec!r} is already built: {', '.join(build)} cannot apply")
        model, source = spec, repr(spec)
    else:
        source = os.fspath(spec)
        name = SHIPPED_NAME.match(source.lower())
        if name:
            network, named_scale = name["network"], name["scale"] and int(name["scale"])
            if named_scale and scale and named_scale != scale:
                raise ValueError(f"{source}: the weights are for x{named_scale}, not x{scale}")
            scale = scale or named_scale
            if scale is None:
                raise ValueError(f"{source}: which scale? pass scale= (2, 3 or 4) or name it {network}_x3")
            source = shipped_weights_path(network, scale)
            if not source.is_file():
                raise FileNotFoundError(
                    f"no shipped weights for {network} x{scale} yet ({source} does not exist): "
                    f"give a weights file with --weights FILE (Python: load_model(FILE)), "
                    f"a minisr .npz or the authors' x{scale}.mat")
            config = {**preset_config(network), **config}
        if str(source).endswith(".mat"):
            named_scale = scale_from_filename(source)
            if named_scale and scale and named_scale != scale:
                raise ValueError(f"{source}: the weights are for x{named_scale}, not x{scale}; "
                                 f"use scale {named_scale} or weights made for x{scale}")
            model = load_official_model(source, scale, **build)
        else:
            model = load_network(source, **build)
    if scale is not None and model.scale != scale:
        raise ValueError(f"{source}: the weights are for x{model.scale}, not x{scale}; "
                         f"use scale {model.scale} or weights made for x{scale}")
    if any(model.config.get(key) != value for key, value in config.items()):
        asked = ", ".join(f"{key}={value!r}" for key, value in config.items())
        if set("dsm") <= set(config):  # a network: say which
            asked = f"{network_name(config['d'], config['s'], config['m'])} ({asked})"
        raise ValueError(f"{source}: holds {model!r}, not {asked}")
    return model
