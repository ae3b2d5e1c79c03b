"""What every layer shares: parameters with ``.data`` and ``.grad``, input checks, and
the choice between the fast and the reference kernels."""

import os

import numpy as np

FLOAT_TYPES = (np.float32, np.float64)

#: The two sets of kernels a layer can compute with: ``"fast"`` (``kernels/conv.py`` and
#: friends, batch-packed, blocked, parallel) or ``"reference"`` (``kernels/reference.py``,
#: each formula as one plain loop nest). Both give the same numbers to rounding.
KERNEL_CHOICES = ("fast", "reference")
KERNELS_VARIABLE = "MINISR_KERNELS"


def kernel_choice(kernels=None) -> str:
    """``kernels`` if given, else the environment variable ``MINISR_KERNELS``, else
    ``"fast"``. Read when a layer or model is built, never per call, so
    ``MINISR_KERNELS=reference python -m minisr.train ...`` runs a whole program on the
    reference kernels."""
    if kernels is None:
        kernels = os.environ.get(KERNELS_VARIABLE) or "fast"
        where = f"${KERNELS_VARIABLE}"
    else:
        where = "kernels"
    if kernels not in KERNEL_CHOICES:
        raise ValueError(f"{where} must be one of {KERNEL_CHOICES}, got {kernels!r}")
    return kernels


class Parameter:
    """A learnable array and the gradient accumulated into it.

    ``backward`` *adds* into ``grad`` (``grad += ...``); only :meth:`zero_grad`
    resets it, so gradients of several backward passes accumulate, as in Caffe.
    """

    def __init__(self, data: np.ndarray):
        self.data = np.ascontiguousarray(data)
        self.grad = np.zeros_like(self.data)

    def zero_grad(self) -> None:
        self.grad[...] = 0

    @property
    def shape(self):
        return self.data.shape

    def __repr__(self):
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


def pack(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> batch-packed (C, H, W*N) with ``packed[c, y, x*N + n] = x[n, c, y, x]``
    (see ``minisr/kernels/__init__.py``). For N = 1 this is only a reshape."""
    n, c, h, w = x.shape
    if n == 1:
        return np.ascontiguousarray(x.reshape(c, h, w))
    return np.ascontiguousarray(x.transpose(1, 2, 3, 0)).reshape(c, h, w * n)


def unpack(packed: np.ndarray, batch: int) -> np.ndarray:
    """Batch-packed (C, H, W*N) -> (N, C, H, W); the inverse of :func:`pack`."""
    c, h, length = packed.shape
    if batch == 1:
        return packed.reshape(1, c, h, length)
    return np.ascontiguousarray(packed.reshape(c, h, length // batch, batch).transpose(3, 0, 1, 2))


class Layer:
    """Base class: a layer has ``forward(x)``, ``backward(dout)`` and named parameters.

    ``forward``/``backward`` take and return (N, C, H, W) arrays. They check the input,
    convert it to the batch-packed layout the kernels use, and call the subclass's
    ``forward_packed(x, batch)`` / ``backward_packed(dout)`` on (C, H, W*N) arrays.
    ``FSRCNN`` calls the packed methods directly, converting only once at each end.

    Subclasses set ``self.params = {"weight": Parameter, ...}`` (possibly empty) and
    ``self.in_channels`` (None when any number of channels is accepted).

    ``kernels`` picks the arithmetic (:func:`kernel_choice`): ``"fast"`` or
    ``"reference"``. A reference layer still takes and returns batch-packed arrays in its
    packed methods (so ``FSRCNN`` drives both alike), but unpacks them to (N, C, H, W)
    and calls the loop nests of ``kernels/reference.py``.
    """

    params: dict
    in_channels = None

    def __init__(self, kernels=None):
        self.params = {}
        self._batch = None  # N of the last forward pass
        self.kernels = kernel_choice(kernels)
        self.use_reference_kernels = self.kernels == "reference"

    def forward(self, x, **kwargs):
        """x (N, C, H, W) -> y (N, C', H', W')."""
        x = check_input(x, self.in_channels, self.dtype, repr(self))
        self._batch = x.shape[0]
        self._out_shape = None
        y = self.forward_packed(pack(x), self._batch, **kwargs)
        out = unpack(y, self._batch)
        self._out_shape = out.shape
        return out

    def backward(self, dout):
        """dL/dy (N, C', H', W') -> dL/dx (N, C, H, W); adds into parameters' ``.grad``."""
        if self._batch is None:
            raise RuntimeError(f"{self!r}: backward() called before forward()")
        dtype = dout.dtype if self.dtype is None else self.dtype
        dout = check_gradient(dout, self._out_shape, dtype, repr(self))
        return unpack(self.backward_packed(pack(dout)), self._batch)

    def init_parameters(self, shape, std, bias, dtype, seed) -> None:
        """``weight`` of ``shape`` drawn from a Gaussian with standard deviation ``std``
        (``seed``: an int or a ``np.random.Generator``) and, if ``bias``, ``bias`` of
        ``out_channels`` zeros; ``has_bias`` says which."""
        self.weight = Parameter(np.random.default_rng(seed).normal(0.0, std, shape).astype(dtype))
        self.params = {"weight": self.weight}
        self.has_bias = bias
        if bias:
            self.bias = Parameter(np.zeros(self.out_channels, dtype))
            self.params["bias"] = self.bias

    def bias_or_zeros(self) -> np.ndarray:
        """The bias values, or zeros for a layer without bias (the kernels always add one)."""
        if self.has_bias:
            return self.bias.data
        return np.zeros(self.out_channels, self.weight.data.dtype)

    # Inference: layers that can run faster when they know their neighbours override these.
    def input_border(self) -> tuple:
        """(pixels, replicate): the border :meth:`infer_packed` can take ready-made around
        its input; none here."""
        return 0, False

    def infer_packed(self, x, batch, border, workspace, out_border=(0, False)):
        """Inference on a batch-packed x: returns (y, border of y). Here: ``forward_packed``
        (x arrives without a border, as :meth:`input_border` asks, and y leaves without
        one); ``workspace`` and ``out_border`` are what faster layers use."""
        return self.forward_packed(x, batch), 0

    def kernels_suffix(self) -> str:
        """``", kernels='reference'"`` for a layer on the reference kernels (its repr
        says so), ``""`` on the fast ones."""
        return ", kernels='reference'" if self.use_reference_kernels else ""

    def parameters(self) -> list:
        return list(self.params.values())

    def zero_grad(self) -> None:
        for p in self.params.values():
            p.zero_grad()

    @property
    def dtype(self):
        for p in self.params.values():
            return p.data.dtype
        return None

    def astype(self, dtype) -> "Layer":
        """Convert every parameter (and its gradient) to ``dtype`` in place; returns self."""
        dtype = np.dtype(dtype)
        if dtype.type not in FLOAT_TYPES:
            raise TypeError(f"parameters must be float32 or float64, not {dtype}")
        for p in self.params.values():
            p.data = p.data.astype(dtype)
            p.grad = np.zeros_like(p.data)
        return self

    # Shape bookkeeping used by ``FSRCNN.summary()``.
    def output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def weight_count(self) -> int:
        """Number of weights, not counting biases or PReLU slopes (the paper's count)."""
        return 0

    def macs_per_input_pixel(self) -> int:
        """Multiply-adds per pixel of this layer's input (0 for element-wise layers)."""
        return 0


class Workspace:
    """The arrays an inference pass keeps for its next call, one per layer that asks
    (:meth:`array`). Reusing them spares the operating system handing out and zeroing
    fresh memory on every call (about a quarter of FSRCNN's pass at 253x253 -> 759x759).
    A kept array serves any later shape that fits in its memory, so that tiles of
    different sizes (an image's last row and column of tiles, portrait and landscape
    pictures in a folder) do not allocate again. ``Workspace(keep=False)`` keeps
    nothing: every array is new."""

    def __init__(self, keep: bool = True):
        self.keep = keep
        self._memory = {}  # owner -> 1-D array, the largest it has needed
        self._shapes = {}  # owner -> the shape of its last array

    def array(self, owner, shape, dtype, border: int = 0, batch: int = 1) -> np.ndarray:
        """``owner``'s batch-packed (C, H, W N) array (:func:`pack`), with a frame of
        ``border`` pixels that the kernels never write and that must be zero: the kept
        one if its shape and dtype are unchanged (frame still zero),
        else a view of the kept memory if it is large enough (its frames set to zero
        again; the kernels write the rest), else new zeros."""
        shape, dtype = tuple(shape), np.dtype(dtype)
        size = int(np.prod(shape))
        memory = self._memory.get(owner)
        if memory is None or memory.dtype != dtype or memory.size < size or not self.keep:
            memory = np.zeros(size, dtype)
            if self.keep:
                self._memory[owner], self._shapes[owner] = memory, shape
            return memory.reshape(shape)
        array = memory[:size].reshape(shape)
        if self._shapes[owner] != shape:
            self._shapes[owner] = shape
            zero_frames(array, border, batch)
        return array

    def release(self) -> None:
        """Free every kept array (the next call allocates them again)."""
        self._memory.clear()
        self._shapes.clear()


def zero_frames(array: np.ndarray, border: int, batch: int) -> None:
    """Set to zero the ``border``-pixel frame of a batch-packed (C, H + 2b, (W + 2b) N)
    array: its first and last b rows, and its first and last b N columns (column
    ``x N + n`` holds pixel x of image n, so the images share their frame columns)."""
    if border == 0:
        return
    array[:, :border] = 0
    array[:, -border:] = 0
    array[:, :, :border * batch] = 0
    array[:, :, -border * batch:] = 0


def check_at_least(**values) -> None:
    """``check_at_least(stride=(stride, 1))``: ValueError unless each value is at least
    its bound."""
    for name, (value, low) in values.items():
        if value < low:
            raise ValueError(f"{name} must be >= {low}, got {value}")


def check_input(x, channels, dtype, layer: str) -> np.ndarray:
    """Check that ``x`` is a (N, C, H, W) float array that ``layer`` can take.

    Returns ``x`` as a C-contiguous array (a copy only if it was not contiguous).
    Raises ``TypeError`` for a wrong dtype (no silent promotion: float32 stays
    float32) and ``ValueError`` for a wrong shape.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{layer}: expected a NumPy array, got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{layer}: expected a 4-D array (N, C, H, W), got shape {x.shape}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(
            f"{layer}: expected {channels} input channel(s), got shape {x.shape} "
            "(layout is (N, C, H, W))"
        )
    if dtype is not None and x.dtype != dtype:
        raise TypeError(
            f"{layer}: input dtype {x.dtype} does not match the parameters' {dtype}; "
            f"convert the input with x.astype(np.{np.dtype(dtype).name}) or the layer with .astype()"
        )
    if x.dtype.type not in FLOAT_TYPES:
        raise TypeError(f"{layer}: input must be float32 or float64, got {x.dtype}")
    if min(x.shape) == 0:
        raise ValueError(f"{layer}: empty input of shape {x.shape}")
    return np.ascontiguousarray(x)


def check_gradient(dout: np.ndarray, expected_shape: tuple, dtype, layer: str) -> np.ndarray:
    """Check the upstream gradient's shape and dtype against the forward output."""
    if dout.shape != tuple(expected_shape):
        raise ValueError(
            f"{layer}: upstream gradient has shape {dout.shape}, expected {tuple(expected_shape)}"
        )
    if dout.dtype != dtype:
        raise TypeError(f"{layer}: upstream gradient dtype {dout.dtype}, expected {dtype}")
    return np.ascontiguousarray(dout)


def require_forward(cache, layer: str):
    if cache is None:
        raise RuntimeError(f"{layer}: backward() called before forward()")
    return cache
