"""Networks beyond FSRCNN (minisr/networks.py): the paper's Table 1 and the variants of
its design claims, as chains of minisr layers trained, saved and loaded like FSRCNN."""

import numpy as np
import pytest

from minisr import FSRCNN
from minisr.gradcheck import check_layer
from minisr.image.resize import imresize
from minisr.layers import ChannelSum, ReLU, Upsample
from minisr.model import load_network
from minisr.models import load_model, model_label
from minisr.networks import ARCHITECTURES, Network
from minisr.tiling import forward_image, forward_tiled

# The paper's Table 1: weights and the speed-up over SRCNN-Ex, which is the ratio of
# multiply-adds per LR pixel (8.7x, 30.1x, 41.3x).
TABLE_1 = {"srcnn-ex": (57184, 1.0), "transition-1": (58976, 8.7), "transition-2": (17088, 30.1)}


@pytest.mark.parametrize("arch", sorted(TABLE_1))
def test_table1_weights_and_multiply_add_ratios(arch):
    weights, speed_up = TABLE_1[arch]
    net = Network(arch, 3)
    srcnn = Network("srcnn-ex", 3)
    assert net.weight_count() == weights
    assert round(srcnn.macs_per_lr_pixel() / net.macs_per_lr_pixel(), 1) == speed_up
    assert round(srcnn.macs_per_lr_pixel() / FSRCNN(56, 12, 4, 3).macs_per_lr_pixel(), 1) == 41.3


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_every_network_runs_saves_and_loads(arch, tmp_path):
    """forward (Caffe's size n(H-1)+1), forward(exact_size) = infer (n x H), backward
    shapes, a saved file loads through load_model, and the reference kernels agree."""
    net = Network(arch, 3, seed=1)
    x = np.random.default_rng(0).random((2, 1, 7, 9), dtype=np.float32)
    y = net.forward(x)
    assert y.shape == (2, 1, 19, 25)
    assert net.backward(np.ones_like(y)).shape == x.shape
    exact = net.forward(x, exact_size=True)
    assert exact.shape == (2, 1, 21, 27)
    np.testing.assert_array_equal(net.infer(x), exact)
    net.save(tmp_path / "net.npz")
    again = load_model(tmp_path / "net.npz")
    assert model_label(again) == arch and again.scale == 3
    np.testing.assert_array_equal(again.infer(x), exact)
    reference = Network(arch, 3, seed=1, kernels="reference")
    np.testing.assert_allclose(reference.infer(x), exact, rtol=1e-4, atol=1e-5)


def test_a_network_file_is_refused_by_fsrcnn_load_with_a_pointer(tmp_path):
    Network("transition-1", 2).save(tmp_path / "t1.npz")
    with pytest.raises(ValueError, match="not an FSRCNN; load it with minisr.load_model"):
        FSRCNN.load(tmp_path / "t1.npz")
    assert isinstance(load_network(tmp_path / "t1.npz"), Network)


def test_damaged_network_configs_are_one_line(tmp_path):
    net = Network("srcnn-ex", 3)
    arrays = {name: p.data for name, p in net.named_parameters()}
    for config, message in [('{"arch": "srcnn", "scale": 3}', "arch='srcnn' is not one of"),
                            ('{"arch": "srcnn-ex", "scale": 99}', "scale=99 is not an integer"),
                            ('{"arch": "srcnn-ex", "scale": 3, "d": 5}', "unknown keys")]:
        np.savez(tmp_path / "bad.npz", __config__=np.array(config), **arrays)
        with pytest.raises(ValueError, match=message):
            load_network(tmp_path / "bad.npz")


def test_relu_and_upsample_layers():
    """ReLU is a PReLU with slope 0 and nothing to learn; Upsample is MATLAB's bicubic,
    cropped to Caffe's size unless told the size; both pass the gradient check."""
    x = np.random.default_rng(0).normal(size=(2, 3, 5, 6))
    relu = ReLU(3).astype(np.float64)
    np.testing.assert_array_equal(relu.forward(x), np.maximum(x, 0))
    assert relu.params == {} and check_layer(relu, x)["input"] < 1e-6
    up = Upsample(3)
    np.testing.assert_allclose(up.forward(x, output_size=(15, 18))[1, 2], imresize(x[1, 2], 3), atol=1e-12)
    assert up.forward(x).shape == (2, 3, 13, 16)
    assert check_layer(up, x)["input"] < 1e-6
    channel_sum = ChannelSum(3)
    np.testing.assert_array_equal(channel_sum.forward(x), x.sum(axis=1, keepdims=True))
    assert check_layer(channel_sum, x)["input"] < 1e-6


def test_identical_deconvolution_filters_are_a_channel_sum():
    """fsrcnn-shared-deconv equals FSRCNN whose 56 deconvolution filters are all its one
    filter (the deconvolution is linear)."""
    shared = Network("fsrcnn-shared-deconv", 3, seed=3).astype(np.float64)
    full = FSRCNN(56, 12, 4, 3).astype(np.float64)
    for (_, p), (_, q) in zip(full.named_parameters()[:-2], shared.named_parameters()[:-2]):
        p.data[...] = q.data
    full.deconv.weight.data[...] = shared.layers[-1].weight.data  # (1, 1, 9, 9) -> every channel
    full.deconv.bias.data[...] = shared.layers[-1].bias.data
    x = np.random.default_rng(0).random((1, 1, 6, 7))
    np.testing.assert_allclose(shared.infer(x), full.infer(x), rtol=1e-12, atol=1e-12)
    assert shared.weight_count() == full.weight_count() - 55 * 81


@pytest.mark.parametrize("arch", ["transition-2", "srcnn-ex"])
def test_tiles_agree_with_the_whole_image(arch):
    """Deconvolution networks tile bit for bit, like FSRCNN; through a bicubic Upsample
    to float32 rounding (MATLAB's weights are computed from each pixel's position, which
    rounds a little differently at the tile's positions)."""
    net = Network(arch, 3, seed=2)
    lr = np.random.default_rng(0).random((40, 37))
    tiled, whole = forward_tiled(net, lr, 9), forward_image(net, lr)
    if arch == "srcnn-ex":
        np.testing.assert_allclose(tiled, whole, rtol=0, atol=1e-5)
    else:
        np.testing.assert_array_equal(tiled, whole)


def test_gradient_check_of_a_fortran_ordered_input():
    """check_layer copies its input in C order: a Fortran-ordered array (as
    load_test_pair returns) once gave a numerical gradient of zeros, error 1.0."""
    from minisr import Conv2d
    layer = Conv2d(1, 2, 3, padding=1).astype(np.float64)
    x = np.asfortranarray(np.random.default_rng(0).normal(size=(1, 1, 5, 6)))
    assert check_layer(layer, x)["input"] < 1e-6
