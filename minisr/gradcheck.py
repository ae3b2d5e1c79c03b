"""Finite-difference gradient checks, for learners and for the test suite.

The idea: pick a random upstream gradient ``g`` (not all ones, so that a wrong index
cannot hide) and the scalar ``L = sum(forward(x) * g)``. Backward with ``g`` gives
``dL/dx`` and ``dL/dw`` analytically; centred differences give them numerically::

    dL/dx[i] ~ (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)

Everything runs in float64 (float32 differences are dominated by rounding). Two
gradients agree when their relative error ``|a - b| / max(|a|, |b|, 1)`` is small
(around 1e-7 or less for eps = 1e-6).

    >>> layer = Conv2d(2, 3, 3, padding=1).astype(np.float64)
    >>> errors = check_layer(layer, rng.normal(size=(2, 2, 5, 5)))
    >>> errors   # {"input": 2e-09, "weight": 2e-09, "bias": 6e-10}
"""

import numpy as np

from .layers.loss import mse_loss


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """max over entries of ``|a - b| / max(|a|, |b|, 1)``."""
    a, b = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), 1.0)
    return float(np.max(np.abs(a - b) / scale)) if a.size else 0.0


def numerical_gradient(scalar_fn, array: np.ndarray, eps: float = 1e-6, indices=None) -> np.ndarray:
    """Centred differences of ``scalar_fn()`` with respect to ``array`` (changed in
    place and restored). Only ``indices`` (flat) are perturbed when given; the other
    entries of the result are NaN."""
    grad = np.full(array.shape, np.nan)
    if not array.flags.c_contiguous:
        raise ValueError("numerical_gradient needs a C-contiguous array (its flat view is perturbed in place)")
    flat = array.reshape(-1)  # a view: writing to it perturbs ``array``
    for i in (range(flat.size) if indices is None else indices):
        saved = flat[i]
        flat[i] = saved + eps
        plus = scalar_fn()
        flat[i] = saved - eps
        minus = scalar_fn()
        flat[i] = saved
        grad.reshape(-1)[i] = (plus - minus) / (2 * eps)
    return grad


def _sample(size: int, max_entries, rng):
    if max_entries is None or size <= max_entries:
        return np.arange(size)
    return rng.choice(size, max_entries, replace=False)


def _compare(analytic, scalar_fn, array, eps, max_entries, rng) -> float:
    idx = _sample(array.size, max_entries, rng)
    numeric = numerical_gradient(scalar_fn, array, eps, idx)
    return relative_error(analytic.reshape(-1)[idx], numeric.reshape(-1)[idx])


def _require_float64(*arrays):
    for a in arrays:
        if a.dtype != np.float64:
            raise TypeError("gradient checks need float64 arrays and parameters "
                            f"(got {a.dtype}); use .astype(np.float64)")


def check_layer(layer, x: np.ndarray, eps: float = 1e-6, seed: int = 0,
                max_entries=None, forward_kwargs=None) -> dict:
    """Relative errors of a layer's input and parameter gradients.

    ``layer`` has ``forward``, ``backward`` and ``params`` ({name: Parameter}) in
    float64; ``x`` is its (N, C, H, W) float64 input. Returns
    ``{"input": err, "<param>": err, ...}``. ``max_entries`` limits how many entries
    of each array are checked (chosen at random).
    """
    forward_kwargs = forward_kwargs or {}
    x = np.array(x, dtype=np.float64, order="C")  # C order: reshape(-1) must be a view
    _require_float64(x, *(p.data for p in layer.params.values()))
    rng = np.random.default_rng(seed)
    y = layer.forward(x, **forward_kwargs)
    upstream = rng.normal(size=y.shape)

    def loss():
        return float(np.sum(layer.forward(x, **forward_kwargs) * upstream))

    layer.zero_grad()
    layer.forward(x, **forward_kwargs)
    dx = layer.backward(upstream.copy())
    errors = {"input": _compare(dx, loss, x, eps, max_entries, rng)}
    for name, p in layer.params.items():
        errors[name] = _compare(p.grad.copy(), loss, p.data, eps, max_entries, rng)
    return errors


def check_model(model, x: np.ndarray, target: np.ndarray, eps: float = 1e-6, seed: int = 0,
                max_entries=None) -> dict:
    """Relative errors of the gradients of ``mse_loss(model.forward(x), target)``
    with respect to ``x`` and every named parameter of ``model`` (float64)."""
    x = np.array(x, dtype=np.float64, order="C")
    _require_float64(x, target, *(p.data for p in model.parameters()))
    rng = np.random.default_rng(seed)

    def loss():
        return mse_loss(model.forward(x), target)[0]

    model.zero_grad()
    _, dy = mse_loss(model.forward(x), target)
    dx = model.backward(dy)
    errors = {"input": _compare(dx, loss, x, eps, max_entries, rng)}
    for name, p in model.named_parameters():
        errors[name] = _compare(p.grad.copy(), loss, p.data, eps, max_entries, rng)
    return errors
