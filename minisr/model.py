"""FSRCNN(d, s, m): the hourglass network of Dong, Loy & Tang (ECCV 2016).

    LR (N, 1, H, W)
      feature extraction  Conv 5x5, 1 -> d      + PReLU
      shrinking           Conv 1x1, d -> s      + PReLU
      mapping             m x [Conv 3x3, s -> s + PReLU]
      expanding           Conv 1x1, s -> d      + PReLU
      deconvolution       Deconv 9x9, d -> 1, stride n, pad 4
    HR (N, 1, nH - n + 1, nW - n + 1)    (exactly (nH, nW) with ``exact_size=True``)

Every convolution keeps H x W ("same" padding); only the last layer works at the high
resolution, which is what makes FSRCNN fast. The whole backward pass is one reversed
loop over the layers: the network is a chain, so it needs no autograd tape.

:class:`Chain` holds what every such chain shares (forward, backward, infer, summary,
model files); :class:`FSRCNN` builds the hourglass on it, as :mod:`minisr.networks`
builds the paper's other networks. Below them: the inference steps and the reading and
checking of model files.
"""

import json
import threading
import zipfile
import zlib

import numpy as np

from .atomic import atomic_savez
from .layers import Conv2d, Deconv2d, Pad2d, PReLU, Upsample
from .layers.base import Workspace, check_gradient, check_input, kernel_choice, pack, unpack

PRELU_INIT = 0.25       # He et al.'s initial PReLU slope
DECONV_INIT_STD = 1e-3  # the paper's Gaussian init of the deconvolution


class Chain:
    """A network that is a straight chain of layers: what FSRCNN and every network of
    :mod:`minisr.networks` share. Subclasses build ``named_layers`` (``[(name, layer)]``)
    and call :meth:`_finish`; ``config`` (JSON-able) rebuilds the network
    (:func:`build_from_config`).

    The whole backward pass is one reversed loop over the layers; ``infer`` runs each
    layer's ``infer_packed`` (PReLU/ReLU fused into the convolution before it, outputs
    written into the next layer's padded input, arrays kept between calls). Exactly one
    layer changes the resolution (``resizes``): the deconvolution (FSRCNN) or a first
    bicubic ``Upsample`` (SRCNN).
    """

    def _finish(self, named, scale: int, config: dict, kernels: str) -> None:
        self.named_layers = named
        self.layers = [layer for _, layer in named]
        self.scale, self.config, self.kernels = int(scale), config, kernels
        self._batch = self._out_shape = None  # of the last forward pass
        self._workspace = Workspace()  # infer()'s arrays, kept between calls
        self._workspace_lock = threading.Lock()  # held while a call uses them

    def title(self) -> str:
        return type(self).__name__

    def __repr__(self):
        return f"{self.title()}(scale={self.scale}{self.kernels_suffix()})"

    def named_parameters(self) -> list:
        """[(name, Parameter)], names like ``"feature.weight"``, ``"map2_prelu.slope"``."""
        return [(f"{lname}.{pname}", p)
                for lname, layer in self.named_layers for pname, p in layer.params.items()]

    def parameters(self) -> list:
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    def replica(self) -> "Chain":
        """A model with the same configuration that *shares* this one's weight arrays
        (each parameter's ``.data`` is the same array object, so updating one updates
        both) but has its own gradients and layer caches: one per worker thread in
        data-parallel training (``minisr/training/parallel.py``)."""
        twin = build_from_config(self.config, dtype=self.dtype, kernels=self.kernels)
        for mine, theirs in zip(self.parameters(), twin.parameters()):
            theirs.data = mine.data
            theirs.grad = np.zeros_like(mine.data)
        return twin

    @property
    def dtype(self):
        """The parameters' dtype (float32, or float64 for gradient checks)."""
        return next(p.data.dtype for p in self.parameters())

    def astype(self, dtype) -> "Chain":
        """Convert every parameter to ``dtype`` (float64 for gradient checks); returns self."""
        for layer in self.layers:
            layer.astype(dtype)
        return self

    # ------------------------------------------------------------------ passes
    def forward(self, x: np.ndarray, exact_size: bool = False) -> np.ndarray:
        """x (N, 1, H, W) -> y (N, 1, nH - n + 1, nW - n + 1), or (N, 1, nH, nW) when
        ``exact_size`` (inference).

        The batch is packed once into the kernels' (C, H, W*N) layout, goes through
        every layer's ``forward_packed`` and is unpacked at the end. The layer that
        changes the resolution (the deconvolution, or a first bicubic ``Upsample``)
        gives Caffe's size ``n(H - 1) + 1``, or ``nH`` with ``exact_size``.
        """
        x = check_input(x, 1, self.dtype, repr(self))
        batch = x.shape[0]
        exact = (self.scale * x.shape[2], self.scale * x.shape[3]) if exact_size else None
        h = pack(x)
        for layer in self.layers:
            h = layer.forward_packed(h, batch, output_size=exact) if resizes(layer) else layer.forward_packed(h, batch)
        y = unpack(h, batch)
        self._batch, self._out_shape = batch, y.shape
        return y

    def infer(self, x: np.ndarray) -> np.ndarray:
        """Inference: x (N, 1, H, W) -> (N, 1, nH, nW), exactly ``scale`` times larger.

        The same numbers as ``forward(x, exact_size=True)``, sooner: each layer's
        ``infer_packed`` keeps nothing for ``backward``, runs the PReLU after a
        convolution in the convolution's pass, and writes its output straight into the
        padded input its successor asks for (``input_border``), in arrays of a
        :class:`~minisr.layers.base.Workspace` kept for the next call of the same size
        (``release_workspace()`` frees them). A call made while another thread is using
        the workspace gets a private one, so one model can serve several threads.

        On the reference kernels (``kernels="reference"``) this *is*
        ``forward(x, exact_size=True)``: the layers run their formulas one by one.
        """
        x = check_input(x, 1, self.dtype, repr(self))
        self._batch = None  # infer() keeps nothing for backward
        if not self._workspace_lock.acquire(blocking=False):
            return self.run_inference(x, Workspace(keep=False))
        try:
            return self.run_inference(x, self._workspace)
        finally:
            self._workspace_lock.release()

    def run_inference(self, x: np.ndarray, workspace: Workspace) -> np.ndarray:
        """:meth:`infer` with the arrays of ``workspace``."""
        batch, height, width = x.shape[0], x.shape[2], x.shape[3]
        y, _ = infer_chain(self.layers, pack(x), batch, workspace,
                           output_size=(self.scale * height, self.scale * width))
        return unpack(y, batch)

    def release_workspace(self) -> None:
        """Free the arrays ``infer`` keeps for the next call of the same size."""
        self._workspace.release()

    def backward(self, dout: np.ndarray, input_grad: bool = True, stop_at: int = 0):
        """Back-propagate ``dL/dy`` (shape of the last output); accumulates every
        parameter's ``.grad`` and returns ``dL/dx`` (N, 1, H, W).

        ``input_grad=False`` skips the first layer's input gradient (training does not
        need it) and returns None. ``stop_at=k`` (with ``input_grad=False``) goes back
        only through ``layers[k:]``: fine-tuning the deconvolution alone needs only
        ``stop_at=len(layers) - 1``.

        The whole engine: ``for layer in reversed(layers): d = layer.backward(d)``.
        """
        if self._batch is None:
            raise RuntimeError(f"{self!r}: backward() called before forward()")
        if stop_at and input_grad:
            raise ValueError("stop_at > 0 leaves no input gradient: pass input_grad=False")
        d = pack(check_gradient(dout, self._out_shape, self.dtype, repr(self)))
        for index in reversed(range(stop_at, len(self.layers))):
            d = self.layers[index].backward_packed(d, input_grad=index > stop_at or input_grad)
        return unpack(d, self._batch) if input_grad else None

    __call__ = forward

    # ------------------------------------------------------------------ counting
    def weight_count(self) -> int:
        """Weights only, no biases or PReLU slopes: the paper's parameter count,
        ``25d + sd + 9ms^2 + ds + 81d``."""
        return sum(layer.weight_count() for layer in self.layers)

    def macs_per_lr_pixel(self) -> int:
        """Multiply-adds per LR pixel; for FSRCNN ``9ms^2 + 2sd + 106d`` (the
        deconvolution's 81d are spent once per LR pixel, scattered onto n x n HR
        pixels)."""
        return sum(self.macs_by_layer())

    def macs_by_layer(self) -> list:
        """Each layer's multiply-adds per LR pixel: its own per input pixel, times n x n
        for layers after a bicubic ``Upsample`` (they work on the HR grid)."""
        macs, pixels = [], 1
        for layer in self.layers:
            macs.append(pixels * layer.macs_per_input_pixel())
            if isinstance(layer, Upsample):
                pixels = self.scale ** 2
        return macs

    def summary(self, input_shape=(1, 1, 253, 253), file=None) -> str:
        """Print (and return) a table of layers, output shapes, weights and MACs per LR pixel."""
        rows = [("layer", "type", "output shape", "weights", "MACs/LR px")]
        shape = tuple(input_shape)
        for (name, layer), macs in zip(self.named_layers, self.macs_by_layer()):
            shape = layer.output_shape(shape)
            rows.append((name, repr(layer), str(shape), str(layer.weight_count()), str(macs)))
        n_all = sum(p.data.size for p in self.parameters())
        rows.append(("total", f"{self.title()} x{self.scale}", "",
                     str(self.weight_count()), str(self.macs_per_lr_pixel())))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = ["  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                 for r in rows]
        lines.insert(1, "-" * len(lines[0]))
        lines.insert(len(lines) - 1, "-" * len(lines[0]))
        lines.append(f"all parameters (with biases and PReLU slopes): {n_all}; kernels: {self.kernels}")
        text = "\n".join(lines)
        print(text, file=file)
        return text

    def kernels_suffix(self) -> str:
        return ", kernels='reference'" if self.kernels == "reference" else ""

    # ------------------------------------------------------------------ files
    def save(self, path) -> None:
        """Write the weights and the configuration to an ``.npz`` file atomically
        (:func:`minisr.atomic.atomic_write`: a temporary file, then renamed)."""
        arrays = {name: p.data for name, p in self.named_parameters()}
        arrays["__config__"] = np.array(json.dumps(self.config))
        atomic_savez(path, arrays)

    def load_weights(self, path) -> "Chain":
        """Load weights saved by :meth:`save` into this model (names and shapes must match)."""
        return self._set_weights(read_npz(path), path)

    def _set_weights(self, arrays: dict, path) -> "Chain":
        """Copy the arrays of a model file into this model's parameters, after checking
        everything: the configuration, names, shapes, float dtype, no NaN/Inf.
        Raises ValueError naming ``path``; the model is unchanged on error."""
        arrays = dict(arrays)
        if "__config__" in arrays:
            saved = parse_config(arrays.pop("__config__"), path)
            differ = {k: (saved[k], v) for k, v in self.config.items() if k in saved and saved[k] != v}
            if differ:
                details = ", ".join(f"{k}={a!r} in the file but {b!r} here" for k, (a, b) in differ.items())
                raise ValueError(f"{path}: weights are for another configuration: {details}")
        expected = dict(self.named_parameters())
        missing = sorted(set(expected) - set(arrays))
        unexpected = sorted(set(arrays) - set(expected))
        if missing or unexpected:
            raise ValueError(f"{path}: weights do not match {self!r}: "
                             f"missing {missing or 'nothing'}, unexpected {unexpected or 'nothing'}")
        for name, p in expected.items():
            if arrays[name].shape != p.data.shape:
                raise ValueError(f"{path}: {name} has shape {arrays[name].shape}, "
                                 f"{self!r} needs {p.data.shape}")
            if arrays[name].dtype.kind != "f":
                raise ValueError(f"{path}: {name} holds {arrays[name].dtype} values, not floating point")
        check_finite([(name, arrays[name]) for name in expected], path)
        for name, p in expected.items():
            p.data[...] = arrays[name]
        return self


class FSRCNN(Chain):
    """FSRCNN(d, s, m) for upscaling factor ``scale``.

    Arguments beyond the paper's (d, s, m, scale) describe how the authors' released
    MATLAB models run, so that their weights can be imported and checked:

    * ``padding_mode``: ``"zeros"`` (training, the default) or ``"replicate"``.
    * ``shared_prelu``: one PReLU slope per layer instead of one per channel.
    * ``deconv_border``: ``"replicate"`` pads the deconvolution's input by one
      replicated pixel (the crop moves by ``scale`` so the alignment is unchanged);
      this fills the last output rows and columns from the border pixels.
    * ``deconv_padding``: the crop offset of the deconvolution output (default 4,
      Caffe's pad; plus ``scale`` with ``deconv_border="replicate"``).

    ``kernels``: ``"fast"`` or ``"reference"`` (default: ``$MINISR_KERNELS``, else
    ``"fast"``), the arithmetic every layer uses for ``forward``, ``backward`` and
    ``infer`` (``minisr/kernels/reference.py`` holds the formulas as plain loops). It is
    a way of computing, not part of the network: model files do not record it, and
    ``self.kernels`` says which is in use.

    ``forward(x)`` takes (N, 1, H, W) in the parameters' dtype (float32 by default).
    """

    def __init__(self, d: int = 56, s: int = 12, m: int = 4, scale: int = 3, *,
                 padding_mode: str = "zeros", shared_prelu: bool = False,
                 deconv_border: str = "zeros", deconv_padding=None,
                 seed=0, dtype=np.float32, kernels=None):
        for name, value, low in (("d", d, 1), ("s", s, 1), ("m", m, 0), ("scale", scale, 1)):
            if not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"FSRCNN: {name} must be an integer >= {low}, got {value!r}")
        if deconv_border not in ("zeros", "replicate"):
            raise ValueError(f"deconv_border must be 'zeros' or 'replicate', got {deconv_border!r}")
        if deconv_padding is None:
            deconv_padding = 4 + (scale if deconv_border == "replicate" else 0)
        self.config = dict(d=int(d), s=int(s), m=int(m), scale=int(scale),
                           padding_mode=padding_mode, shared_prelu=bool(shared_prelu),
                           deconv_border=deconv_border, deconv_padding=int(deconv_padding))
        self.d, self.s, self.m = int(d), int(s), int(m)
        kernels = kernel_choice(kernels)

        def conv(name, c_in, c_out, k):
            layer = Conv2d(c_in, c_out, k, padding=(k - 1) // 2, padding_mode=padding_mode, dtype=dtype,
                           kernels=kernels)
            return [(name, layer), (name + "_prelu", PReLU(c_out, shared=shared_prelu, init=PRELU_INIT,
                                                           dtype=dtype, kernels=kernels))]

        named = conv("feature", 1, d, 5) + conv("shrink", d, s, 1)
        for i in range(1, m + 1):
            named += conv(f"map{i}", s, s, 3)
        named += conv("expand", s, d, 1)
        if deconv_border == "replicate":
            named.append(("deconv_pad", Pad2d(1, "replicate", kernels=kernels)))
        named.append(("deconv", Deconv2d(d, 1, 9, stride=scale, padding=deconv_padding, dtype=dtype,
                                         kernels=kernels)))
        self._finish(named, scale, self.config, kernels)
        self.deconv = self.layers[-1]
        self.init_weights(seed)

    # ------------------------------------------------------------------ weights
    def init_weights(self, seed=0) -> None:
        """The paper's initialisation, reproducible from ``seed``.

        Convolutions: Gaussian with std ``sqrt(2 / ((1 + a^2) * fan_in))``, He et al.'s
        rule for PReLU with slope ``a = 0.25``, ``fan_in = C_in * k * k``.
        Deconvolution: Gaussian with std 0.001. Biases 0, PReLU slopes 0.25.
        """
        rng = np.random.default_rng(seed)
        for layer in self.layers:
            if isinstance(layer, Conv2d):
                fan_in = layer.in_channels * layer.kernel_size ** 2
                std = np.sqrt(2.0 / ((1 + PRELU_INIT ** 2) * fan_in))
                layer.weight.data[...] = rng.normal(0.0, std, layer.weight.shape)
            elif isinstance(layer, Deconv2d):
                layer.weight.data[...] = rng.normal(0.0, DECONV_INIT_STD, layer.weight.shape)
            elif isinstance(layer, PReLU):
                layer.slope.data[...] = PRELU_INIT
            if "bias" in layer.params:
                layer.bias.data[...] = 0

    def title(self) -> str:
        return f"FSRCNN({self.d}, {self.s}, {self.m})"

    def __repr__(self):
        return f"FSRCNN(d={self.d}, s={self.s}, m={self.m}, scale={self.scale}{self.kernels_suffix()})"

    @classmethod
    def load(cls, path, dtype=np.float32, kernels=None) -> "FSRCNN":
        """Build the model described in a saved ``.npz`` file and load its weights.

        Raises FileNotFoundError, or ValueError with one line naming the file: not an
        .npz, truncated or corrupt, a missing or malformed ``__config__``, weights that
        do not fit it, weights holding NaN/Inf.
        """
        model = load_network(path, dtype=dtype, kernels=kernels)
        if not isinstance(model, cls):
            raise ValueError(f"{path}: holds {model!r}, not an FSRCNN; load it with minisr.load_model")
        return model


def inference_steps(layers) -> list:
    """``layers`` as the steps of an inference pass: (layer, the PReLU that follows a
    convolution and runs in its pass, or None)."""
    steps, index = [], 0
    while index < len(layers):
        layer = layers[index]
        following = layers[index + 1] if index + 1 < len(layers) else None
        fused = isinstance(layer, Conv2d) and isinstance(following, PReLU)
        steps.append((layer, following if fused else None))
        index += 2 if fused else 1
    return steps


def resizes(layer) -> bool:
    """Whether ``layer`` changes the resolution (and so takes ``output_size``)."""
    return getattr(layer, "resizes", False)


def infer_chain(layers, h, batch, workspace, last_border=(0, False), output_size=None):
    """Run a chain of ``layers`` for inference on batch-packed ``h``; each layer writes
    its output with the border the next one asks for (the last: ``last_border``), the
    layer that changes the resolution gives ``output_size``. Returns (output, its
    border in pixels)."""
    border = 0
    steps = inference_steps(layers)
    for index, (layer, prelu) in enumerate(steps):
        out_border = steps[index + 1][0].input_border() if index + 1 < len(steps) else last_border
        options = {} if prelu is None else {"prelu": prelu}
        if resizes(layer):
            options["output_size"] = output_size
        h, border = layer.infer_packed(h, batch, border, workspace, out_border, **options)
    return h, border


# ---------------------------------------------------------------------- model files
def build_from_config(config: dict, dtype=np.float32, kernels=None, seed=0) -> Chain:
    """The network a checked model-file configuration describes: an FSRCNN, or (with an
    ``arch`` key) a named network of :mod:`minisr.networks`."""
    if "arch" in config:
        from .networks import Network
        return Network(config["arch"], config["scale"], dtype=dtype, kernels=kernels, seed=seed)
    return FSRCNN(**config, dtype=dtype, kernels=kernels, seed=seed)


def load_network(path, dtype=np.float32, kernels=None) -> Chain:
    """Build the network a saved ``.npz`` describes and load its weights (FSRCNN or a
    named network); ValueError naming the file for anything wrong with it."""
    arrays = read_npz(path)
    if "__config__" not in arrays:
        raise ValueError(f"{path}: not a minisr model file (no __config__ entry)")
    model = build_from_config(parse_config(arrays["__config__"], path), dtype=dtype, kernels=kernels)
    return model._set_weights(arrays, path)


#: The integer settings of a model file's ``__config__`` and their allowed range. The
#: paper's largest network is FSRCNN(56, 16, 4): these bounds leave room for
#: experiments (at the bounds the weights take about 150 MB) but refuse a damaged or
#: hostile file that would make the constructor allocate gigabytes.
CONFIG_RANGES = {"d": (1, 1024), "s": (1, 256), "m": (0, 64), "scale": (1, 16),
                 "deconv_padding": (0, 64)}
#: The other settings and their allowed values.
CONFIG_CHOICES = {"padding_mode": ("zeros", "replicate"), "deconv_border": ("zeros", "replicate"),
                  "shared_prelu": (False, True)}
CONFIG_REQUIRED = ("d", "s", "m", "scale")


def parse_config(entry, path) -> dict:
    """The ``__config__`` entry of a model file (JSON text) as FSRCNN's keyword
    arguments, checked before any model is built: a JSON object, known keys only,
    integers within :data:`CONFIG_RANGES`, the other values from :data:`CONFIG_CHOICES`.
    Raises ValueError naming ``path``."""
    try:
        config = json.loads(str(entry))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: __config__ is not valid JSON ({error})") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path}: __config__ must be a JSON object, got {type(config).__name__} "
                         f"{json.dumps(config)[:60]}")
    if "arch" in config:  # a named network of minisr.networks: its name and the scale
        from .networks import check_arch_config
        return check_arch_config(config, path)
    unknown = sorted(set(config) - set(CONFIG_RANGES) - set(CONFIG_CHOICES))
    if unknown:
        raise ValueError(f"{path}: __config__ has unknown keys {unknown} "
                         f"(known: {', '.join(list(CONFIG_RANGES) + list(CONFIG_CHOICES))})")
    missing = [key for key in CONFIG_REQUIRED if key not in config]
    if missing:
        raise ValueError(f"{path}: __config__ lacks {', '.join(missing)}")
    for key, (low, high) in CONFIG_RANGES.items():
        value = config.get(key, low)
        if type(value) is not int or not low <= value <= high:  # bool is not an int here
            raise ValueError(f"{path}: __config__ {key}={value!r} is not an integer in {low}..{high}")
    for key, allowed in CONFIG_CHOICES.items():
        value = config.get(key, allowed[0])
        if type(value) is not type(allowed[0]) or value not in allowed:
            raise ValueError(f"{path}: __config__ {key}={value!r} is not one of {allowed}")
    return config


def read_config(path) -> dict:
    """The checked configuration of a minisr model file (see :func:`parse_config`)."""
    arrays = read_npz(path)
    if "__config__" not in arrays:
        raise ValueError(f"{path}: not a minisr model file (no __config__ entry)")
    return parse_config(arrays["__config__"], path)


def check_finite(named_arrays, path) -> None:
    """Raise ValueError if any of the ``(name, array)`` pairs holds NaN or Inf, naming
    ``path`` and how many values of which arrays: ``3 of 1400 in feature.weight``."""
    bad = []
    for name, array in named_arrays:
        count = array.size - int(np.count_nonzero(np.isfinite(array)))
        if count:
            bad.append(f"{count} of {array.size} in {name}")
    if bad:
        raise ValueError(f"{path}: weights hold NaN/Inf values ({', '.join(bad)})")


def read_npz(path) -> dict:
    """Read every array of an ``.npz`` file (``allow_pickle=False``) into a dict.

    Raises FileNotFoundError, or ValueError with one line naming the file: empty, not
    an .npz (zip) file, truncated or corrupt (a bad CRC shows only when an array is
    read, so every array is read here), or holding something other than NumPy arrays.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such weights file") from None
    except IsADirectoryError:
        raise ValueError(f"{path}: is a folder, not an .npz file") from None
    except OSError as error:
        raise ValueError(f"{path}: cannot be read ({error.strerror})") from None
    if not head:
        raise ValueError(f"{path}: empty file (0 bytes), not an .npz file")
    if not head.startswith(b"PK"):  # every zip file starts so; np.load would try pickle
        raise ValueError(f"{path}: not an .npz (zip) file")
    arrays = {}
    try:
        with np.load(path, allow_pickle=False) as data:
            for name in data.files:
                arrays[name] = _read_member(data, name, path)
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as error:
        text = " ".join(str(error).split()) or type(error).__name__
        raise ValueError(f"{path}: not a readable .npz file (truncated or corrupt: {text})") from None
    return arrays


class ModelFileError(ValueError):
    """A model file holds something minisr does not read (the message names the file)."""


def _read_member(data, name: str, path) -> np.ndarray:
    """One array of an open ``.npz``; ModelFileError for a pickled object array or a
    member that is not a ``.npy`` array at all."""
    try:
        array = data[name]
    except ValueError as error:
        if "allow_pickle" in str(error):  # numpy's words for an object array
            raise ModelFileError(f"{path}: {name} is a pickled (object) array; "
                                 "minisr reads plain numeric arrays only") from None
        raise
    if not isinstance(array, np.ndarray):  # np.load gives raw bytes for a non-.npy member
        raise ModelFileError(f"{path}: {name} is not a NumPy array")
    return array
