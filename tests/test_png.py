"""minisr's PNG encoder (minisr/image/png.py): Pillow reads back exactly what was written,
for every mode minisr writes, at every zlib level, with the colour profile kept."""

import io

import numpy as np
import pytest
from PIL import Image

from minisr.image.imageio import write_image
from minisr.image.png import encode_png, up_filtered_rows

SHAPES = {"L": (7, 5), "LA": (7, 5, 2), "RGB": (7, 5, 3), "RGBA": (7, 5, 4)}


@pytest.mark.parametrize("level", [0, 1, 6, 9])
@pytest.mark.parametrize("mode", sorted(SHAPES))
def test_pillow_reads_back_the_pixels(mode, level):
    pixels = np.random.default_rng(level).integers(0, 256, SHAPES[mode], dtype=np.uint8)
    with Image.open(io.BytesIO(encode_png(pixels, level))) as img:
        assert img.mode == mode and img.size == (5, 7)
        np.testing.assert_array_equal(np.asarray(img), pixels)


def test_sixteen_bit_grey_round_trips():
    pixels = np.random.default_rng(0).integers(0, 65536, (6, 9), dtype=np.uint16)
    pixels[0, :3] = [0, 1, 65535]
    with Image.open(io.BytesIO(encode_png(pixels, 1))) as img:
        assert img.mode.startswith("I;16") or img.mode == "I"
        np.testing.assert_array_equal(np.asarray(img).astype(np.int64), pixels)


def test_up_filter_is_the_difference_with_the_row_above_modulo_256():
    pixels = np.array([[10, 200], [5, 255], [5, 0]], np.uint8)
    rows = up_filtered_rows(pixels)
    np.testing.assert_array_equal(rows, [[2, 10, 200], [2, 251, 55], [2, 0, 1]])
    # PNG decoding: add the row above back
    decoded = np.cumsum(rows[:, 1:].astype(np.int64), axis=0) % 256
    np.testing.assert_array_equal(decoded, pixels)


def test_level_0_stores_and_compression_shrinks_a_smooth_picture():
    ramp = np.add.outer(np.arange(64), np.arange(48)).astype(np.uint8)
    stored, deflated = encode_png(ramp, 0), encode_png(ramp, 9)
    assert len(stored) > ramp.size > 10 * len(deflated)


def test_icc_profile_is_kept_and_the_file_is_well_formed():
    profile = bytes(range(256)) * 3
    data = encode_png(np.zeros((2, 3, 3), np.uint8), 1, icc_profile=profile)
    with Image.open(io.BytesIO(data)) as img:
        assert img.info["icc_profile"] == profile
        img.verify()  # checks every chunk's CRC


@pytest.mark.parametrize("pixels, problem", [
    (np.zeros((2, 2), np.float32), "uint8 or uint16"), (np.zeros((2, 2, 5), np.uint8), "(H, W, 2|3|4)"),
    (np.zeros((0, 4), np.uint8), "(H, W, 2|3|4)")])
def test_bad_pixels_are_refused(pixels, problem):
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace(")", r"\)").replace("|", r"\|")):
        encode_png(pixels)


def test_write_image_uses_it_for_png_and_pillow_otherwise(tmp_path):
    pixels = np.random.default_rng(1).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    write_image(tmp_path / "a.png", pixels, compress_level=1)
    assert (tmp_path / "a.png").read_bytes() == encode_png(pixels, 1)
    write_image(tmp_path / "b.png", pixels, optimize=True)  # an option minisr's encoder lacks: Pillow
    with Image.open(tmp_path / "b.png") as img:
        np.testing.assert_array_equal(np.asarray(img), pixels)
