"""Broken model files get one clear line (issue 13, points 4 and 6).

Every fault is made here by injection: a good file is saved, then truncated, emptied,
has a byte flipped, gets a malformed ``__config__``, integer or NaN weights; the
authors' ``.mat`` layout is written with wrong cells. ``FSRCNN.load`` and the .mat
loader must raise ValueError (or FileNotFoundError) naming the file;
``python -m minisr.upscale`` and ``python -m minisr.evaluate`` must print one line,
no traceback.
"""

import json
import zipfile

import numpy as np
import pytest
import scipy.io
from PIL import Image

from minisr import FSRCNN
from minisr.evaluate import main as evaluate_main
from minisr.models import load_model
from minisr.official import load_official_model
from minisr.upscale import main as upscale_main


@pytest.fixture
def good(tmp_path):
    """A small saved model, x3."""
    path = tmp_path / "good_x3.npz"
    FSRCNN(8, 4, 1, 3).save(path)
    return path


def with_arrays(good, path, **changes):
    """A copy of ``good`` with some arrays replaced (``__config__`` is JSON text)."""
    arrays = dict(np.load(good))
    arrays.update(changes)
    np.savez(path, **arrays)
    return path


def with_config(good, path, **changes):
    """A copy of ``good`` whose configuration has ``changes``."""
    config = json.loads(str(np.load(good)["__config__"]))
    config.update(changes)
    return with_arrays(good, path, __config__=np.array(json.dumps(config)))


def flip_a_data_byte(good, path):
    """``good`` with one byte of feature.weight's data flipped: the zip's CRC no longer
    matches, which shows only when that array is read."""
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as archive:
        info = archive.getinfo("feature.weight.npy")
    data[info.header_offset + 30 + len(info.filename) + len(info.extra) + 200] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def corrupt_files(good, folder):
    """{file: words its error must contain}."""
    data = good.read_bytes()
    (folder / "truncated.npz").write_bytes(data[:len(data) // 2])
    (folder / "empty.npz").write_bytes(b"")
    (folder / "random.npz").write_bytes(np.random.default_rng(0).bytes(3000))
    (folder / "folder.npz").mkdir()
    return {
        folder / "truncated.npz": "not a readable .npz file (truncated or corrupt",
        folder / "empty.npz": "empty file (0 bytes)",
        flip_a_data_byte(good, folder / "bad_crc.npz"): "truncated or corrupt: Bad CRC-32",
        folder / "random.npz": "not an .npz (zip) file",
        folder / "folder.npz": "is a folder",
        with_arrays(good, folder / "pickled.npz", **{"feature.weight": np.array([{}, []], dtype=object)}):
            "feature.weight is a pickled (object) array",
    }


def bad_configs(good, folder):
    """{file: words its error must contain}."""
    text = lambda s: np.array(s)  # noqa: E731
    return {
        with_config(good, folder / "unknown.npz", colour="blue"): "__config__ has unknown keys ['colour']",
        with_arrays(good, folder / "list.npz", __config__=text("[8, 4, 1, 3]")): "must be a JSON object",
        with_arrays(good, folder / "invalid.npz", __config__=text("")): "__config__ is not valid JSON",
        with_config(good, folder / "huge_d.npz", d=100000): "d=100000 is not an integer in 1..1024",
        with_config(good, folder / "huge_s.npz", s=100000): "s=100000 is not an integer in 1..256",
        with_config(good, folder / "float_m.npz", m=1.5): "m=1.5 is not an integer",
        with_config(good, folder / "bool_scale.npz", scale=True): "scale=True is not an integer",
        with_config(good, folder / "reflect.npz", padding_mode="reflect"): "padding_mode='reflect' is not one of",
        with_arrays(good, folder / "lacks_d.npz", __config__=text('{"s": 4, "m": 1, "scale": 3}')):
            "__config__ lacks d",
    }


def bad_weights(good, folder):
    """{file: words its error must contain}."""
    weight = np.load(good)["feature.weight"]
    nan = weight.copy()
    nan[0, 0, 0, :2] = np.nan
    inf = np.load(good)["deconv.bias"].copy()
    inf[0] = np.inf
    return {
        with_arrays(good, folder / "int.npz", **{"feature.weight": weight.astype(np.int32)}):
            "feature.weight holds int32 values, not floating point",
        with_arrays(good, folder / "nan.npz", **{"feature.weight": nan, "deconv.bias": inf}):
            "weights hold NaN/Inf values (2 of 200 in feature.weight, 1 of 1 in deconv.bias)",
    }


@pytest.mark.parametrize("kind", [corrupt_files, bad_configs, bad_weights])
def test_load_names_the_file_and_the_problem(good, tmp_path, kind):
    for path, words in kind(good, tmp_path).items():
        with pytest.raises(ValueError) as error:
            FSRCNN.load(path)
        message = str(error.value)
        assert message.startswith(f"{path}: ") and words in message, message
        assert "\n" not in message


def test_load_weights_checks_dtype_and_values_and_keeps_the_model(good, tmp_path):
    model = FSRCNN(8, 4, 1, 3, seed=5)
    before = [p.data.copy() for p in model.parameters()]
    for path, words in bad_weights(good, tmp_path).items():
        with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
            model.load_weights(path)
    assert all(np.array_equal(a, p.data) for a, p in zip(before, model.parameters()))


def test_a_huge_configuration_is_refused_before_anything_is_built(good, tmp_path, monkeypatch):
    built = []
    monkeypatch.setattr(FSRCNN, "init_weights", lambda self, seed=0: built.append(self))
    path = with_config(good, tmp_path / "huge.npz", d=100000, s=100000)
    with pytest.raises(ValueError, match="is not an integer in"):
        FSRCNN.load(path)
    assert built == []


def run_upscale(argv, capsys):
    code = upscale_main([str(a) for a in argv] + ["--no-progress"])
    return code, capsys.readouterr().err.splitlines()


def test_upscale_command_says_one_line_per_bad_model_file(good, tmp_path, capsys):
    image = tmp_path / "a.png"
    Image.fromarray(np.full((6, 5, 3), 100, np.uint8)).save(image)
    cases = {**corrupt_files(good, tmp_path), **bad_configs(good, tmp_path), **bad_weights(good, tmp_path)}
    for path, words in cases.items():
        code, err = run_upscale([image, "--weights", path], capsys)
        assert code == 2 and len(err) == 1, (path, err)
        assert err[0].startswith(f"python -m minisr.upscale: error: {path}: ") and words in err[0], err[0]
    assert not (tmp_path / "a_x3.png").exists()


@pytest.fixture
def data_dir(tmp_path):
    from minisr.data import get_dataset
    folder = tmp_path / "data" / "Set5"
    folder.mkdir(parents=True)
    for name in get_dataset("Set5").files:
        Image.fromarray(np.full((12, 12, 3), 90, np.uint8)).save(folder / name)
    return folder.parent


def test_evaluate_command_says_one_line_per_bad_model_file(good, tmp_path, data_dir, capsys):
    cases = {**corrupt_files(good, tmp_path), **bad_configs(good, tmp_path), **bad_weights(good, tmp_path)}
    for path, words in cases.items():
        if path.name == "bool_scale.npz" or path.is_dir():
            continue  # pick_weights refuses these by name first; covered above
        code = evaluate_main(["--weights", str(path), "--datasets", "Set5", "--scales", "3",
                              "--data-dir", str(data_dir), "--no-progress"])
        err = capsys.readouterr().err.splitlines()
        assert code == 1 and len(err) == 1, (path, err)
        assert f"{path}: " in err[0] and words in err[0], err[0]


# ---------------------------------------------------------------------- the authors' .mat
def cell(items):
    array = np.empty((len(items), 1), dtype=object)
    for i, item in enumerate(items):
        array[i, 0] = item
    return array


def mat_layers(d=4, s=3, m=1, seed=0):
    """weights, biases, slopes of a small FSRCNN in the authors' layout."""
    rng = np.random.default_rng(seed)
    shapes = [(1, 5, d), (d, 1, s)] + [(s, 3, s)] * m + [(s, 1, d)]
    weights = [rng.normal(size=(c_in, k * k, c_out)) for c_in, k, c_out in shapes]
    weights.append(rng.normal(size=(1, 81, d)))
    biases = [rng.normal(size=(c_out, 1)) for _, _, c_out in shapes] + [np.array([[0.05]])]
    slopes = [np.array([[0.1]]) for _ in shapes] + [np.zeros((1, 0))]
    return weights, biases, slopes


def write_mat(path, weights, biases, slopes):
    path.parent.mkdir(exist_ok=True)
    scipy.io.savemat(path, {"weights_conv": cell(weights), "biases_conv": cell(biases),
                            "prelu_conv": cell(slopes)})
    return path


def bad_mat_files(folder):
    """{file: words its error must contain}, one folder each (the scale is in the name)."""
    w, b, a = mat_layers()
    nan = [w[0] * np.nan] + w[1:]
    cases = {
        "text_cell": (["abc"] + w[1:], b, a, "weights_conv{1} is not a numeric array"),
        "nested_cell": ([cell([w[0]])] + w[1:], b, a, "weights_conv{1} is not a numeric array"),
        "flat_weights": ([w[0].ravel()] + w[1:], b, a, "layer 1 weights have shape (1, 100, 1)"),
        "empty_first_layer": ([np.zeros((1, 25, 0))] + w[1:], b, a, "d must be an integer >= 1"),
        "bias_too_long": (w, [np.ones(7)] + b[1:], a, "layer 1 bias has 7 values, expected 4"),
        "no_slopes": (w, b, [np.zeros((1, 0))] * len(a), "layer 1 PReLU slope has 0 values, expected 1"),
        "deconv_bias": (w, b[:-1] + [np.ones((1, 2))], a, "deconvolution bias has 2 values"),
        "missing_layers": (w[:2], b[:2], a[:2], "at least 4 layers"),
        "nan": (nan, b, a, "weights hold NaN/Inf values (100 of 100 in feature.weight)"),
    }
    files = {write_mat(folder / name / "x3.mat", *case[:3]): case[3] for name, case in cases.items()}
    not_cells = folder / "not_cells" / "x3.mat"
    not_cells.parent.mkdir()
    scipy.io.savemat(not_cells, {"weights_conv": np.ones(3), "biases_conv": cell(b), "prelu_conv": cell(a)})
    files[not_cells] = "'weights_conv' is not a cell array"
    return files


def test_malformed_mat_cells_name_the_file_and_the_problem(tmp_path, capsys):
    image = tmp_path / "a.png"
    Image.fromarray(np.full((6, 5), 100, np.uint8)).save(image)
    for path, words in bad_mat_files(tmp_path).items():
        with pytest.raises(ValueError) as error:
            load_official_model(path)
        assert str(error.value).startswith(f"{path}: ") and words in str(error.value), str(error.value)
        code, err = run_upscale([image, "--weights", path, "-o", tmp_path / "out.png"], capsys)
        assert code == 2 and len(err) == 1 and words in err[0], err


def test_a_good_mat_file_still_loads(tmp_path):
    path = write_mat(tmp_path / "x3.mat", *mat_layers())
    model = load_official_model(path)
    assert (model.d, model.s, model.m, model.scale) == (4, 3, 1, 3)


def test_load_model_reads_the_scale_from_the_file_and_checks_an_explicit_one(good, tmp_path):
    mat = write_mat(tmp_path / "x3.mat", *mat_layers())
    unnamed = write_mat(tmp_path / "unnamed" / "weights.mat", *mat_layers())
    assert load_model(mat).scale == 3 and load_model(unnamed, scale=2).scale == 2
    assert load_model(good, kernels="reference", dtype=np.float64).kernels == "reference"
    for path, kwargs, words in [(mat, {"scale": 2}, "the weights are for x3, not x2"),
                                (good, {"scale": 4}, "the weights are for x3, not x4"),
                                (good, {"d": 56, "s": 12, "m": 4}, "not fsrcnn (d=56, s=12, m=4)"),
                                (unnamed, {}, "cannot tell the scale from the file name")]:
        with pytest.raises(ValueError) as error:
            load_model(path, **kwargs)
        message = str(error.value)
        assert message.startswith(f"{path}: ") and words in message and "\n" not in message, message


def test_a_damaged_multiscale_file_is_one_line(tmp_path):
    """MultiScaleFSRCNN.load checks each head like a model file (formerly a TypeError
    or a KeyError traceback for a malformed __multiscale__ entry, NaN accepted)."""
    from minisr.multiscale import MultiScaleFSRCNN

    x3, x2 = FSRCNN(8, 4, 1, 3), FSRCNN(8, 4, 1, 2)
    for (name, a), (_, b) in zip(x3.named_parameters(), x2.named_parameters()):
        if not name.startswith("deconv."):
            b.data[...] = a.data
    MultiScaleFSRCNN.from_models([x3, x2]).save(tmp_path / "both.npz")
    assert MultiScaleFSRCNN.load(tmp_path / "both.npz").scales == [2, 3]
    with np.load(tmp_path / "both.npz") as f:
        good = {k: f[k] for k in f.files}
    cases = {
        "nan": ({"x2/deconv.weight": np.full_like(good["x2/deconv.weight"], np.nan)}, "NaN/Inf"),
        "list": ({"__multiscale__": np.array("[1, 2]")}, "not a JSON object"),
        "huge": ({"__multiscale__": np.array('{"d": 100000, "s": 4, "m": 1, "scales": [2]}')},
                 "d=100000 is not an integer in 1..1024"),
        "no scales": ({"__multiscale__": np.array('{"d": 8, "s": 4, "m": 1, "scales": []}')},
                      "scales must be a non-empty list"),
    }
    for name, (change, says) in cases.items():
        path = tmp_path / f"{name}.npz"
        np.savez(path, **{**good, **change})
        with pytest.raises(ValueError, match=says) as error:
            MultiScaleFSRCNN.load(path)
        assert str(error.value).startswith(str(path)) and "\n" not in str(error.value)
