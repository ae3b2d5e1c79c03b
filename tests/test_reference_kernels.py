"""The fast kernels compute what the reference kernels (minisr/kernels/reference.py) say.

Every layer is built twice with the same parameters, once on each set of kernels
(``kernels="fast"`` / ``"reference"``), and the two must agree forward and backward, in
float32 and float64, over many shapes (hypothesis). Then a whole FSRCNN training step,
the kernel choice itself (argument, ``MINISR_KERNELS``, without the JIT), the layers'
initialisation, and the README's gradient-check example.
"""

import ast
import io
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from minisr import FSRCNN, Conv2d, Deconv2d, Pad2d, PReLU, mse_loss
from minisr.gradcheck import check_layer
from minisr.kernels import reference
from minisr.kernels import conv as fast_kernels
from minisr.layers.base import pack, unpack
from minisr.optim import SGD, Adam

DTYPES = [np.float32, np.float64]
README = Path(__file__).resolve().parent.parent / "README.md"


def assert_same(fast, ref, what="", atol=0.0):
    """Equal to the dtype's round-off: relative 1e-4 in float32, 1e-10 in float64, with
    the absolute tolerance scaled by the array's largest value (sums cancel, so a small
    entry can carry the rounding of large terms), plus ``atol``."""
    assert fast.shape == ref.shape and fast.dtype == ref.dtype, what
    tol = 1e-4 if ref.dtype == np.float32 else 1e-10
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    np.testing.assert_allclose(fast, ref, rtol=tol, atol=tol * scale + atol + np.finfo(ref.dtype).tiny,
                               err_msg=what)


def sum_rounding_bound(x, dy) -> float:
    """How far two orders of summing the same parameter gradient may drift apart: each
    entry sums at most ``max(x.size, dy.size)`` terms ``x * dy`` (or ``dy``), so the two
    results differ by at most about ``2 eps`` times the sum of the terms' sizes. A slope
    gradient whose terms cancel to 0.003 from terms near 1 (hypothesis found one) has
    rounding far larger than 1e-4 of its value; a wrong kernel is off by whole terms."""
    terms = max(x.size, dy.size)
    size = max(1.0, float(np.max(np.abs(x)))) * float(np.max(np.abs(dy)))
    return 4 * float(np.finfo(x.dtype).eps) * terms * size


def twins(make, rng, dtype):
    """The same layer on both sets of kernels, with the same random parameters."""
    fast, ref = make("fast"), make("reference")
    assert (fast.kernels, ref.kernels) == ("fast", "reference")
    for p, q in zip(fast.parameters(), ref.parameters()):
        p.data = rng.normal(size=p.shape).astype(dtype)
        q.data = p.data.copy()
        p.grad, q.grad = np.zeros_like(p.data), np.zeros_like(q.data)
    return fast, ref


def assert_layers_agree(fast, ref, x, rng, **forward_kwargs):
    """Forward, then backward with one random upstream gradient: output, input gradient
    and every parameter gradient must agree."""
    y_fast, y_ref = fast.forward(x, **forward_kwargs), ref.forward(x, **forward_kwargs)
    assert_same(y_fast, y_ref, "forward")
    dy = rng.normal(size=y_ref.shape).astype(x.dtype)
    assert_same(fast.backward(dy), ref.backward(dy), "input gradient")
    for (name, p), q in zip(fast.params.items(), ref.parameters()):
        assert_same(p.grad, q.grad, f"{name} gradient", atol=sum_rounding_bound(x, dy))


# ----------------------------------------------------------------------- layer by layer
@given(n=st.integers(1, 3), c_in=st.integers(1, 4), c_out=st.integers(1, 9), k=st.sampled_from([1, 3, 5, 7]),
       h=st.integers(1, 9), w=st.integers(1, 9), pad=st.integers(0, 4),
       mode=st.sampled_from(["zeros", "replicate"]), bias=st.booleans(), dtype=st.sampled_from(DTYPES),
       seed=st.integers(0, 2**16))
def test_conv2d_fast_equals_reference(n, c_in, c_out, k, h, w, pad, mode, bias, dtype, seed):
    """Every stride-1 convolution, including the 1x1 fast path, 1x1 images, one channel,
    filter counts that are not a multiple of the fast kernels' block of 4."""
    assume(h + 2 * pad >= k and w + 2 * pad >= k)
    rng = np.random.default_rng(seed)
    fast, ref = twins(lambda kernels: Conv2d(c_in, c_out, k, padding=pad, padding_mode=mode, bias=bias,
                                             dtype=dtype, kernels=kernels), rng, dtype)
    assert_layers_agree(fast, ref, rng.normal(size=(n, c_in, h, w)).astype(dtype), rng)


@given(n=st.integers(1, 3), c_in=st.integers(1, 3), c_out=st.integers(1, 5), k=st.integers(1, 7),
       stride=st.integers(1, 4), h=st.integers(1, 9), w=st.integers(1, 9), pad=st.integers(0, 3),
       replicate=st.booleans(), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_strided_conv_kernels_fast_equal_reference(n, c_in, c_out, k, stride, h, w, pad, replicate, dtype, seed):
    """The fast convolution kernels at any stride (the deconvolution's input gradient
    runs them at stride s): forward, input gradient, weight gradient."""
    assume(h + 2 * pad >= k and w + 2 * pad >= k)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, c_in, h, w)).astype(dtype)
    wt = rng.normal(size=(c_out, c_in, k, k)).astype(dtype)
    b = rng.normal(size=c_out).astype(dtype)
    y_ref = reference.conv2d_forward(x, wt, b, stride, pad, replicate)
    assert_same(unpack(fast_kernels.conv2d_forward(pack(x), wt, b, stride, pad, replicate, n), n), y_ref, "forward")
    dy = rng.normal(size=y_ref.shape).astype(dtype)
    assert_same(unpack(fast_kernels.conv2d_backward_input(pack(dy), wt, stride, pad, replicate, h, w, n), n),
                reference.conv2d_backward_input(dy, wt, stride, pad, replicate, h, w), "input gradient")
    assert_same(fast_kernels.conv2d_backward_weight(pack(dy), pack(x), stride, pad, replicate, k, n),
                reference.conv2d_backward_weight(dy, x, stride, pad, replicate, k), "weight gradient")
    assert_same(fast_kernels.conv2d_backward_bias(pack(dy)), reference.conv2d_backward_bias(dy), "bias gradient")


@given(n=st.integers(1, 3), c_in=st.integers(1, 4), c_out=st.integers(1, 6), k=st.sampled_from([1, 3, 5]),
       h=st.integers(1, 7), w=st.integers(1, 7), pad=st.integers(0, 2), replicate=st.booleans(),
       shared=st.booleans(), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_fused_conv_prelu_equals_the_two_references(n, c_in, c_out, k, h, w, pad, replicate, shared, dtype, seed):
    """The inference kernel that applies the PReLU inside the convolution's pass."""
    assume(h + 2 * pad >= k and w + 2 * pad >= k)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, c_in, h, w)).astype(dtype)
    wt = rng.normal(size=(c_out, c_in, k, k)).astype(dtype)
    b = rng.normal(size=c_out).astype(dtype)
    slopes = rng.uniform(0, 0.5, size=1 if shared else c_out).astype(dtype)
    expected = reference.prelu_forward(reference.conv2d_forward(x, wt, b, 1, pad, replicate), slopes)
    assert_same(unpack(fast_kernels.conv2d_prelu_forward(pack(x), wt, b, slopes, pad, replicate, n), n), expected)


@given(n=st.integers(1, 3), c_in=st.integers(1, 3), c_out=st.integers(1, 5), k=st.integers(1, 9),
       stride=st.integers(1, 4), h=st.integers(1, 6), w=st.integers(1, 6), pad=st.integers(0, 4),
       dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_transposed_conv_kernels_fast_equal_reference(n, c_in, c_out, k, stride, h, w, pad, dtype, seed):
    """The transposed convolution's three kernels, called as the layer calls them."""
    out_h, out_w = stride * (h - 1) + k - 2 * pad, stride * (w - 1) + k - 2 * pad
    assume(out_h >= 1 and out_w >= 1)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, c_in, h, w)).astype(dtype)
    wt = rng.normal(size=(c_in, c_out, k, k)).astype(dtype)
    b = rng.normal(size=c_out).astype(dtype)
    y_ref = reference.conv_transpose2d_forward(x, wt, b, stride, pad, out_h, out_w)
    assert_same(unpack(fast_kernels.conv_transpose2d_forward(pack(x), wt, b, stride, pad, out_h, out_w, n), n), y_ref,
                "forward")
    dy = rng.normal(size=y_ref.shape).astype(dtype)
    assert_same(unpack(fast_kernels.conv_transpose2d_backward_input(pack(dy), wt, stride, pad, h, w, n), n),
                reference.conv_transpose2d_backward_input(dy, wt, stride, pad, h, w), "input gradient")
    assert_same(fast_kernels.conv_transpose2d_backward_weight(pack(dy), pack(x), stride, pad, k, n),
                reference.conv_transpose2d_backward_weight(dy, x, stride, pad, k), "weight gradient")


@given(n=st.integers(1, 3), c_in=st.integers(1, 4), c_out=st.integers(1, 5), k=st.integers(1, 9),
       stride=st.integers(1, 4), h=st.integers(1, 6), w=st.integers(1, 6), pad=st.integers(0, 4),
       exact=st.booleans(), bias=st.booleans(), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_deconv2d_fast_equals_reference(n, c_in, c_out, k, stride, h, w, pad, exact, bias, dtype, seed):
    """Caffe's output size s(H-1) + k - 2p, and the exact size s*H that inference asks for."""
    canvas_h, canvas_w = stride * (h - 1) + k, stride * (w - 1) + k
    kwargs = {}
    if exact:
        assume(pad + stride * h <= canvas_h and pad + stride * w <= canvas_w)
        kwargs = {"output_size": (stride * h, stride * w)}
    else:
        assume(canvas_h - 2 * pad >= 1 and canvas_w - 2 * pad >= 1)
    rng = np.random.default_rng(seed)
    fast, ref = twins(lambda kernels: Deconv2d(c_in, c_out, k, stride=stride, padding=pad, bias=bias,
                                               dtype=dtype, kernels=kernels), rng, dtype)
    assert_layers_agree(fast, ref, rng.normal(size=(n, c_in, h, w)).astype(dtype), rng, **kwargs)


@given(n=st.integers(1, 3), c=st.integers(1, 6), h=st.integers(1, 7), w=st.integers(1, 7), shared=st.booleans(),
       dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_prelu_fast_equals_reference(n, c, h, w, shared, dtype, seed):
    rng = np.random.default_rng(seed)
    fast, ref = twins(lambda kernels: PReLU(c, shared=shared, dtype=dtype, kernels=kernels), rng, dtype)
    x = rng.normal(size=(n, c, h, w))
    x[rng.random(x.shape) < 0.1] = 0.0  # the kink itself: both take the "x <= 0" side
    assert_layers_agree(fast, ref, x.astype(dtype), rng)


@given(n=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(1, 6), w=st.integers(1, 6), pad=st.integers(0, 3),
       mode=st.sampled_from(["zeros", "replicate"]), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16))
def test_pad2d_fast_equals_reference(n, c, h, w, pad, mode, dtype, seed):
    rng = np.random.default_rng(seed)
    fast, ref = Pad2d(pad, mode, kernels="fast"), Pad2d(pad, mode, kernels="reference")
    assert_layers_agree(fast, ref, rng.normal(size=(n, c, h, w)).astype(dtype), rng)


# ----------------------------------------------------------------------- whole model
CONFIGS = [
    dict(d=8, s=4, m=2, scale=3),
    dict(d=6, s=3, m=1, scale=2, shared_prelu=True),
    dict(d=6, s=3, m=1, scale=4, padding_mode="replicate", shared_prelu=True, deconv_border="replicate"),
]


def model_twins(config, rng, dtype=np.float32):
    fast = FSRCNN(**config, seed=2, dtype=dtype, kernels="fast")
    ref = FSRCNN(**config, seed=2, dtype=dtype, kernels="reference")
    for p, q in zip(fast.parameters(), ref.parameters()):
        p.data[...] += rng.normal(scale=0.1, size=p.shape).astype(dtype)  # every path matters
        q.data[...] = p.data
    return fast, ref


@pytest.mark.parametrize("config", CONFIGS)
def test_infer_and_forward_on_reference_kernels_equal_fast(config):
    """infer() on the reference kernels is forward(exact_size=True) on them; both equal
    the fused fast path."""
    rng = np.random.default_rng(0)
    fast, ref = model_twins(config, rng)
    x = rng.random((2, 1, 9, 7), dtype=np.float32)
    expected = fast.infer(x)
    assert_same(ref.infer(x), expected, "infer")
    assert_same(ref.forward(x, exact_size=True), expected, "forward(exact_size=True)")
    assert_same(ref.forward(x), fast.forward(x), "forward")
    with pytest.raises(RuntimeError, match="before forward"):
        ref.infer(x)
        ref.backward(np.ones_like(expected))  # infer keeps nothing for backward


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("config", CONFIGS)
def test_training_step_fast_equals_reference(config, optimizer):
    """One training step (loss, every parameter gradient, the weights after the update)
    is the same on both sets of kernels, to float32 round-off."""
    rng = np.random.default_rng(1)
    fast, ref = model_twins(config, rng)
    x = rng.random((6, 1, 9, 9), dtype=np.float32)
    target = rng.random(fast.forward(x).shape, dtype=np.float32)
    losses = []
    for model in (fast, ref):
        make = (lambda g: SGD(g, momentum=0.9)) if optimizer == "sgd" else Adam
        opt = make([{"name": "all", "lr": 1e-3, "params": model.named_parameters()}])
        model.zero_grad()
        loss, dy = mse_loss(model.forward(x), target)
        model.backward(dy, input_grad=False)
        losses.append(loss)
        model.grads = [p.grad.copy() for p in model.parameters()]
        opt.step()
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    for (name, p), q, g, h in zip(fast.named_parameters(), ref.parameters(), fast.grads, ref.grads):
        assert_same(g, h, f"{name} gradient")
        # Adam's first step is lr * g / (|g| + eps): a tiny g's round-off shows at lr scale
        np.testing.assert_allclose(p.data, q.data, rtol=1e-6, atol=1e-7, err_msg=f"{name} after the step")


# ----------------------------------------------------------------------- choosing the kernels
def test_kernel_choice_is_visible_and_carried_along(tmp_path):
    model = FSRCNN(6, 3, 1, 3, kernels="reference")
    assert model.kernels == "reference" and "kernels='reference'" in repr(model)
    assert all(layer.kernels == "reference" for layer in model.layers)
    assert "kernels='reference'" in repr(model.layers[0])
    assert "kernels: reference" in model.summary(file=io.StringIO())
    assert model.replica().kernels == "reference"
    model.save(tmp_path / "m.npz")
    assert FSRCNN.load(tmp_path / "m.npz", kernels="reference").kernels == "reference"
    fast = FSRCNN(6, 3, 1, 3, kernels="fast")
    assert repr(fast) == "FSRCNN(d=6, s=3, m=1, scale=3)"
    assert "kernels: fast" in fast.summary(file=io.StringIO())
    with pytest.raises(ValueError, match="kernels must be one of"):
        FSRCNN(6, 3, 1, 3, kernels="slow")


def test_kernel_choice_from_the_environment(monkeypatch):
    monkeypatch.setenv("MINISR_KERNELS", "reference")
    assert FSRCNN(6, 3, 1, 3).kernels == "reference"
    assert Conv2d(1, 1, 3).kernels == "reference"
    assert FSRCNN(6, 3, 1, 3, kernels="fast").kernels == "fast"  # the argument wins
    monkeypatch.setenv("MINISR_KERNELS", "fastest")
    with pytest.raises(ValueError, match=r"\$MINISR_KERNELS must be one of"):
        FSRCNN(6, 3, 1, 3)
    monkeypatch.delenv("MINISR_KERNELS")
    assert FSRCNN(6, 3, 1, 3).kernels == "fast"


def test_reference_kernels_run_without_the_jit():
    """MINISR_KERNELS=reference with NUMBA_DISABLE_JIT=1: plain Python loops that a
    debugger steps through; forward, backward and infer all use them."""
    script = textwrap.dedent("""
        import numpy as np
        from minisr import FSRCNN, mse_loss
        from minisr.kernels import reference
        assert not hasattr(reference.conv2d_forward, "py_func")  # a plain Python function
        calls = []
        original = reference.conv_transpose2d_forward
        def counting(*args):
            calls.append(1)
            return original(*args)
        reference.conv_transpose2d_forward = counting
        model = FSRCNN(4, 2, 1, 3)
        assert model.kernels == "reference"
        x = np.random.default_rng(0).random((2, 1, 3, 4)).astype(np.float32)
        y = model.forward(x)
        loss, dy = mse_loss(y, np.zeros_like(y))
        dx = model.backward(dy)
        assert y.shape == (2, 1, 7, 10) and dx.shape == x.shape
        assert all(np.isfinite(p.grad).all() for p in model.parameters())
        fast = FSRCNN(4, 2, 1, 3, kernels="fast")
        assert np.allclose(model.infer(x), fast.infer(x), rtol=1e-4, atol=1e-6)
        assert len(calls) == 2  # forward and infer
        print("ok", loss)
    """)
    env = dict(os.environ, NUMBA_DISABLE_JIT="1", MINISR_KERNELS="reference")
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")


# ----------------------------------------------------------------------- initialisation
def test_fresh_layers_are_he_initialised():
    """Like their usual counterparts, a fresh layer has random weights (He: std
    sqrt(2 / fan_in)), zero biases, reproducible from its seed or a Generator."""
    conv = Conv2d(2, 3, 3)
    assert conv.weight.data.any() and not conv.bias.data.any()
    np.testing.assert_array_equal(Conv2d(2, 3, 3).weight.data, conv.weight.data)
    assert not np.array_equal(Conv2d(2, 3, 3, seed=1).weight.data, conv.weight.data)
    np.testing.assert_array_equal(Conv2d(2, 3, 3, seed=np.random.default_rng(1)).weight.data,
                                  Conv2d(2, 3, 3, seed=1).weight.data)
    big = Conv2d(32, 64, 3)
    assert abs(big.weight.data.std() / np.sqrt(2 / (32 * 9)) - 1) < 0.05
    deconv = Deconv2d(56, 4, 9, stride=3, padding=4)
    assert abs(deconv.weight.data.std() / np.sqrt(2 * 9 / (56 * 81)) - 1) < 0.05
    assert Conv2d(2, 3, 3, dtype=np.float64).weight.data.dtype == np.float64


def test_fsrcnn_init_is_the_papers_whatever_the_layers_draw():
    """FSRCNN's own init (PReLU-aware He for convolutions, std 0.001 for the
    deconvolution, from ``seed``) replaces the layers' defaults, value for value."""
    model = FSRCNN(56, 12, 4, 3, seed=5)
    rng = np.random.default_rng(5)
    for layer in model.layers:
        if isinstance(layer, Conv2d):
            std = np.sqrt(2.0 / ((1 + 0.25 ** 2) * layer.in_channels * layer.kernel_size ** 2))
            expected = rng.normal(0.0, std, layer.weight.shape).astype(np.float32)
        elif isinstance(layer, Deconv2d):
            expected = rng.normal(0.0, 1e-3, layer.weight.shape).astype(np.float32)
        else:
            continue
        np.testing.assert_array_equal(layer.weight.data, expected)
    for p, q in zip(model.parameters(), FSRCNN(56, 12, 4, 3, seed=5, kernels="reference").parameters()):
        np.testing.assert_array_equal(p.data, q.data)


# ----------------------------------------------------------------------- gradient checks
def readme_gradient_check_snippet() -> str:
    """The README's python block that calls check_layer (section "A tour of the layers")."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    found = [block for block in blocks if "check_layer(" in block]
    assert len(found) == 1, "the README should show one gradient-check example"
    return found[0]


@pytest.mark.parametrize("kernels", ["fast", "reference"])
def test_readme_gradient_check_example_shows_small_errors(kernels, monkeypatch):
    """Run the README's snippet as written (plus numpy, imported by the block before it)."""
    monkeypatch.setenv("MINISR_KERNELS", kernels)
    statements = ast.parse(readme_gradient_check_snippet()).body
    namespace = {"np": np}
    exec(compile(ast.Module(statements[:-1], type_ignores=[]), "README.md", "exec"), namespace)
    errors = eval(compile(ast.Expression(statements[-1].value), "README.md", "eval"), namespace)
    assert namespace["layer"].kernels == kernels
    assert namespace["layer"].weight.data.any(), "a zero-weight layer makes the input check trivial"
    assert set(errors) == {"input", "weight", "bias"}
    assert max(errors.values()) < 1e-8, errors


@pytest.mark.parametrize("kernels", ["fast", "reference"])
def test_gradcheck_reports_a_large_error_for_a_broken_backward(kernels):
    class DoubledInputGradient(Conv2d):
        def backward(self, dout):
            return 2 * super().backward(dout)

    layer = DoubledInputGradient(2, 3, 3, padding=1, kernels=kernels).astype(np.float64)
    errors = check_layer(layer, np.random.default_rng(0).normal(size=(2, 2, 5, 5)))
    assert abs(errors["input"] - 0.5) < 1e-3, errors  # |2a - a| / max(|2a|, 1): 0.5 where |2a| >= 1
    assert errors["weight"] < 1e-8 and errors["bias"] < 1e-8, errors  # only the broken part fails


def test_bench_compares_the_kernels(capsys):
    from minisr import bench

    bench.main(["--d", "8", "--s", "4", "--m", "1", "--lr-size", "12", "--batch", "4", "--patch", "5",
                "--repeat", "1", "--compare-kernels"])
    out = capsys.readouterr().out
    assert "| forward (infer), LR 12x12 |" in out and "| training step, 4 patches 5x5 |" in out
    assert "| sub-pixel deconvolution:" in out and "| batch-packed rows:" in out
    assert "| running sums per sweep:" in out
