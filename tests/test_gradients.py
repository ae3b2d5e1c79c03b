"""Finite-difference gradient checks (float64) of every layer and of FSRCNN, on the
fast and on the reference kernels (``kernels="fast"`` / ``"reference"``)."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from minisr import FSRCNN, Conv2d, Deconv2d, Pad2d, PReLU, mse_loss
from minisr.gradcheck import check_layer, check_model, numerical_gradient, relative_error

TOLERANCE = 1e-6
KERNELS = ["fast", "reference"]


def randomise(layer, rng, scale=1.0):
    for p in layer.parameters():
        p.data[...] = rng.normal(scale=scale, size=p.shape)
    return layer


def assert_gradients_ok(errors):
    assert errors, "nothing was checked"
    worst = max(errors, key=errors.get)
    assert errors[worst] < TOLERANCE, f"{worst}: relative error {errors[worst]:.2e} ({errors})"


def off_the_kink(x, margin=0.05):
    """Move inputs away from 0, where PReLU is not differentiable."""
    return np.where(np.abs(x) < margin, np.sign(x + 1e-12) * margin * 2, x)


@given(k=st.sampled_from([1, 3, 5]), pad_delta=st.integers(-1, 1), mode=st.sampled_from(["zeros", "replicate"]),
       c_in=st.integers(1, 3), c_out=st.integers(1, 3), h=st.integers(3, 6), w=st.integers(3, 6),
       bias=st.booleans(), kernels=st.sampled_from(KERNELS), seed=st.integers(0, 2**16))
def test_conv_gradients(k, pad_delta, mode, c_in, c_out, h, w, bias, kernels, seed):
    pad = max(0, (k - 1) // 2 + pad_delta)
    assume(h + 2 * pad >= k and w + 2 * pad >= k)
    rng = np.random.default_rng(seed)
    layer = randomise(Conv2d(c_in, c_out, k, padding=pad, padding_mode=mode, bias=bias, dtype=np.float64,
                             kernels=kernels), rng)
    assert_gradients_ok(check_layer(layer, rng.normal(size=(2, c_in, h, w)), seed=seed))


@given(k=st.integers(1, 9), stride=st.integers(1, 4), pad=st.integers(0, 4), h=st.integers(1, 4),
       w=st.integers(1, 4), exact=st.booleans(), kernels=st.sampled_from(KERNELS), seed=st.integers(0, 2**16))
def test_deconv_gradients(k, stride, pad, h, w, exact, kernels, seed):
    assume(stride * (min(h, w) - 1) + k - 2 * pad >= 1)
    rng = np.random.default_rng(seed)
    layer = randomise(Deconv2d(3, 2, k, stride=stride, padding=pad, dtype=np.float64, kernels=kernels), rng)
    kwargs = {}
    if exact and pad + stride * max(h, w) <= stride * (min(h, w) - 1) + k:
        kwargs = {"forward_kwargs": {"output_size": (stride * h, stride * w)}}
    assert_gradients_ok(check_layer(layer, rng.normal(size=(2, 3, h, w)), seed=seed, **kwargs))


@pytest.mark.parametrize("kernels", KERNELS)
@pytest.mark.parametrize("shared", [False, True])
def test_prelu_gradients(shared, kernels):
    rng = np.random.default_rng(3)
    layer = PReLU(4, shared=shared, dtype=np.float64, kernels=kernels)
    layer.slope.data[...] = rng.uniform(0.05, 0.5, size=layer.slope.shape)
    x = off_the_kink(rng.normal(size=(3, 4, 5, 6)))
    assert_gradients_ok(check_layer(layer, x))


@pytest.mark.parametrize("kernels", KERNELS)
@pytest.mark.parametrize("mode", ["zeros", "replicate"])
def test_pad_gradients(mode, kernels):
    rng = np.random.default_rng(4)
    assert_gradients_ok(check_layer(Pad2d(2, mode, kernels=kernels), rng.normal(size=(2, 2, 3, 4))))


def test_mse_loss_gradient():
    rng = np.random.default_rng(5)
    pred, target = rng.normal(size=(2, 1, 4, 5)), rng.normal(size=(2, 1, 4, 5))
    loss, grad = mse_loss(pred, target)
    assert loss == pytest.approx(np.mean((pred - target) ** 2))
    numeric = numerical_gradient(lambda: mse_loss(pred, target)[0], pred)
    assert relative_error(grad, numeric) < 1e-8


@pytest.mark.parametrize("config", [
    dict(d=4, s=3, m=1, scale=2),
    dict(d=5, s=2, m=2, scale=3),
    dict(d=3, s=2, m=0, scale=4),
    dict(d=4, s=3, m=1, scale=3, padding_mode="replicate", shared_prelu=True, deconv_border="replicate"),
])
@pytest.mark.parametrize("kernels", KERNELS)
def test_fsrcnn_gradients_through_the_loss(config, kernels):
    rng = np.random.default_rng(6)
    model = FSRCNN(**config, seed=1, kernels=kernels).astype(np.float64)
    for p in model.parameters():  # larger weights than the init, so every path matters
        p.data[...] += rng.normal(scale=0.2, size=p.shape)
    x = rng.random((2, 1, 5, 6))
    target = rng.random(model.forward(x).shape)
    # A step of eps = 1e-6 in any weight or pixel moves a PReLU input by about 1e-6 times
    # a gradient of order 1: if an input sat closer than that to the kink at 0, the
    # centred difference would straddle it and the check would fail for no fault.
    assert prelu_kink_distance(model, x) > 1e-4
    errors = check_model(model, x, target)
    assert set(errors) == {"input"} | {name for name, _ in model.named_parameters()}
    assert_gradients_ok(errors)


def prelu_kink_distance(model, x) -> float:
    """The smallest |input| of any PReLU of ``model`` in a forward pass of ``x``."""
    distance = np.inf
    h = x
    for layer in model.layers[:-1]:
        if isinstance(layer, PReLU):
            distance = min(distance, float(np.min(np.abs(h))))
        h = layer.forward(h)
    return distance


def test_gradcheck_detects_a_wrong_gradient():
    """The checker itself must fail on a broken backward pass."""
    rng = np.random.default_rng(7)
    layer = randomise(Conv2d(2, 2, 3, padding=1, dtype=np.float64), rng)
    original = layer.backward
    layer.backward = lambda dout: 1.01 * original(dout)
    errors = check_layer(layer, rng.normal(size=(1, 2, 4, 4)))
    assert errors["input"] > 1e-3


def test_gradcheck_refuses_float32():
    with pytest.raises(TypeError, match="float64"):
        check_layer(Conv2d(1, 1, 3, padding=1), np.zeros((1, 1, 3, 3), np.float32))


def test_backward_accumulates_until_zero_grad():
    rng = np.random.default_rng(8)
    model = FSRCNN(4, 3, 1, 2, seed=0).astype(np.float64)
    x = rng.random((1, 1, 5, 5))
    dy = rng.normal(size=model.forward(x).shape)
    model.zero_grad()
    model.forward(x)
    model.backward(dy)
    once = [p.grad.copy() for p in model.parameters()]
    model.forward(x)
    model.backward(dy)
    for g, p in zip(once, model.parameters()):
        np.testing.assert_allclose(p.grad, 2 * g, rtol=1e-12, atol=1e-15)
    model.zero_grad()
    assert all(not p.grad.any() for p in model.parameters())


def test_backward_leaves_the_upstream_gradient_untouched():
    rng = np.random.default_rng(9)
    model = FSRCNN(4, 3, 1, 3, seed=0)
    x = rng.random((2, 1, 6, 6)).astype(np.float32)
    dy = rng.normal(size=model.forward(x).shape).astype(np.float32)
    saved = dy.copy()
    dx = model.backward(dy)
    np.testing.assert_array_equal(dy, saved)
    assert dx.shape == x.shape and dx.dtype == np.float32


def test_backward_can_stop_at_a_layer():
    """stop_at=k: layers[k:] get the same gradients as a full backward, earlier ones none."""
    rng = np.random.default_rng(10)
    model = FSRCNN(4, 3, 1, 3, seed=0)
    x = rng.random((2, 1, 5, 5)).astype(np.float32)
    dy = rng.normal(size=model.forward(x).shape).astype(np.float32)
    model.zero_grad()
    model.backward(dy)
    full = [p.grad.copy() for p in model.parameters()]
    last = len(model.layers) - 1
    model.zero_grad()
    model.forward(x)
    assert model.backward(dy, input_grad=False, stop_at=last) is None
    for g, (name, p) in zip(full, model.named_parameters()):
        if name.startswith("deconv."):
            np.testing.assert_array_equal(p.grad, g)
        else:
            assert not p.grad.any(), name
    with pytest.raises(ValueError, match="input_grad=False"):
        model.backward(dy, stop_at=last)
