"""python -m minisr.upscale and minisr.superres.upscale(): modes, files, errors, tiling.

Every image and model is made here: small synthetic pictures in tmp_path and small
FSRCNNs with random weights (the outputs are meaningless, their shapes and plumbing
are not).
"""

import importlib
import io
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from minisr import FSRCNN
from minisr.image.resize import imresize
from minisr import superres
from minisr.models import load_model
from minisr.superres import compare_picture, upscale
from minisr.upscale import main

ROOT = Path(__file__).resolve().parents[1]
# The module, even where minisr.upscale is the function (exported by minisr/__init__.py).
upscale_module = importlib.import_module("minisr.upscale")


def random_model(scale=3, seed=0):
    model = FSRCNN(6, 3, 1, scale)
    rng = np.random.default_rng(seed)
    for p in model.parameters():
        p.data[...] = rng.normal(0.0, 0.2, p.shape)
    model.deconv.bias.data[...] = 0.5  # mid-grey outputs, not all clipped
    return model


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """{scale: path} of saved random x2 and x3 models."""
    folder = tmp_path_factory.mktemp("weights")
    paths = {}
    for scale in (2, 3):
        paths[scale] = folder / f"random_x{scale}.npz"
        random_model(scale).save(paths[scale])
    return paths


def rgb(h=10, w=7, seed=0):
    return (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)


def save(path, img, **params):
    img.save(path, **params)
    return path


def run(argv, capsys):
    """main(argv) -> (exit code, stdout lines, stderr lines)."""
    code = main([str(a) for a in argv] + ["--no-progress"])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


class BicubicNet:
    """A stand-in network that upscales Y by bicubic: upscale() must then equal bicubic."""
    scale = 3
    dtype = np.float64

    def infer(self, x):
        return imresize(x[0, 0], self.scale)[None, None]


# ---------------------------------------------------------------------- Python API
def test_api_arrays_keep_kind_and_shape():
    model = random_model()
    image = rgb()
    assert upscale(image, 3, model).shape == (30, 21, 3)
    assert upscale(image, 3, model).dtype == np.uint8
    assert upscale(image[..., 0], 3, model).shape == (30, 21)
    assert upscale(image.astype(np.float32) / 255, 3, model).dtype == np.float32
    as_float = upscale(image / 255.0, 3, model)
    assert as_float.dtype == np.float64 and 0 <= as_float.min() and as_float.max() <= 1
    assert np.abs(as_float * 255 - upscale(image, 3, model)).max() <= 0.5 + 1e-9
    rgba = np.dstack([image, np.full(image.shape[:2], 200, np.uint8)])
    out = upscale(rgba, 3, model)
    assert out.shape == (30, 21, 4) and np.all(out[..., 3] == 200)


def test_api_colour_goes_through_y_and_bicubic_chroma():
    """With a network that is bicubic on Y, the whole pipeline is bicubic on RGB."""
    image = rgb(12, 9)
    expected = imresize(image / 255.0, 3)
    out = upscale(image, 3, BicubicNet(), tile=0) / 255.0
    inside = (expected > 0.01) & (expected < 0.99)  # ycbcr_to_rgb clips; bicubic does not
    assert np.abs(out - expected)[inside].max() <= 0.5 / 255 + 1e-6
    grey = image[..., 1]
    assert np.array_equal(upscale(grey, 3, BicubicNet(), tile=0),
                          np.clip(np.floor(imresize(grey / 255.0, 3) * 255 + 0.5), 0, 255))


@pytest.mark.parametrize("mode, out_mode", [
    ("RGB", "RGB"), ("L", "L"), ("LA", "LA"), ("RGBA", "RGBA"), ("P", "RGB"),
    ("1", "L"), ("I;16", "I;16"), ("CMYK", "RGB")])
def test_api_pil_images(mode, out_mode):
    img = Image.fromarray(rgb(8, 5)).convert(mode)
    out = upscale(img, 3, random_model())
    assert isinstance(out, Image.Image)
    assert out.mode == out_mode and out.size == (15, 24)


def test_api_tiles_do_not_change_the_result():
    model = random_model()
    image = rgb(23, 17)
    assert np.array_equal(upscale(image, 3, model, tile=5), upscale(image, 3, model, tile=0))


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (1, 1, 3), (3, 5, 3)])
def test_api_images_smaller_than_the_receptive_field(shape):
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    out = upscale(image, 3, random_model())
    assert out.shape == (3 * shape[0], 3 * shape[1]) + shape[2:]


def test_api_refuses_bad_arrays():
    model = random_model()
    with pytest.raises(ValueError, match="shape"):
        upscale(np.zeros((4, 4, 5), np.uint8), 3, model)
    with pytest.raises(ValueError, match="empty"):
        upscale(np.zeros((0, 4), np.uint8), 3, model)
    with pytest.raises(TypeError, match="int32"):
        upscale(np.zeros((4, 4), np.int32), 3, model)


def test_load_model_names_paths_and_scales(weights, tmp_path):
    assert load_model(weights[3], 3).scale == 3
    assert load_model(str(weights[2]), 2).scale == 2
    with pytest.raises(ValueError, match=r"for x3, not x2"):
        load_model(weights[3], 2)
    with pytest.raises(ValueError, match=r"random_x3.npz: holds FSRCNN\(d=6, s=3, m=1, scale=3\), not fsrcnn-s \(d=32, s=5, m=1\)"):
        load_model(weights[3], 3, d=32, s=5, m=1)
    with pytest.raises(ValueError, match=r"which scale"):
        load_model("fsrcnn")
    with pytest.raises(ValueError, match=r"fsrcnn_x3: the weights are for x3, not x2"):
        load_model("fsrcnn_x3", scale=2)
    assert load_model(load_model(weights[2])).scale == 2  # a built model comes back as it is
    with pytest.raises(ValueError, match=r"for x3, not x4"):
        upscale(rgb(), 4, random_model(3))
    with pytest.raises(FileNotFoundError, match="no such weights file"):
        load_model(tmp_path / "missing.npz", 3)


def test_no_shipped_weights_yet(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr("minisr.models.WEIGHTS_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no shipped weights for fsrcnn x3 yet.*--weights FILE"):
        upscale(rgb())
    image = save(tmp_path / "a.png", Image.fromarray(rgb()))
    code, _, err = run([image], capsys)
    assert code == 2 and len(err) == 1
    assert "no shipped weights for fsrcnn x3 yet" in err[0] and "--weights FILE" in err[0]


# ---------------------------------------------------------------------- command line: modes
def _zero_size_png(path):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", 0, 5, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    return path


def test_cli_every_image_mode(weights, tmp_path, capsys):
    colour = Image.fromarray(rgb(8, 6))
    sixteen = Image.fromarray((np.arange(48, dtype=np.uint16).reshape(8, 6) * 1300)).convert("I;16")
    inputs = {  # name: (image, save options, expected output mode)
        "rgb.png": (colour, {}, "RGB"), "grey.png": (colour.convert("L"), {}, "L"),
        "greya.png": (colour.convert("LA"), {}, "LA"), "rgba.png": (colour.convert("RGBA"), {}, "RGBA"),
        "palette.png": (colour.convert("P"), {}, "RGB"),
        "palettea.png": (colour.convert("P"), {"transparency": 0}, "RGBA"),
        "deep.png": (sixteen, {}, "I;16"), "bw.png": (colour.convert("1"), {}, "L"),
    }
    for name, (img, params, _) in inputs.items():
        img.save(tmp_path / name, **params)
    code, out, err = run([tmp_path, "--weights", weights[3], "--out-dir", tmp_path / "out"], capsys)
    assert code == 0, err
    assert len(out) == len(inputs)
    for name, (_, _, mode) in inputs.items():
        with Image.open(tmp_path / "out" / name.replace(".png", "_x3.png")) as result:
            assert (result.mode, result.size) == (mode, (18, 24)), name


def test_cli_sixteen_bit_keeps_its_precision(weights, tmp_path, capsys):
    ramp = (np.arange(40, dtype=np.uint16).reshape(5, 8) * 1000 + 7)
    source = save(tmp_path / "deep.png", Image.fromarray(ramp).convert("I;16"))
    assert run([source, "--weights", weights[3]], capsys)[0] == 0
    expected = upscale(ramp, 3, load_model(weights[3]))  # uint16 in -> uint16 out
    with Image.open(tmp_path / "deep_x3.png") as result:
        assert np.array_equal(np.asarray(result), expected)
    assert run([source, "--weights", weights[3], "--format", "jpg"], capsys)[0] == 0
    with Image.open(tmp_path / "deep_x3.jpg") as result:
        assert result.mode == "L"  # JPEG holds 8 bits


def test_cli_applies_exif_orientation(weights, tmp_path, capsys):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: shown rotated 90 degrees clockwise
    source = save(tmp_path / "photo.jpg", Image.fromarray(rgb(6, 10)), exif=exif)
    assert run([source, "--weights", weights[3]], capsys)[0] == 0
    with Image.open(tmp_path / "photo_x3.png") as result:
        assert result.size == (18, 30)  # stored 10 x 6 (W x H), upright 6 x 10
        assert result.getexif().get(0x0112) is None


@pytest.mark.parametrize("fmt", ["png", "jpg"])
def test_cli_keeps_the_icc_profile(weights, tmp_path, capsys, fmt):
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = save(tmp_path / "tagged.png", Image.fromarray(rgb()), icc_profile=profile)
    assert run([source, "--weights", weights[3], "--format", fmt], capsys)[0] == 0
    with Image.open(tmp_path / f"tagged_x3.{fmt}") as result:
        assert result.info.get("icc_profile") == profile


def test_icc_profile_of_another_colour_space_is_dropped():
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    img = Image.fromarray(rgb())
    img.info["icc_profile"] = profile
    assert upscale(img, 3, random_model()).info["icc_profile"] == profile
    assert "icc_profile" not in upscale(img.convert("L"), 3, random_model()).info  # RGB profile


def test_cli_jpeg_drops_alpha_with_a_note(weights, tmp_path, capsys):
    source = save(tmp_path / "clear.png", Image.fromarray(rgb()).convert("RGBA"))
    code, _, err = run([source, "--weights", weights[3], "--format", "jpg"], capsys)
    assert code == 0 and any("transparency dropped" in line for line in err)
    with Image.open(tmp_path / "clear_x3.jpg") as result:
        assert result.mode == "RGB"


@pytest.mark.parametrize("shape", [(1, 1), (3, 5)])
def test_cli_tiny_images_are_upscaled(weights, tmp_path, capsys, shape):
    source = save(tmp_path / "tiny.png", Image.fromarray(rgb(*shape)))
    assert run([source, "--weights", weights[3]], capsys)[0] == 0
    with Image.open(tmp_path / "tiny_x3.png") as result:
        assert result.size == (3 * shape[1], 3 * shape[0])


def test_cli_tiles_do_not_change_the_file(weights, tmp_path, capsys):
    source = save(tmp_path / "big.png", Image.fromarray(rgb(29, 23)))
    for tile, name in (("0", "a.png"), ("6", "b.png")):
        argv = [source, "--weights", weights[3], "--tile", tile, "-o", tmp_path / name]
        assert run(argv, capsys)[0] == 0
    with Image.open(tmp_path / "a.png") as a, Image.open(tmp_path / "b.png") as b:
        assert np.array_equal(np.asarray(a), np.asarray(b))


# ---------------------------------------------------------------------- outputs
def test_cli_output_names(weights, tmp_path, capsys):
    source = save(tmp_path / "pic.bmp", Image.fromarray(rgb()))
    assert run([source, "--weights", weights[3]], capsys)[0] == 0
    assert run([source, "--weights", weights[3], "--format", "same"], capsys)[0] == 0
    assert run([source, "--weights", weights[3], "--format", "jpg"], capsys)[0] == 0
    exact = tmp_path / "elsewhere" / "exact.tif"
    exact.parent.mkdir()
    assert run([source, "--weights", weights[3], "-o", exact], capsys)[0] == 0
    assert exact.is_file()
    assert {p.name for p in tmp_path.iterdir()} == {
        "pic.bmp", "pic_x3.png", "pic_x3.bmp", "pic_x3.jpg", "elsewhere"}
    # A second run on the folder skips the first run's outputs.
    code, out, _ = run([tmp_path, "--weights", weights[3], "--out-dir", tmp_path / "again"], capsys)
    assert code == 0 and out == [f"{source} -> {tmp_path / 'again' / 'pic_x3.png'}"]


def test_cli_two_inputs_with_one_output_name(weights, tmp_path, capsys):
    for name in ("a.png", "a.jpg"):
        Image.fromarray(rgb()).save(tmp_path / name)
    code, out, err = run([tmp_path / "a.png", tmp_path / "a.jpg", "--weights", weights[3]], capsys)
    assert code == 1 and out == [f"{tmp_path / 'a.png'} -> {tmp_path / 'a_x3.png'}"]
    assert err[0] == (f"error: {tmp_path / 'a.jpg'}: its output {tmp_path / 'a_x3.png'} would "
                      f"also be {tmp_path / 'a.png'}'s; rename one")


def test_cli_never_overwrites_without_overwrite(weights, tmp_path, capsys):
    source = save(tmp_path / "a.png", Image.fromarray(rgb()))
    target = tmp_path / "a_x3.png"
    target.write_bytes(b"precious")
    code, _, err = run([source, "--weights", weights[3]], capsys)
    assert code == 1 and target.read_bytes() == b"precious"
    assert err == [f"error: {source}: {target}: already exists (use --overwrite to replace it)"]
    assert run([source, "--weights", weights[3], "--overwrite"], capsys)[0] == 0
    assert target.read_bytes()[:4] == b"\x89PNG"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600


def test_cli_write_is_atomic(weights, tmp_path, capsys, monkeypatch):
    source = save(tmp_path / "a.png", Image.fromarray(rgb()))

    def fail_mid_write(descriptor):  # the bytes are in the temporary file, the disk is full
        raise OSError("simulated failure: disk full")

    monkeypatch.setattr(os, "fsync", fail_mid_write)
    code, out, err = run([source, "--weights", weights[3]], capsys)
    assert code == 1 and out == []
    assert err == [f"error: {source}: {tmp_path / 'a_x3.png'}: could not write the image "
                   "(simulated failure: disk full)"]
    assert os.listdir(tmp_path) == ["a.png"]  # no output, no temporary file


def test_cli_compare_picture(weights, tmp_path, capsys):
    source = save(tmp_path / "a.png", Image.fromarray(rgb(10, 7)))
    code, out, _ = run([source, "--weights", weights[3], "--compare"], capsys)
    assert code == 0 and out[-1] == f"{source} -> {tmp_path / 'a_x3_compare.png'}"
    with Image.open(tmp_path / "a_x3_compare.png") as picture:
        assert picture.size == (2 * 21 + 4, 2 * 30 + 4)  # bicubic | FSRCNN, zoomed row below
    code, _, _ = run([source, "--weights", weights[3], "--compare", "--no-zoom", "--overwrite"], capsys)
    with Image.open(tmp_path / "a_x3_compare.png") as picture:
        assert code == 0 and picture.size == (2 * 21 + 4, 30)


def test_compare_picture_layout():
    left, right = np.zeros((30, 40), np.uint8), np.full((30, 40, 3), 255, np.uint8)
    picture = compare_picture(left, right, zoom=3)
    assert picture.shape == (2 * 30 + 4, 2 * 40 + 4, 3)
    assert picture[25, 35].tolist() == [0, 0, 0]               # bicubic, top row
    assert picture[25, 44 + 35].tolist() == [255, 255, 255]    # FSRCNN, top row
    assert picture[34 + 25, 35].tolist() == [0, 0, 0]          # zoomed bicubic
    assert picture[20, 20].tolist() == [255, 0, 0]             # the zoomed box, outlined
    assert compare_picture(left, right, zoom=1).shape == (30, 84, 3)


# ---------------------------------------------------------------------- bad inputs
def _bad_files(folder):
    good = Image.fromarray(rgb())
    png = io.BytesIO()
    good.save(png, format="PNG")
    (folder / "text.png").write_text("this is not an image\n")
    (folder / "cut.png").write_bytes(png.getvalue()[:60])
    (folder / "empty.png").write_bytes(b"")
    _zero_size_png(folder / "zero.png")
    return {"missing.png": "no such file", "text.png": "not an image",
            "cut.png": "truncated", "empty.png": "empty file", "zero.png": "zero size"}


def test_cli_each_bad_input_is_one_line(weights, tmp_path, capsys):
    for name, problem in _bad_files(tmp_path).items():
        code, out, err = run([tmp_path / name, "--weights", weights[3]], capsys)
        assert code == 1 and out == [] and len(err) == 1, name
        assert err[0].startswith(f"error: {tmp_path / name}: ") and problem in err[0]


def test_cli_a_missing_file_is_reported_before_anything_compiles(weights, tmp_path, capsys, monkeypatch):
    """On a first run the kernels take seconds to compile: a mistyped name must not wait
    for them."""
    import minisr.upscale as tool

    def no_warm_up(model):
        raise AssertionError("compiled before reporting the missing file")

    monkeypatch.setattr(tool, "warm_up", no_warm_up)
    code, out, err = run([tmp_path / "typo.png", "--weights", weights[3]], capsys)
    assert code == 1 and out == [] and err == [f"error: {tmp_path / 'typo.png'}: no such file"]


def test_cli_an_existing_output_is_reported_before_anything_compiles(weights, tmp_path, capsys, monkeypatch):
    import minisr.upscale as tool

    def no_warm_up(model):
        raise AssertionError("compiled before reporting the existing output")

    monkeypatch.setattr(tool, "warm_up", no_warm_up)
    source = save(tmp_path / "a.png", Image.fromarray(rgb()))
    target = tmp_path / "kept.png"
    target.write_bytes(b"precious")
    code, out, err = run([source, "-o", target, "--weights", weights[3]], capsys)
    assert code == 2 and out == [] and target.read_bytes() == b"precious"
    assert err == [f"python -m minisr.upscale: error: {target}: already exists (use --overwrite to replace it)"]


def test_cli_batch_goes_on_after_bad_files(weights, tmp_path, capsys):
    problems = _bad_files(tmp_path)
    for name in ("one.png", "two.jpg"):
        Image.fromarray(rgb()).save(tmp_path / name)
    code, out, err = run([tmp_path, tmp_path / "missing.png", "--weights", weights[3]], capsys)
    assert code == 1
    assert (tmp_path / "one_x3.png").is_file() and (tmp_path / "two_x3.png").is_file()
    assert len(out) == 2
    assert len(err) == len(problems) + 1 and err[-1] == "2 written, 5 failed"
    for name, problem in problems.items():
        assert sum(name in line and problem in line for line in err) == 1, name
    assert not any("Traceback" in line for line in err)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_cli_globs_and_empty_patterns(weights, tmp_path, capsys):
    for name in ("a.png", "b.png", "c.txt"):
        (Image.fromarray(rgb()).save(tmp_path / name) if name.endswith(".png")
         else (tmp_path / name).write_text("notes"))
    code, out, err = run([str(tmp_path / "*.png"), str(tmp_path / "*.gif"), "--weights", weights[3],
                          "--out-dir", tmp_path / "out"], capsys)
    assert code == 1 and len(out) == 2
    assert err[0] == f"error: {tmp_path / '*.gif'}: no image file matches"


@pytest.mark.parametrize("argv_extra, message", [
    (["--scale", "2"], "the weights are for x3, not x2"),
    (["--model", "fsrcnn-s"], "not fsrcnn-s"),
    (["--threads", "0"], "--threads must be between 1 and"),
    (["--tile", "-1"], "--tile must be >= 0"),
    (["--format", "jpg", "-o", "x.jpg"], "drop --format"),
    (["-o", "x.xyz"], "Pillow cannot write .xyz files"),
])
def test_cli_usage_errors_are_one_line(weights, tmp_path, capsys, argv_extra, message):
    source = save(tmp_path / "a.png", Image.fromarray(rgb()))
    code, out, err = run([source, "--weights", weights[3]] + argv_extra, capsys)
    assert code == 2 and out == [] and len(err) == 1
    assert err[0].startswith("python -m minisr.upscale: error: ") and message in err[0]


def test_cli_bad_weights_files(weights, tmp_path, capsys):
    source = save(tmp_path / "a.png", Image.fromarray(rgb()))
    arrays = dict(np.load(weights[3]))
    arrays["feature.weight"] = arrays["feature.weight"][:, :, :3, :3]
    np.savez(tmp_path / "wrong_shape.npz", **arrays)
    (tmp_path / "junk.npz").write_text("not numpy")
    cases = {"wrong_shape.npz": "feature.weight has shape (6, 1, 3, 3)",
             "junk.npz": "not an .npz (zip) file", "none.npz": "no such weights file"}
    for name, message in cases.items():
        code, _, err = run([source, "--weights", tmp_path / name], capsys)
        assert code == 2 and len(err) == 1 and f"{tmp_path / name}: " in err[0]
        assert message in err[0], err[0]
    assert not (tmp_path / "a_x3.png").exists()


def test_cli_refuses_an_unsupported_scale(weights, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main([str(tmp_path / "a.png"), "--scale", "5", "--weights", str(weights[3])])
    assert stop.value.code == 2 and "invalid choice: 5" in capsys.readouterr().err


def test_cli_one_output_for_one_input(weights, tmp_path, capsys):
    for name in ("a.png", "b.png"):
        Image.fromarray(rgb()).save(tmp_path / name)
    code, _, err = run([tmp_path, "--weights", weights[3], "-o", tmp_path / "x.png"], capsys)
    assert code == 2 and "use --out-dir" in err[0]


def test_cli_threads(weights, tmp_path, capsys):
    import numba
    before = numba.get_num_threads()
    source = save(tmp_path / "a.png", Image.fromarray(rgb()))
    try:
        assert run([source, "--weights", weights[3], "--threads", "1"], capsys)[0] == 0
        assert numba.get_num_threads() == 1
    finally:
        numba.set_num_threads(before)


def test_python_dash_m_entry_point(weights, tmp_path):
    source = save(tmp_path / "a.png", Image.fromarray(rgb()))
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-m", "minisr.upscale", str(source), "--weights",
                           str(weights[3]), "--compare"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"{source} -> {tmp_path / 'a_x3.png'}",
                                        f"{source} -> {tmp_path / 'a_x3_compare.png'}"]


# ---------------------------------------------------------------------- issue 13: faults
def test_api_refuses_nan_and_inf_pixels():
    image = np.random.default_rng(0).random((10, 9))
    image[2, 3], image[4, 4] = np.nan, np.inf
    with pytest.raises(ValueError, match=r"upscale: the image holds 2 NaN/Inf values \(of 90\)"):
        upscale(image, 3, random_model())


@pytest.mark.parametrize("scale", ["3", 3.0, True])
def test_api_scale_must_be_an_integer(weights, scale):
    with pytest.raises(ValueError, match=r"scale must be an integer such as 3, got"):
        upscale(rgb(), scale, str(weights[3]))
    assert upscale(rgb(), np.int64(3), str(weights[3])).shape == (30, 21, 3)


def big_constant_png(path, side=9000):
    """A side x side grey PNG that compresses to almost nothing (about 100 KB at 9000)."""
    Image.new("L", (side, side), 128).save(path)
    return path


def test_cli_refuses_an_output_that_cannot_fit_in_memory(weights, tmp_path, capsys, monkeypatch):
    source = big_constant_png(tmp_path / "big.png")
    monkeypatch.setattr(superres, "available_memory", lambda: 1_000_000_000)
    code, out, err = run([source, "--weights", weights[3]], capsys)
    assert code == 1 and out == [] and len(err) == 1
    needed = superres.memory_needed((9000, 9000), 1, random_model(), None)
    assert err[0] == (f"error: {source}: the x3 output (27000x27000, 729.0 megapixels) needs about "
                      f"{needed / 1e9:.1f} GB ({needed:,} bytes) of memory, more than the 1.0 GB "
                      f"available; free memory, or pass --max-pixels 729000000 to try anyway")
    assert not (tmp_path / "big_x3.png").exists()


def test_cli_max_pixels_is_the_limit_when_given(weights, tmp_path, capsys):
    source = save(tmp_path / "a.png", Image.fromarray(rgb(10, 7)))
    code, _, err = run([source, "--weights", weights[3], "--max-pixels", "629"], capsys)
    assert code == 1 and len(err) == 1
    assert "the x3 output (21x30, 0.0 megapixels) needs about" in err[0]
    assert "bytes) of memory; that is over --max-pixels 629: raise it to try anyway" in err[0]
    assert run([source, "--weights", weights[3], "--max-pixels", "630"], capsys)[0] == 0
    code, _, err = run([source, "--weights", weights[3], "--max-pixels", "0"], capsys)
    assert code == 2 and "--max-pixels must be >= 1" in err[0]


def test_api_estimates_memory_before_starting(monkeypatch):
    monkeypatch.setattr(superres, "available_memory", lambda: 10_000)
    with pytest.raises(ValueError, match=r"upscale: the x3 output \(21x30.*pass max_pixels=630 to try anyway"):
        upscale(rgb(), 3, random_model())
    assert upscale(rgb(), 3, random_model(), max_pixels=630).shape == (30, 21, 3)
    monkeypatch.setattr(superres, "available_memory", lambda: None)  # not Linux
    monkeypatch.setattr(superres, "FALLBACK_MAX_PIXELS", 629)
    with pytest.raises(ValueError, match="over the default limit of 629 output pixels"):
        upscale(rgb(), 3, random_model())


def test_floats_are_held_one_tile_at_a_time():
    """The result is assembled in uint8: the float64 working set is a tile's, far less
    than one float64 copy of the output (which the old pipeline held several of)."""
    import tracemalloc
    image, model = rgb(120, 150), random_model()
    upscale(image, 3, model, tile=24)  # compile and fill the caches first
    tracemalloc.start()
    out = upscale(image, 3, model, tile=24)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < out.size * 8 / 2, f"peak {peak} bytes for an output of {out.size} values"
    assert np.array_equal(out, upscale(image, 3, model, tile=0))


def test_memory_estimate_grows_with_the_image_and_compare():
    model = random_model()
    small = superres.memory_needed((100, 100, 3), 1, model)
    large = superres.memory_needed((1000, 1000, 3), 1, model)
    assert large > 9 * 1000 * 1000 * 3 * 2  # at least the output, twice
    assert small < large < superres.memory_needed((1000, 1000, 3), 1, model, compare=True)
    assert superres.memory_needed((1000, 1000), 2, model) > superres.memory_needed((1000, 1000), 1, model)


def test_cli_too_large_for_pillow_is_one_line(weights, tmp_path, capsys, monkeypatch):
    source = big_constant_png(tmp_path / "bomb.png", side=50)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow refuses > 2 x this
    code, _, err = run([source, "--weights", weights[3]], capsys)
    assert code == 1 and len(err) == 1
    assert err[0].startswith(f"error: {source}: image too large to open safely")


def test_cli_float_tiff_in_unit_range_is_not_black(weights, tmp_path, capsys):
    ramp = np.linspace(0.0, 1.0, 24 * 20, dtype=np.float32).reshape(24, 20)
    source = save(tmp_path / "f.tif", Image.fromarray(ramp, mode="F"))
    assert run([source, "--weights", weights[3], "-o", tmp_path / "out.png"], capsys)[0] == 0
    with Image.open(tmp_path / "out.png") as result:
        assert result.mode == "I;16" and result.size == (60, 72)  # 16-bit grey PNG
        values = np.asarray(result).astype(np.float64) / 65535
    assert abs(values.mean() - 0.5) < 0.2  # the random model keeps the level roughly
    assert values.max() > 0.5
    out = upscale(Image.fromarray(ramp, mode="F"), 3, random_model())
    assert out.mode == "I;16" and np.asarray(out).max() > 30000


def test_cli_notes_frames_left_out(weights, tmp_path, capsys):
    frames = [Image.new("RGB", (8, 6), colour) for colour in ("red", "green", "blue")]
    source = tmp_path / "anim.gif"
    frames[0].save(source, save_all=True, append_images=frames[1:])
    code, out, err = run([source, "--weights", weights[3]], capsys)
    assert code == 0 and len(out) == 1
    assert err == [f"note: {tmp_path / 'anim_x3.png'}: {source} has 3 frames; only the first is upscaled"]


def test_cli_never_writes_over_an_input(weights, tmp_path, capsys):
    source = save(tmp_path / "a.png", Image.fromarray(rgb()))
    original = source.read_bytes()
    code, out, err = run([source, "--weights", weights[3], "-o", source, "--overwrite"], capsys)
    assert code == 1 and out == [] and err == [f"error: {source}: is the input file; choose another output"]
    other = save(tmp_path / "a_x3.png", Image.fromarray(rgb(5, 5)))  # named on the command line
    other_bytes = other.read_bytes()
    code, out, err = run([source, other, "--weights", weights[3], "--format", "same", "--overwrite"], capsys)
    assert code == 1 and f"its output {other} is one of the input files; choose another output" in err[0]
    assert source.read_bytes() == original and other.read_bytes() == other_bytes
    os.link(source, tmp_path / "hard.png")  # another name for the same file
    code, _, err = run([source, "--weights", weights[3], "-o", tmp_path / "hard.png", "--overwrite"], capsys)
    assert code == 1 and "is the input file" in err[0] and source.read_bytes() == original


def test_cli_batch_prints_progress_when_not_a_terminal(weights, tmp_path, capsys):
    for name in ("a.png", "b.png", "c.png"):
        save(tmp_path / name, Image.fromarray(rgb()))
    assert main([str(tmp_path), "--weights", str(weights[3])]) == 0  # progress on (no --no-progress)
    err = capsys.readouterr().err.splitlines()
    assert err and err[-1].startswith("upscale x3  3/3  100%")


def test_compare_name_is_documented_as_it_is():
    """--compare writes <output stem>_compare.png: -o big.jpg gives big_compare.png."""
    assert superres.compare_path(Path("big.jpg")) == Path("big_compare.png")
    help_text = " ".join(upscale_module.build_parser().format_help().split())
    assert "<output stem>_compare.png" in help_text and "big_compare.png for -o big.jpg" in help_text


# ---------------------------------------------------------------------- several scales
def test_cli_several_scales_run_the_trunk_once_and_equal_single_runs(tmp_path, capsys, monkeypatch):
    """--scale 2 3 4: one read, the trunk once per tile, three outputs each equal to its
    own single-scale run (tiles and alpha included)."""
    from minisr.multiscale import MultiScaleFSRCNN

    x3 = random_model(3, seed=1)
    models = {3: x3}
    for scale in (2, 4):  # deconvolution-only fine-tunes: the same trunk
        model = random_model(scale, seed=scale)
        for p, q in zip(model.parameters()[:-2], x3.parameters()[:-2]):
            p.data[...] = q.data
        models[scale] = model
    for scale, model in models.items():
        model.save(tmp_path / f"x{scale}.npz")
    MultiScaleFSRCNN.from_models(list(models.values())).save(tmp_path / "multi.npz")
    pixels = np.dstack([rgb(23, 17), np.full((23, 17), 200, np.uint8)])
    source = save(tmp_path / "pic.png", Image.fromarray(pixels, "RGBA"))

    trunk_runs = []
    original = MultiScaleFSRCNN.infer
    monkeypatch.setattr(MultiScaleFSRCNN, "infer", lambda self, x, scales=None: trunk_runs.append(x.shape)
                        or original(self, x, scales))
    code, out, err = run([source, "--scale", 4, 2, 3, "--weights", tmp_path / "multi.npz",
                          "--out-dir", tmp_path / "multi", "--tile", 0], capsys)
    assert (code, err) == (0, [])
    assert out == [f"{source} -> {tmp_path / 'multi' / f'pic_x{n}.png'}" for n in (2, 3, 4)]
    assert trunk_runs.count((1, 1, 23, 17)) == 1  # one tile: one pass of the trunk for three scales
    for scale in (2, 3, 4):
        single = tmp_path / f"single_x{scale}.png"
        argv = [source, "--scale", scale, "--weights", tmp_path / f"x{scale}.npz", "-o", single, "--tile", 6]
        assert run(argv, capsys)[0] == 0
        with Image.open(single) as a, Image.open(tmp_path / "multi" / f"pic_x{scale}.png") as b:
            assert a.size == (17 * scale, 23 * scale)
            assert np.array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("argv_extra, message", [
    (["-o", "one.png"], "-o names one output file but --scale asks for several; use --out-dir"),
    (["--weights", "WEIGHTS"], "not a minisr multi-scale model file"),
])
def test_cli_several_scales_usage_errors(weights, tmp_path, capsys, argv_extra, message):
    source = save(tmp_path / "pic.png", Image.fromarray(rgb()))
    argv_extra = [weights[3] if a == "WEIGHTS" else a for a in argv_extra]
    code, out, err = run([source, "--scale", 2, 3] + argv_extra, capsys)
    assert code == 2 and out == []
    assert len(err) == 1 and message in err[0]


def test_cli_several_scales_with_the_shipped_weights(tmp_path, capsys):
    """The shipped x2 and x4 models are deconvolution fine-tunes of x3: one trunk."""
    source = save(tmp_path / "pic.png", Image.fromarray(rgb(12, 9)))
    code, out, err = run([source, "--scale", 2, 3, 4], capsys)
    assert (code, err) == (0, [])
    for n in (2, 3, 4):
        with Image.open(tmp_path / f"pic_x{n}.png") as img:
            assert img.size == (9 * n, 12 * n)


def test_cli_png_compression_changes_the_size_not_the_pixels(weights, tmp_path, capsys):
    source = save(tmp_path / "pic.png", Image.fromarray(rgb(40, 30)))
    for level, name in ((1, "fast.png"), (9, "small.png")):
        assert run([source, "--weights", weights[3], "--png-compression", level, "-o", tmp_path / name],
                   capsys)[0] == 0
    with Image.open(tmp_path / "fast.png") as a, Image.open(tmp_path / "small.png") as b:
        assert np.array_equal(np.asarray(a), np.asarray(b))
    assert (tmp_path / "small.png").stat().st_size < (tmp_path / "fast.png").stat().st_size
    with pytest.raises(SystemExit) as exit_info:
        main([str(source), "--png-compression", "10"])
    assert exit_info.value.code == 2 and "invalid choice: 10" in capsys.readouterr().err


def test_cli_writes_in_a_thread_and_reports_in_input_order(weights, tmp_path, capsys, monkeypatch):
    """One image is written while the next is computed: the lines still follow the
    inputs, and a failed write (a full disk) is one line naming its input while the
    batch goes on."""
    import errno
    sources = [save(tmp_path / f"p{i}.png", Image.fromarray(rgb(9, 8, seed=i))) for i in range(4)]
    real_save = superres.save_image

    def save_image(path, img, overwrite=False, **params):
        if Path(path).name == "p1_x3.png":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_save(path, img, overwrite, **params)

    monkeypatch.setattr(superres, "save_image", save_image)
    code, out, err = run([tmp_path, "--weights", weights[3], "--out-dir", tmp_path / "out"], capsys)
    assert code == 1
    assert out == [f"{s} -> {tmp_path / 'out' / (s.stem + '_x3.png')}" for s in sources if s.name != "p1.png"]
    assert any("p1.png" in line and "No space left on device" in line for line in err)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["p0_x3.png", "p2_x3.png", "p3_x3.png"]
