"""What a new user meets in the first hour: notices, error messages, leftovers.

Issue 13: a compile notice on warm runs, an error that does not name its file, an
unannounced training-pair cache, result files overwritten by every run, first-run
compilation. (The downloads that leave nothing behind are tested in test_download.py,
General-100's messages in test_data_registry.py.)
"""

import io
import re
import subprocess
import sys
import time
from pathlib import Path

import numba
import numpy as np
import pytest
from PIL import Image

from minisr import _jit
from minisr.image.protocol import load_test_pair

NOTICE = "compiling minisr's Numba kernels"


# --- the compile notice: only when Numba really compiles ------------------------------

def test_compile_notice_is_silent_on_a_slow_warm_run():
    """A warm run that is slow (a loaded machine) compiles nothing: no notice."""
    stream = io.StringIO()
    with _jit.compile_notice(stream=stream):
        time.sleep(1.5)  # the old notice printed after 1 s whatever happened
    assert stream.getvalue() == ""


def test_compile_notice_is_printed_once_when_numba_compiles():
    stream = io.StringIO()

    @numba.njit  # a fresh function: never in any cache, so it must compile
    def twice(x):
        return 2 * x

    with _jit.compile_notice(stream=stream):
        assert twice(3) == 6
        assert twice(1.5) == 3.0  # a second compilation: still one notice
    assert stream.getvalue().count(NOTICE) == 1


def test_compile_notice_is_silent_for_kernels_already_compiled():
    @numba.njit
    def add_one(x):
        return x + 1

    add_one(1)  # compiled here, outside the block
    stream = io.StringIO()
    with _jit.compile_notice(stream=stream):
        assert add_one(2) == 3
    assert stream.getvalue() == ""


# --- errors name their file ---------------------------------------------------------

@pytest.mark.parametrize("size", [(1, 1), (2, 40), (40, 2)])
def test_too_small_test_image_is_named_in_the_error(tmp_path, size):
    """Formerly "cannot resize an empty image of shape (0, 0)", no file name."""
    path = tmp_path / "tiny.png"
    Image.fromarray(np.zeros(size, np.uint8)).save(path)
    h, w = size
    with pytest.raises(ValueError, match=f"tiny.png: image is {w}x{h}, smaller than the "
                                         r"scale 3 \(needs at least 3x3 pixels\)"):
        load_test_pair(path, 3)


def test_image_as_small_as_the_scale_still_loads_but_cannot_be_scored(tmp_path):
    """Formerly a shave/SSIM error with no file name."""
    from minisr.image.protocol import check_scorable

    path = tmp_path / "three.png"
    Image.fromarray(np.full((3, 4), 128, np.uint8)).save(path)
    hr, lr = load_test_pair(path, 3)
    assert hr.shape == (3, 3) and lr.shape == (1, 1)
    with pytest.raises(ValueError, match=r"three.png: image is 3x3 after modcrop, too small to score "
                                         r"at x3 \(needs at least 18x18 pixels"):
        check_scorable(path, hr, 3)


def test_the_smallest_test_image_can_be_scored(tmp_path):
    from minisr.image.protocol import check_scorable, evaluate_pair, smallest_test_image

    for scale in (2, 3, 4):
        side = smallest_test_image(scale)
        path = tmp_path / f"x{scale}.png"
        Image.fromarray(np.full((side, side + 1), 128, np.uint8)).save(path)
        hr, lr = load_test_pair(path, scale)
        assert hr.shape == (side, side) and lr.shape == (side // scale, side // scale)
        check_scorable(path, hr, scale)
        psnr, ssim = evaluate_pair(hr, hr, scale)
        assert psnr == float("inf") or psnr > 90 and ssim == pytest.approx(1.0)


# --- the training-pair cache: python -m minisr.data cache [--clean] ----------------

def make_cache(root, tmp_path):
    """A cache holding one real pair set (x3, one 40x40 image), a stale unfinished
    folder and one still being written (its lock held). Returns the held lock."""
    from minisr.locks import LOCK_NAME, hold
    from minisr.training.patches import PatchSpec, prepare

    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (40, 40), dtype=np.uint8)).save(images / "a.png")
    prepare([images / "a.png"], PatchSpec.for_scale(3), cache_dir=root, log=lambda *a: None)
    stale = root / ".tmp-x3_stale"
    stale.mkdir()
    (stale / "lr.npy").write_bytes(b"x" * 1000)
    (stale / LOCK_NAME).touch()  # a lock file nobody holds: its maker died
    busy = root / ".tmp-x3_busy"
    busy.mkdir()
    return hold(busy / LOCK_NAME)


def test_cache_lists_the_pair_sets_and_cleans_them(tmp_path, capsys):
    from minisr.data.__main__ import main
    from minisr.locks import release

    root = tmp_path / "cache"
    lock = make_cache(root, tmp_path)
    try:
        [pair_set] = [p for p in root.iterdir() if not p.name.startswith(".tmp-")]
        size = sum(f.stat().st_size for f in pair_set.iterdir())
        assert main(["cache", "--cache-dir", str(root)]) == 0
        out = capsys.readouterr().out
        assert f"pair cache: {root}\n" in out
        line = next(line for line in out.splitlines() if pair_set.name in line)
        assert " x3 " in line and "images" in line  # scale and source folder
        assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", line)  # date
        assert "unfinished" in out and ".tmp-x3_stale" in out
        assert "1 pair set(s)" in out and "cache --clean" in out

        assert main(["cache", "--clean", "--cache-dir", str(root)]) == 0
        out = capsys.readouterr().out
        assert f"({size + 1000:,} bytes) in {root}" in out  # the pair set + the stale leftover
        assert sorted(p.name for p in root.iterdir()) == [".tmp-x3_busy"]  # in use: kept
    finally:
        release(lock)


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch, capsys):
    from minisr.data.__main__ import main

    monkeypatch.setenv("MINISR_PATCH_CACHE", str(tmp_path / "env-cache"))
    assert main(["cache"]) == 0
    assert capsys.readouterr().out == (f"pair cache: {tmp_path / 'env-cache'} (does not exist)\n"
                                       "0 pair set(s), 0.00 MB\n")
    assert main(["cache", "--clean"]) == 0
    assert "freed 0.00 MB (0 bytes)" in capsys.readouterr().out
    assert not (tmp_path / "env-cache").exists()


# --- the experiment scripts replace tracked results only with --write ---------------

@pytest.mark.parametrize("script, written", [
    ("transfer_curves.py", "transfer.md"), ("training_curves.py", "training_curves.md")])
def test_experiment_script_writes_only_with_write(tmp_path, script, written):
    path = Path(__file__).resolve().parents[1] / "experiments" / script
    run = [sys.executable, str(path), "--out-dir", str(tmp_path)]
    printed = subprocess.run(run, capture_output=True, text=True, check=True).stdout
    assert "| run" in printed or "| model" in printed  # the table is printed
    assert f"not written; run with --write to replace {tmp_path / written}" in printed
    assert not any(tmp_path.iterdir())

    printed = subprocess.run(run + ["--write"], capture_output=True, text=True, check=True).stdout
    assert f"written to {tmp_path / written}" in printed
    assert (tmp_path / written).read_text().startswith("# ")


# --- first-run compilation: one variant per dtype, no more -------------------------

def test_kernels_compile_once_per_dtype():
    """Every kernel is compiled for float32 and float64 only, with C-contiguous arrays:
    a non-contiguous or other-dtype call would add a compilation to every first run."""
    import importlib

    from minisr import FSRCNN, mse_loss

    for dtype in (np.float32, np.float64):
        model = FSRCNN(8, 4, 1, scale=3).astype(dtype)
        x = np.random.default_rng(0).random((2, 1, 7, 7)).astype(dtype)
        loss, dy = mse_loss(model.forward(x), np.zeros_like(model.forward(x)))
        model.backward(dy)
        model.infer(x)
    compiled = 0
    for name in ("conv", "pointwise", "prelu", "padding"):
        module = importlib.import_module(f"minisr.kernels.{name}")
        for attr, value in vars(module).items():
            if not isinstance(value, numba.core.registry.CPUDispatcher):
                continue
            signatures = value.signatures
            assert len(signatures) <= 2, (attr, signatures)
            compiled += len(signatures) == 2
            for signature in signatures:
                arrays = [t for t in signature if isinstance(t, numba.types.Array)]
                assert all(t.layout == "C" for t in arrays), (attr, signature)
                assert len({t.dtype for t in arrays}) <= 1, (attr, signature)
    assert compiled >= 8  # the kernels this test ran, in both dtypes
