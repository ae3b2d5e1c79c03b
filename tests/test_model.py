"""FSRCNN: sizes from the paper, initialisation, saving and loading."""

import numpy as np
import pytest

from minisr import FSRCNN, Conv2d, Deconv2d, PReLU

# Paper Table 2: weight counts (weights only) of FSRCNN(d, s, m).
TABLE_2 = {
    (48, 12, 2): 8832, (48, 12, 3): 10128, (48, 12, 4): 11424,
    (56, 12, 2): 9872, (56, 12, 3): 11168, (56, 12, 4): 12464,
    (48, 16, 2): 11232, (48, 16, 3): 13536, (48, 16, 4): 15840,
    (56, 16, 2): 12336, (56, 16, 3): 14640, (56, 16, 4): 16944,
}


@pytest.mark.parametrize("dsm, count", sorted(TABLE_2.items()))
def test_weight_count_matches_table_2(dsm, count):
    assert FSRCNN(*dsm, scale=3).weight_count() == count


def test_fsrcnn_s_weight_count():
    assert FSRCNN(32, 5, 1, 3).weight_count() == 3937


@pytest.mark.parametrize("d, s, m", list(TABLE_2) + [(32, 5, 1), (8, 3, 0)])
def test_macs_per_lr_pixel_formula(d, s, m):
    assert FSRCNN(d, s, m, 2).macs_per_lr_pixel() == 9 * m * s * s + 2 * s * d + 106 * d


def test_layer_sequence_is_the_hourglass():
    model = FSRCNN(56, 12, 4, 3)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Conv2d", "PReLU"] * 7 + ["Deconv2d"]
    convs = [layer for layer in model.layers if isinstance(layer, Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == \
        [(1, 56, 5), (56, 12, 1)] + [(12, 12, 3)] * 4 + [(12, 56, 1)]
    assert (model.deconv.in_channels, model.deconv.out_channels, model.deconv.kernel_size,
            model.deconv.stride, model.deconv.padding) == (56, 1, 9, 3, 4)


def test_summary_lists_layers_and_totals(capsys):
    text = FSRCNN(56, 12, 4, 3).summary()
    assert text in capsys.readouterr().out
    assert "(1, 1, 757, 757)" in text and "(1, 12, 253, 253)" in text
    assert text.splitlines()[-2].split()[-2:] == ["12464", "12464"]


def test_init_is_seeded_and_follows_the_paper():
    a, b, c = FSRCNN(seed=1), FSRCNN(seed=1), FSRCNN(seed=2)
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(pa.data, pb.data)
    assert not np.array_equal(a.layers[0].weight.data, c.layers[0].weight.data)
    big = FSRCNN(56, 12, 4, 3, seed=0)
    deconv_std = big.deconv.weight.data.std()
    assert 0.0009 < deconv_std < 0.0011
    mapping = big.layers[4].weight.data  # 3x3, fan_in = 108
    expected = np.sqrt(2 / (1.0625 * 108))
    assert abs(mapping.std() / expected - 1) < 0.1
    assert all(not layer.bias.data.any() for layer in big.layers if isinstance(layer, (Conv2d, Deconv2d)))
    assert all(np.all(layer.slope.data == 0.25) for layer in big.layers if isinstance(layer, PReLU))


def test_parameters_expose_data_and_grad():
    model = FSRCNN(56, 12, 4, 3)
    params = model.parameters()
    assert len(params) == 7 * 3 + 2
    for p in params:
        assert p.data.ndim in (1, 4) and p.grad.shape == p.data.shape
        assert p.data.dtype == np.float32
    assert len({id(p.data) for p in params}) == len(params)  # no shared arrays


def test_save_and_load_round_trip(tmp_path):
    model = FSRCNN(8, 4, 2, 4, seed=3, shared_prelu=True)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = FSRCNN.load(path)
    assert loaded.config == model.config
    for (na, pa), (nb, pb) in zip(model.named_parameters(), loaded.named_parameters()):
        assert na == nb
        np.testing.assert_array_equal(pa.data, pb.data)
    x = np.random.default_rng(0).random((1, 1, 6, 7)).astype(np.float32)
    np.testing.assert_array_equal(model.forward(x), loaded.forward(x))
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # no temporary left


def test_load_rejects_wrong_shapes_and_names(tmp_path):
    path = tmp_path / "small.npz"
    FSRCNN(8, 4, 2, 3).save(path)
    with pytest.raises(ValueError, match="d=8 in the file but 9 here"):
        FSRCNN(9, 4, 2, 3).load_weights(path)
    bare = tmp_path / "bare.npz"  # arrays only, no configuration: names and shapes are checked
    np.savez(bare, **{n: p.data for n, p in FSRCNN(8, 4, 2, 3).named_parameters()})
    with pytest.raises(ValueError, match="missing"):
        FSRCNN(8, 4, 3, 3).load_weights(bare)
    with pytest.raises(ValueError, match="shape"):
        FSRCNN(9, 4, 2, 3).load_weights(bare)
    FSRCNN(8, 4, 2, 3).load_weights(bare)
    with pytest.raises(ValueError, match="scale=3 in the file but 2 here"):
        FSRCNN(8, 4, 2, 2).load_weights(path)  # same shapes; only the stride differs
    not_npz = tmp_path / "junk.npz"
    not_npz.write_text("hello")
    with pytest.raises(ValueError, match="junk.npz"):
        FSRCNN.load(not_npz)
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        FSRCNN.load(tmp_path / "missing.npz")


def test_invalid_configuration_is_rejected():
    with pytest.raises(ValueError, match="d must be"):
        FSRCNN(0, 12, 4, 3)
    with pytest.raises(ValueError, match="padding_mode"):
        FSRCNN(4, 2, 1, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="odd"):
        Conv2d(1, 1, 4)


def test_float32_stays_float32():
    model = FSRCNN(8, 4, 1, 2)
    y = model.forward(np.zeros((2, 1, 5, 5), np.float32))
    assert y.dtype == np.float32
    assert model.backward(np.ones_like(y)).dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in model.parameters())


@pytest.mark.parametrize("config", [
    dict(d=8, s=5, m=2, scale=3),
    dict(d=12, s=4, m=1, scale=2, shared_prelu=True),
    dict(d=6, s=3, m=0, scale=4, padding_mode="replicate", shared_prelu=True, deconv_border="replicate"),
    dict(d=6, s=5, m=2, scale=3, padding_mode="replicate"),
    dict(d=5, s=3, m=1, scale=1),
])
def test_fused_inference_equals_forward(config):
    """infer() fuses each PReLU into its convolution and writes each output into the
    next layer's padded input, reusing its arrays; the numbers must not change, also
    when the size changes between calls and comes back."""
    rng = np.random.default_rng(0)
    model = FSRCNN(**config, seed=2)
    for p in model.parameters():
        p.data[...] += rng.normal(scale=0.1, size=p.shape).astype(np.float32)
    for shape in [(2, 1, 9, 13), (1, 1, 7, 5), (2, 1, 9, 13)]:
        x = rng.random(shape, dtype=np.float32)
        expected = model.forward(x, exact_size=True)
        np.testing.assert_allclose(model.infer(x), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(RuntimeError, match="before forward"):
        model.backward(np.ones_like(expected))  # infer keeps nothing for backward


def test_infer_output_is_not_a_workspace_array():
    """The workspace is reused, but what infer returns belongs to the caller."""
    model = FSRCNN(8, 4, 1, 3)
    x = np.random.default_rng(0).random((1, 1, 6, 6), dtype=np.float32)
    first = model.infer(x)
    kept = first.copy()
    model.infer(x * 0.5)
    np.testing.assert_array_equal(first, kept)
    model.release_workspace()
    np.testing.assert_allclose(model.infer(x), kept, rtol=1e-6)


def test_infer_from_several_threads_at_once():
    """One model, several threads: each call gets its own result (a call that finds the
    workspace in use runs with a private one)."""
    from concurrent.futures import ThreadPoolExecutor

    model = FSRCNN(8, 4, 1, 3)
    rng = np.random.default_rng(1)
    images = [rng.random((1, 1, 20, 24), dtype=np.float32) for _ in range(8)]
    expected = [model.forward(x, exact_size=True) for x in images]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(model.infer, images * 3))
    for got, want in zip(results, expected * 3):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
