"""The FSRCNN evaluation protocol: synthetic checks, then the paper's bicubic numbers.

The dataset tests read Set5, Set14 and BSD200 from ``$MINISR_DATA`` if set, else
from ``../shared/datasets`` beside the repository, else from ``~/.cache/minisr``
(``tests/datasets.py``), and skip only when a folder is absent.  They assert that bicubic interpolation reproduces Table 5 of the
FSRCNN paper: PSNR within 0.01 dB and SSIM within 0.0001 of the printed values.
Measured (Y channel, MATLAB-compatible pipeline, this module's code):

    set     scale  PSNR (paper)        SSIM (paper)
    Set5    x2     33.6614 (33.66)     0.92988 (0.9299)
    Set5    x3     30.3922 (30.39)     0.86821 (0.8682)
    Set5    x4     28.4207 (28.42)     0.81037 (0.8104)
    Set14   x2     30.2318 (30.23)     0.86865 (0.8687)
    Set14   x3     27.5405 (27.54)     0.77361 (0.7736)
    Set14   x4     26.0001 (26.00)     0.70186 (0.7019)
    BSD200  x2     29.7024 (29.70)     0.86254 (0.8625)
    BSD200  x3     27.2559 (27.26)     0.76376 (0.7638)
    BSD200  x4     25.9689 (25.97)     0.69495 (0.6949)

Set14's man.bmp is stored as RGB with R = G = B and must go through rgb2ycbcr
(Y = 16 + 219 v / 255) like any colour image; using its grey level directly
lowers the Set14 mean by about 0.09 dB and misses the paper.  bridge.bmp is
stored as 8-bit grey and is used as its own Y.
"""

import functools
import math

import numpy as np
import pytest
from PIL import Image

from minisr.image.color import rgb_to_y
from minisr.image.metrics import modcrop, psnr, shave, ssim
from minisr.image.protocol import (
    bicubic_upscale,
    evaluate_pair,
    image_to_y,
    load_test_pair,
    to_uint8_image,
)
from minisr.image.resize import imresize

from datasets import WHERE, data_root

PAPER_BICUBIC = {  # FSRCNN paper, Table 5: (PSNR, SSIM)
    ("Set5", 2): (33.66, 0.9299),
    ("Set5", 3): (30.39, 0.8682),
    ("Set5", 4): (28.42, 0.8104),
    ("Set14", 2): (30.23, 0.8687),
    ("Set14", 3): (27.54, 0.7736),
    ("Set14", 4): (26.00, 0.7019),
    ("BSD200", 2): (29.70, 0.8625),
    ("BSD200", 3): (27.26, 0.7638),
    ("BSD200", 4): (25.97, 0.6949),
}
IMAGE_SUFFIXES = (".bmp", ".png", ".jpg", ".jpeg")




# --- synthetic images ------------------------------------------------------------------


@pytest.fixture
def colour_file(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (23, 17, 3), dtype=np.uint8)
    path = tmp_path / "colour.png"
    Image.fromarray(rgb).save(path)
    return path, rgb


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_load_test_pair_modcrops_converts_and_shrinks(colour_file, scale):
    path, rgb = colour_file
    hr, lr = load_test_pair(path, scale)
    h, w = 23 - 23 % scale, 17 - 17 % scale
    assert hr.shape == (h, w) and lr.shape == (h // scale, w // scale)
    assert hr.dtype == np.float64 and lr.dtype == np.float64
    np.testing.assert_array_equal(hr, rgb_to_y(rgb)[:h, :w] / 255.0)
    assert bicubic_upscale(lr, scale).shape == hr.shape


def test_lr_is_not_quantised(colour_file):
    _, lr = load_test_pair(colour_file[0], 3)
    assert not np.allclose(lr * 255, np.round(lr * 255))


def test_grey_file_is_its_own_y_but_grey_rgb_is_converted(tmp_path):
    grey = np.tile(np.arange(0, 240, 10, dtype=np.uint8), (12, 1))
    Image.fromarray(grey).save(tmp_path / "grey.bmp")
    Image.fromarray(np.dstack([grey] * 3)).save(tmp_path / "grey_rgb.bmp")
    hr_grey, _ = load_test_pair(tmp_path / "grey.bmp", 2)
    hr_rgb, _ = load_test_pair(tmp_path / "grey_rgb.bmp", 2)
    np.testing.assert_array_equal(np.rint(hr_grey * 255), grey)
    np.testing.assert_array_equal(np.rint(hr_rgb * 255), np.floor(16 + 219 * (grey / 255.0) + 0.5))
    np.testing.assert_array_equal(image_to_y(grey), grey)


def test_to_uint8_image_rounds_half_up_and_saturates():
    values = (np.arange(20) + 0.5) / 255.0
    exact_halves = values[values * 255.0 == np.arange(20) + 0.5]
    assert len(exact_halves) > 0
    np.testing.assert_array_equal(
        to_uint8_image(exact_halves), np.floor(exact_halves * 255.0) + 1
    )
    np.testing.assert_array_equal(to_uint8_image([-0.2, 1.3, 0.0, 1.0]), [0, 255, 0, 255])


def test_evaluate_pair_quantises_and_shaves(colour_file):
    hr, lr = load_test_pair(colour_file[0], 2)
    sr = bicubic_upscale(lr, 2)
    p, s = evaluate_pair(sr, hr, 2)
    a, b = to_uint8_image(sr), to_uint8_image(hr)
    assert p == pytest.approx(psnr(shave(a, 2), shave(b, 2)))
    assert s == pytest.approx(ssim(shave(a, 2), shave(b, 2)))
    assert evaluate_pair(hr, hr, 2) == (math.inf, pytest.approx(1.0))
    # differences only in the shaved border do not count
    sr_border = hr.copy()
    sr_border[:2] = 0
    assert evaluate_pair(sr_border, hr, 2)[0] == math.inf


# --- the paper's datasets --------------------------------------------------------------


def dataset_images(name):
    folder = data_root() / name
    if not folder.is_dir():
        pytest.skip(f"dataset folder {folder} is absent (looked in {WHERE})")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    assert files, f"no images in {folder}"
    return files


@functools.lru_cache(maxsize=None)
def bicubic_scores(name, scale):
    """Mean (PSNR, SSIM) of bicubic interpolation over a dataset, as the paper's code."""
    scores = []
    for path in dataset_images(name):
        hr, lr = load_test_pair(path, scale)
        scores.append(evaluate_pair(bicubic_upscale(lr, scale), hr, scale))
    return tuple(np.mean(scores, axis=0))


@pytest.mark.parametrize("name, scale", list(PAPER_BICUBIC))
def test_bicubic_psnr_matches_paper(name, scale):
    measured, _ = bicubic_scores(name, scale)
    paper, _ = PAPER_BICUBIC[name, scale]
    assert abs(measured - paper) <= 0.01, f"{name} x{scale}: {measured:.4f} dB vs paper {paper}"


@pytest.mark.parametrize("name, scale", list(PAPER_BICUBIC))
def test_bicubic_ssim_matches_paper(name, scale):
    _, measured = bicubic_scores(name, scale)
    _, paper = PAPER_BICUBIC[name, scale]
    assert abs(measured - paper) <= 1e-4, f"{name} x{scale}: SSIM {measured:.5f} vs paper {paper}"


def test_set14_man_must_go_through_rgb2ycbcr():
    """man.bmp (RGB, R = G = B) taken as its own grey Y instead misses the paper by ~0.09 dB."""
    files = dataset_images("Set14")
    man = [p for p in files if p.name == "man.bmp"]
    if not man:
        pytest.skip("Set14 has no man.bmp")
    rgb = np.asarray(Image.open(man[0]))
    assert rgb.ndim == 3 and (rgb == rgb[..., :1]).all()  # R = G = B
    scale = 3
    hr = modcrop(rgb[..., 0], scale) / 255.0
    lr = imresize(hr, 1 / scale)
    as_grey = evaluate_pair(bicubic_upscale(lr, scale), hr, scale)[0]
    hr_y, lr_y = load_test_pair(man[0], scale)
    as_colour = evaluate_pair(bicubic_upscale(lr_y, scale), hr_y, scale)[0]
    mean_with_grey = bicubic_scores("Set14", scale)[0] + (as_grey - as_colour) / len(files)
    assert abs(bicubic_scores("Set14", scale)[0] - 27.54) <= 0.01
    assert abs(mean_with_grey - 27.54) > 0.05
