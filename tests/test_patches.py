"""Training pairs: sizes, counts, alignment with the deconvolution, augmentation, the cache."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minisr import FSRCNN
from minisr.image.imageio import write_image
from minisr.image.metrics import modcrop
from minisr.image.resize import imresize
from minisr.training import patches
from minisr.training.patches import (PatchSet, PatchSpec, augment, augmented_shape, extract_pairs,
                                     pair_count, prepare)


def smooth_image(h, w, seed=0, colour=False, max_freq=0.25):
    """A band-limited uint8 test image (sums of sinusoids up to ``max_freq`` rad/pixel)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    f = (0.03, max_freq)
    waves = sum(np.sin(xx * rng.uniform(*f) + yy * rng.uniform(*f) + rng.uniform(0, 6))
                for _ in range(4))
    grey = 128 + 28 * waves
    img = grey[..., None] * np.array([1.0, 0.85, 0.7]) if colour else grey
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def identity_trunk_model(scale, deconv_kernel):
    """FSRCNN(1, 1, 0) whose trunk passes the LR image through unchanged (centre tap 1,
    PReLU slopes 1), so the network is only its deconvolution with ``deconv_kernel``."""
    model = FSRCNN(1, 1, 0, scale, dtype=np.float64)
    params = dict(model.named_parameters())
    for name, p in params.items():
        p.data[...] = 1.0 if name.endswith((".slope", "shrink.weight", "expand.weight")) else 0.0
    params["feature.weight"].data[0, 0, 2, 2] = 1.0
    params["deconv.weight"].data[0, 0] = deconv_kernel
    return model


def linear_kernel(scale):
    """9x9 bilinear interpolation kernel centred where MATLAB's LR pixel centre falls:
    LR pixel i sits at HR coordinate n*i + (n - 1)/2, tap u lands on n*i + u - 4.

    The taps that reach one output row are those with the same ``u mod n``; each such
    phase is normalised to sum to 1 (at x4 the triangle needs tap 9, which a 9x9
    kernel lacks: that phase falls back towards nearest-neighbour)."""
    u = np.arange(9)
    tri = np.maximum(0.0, 1.0 - np.abs(u - 4 - (scale - 1) / 2) / scale)
    for phase in range(scale):
        tri[u % scale == phase] /= tri[u % scale == phase].sum()
    return np.outer(tri, tri)


# ------------------------------------------------------------------ sizes
def test_default_and_paper_sizes_and_strides():
    def sizes(lr_size=None):
        return {n: (PatchSpec.for_scale(n, lr_size).lr_size, PatchSpec.for_scale(n, lr_size).hr_size)
                for n in (2, 3, 4)}

    assert sizes("paper") == {2: (10, 19), 3: (7, 19), 4: (6, 21)}
    assert sizes() == {2: (16, 31), 3: (11, 31), 4: (8, 29)}
    assert [PatchSpec.for_scale(n).stride for n in (2, 3, 4)] == [6, 4, 3]
    spec = PatchSpec.for_scale(3, lr_size=7, context=2)
    assert (spec.input_size, spec.hr_size, spec.target_offset) == (11, 19, 6)
    assert patches.full_context(m=4, scale=3) == 7 and patches.full_context(m=1, scale=2) == 5


@given(h=st.integers(1, 80), w=st.integers(1, 80), scale=st.integers(2, 4),
       f=st.integers(3, 12), stride=st.integers(1, 7), context=st.integers(0, 3))
def test_pair_count_matches_extraction(h, w, scale, f, stride, context):
    spec = PatchSpec(scale, f, stride, context=context)
    hr_y = smooth_image(h, w)
    if min(h, w) < scale:  # modcrop leaves nothing: no pairs
        assert pair_count((h, w), spec) == 0
        return
    lr, hr = extract_pairs(hr_y, spec)
    assert len(lr) == len(hr) == pair_count((h, w), spec)
    size = f + 2 * context
    assert lr.shape[1:] == (size, size) and hr.shape[1:] == (spec.hr_size, spec.hr_size)
    assert lr.dtype == np.float32 and hr.dtype == np.uint8


@pytest.mark.parametrize("context", [0, 2])
def test_pairs_are_lr_windows_and_hr_crops_at_n_times_the_offset(context):
    spec = PatchSpec(scale=3, lr_size=7, stride=4, context=context)
    hr_y = smooth_image(64, 80)
    lr, hr = extract_pairs(hr_y, spec)
    hr_full = modcrop(hr_y, 3)
    lr_full = imresize(hr_full / 255.0, 1 / 3).astype(np.float32)
    size, c = 7 + 2 * context, context
    cols = (lr_full.shape[1] - size) // 4 + 1
    for index in (0, 1, cols, len(lr) - 1):
        y0, x0 = 4 * (index // cols), 4 * (index % cols)
        np.testing.assert_array_equal(lr[index], lr_full[y0:y0 + size, x0:x0 + size])
        np.testing.assert_array_equal(hr[index], hr_full[3 * (y0 + c):3 * (y0 + c) + 19,
                                                         3 * (x0 + c):3 * (x0 + c) + 19])


# ------------------------------------------------------------------ alignment
@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("lr_size", ["paper", None])
def test_patch_forward_equals_full_image_forward_at_the_hr_crop(scale, lr_size):
    """Any deconvolution: forward(LR patch at y0) row o' == forward(whole LR, exact) row
    n*y0 + o', wherever every LR pixel that reaches o' lies inside the patch."""
    rng = np.random.default_rng(scale)
    model = identity_trunk_model(scale, rng.normal(size=(9, 9)))
    spec = PatchSpec.for_scale(scale, lr_size)
    f, F, n = spec.lr_size, spec.hr_size, scale
    lr_full = rng.random((30, 34))
    full = model.forward(lr_full[None, None], exact_size=True)[0, 0]
    # Output row o' takes LR rows i' with 0 <= o' + 4 - n*i' <= 8: all inside [0, f)
    # exactly when 5 - n <= o' <= n*f - 5.
    inner = slice(max(0, 5 - n), n * f - 4)
    for y0, x0 in [(0, 0), (3, 5), (12, 9), (30 - f, 34 - f)]:
        patch = model.forward(lr_full[None, None, y0:y0 + f, x0:x0 + f])[0, 0]
        assert patch.shape == (F, F)
        target = full[n * y0:n * y0 + F, n * x0:n * x0 + F]
        np.testing.assert_allclose(patch[inner, inner], target[inner, inner], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_with_full_context_the_trained_window_is_exactly_the_whole_image_output(scale):
    """A real FSRCNN (random weights, zero padding): with ``full_context`` LR pixels
    around, the output window at n*c equals the whole-image output over the HR target."""
    model = FSRCNN(6, 3, 2, scale, seed=scale, dtype=np.float64)
    for p in model.parameters():  # make the biases matter too
        p.data[...] += 0.05
    spec = PatchSpec(scale, lr_size=5, stride=3, downscales=(), rotations=(0,),
                     context=patches.full_context(m=2, scale=scale))
    hr_y = smooth_image(30 * scale, 33 * scale, seed=scale)
    lr, hr = extract_pairs(hr_y, spec)
    lr_full = imresize(modcrop(hr_y, scale) / 255.0, 1 / scale).astype(np.float32)  # as stored
    full = model.forward(lr_full[None, None].astype(np.float64), exact_size=True)[0, 0]
    out = model.forward(lr[:, None].astype(np.float64))[:, 0]
    F, at = spec.hr_size, spec.target_offset
    cols = (lr_full.shape[1] - spec.input_size) // 3 + 1
    for index in (0, 1, cols + 1, len(lr) - 1):
        y0, x0 = 3 * (index // cols) + spec.context, 3 * (index % cols) + spec.context
        np.testing.assert_allclose(out[index, at:at + F, at:at + F],
                                   full[scale * y0:scale * y0 + F, scale * x0:scale * x0 + F], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_training_targets_land_on_what_an_interpolating_network_outputs(scale):
    """With a linear-interpolation deconvolution the network's output on an LR sub-image
    matches its HR target best at zero shift, as it does on the whole image."""
    model = identity_trunk_model(scale, linear_kernel(scale))
    spec = PatchSpec(scale, lr_size=12, stride=5, downscales=(), rotations=(0,))
    hr_y = smooth_image(96, 108, seed=scale, max_freq=0.1)
    lr, hr = extract_pairs(hr_y, spec)
    out = model.forward(lr[:, None].astype(np.float64))[:, 0]
    target = hr / 255.0
    m, F = 2 * scale + 2, spec.hr_size  # compare away from the zero-padded patch borders

    def error(dy, dx):
        shifted = target[:, m + dy:F - m + dy, m + dx:F - m + dx]
        return np.mean((out[:, m:F - m, m:F - m] - shifted) ** 2)

    errors = {(dy, dx): error(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)}
    assert min(errors, key=errors.get) == (0, 0)
    assert errors[0, 0] < 0.5 * min(errors[1, 0], errors[-1, 0], errors[0, 1], errors[0, -1])
    # The same network on the whole image (the evaluation protocol) is just as close.
    hr_full = modcrop(hr_y, scale) / 255.0
    sr = model.forward(imresize(hr_full, 1 / scale)[None, None], exact_size=True)[0, 0]
    b = 3 * scale
    assert np.mean((sr[b:-b, b:-b] - hr_full[b:-b, b:-b]) ** 2) < 2 * errors[0, 0]


# ------------------------------------------------------------------ augmentation
def test_paper_augmentation_is_twenty_images_and_flips_double_it():
    assert len(PatchSpec.for_scale(3).augmentations()) == 20
    assert len(PatchSpec.for_scale(3, flips=True).augmentations()) == 40
    assert PatchSpec.for_scale(3, augment=False).augmentations() == [(1.0, 0, False)]


def test_augment_downscales_with_matlab_bicubic_and_rotates_exactly():
    y = smooth_image(50, 70)
    np.testing.assert_array_equal(augment(y, 1.0, 1, False), np.rot90(y))
    np.testing.assert_array_equal(augment(y, 1.0, 0, True), y[:, ::-1])
    np.testing.assert_array_equal(augment(y, 0.7, 3, False), np.rot90(imresize(y, 0.7), 3))
    for s in (1.0, 0.9, 0.8, 0.7, 0.6):
        for k in range(4):
            assert augment(y, s, k, False).shape == augmented_shape(y.shape, s, k)


# ------------------------------------------------------------------ prepare and cache
@pytest.fixture
def image_folder(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    write_image(folder / "a.png", smooth_image(60, 75, 1, colour=True))
    write_image(folder / "b.png", smooth_image(45, 40, 2))
    return folder


def test_prepare_writes_every_pair_and_memory_maps_them(image_folder, tmp_path):
    files = sorted(image_folder.iterdir())
    spec = PatchSpec.for_scale(3)
    pairs = prepare(files, spec, tmp_path / "cache", log=lambda *a: None)
    expected = sum(pair_count(augmented_shape(patches.load_y(p).shape, s, k), spec)
                   for p in files for s, k, _ in spec.augmentations())
    assert len(pairs) == expected > 0
    assert isinstance(pairs.lr.store, np.memmap) and isinstance(pairs.hr.store, np.memmap)
    assert pairs.lr.dtype == np.float32 and pairs.hr.dtype == np.uint8
    # every pair cut on the fly equals the pair extract_pairs makes, in the same order
    every_lr, every_hr = zip(*(extract_pairs(patches.augment(patches.load_y(p), s, k, flip), spec)
                               for p in files for s, k, flip in spec.augmentations()))
    everything = np.arange(len(pairs))
    np.testing.assert_array_equal(pairs.lr[everything], np.concatenate(every_lr))
    np.testing.assert_array_equal(pairs.hr[everything], np.concatenate(every_hr))
    np.testing.assert_array_equal(pairs.hr[5], every_hr[0][5])  # one window alone
    # the cache holds the images, not every pair: smaller (5x for T91, less for tiny images)
    pair_bytes = len(pairs) * (4 * spec.input_size ** 2 + spec.hr_size ** 2)
    assert pairs.nbytes < 0.7 * pair_bytes
    assert pairs.meta["pairs"] == expected
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".tmp")]


def test_second_prepare_reuses_the_cache(image_folder, tmp_path, monkeypatch):
    files = sorted(image_folder.iterdir())
    spec = PatchSpec.for_scale(2)
    first = prepare(files, spec, tmp_path / "cache", log=lambda *a: None)

    def refuse(*args, **kwargs):
        raise AssertionError("pairs recomputed although they are cached")

    monkeypatch.setattr(patches, "pair_images", refuse)
    monkeypatch.setattr(patches, "load_y", refuse)
    messages = []
    second = prepare(files, spec, tmp_path / "cache", log=messages.append)
    assert "cached" in messages[0]
    everything = np.arange(len(first))
    np.testing.assert_array_equal(first.lr[everything], second.lr[everything])
    np.testing.assert_array_equal(first.hr[everything], second.hr[everything])
    with pytest.raises(AssertionError, match="recomputed"):  # another stride: another cache
        prepare(files, PatchSpec.for_scale(2, stride=5), tmp_path / "cache", log=lambda *a: None)


def test_changed_image_bytes_change_the_key(image_folder):
    files = sorted(image_folder.iterdir())
    spec = PatchSpec.for_scale(3)
    key = patches.cache_key(files, spec)
    assert patches.cache_key(files, PatchSpec.for_scale(3, flips=True)) != key
    write_image(files[1], smooth_image(45, 40, 3), overwrite=True)
    assert patches.cache_key(files, spec) != key


def test_a_failed_preparation_leaves_no_cache(image_folder, tmp_path, monkeypatch):
    calls = []

    def fail_later(*args):
        calls.append(1)
        if len(calls) > 3:
            raise KeyboardInterrupt
        return real(*args)

    real = patches.pair_images
    monkeypatch.setattr(patches, "pair_images", fail_later)
    with pytest.raises(KeyboardInterrupt):
        prepare(sorted(image_folder.iterdir()), PatchSpec.for_scale(3), tmp_path / "cache",
                log=lambda *a: None)
    assert list((tmp_path / "cache").iterdir()) == []


def test_images_too_small_for_one_pair_are_an_error(tmp_path):
    write_image(tmp_path / "tiny.png", smooth_image(8, 8))
    with pytest.raises(ValueError, match="no training pairs"):
        prepare([tmp_path / "tiny.png"], PatchSpec.for_scale(3), tmp_path / "cache", log=lambda *a: None)


def test_batch_gives_network_input_and_target():
    rng = np.random.default_rng(0)
    pairs = PatchSet(rng.random((10, 7, 7), dtype=np.float32),
                     rng.integers(0, 256, (10, 19, 19), dtype=np.uint8))
    x, t = pairs.batch([7, 2, 4])
    assert x.shape == (3, 1, 7, 7) and t.shape == (3, 1, 19, 19)
    assert x.dtype == t.dtype == np.float32 and x.flags.c_contiguous
    np.testing.assert_array_equal(x[0, 0], pairs.lr[2])
    np.testing.assert_allclose(t[2, 0], pairs.hr[7] / 255.0, rtol=1e-6)
