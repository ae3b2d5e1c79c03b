"""python -m minisr.evaluate on a synthetic data dir (no real datasets needed)."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from minisr import FSRCNN
from minisr.data import get_dataset
from minisr.evaluate import main
from minisr.scoring import evaluate


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A data dir whose Set5 folder holds smooth synthetic images under Set5's names."""
    root = tmp_path_factory.mktemp("data")
    folder = root / "Set5"
    folder.mkdir()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:37, 0:41]
    for i, name in enumerate(sorted(get_dataset("Set5").files)):
        base = 128 + 80 * np.sin(xx / (4 + i)) * np.cos(yy / 5)
        rgb = np.stack([base, base * 0.8 + 20, 255 - base], axis=-1) + rng.normal(0, 2, (37, 41, 3))
        Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(folder / name)
    return root


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    for scale in (2, 3):
        FSRCNN(8, 4, 1, scale, seed=scale).save(folder / f"tiny_x{scale}.npz")
    return folder


def test_bicubic_table(data_dir, capsys):
    assert main(["--method", "bicubic", "--datasets", "Set5", "--scales", "2", "3",
                 "--data-dir", str(data_dir), "--no-progress"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["method", "dataset", "scale", "PSNR", "SSIM", "images"]
    assert [line.split()[:3] for line in lines[1:]] == [["bicubic", "Set5", "x2"], ["bicubic", "Set5", "x3"]]
    assert all(line.split()[-1] == "5" for line in lines[1:])


def test_json_and_csv_agree_with_the_api(data_dir, capsys):
    results = evaluate("bicubic", ["set5"], [2], data_dir=data_dir, progress=False)
    assert results[0]["dataset"] == "Set5" and results[0]["images"] == 5
    assert 20 < results[0]["psnr"] < 60 and 0 < results[0]["ssim"] <= 1
    main(["--method", "bicubic", "--datasets", "Set5", "--scales", "2", "--data-dir", str(data_dir),
          "--format", "json", "--no-progress"])
    rows = json.loads(capsys.readouterr().out)  # one JSON document: a list of objects
    assert isinstance(rows, list) and len(rows) == 1
    row = rows[0]
    assert set(row) >= {"dataset", "scale", "psnr", "ssim", "images"}
    assert row["psnr"] == pytest.approx(results[0]["psnr"])
    main(["--method", "bicubic", "--datasets", "Set5", "--scales", "2", "--data-dir", str(data_dir),
          "--format", "csv", "--per-image", "--no-progress"])
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].startswith("method,dataset,scale,image,psnr")
    assert len(rows) == 1 + 1 + 5
    per_image = [float(r.split(",")[4]) for r in rows[2:]]
    assert np.mean(per_image) == pytest.approx(results[0]["psnr"], abs=1e-3)


def test_fsrcnn_weights_are_picked_by_scale(data_dir, weights, capsys):
    files = [str(weights / "tiny_x2.npz"), str(weights / "tiny_x3.npz")]
    assert main(["--method", "fsrcnn", "--weights", *files, "--datasets", "Set5", "--scales", "3", "2",
                 "--data-dir", str(data_dir), "--format", "json", "--no-progress"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["scale"], r["weights"].endswith(f"tiny_x{r['scale']}.npz")) for r in rows] == [(3, True), (2, True)]
    pattern = str(weights / "tiny_x{scale}.npz")
    assert main(["--method", "fsrcnn", "--weights", pattern, "--datasets", "Set5", "--scales", "2",
                 "--data-dir", str(data_dir), "--no-progress"]) == 0


@pytest.mark.parametrize("args, message", [
    (["--method", "bicubic", "--datasets", "Set6"], "unknown dataset 'Set6'"),
    (["--method", "fsrcnn", "--weights", "nowhere.npz", "--datasets", "Set5"], "nowhere.npz: no such weights file"),
    (["--method", "fsrcnn", "--weights", "{w}/tiny_x2.npz", "--datasets", "Set5", "--scales", "3"],
     "no weights for x3"),
    (["--method", "bicubic", "--datasets", "Set14"], "Set14"),
])
def test_user_mistakes_get_one_line(data_dir, weights, capsys, args, message):
    args = [a.replace("{w}", str(weights)) for a in args]
    assert main(args + ["--data-dir", str(data_dir), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_json_is_one_document_and_jsonl_one_object_per_line(data_dir, capsys):
    argv = ["--method", "bicubic", "--datasets", "Set5", "--scales", "2", "3", "--data-dir", str(data_dir),
            "--no-progress", "--format"]
    assert main(argv + ["json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["method"], r["scale"]) for r in rows] == [("bicubic", 2), ("bicubic", 3)]
    assert main(argv + ["jsonl"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line) for line in lines] == rows


def test_rows_are_named_after_the_network_in_the_weights(data_dir, weights, tmp_path, capsys):
    FSRCNN(32, 5, 1, 3).save(tmp_path / "small_x3.npz")
    FSRCNN(56, 12, 4, 3).save(tmp_path / "big_x3.npz")
    expected = {"small_x3.npz": "fsrcnn-s", "big_x3.npz": "fsrcnn", "tiny_x3.npz": "fsrcnn-8-4-1"}
    for name, label in expected.items():
        folder = weights if name == "tiny_x3.npz" else tmp_path
        assert main(["--method", "fsrcnn", "--weights", str(folder / name), "--datasets", "Set5",
                     "--scales", "3", "--data-dir", str(data_dir), "--no-progress"]) == 0
        row = capsys.readouterr().out.splitlines()[1].split()
        assert row[:3] == [label, "Set5", "x3"], name


def test_progress_is_shown_when_stderr_is_not_a_terminal(data_dir, capsys):
    assert main(["--method", "bicubic", "--datasets", "Set5", "--scales", "2",
                 "--data-dir", str(data_dir)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err and err[-1].startswith("bicubic Set5 x2  5/5  100%")


def test_missing_shipped_weights_say_what_to_do(data_dir, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr("minisr.models.WEIGHTS_DIR", tmp_path)
    assert main(["--method", "fsrcnn-s", "--datasets", "Set5", "--scales", "4",
                 "--data-dir", str(data_dir), "--no-progress"]) == 1
    assert "--weights" in capsys.readouterr().err


def test_module_entry_point(data_dir):
    result = subprocess.run([sys.executable, "-m", "minisr.evaluate", "--method", "bicubic",
                             "--datasets", "Set5", "--scales", "4", "--data-dir", str(data_dir)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Set5" in result.stdout and "x4" in result.stdout
