"""read_image / write_image on images of every Pillow mode, and on broken files."""

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from minisr.image.imageio import ImageError, read_image, write_image

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (6, 5, 3), dtype=np.uint8)
GREY = RNG.integers(0, 256, (6, 5), dtype=np.uint8)
ALPHA = RNG.integers(0, 256, (6, 5), dtype=np.uint8)


def save(tmp_path, name, img, **kwargs):
    path = tmp_path / name
    img.save(path, **kwargs)
    return path


# --- modes ---------------------------------------------------------------------


def test_rgb(tmp_path):
    out = read_image(save(tmp_path, "a.png", Image.fromarray(RGB)))
    assert out.dtype == np.uint8 and out.shape == (6, 5, 3)
    assert out.flags.writeable
    np.testing.assert_array_equal(out, RGB)


def test_grey_is_2d(tmp_path):
    out = read_image(save(tmp_path, "a.bmp", Image.fromarray(GREY)))
    assert out.shape == (6, 5)
    np.testing.assert_array_equal(out, GREY)


def test_one_bit_becomes_grey(tmp_path):
    bits = Image.fromarray(GREY > 127).convert("1")
    out = read_image(save(tmp_path, "a.png", bits))
    np.testing.assert_array_equal(out, np.where(GREY > 127, 255, 0))


def test_la_drops_alpha_or_returns_it(tmp_path):
    path = save(tmp_path, "a.png", Image.fromarray(np.stack([GREY, ALPHA], -1), mode="LA"))
    np.testing.assert_array_equal(read_image(path), GREY)
    grey, alpha = read_image(path, keep_alpha=True)
    np.testing.assert_array_equal(grey, GREY)
    np.testing.assert_array_equal(alpha, ALPHA)


def test_rgba_drops_alpha_or_returns_it(tmp_path):
    path = save(tmp_path, "a.png", Image.fromarray(np.dstack([RGB, ALPHA]), mode="RGBA"))
    np.testing.assert_array_equal(read_image(path), RGB)
    rgb, alpha = read_image(path, keep_alpha=True)
    np.testing.assert_array_equal(rgb, RGB)
    np.testing.assert_array_equal(alpha, ALPHA)


def test_no_alpha_gives_none(tmp_path):
    rgb, alpha = read_image(save(tmp_path, "a.png", Image.fromarray(RGB)), keep_alpha=True)
    assert alpha is None and rgb.shape == (6, 5, 3)


def test_colour_palette_becomes_rgb(tmp_path):
    colours = np.array([[255, 0, 0], [0, 128, 255], [10, 200, 30]], dtype=np.uint8)
    index = RNG.integers(0, 3, (6, 5)).astype(np.uint8)
    img = Image.fromarray(index, mode="P")
    img.putpalette(colours.ravel().tolist())
    out = read_image(save(tmp_path, "a.png", img))
    np.testing.assert_array_equal(out, colours[index])


def test_grey_palette_becomes_grey(tmp_path):
    levels = np.array([0, 77, 200], dtype=np.uint8)
    index = RNG.integers(0, 3, (6, 5)).astype(np.uint8)
    img = Image.fromarray(index, mode="P")
    img.putpalette(np.repeat(levels, 3).tolist())
    out = read_image(save(tmp_path, "a.png", img))
    assert out.shape == (6, 5)
    np.testing.assert_array_equal(out, levels[index])


def test_palette_transparency_becomes_alpha(tmp_path):
    index = np.array([[0, 1], [1, 0]], dtype=np.uint8)
    img = Image.fromarray(index, mode="P")
    img.putpalette([255, 0, 0, 0, 0, 255])
    path = save(tmp_path, "a.png", img, transparency=0)
    rgb, alpha = read_image(path, keep_alpha=True)
    np.testing.assert_array_equal(alpha, np.where(index == 0, 0, 255))
    np.testing.assert_array_equal(rgb[1, 0], [0, 0, 255])


def test_sixteen_bit_is_scaled_or_kept(tmp_path):
    values = np.array([[0, 257, 32768, 65535]], dtype=np.uint16)
    path = save(tmp_path, "a.png", Image.fromarray(values))
    assert Image.open(path).mode in ("I;16", "I")
    out = read_image(path)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, [[0, 1, 128, 255]])  # round(v / 257)
    kept = read_image(path, keep_16bit=True)
    assert kept.dtype == np.uint16
    np.testing.assert_array_equal(kept, values)


def test_mode_i_is_treated_as_16_bit(tmp_path):
    values = np.array([[0, 514, 65535]], dtype=np.int32)
    path = save(tmp_path, "a.tif", Image.fromarray(values, mode="I"))
    np.testing.assert_array_equal(read_image(path), [[0, 2, 255]])


def test_mode_i_out_of_16_bit_range_is_refused(tmp_path):
    path = save(tmp_path, "a.tif", Image.fromarray(np.array([[70000]], dtype=np.int32), mode="I"))
    with pytest.raises(ImageError, match="0..65535"):
        read_image(path)


def float_tiff(tmp_path, values):
    return save(tmp_path, "f.tif", Image.fromarray(np.array(values, dtype=np.float32), mode="F"))


def test_float_in_unit_range_is_read_as_unit_range(tmp_path):
    path = float_tiff(tmp_path, [[0.0, 0.25, 0.5, 1.0]])
    np.testing.assert_array_equal(read_image(path), [[0, 64, 128, 255]])
    np.testing.assert_array_equal(read_image(path, keep_16bit=True), [[0, 16384, 32768, 65535]])


@pytest.mark.parametrize("values, expected", [
    ([[0.0, 127.5, 255.0]], [[0, 128, 255]]),        # largest value <= 255: 0..255
    ([[0.0, 32767.5, 65535.0]], [[0, 128, 255]]),    # <= 65535: 0..65535
    ([[-0.5, 0.5, 1.0]], [[0, 128, 255]]),           # negative values become 0
])
def test_float_ranges(tmp_path, values, expected):
    np.testing.assert_array_equal(read_image(float_tiff(tmp_path, values)), expected)


@pytest.mark.parametrize("values, message", [
    ([[0.0, 70000.0]], "float pixel values up to 70000 are not supported"),
    ([[0.0, np.nan]], "float image holds NaN/Inf pixel values"),
])
def test_float_values_that_fit_no_range_are_refused(tmp_path, values, message):
    with pytest.raises(ImageError, match=message):
        read_image(float_tiff(tmp_path, values))


def test_cmyk_becomes_rgb(tmp_path):
    cmyk = np.zeros((2, 2, 4), dtype=np.uint8)
    cmyk[0, 0] = [255, 0, 0, 0]  # cyan
    cmyk[1, 1] = [0, 0, 0, 255]  # black
    path = save(tmp_path, "a.tif", Image.fromarray(cmyk, mode="CMYK"))
    out = read_image(path)
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out[0, 0], [0, 255, 255])
    np.testing.assert_array_equal(out[1, 1], [0, 0, 0])
    np.testing.assert_array_equal(out[0, 1], [255, 255, 255])


def test_exif_orientation_is_applied(tmp_path):
    stored = np.zeros((10, 20, 3), dtype=np.uint8)  # wide as stored
    stored[:, :10] = 255  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    path = save(tmp_path, "a.jpg", Image.fromarray(stored), exif=exif.tobytes(), quality=95)
    upright = read_image(path)
    assert upright.shape == (20, 10, 3)  # tall as displayed
    assert upright[:10].mean() > 200 and upright[10:].mean() < 50  # white on top
    assert read_image(path, exif_transpose=False).shape == (10, 20, 3)


# --- errors -----------------------------------------------------------------------


def assert_one_line_naming(err, path, words):
    message = str(err.value)
    assert "\n" not in message
    assert str(path) in message
    assert words in message
    assert isinstance(err.value, ValueError)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.png"
    with pytest.raises(ImageError) as err:
        read_image(path)
    assert_one_line_naming(err, path, "no such file")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageError) as err:
        read_image(path)
    assert_one_line_naming(err, path, "empty")


def test_text_file_named_png(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not an image\n")
    with pytest.raises(ImageError) as err:
        read_image(path)
    assert_one_line_naming(err, path, "not an image")


def test_truncated_png(tmp_path):
    noisy = RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)  # incompressible
    path = save(tmp_path, "cut.png", Image.fromarray(noisy))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError) as err:
        read_image(path)
    assert_one_line_naming(err, path, "truncated")


def test_zero_size_png(tmp_path):
    import struct
    import zlib

    def chunk(kind, data):
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 0, 5, 8, 0, 0, 0, 0)  # width 0, height 5, 8-bit grey
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")
    path = tmp_path / "zero.png"
    path.write_bytes(png)
    with pytest.raises(ImageError) as err:
        read_image(path)
    assert_one_line_naming(err, path, "zero size")


def test_folder_is_not_an_image(tmp_path):
    with pytest.raises(ImageError, match="folder"):
        read_image(tmp_path)


# --- write_image -------------------------------------------------------------------


def test_write_then_read_back(tmp_path):
    path = tmp_path / "out.png"
    write_image(path, RGB)
    np.testing.assert_array_equal(read_image(path), RGB)
    assert sorted(os.listdir(tmp_path)) == ["out.png"]  # no temporary file left


def test_write_refuses_to_overwrite(tmp_path):
    path = tmp_path / "out.png"
    write_image(path, GREY)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_image(path, RGB)
    np.testing.assert_array_equal(read_image(path), GREY)  # untouched
    write_image(path, RGB, overwrite=True)
    np.testing.assert_array_equal(read_image(path), RGB)
    assert sorted(os.listdir(tmp_path)) == ["out.png"]


def test_write_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        write_image(tmp_path / "f.png", RGB / 255.0)
    with pytest.raises(ValueError, match="extension"):
        write_image(tmp_path / "f.xyz", RGB)
    with pytest.raises(ValueError, match="empty"):
        write_image(tmp_path / "f.png", np.zeros((0, 4), np.uint8))
    assert os.listdir(tmp_path) == []


def test_write_16_bit_and_rgba(tmp_path):
    values = np.array([[0, 1000, 65535]], dtype=np.uint16)
    write_image(tmp_path / "a.png", values)
    np.testing.assert_array_equal(read_image(tmp_path / "a.png", keep_16bit=True), values)
    write_image(tmp_path / "b.png", np.dstack([RGB, ALPHA]))
    rgb, alpha = read_image(tmp_path / "b.png", keep_alpha=True)
    np.testing.assert_array_equal(alpha, ALPHA)


@settings(max_examples=20, deadline=None)
@given(
    arrays(np.uint8, st.tuples(st.integers(1, 8), st.integers(1, 8), st.sampled_from([1, 3]))),
    st.sampled_from([".png", ".bmp", ".tif"]),
)
def test_lossless_round_trip(img, suffix):
    img = img[..., 0] if img.shape[2] == 1 else img
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"x{suffix}"
        write_image(path, img)
        np.testing.assert_array_equal(read_image(path), img)


def test_written_files_get_ordinary_permissions_and_save_params(tmp_path):
    old = os.umask(0o022)
    try:
        write_image(tmp_path / "p.jpg", np.full((8, 8, 3), 200, np.uint8), quality=50)
    finally:
        os.umask(old)
    assert (tmp_path / "p.jpg").stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["p.jpg"]
