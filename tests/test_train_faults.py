"""The training CLI on a bad day: bad numbers, a full disk, killed processes, two runs in
one folder, damaged checkpoints. Each fault must end in one line (no traceback), a
clear exit status, and nothing lost or left behind."""

import errno
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from minisr import FSRCNN, train
from minisr.locks import LOCK_NAME, hold, release
from minisr.progress import Progress
from minisr.training import checkpoint as checkpoint_module
from minisr.training import patches
from minisr.training.checkpoint import load_checkpoint

import test_train
from test_train import cli, read_log

data = test_train.data  # the fixture: tiny training and validation images


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


# ------------------------------------------------------------------ options
@pytest.mark.parametrize("option, value, says", [
    ("--steps", "0", "--steps must be at least 1"),
    ("--epochs", "0", "--epochs must be greater than 0"),
    ("--stride", "0", "--stride must be at least 1"),
    ("--log-every", "0", "--log-every must be at least 1"),
    ("--val-every", "-5", "--val-every must be at least 0 (0: never)"),
    ("--save-every", "-1", "--save-every must be at least 0"),
    ("--patch-size", "0", "--patch-size must be a whole number of LR pixels (at least 1)"),
    ("--context", "-1", "--context must be a number of LR pixels"),
    ("--time-limit", "-2", "--time-limit must be at least 0 (0: none)"),
    ("--lr", "nan", "--lr must be a finite number"),
    ("--deconv-lr", "0", "--deconv-lr must be greater than 0"),
    ("--momentum", "1.5", "--momentum must be between 0 and 1"),
    ("--final-lr", "2", "--final-lr must be between 0 and 1"),
    ("--warmup", "-1", "--warmup must be at least 0"),
    ("--d", "100000", "--d must be between 1 and 1024"),
    ("--scale", "1", "--scale must be between 2 and 16"),
])
def test_every_number_is_checked_before_any_work(data, tmp_path, capsys, option, value, says):
    out = tmp_path / "run"
    cache = tmp_path / "fresh-cache"
    args = cli(data, out, "--steps", "3") + [option, value, "--cache-dir", str(cache)]
    assert train.main(args) == 1
    assert says in one_line_error(capsys)
    assert not out.exists() and not cache.exists()  # no folder, no pairs: nothing was done


def test_a_failed_start_leaves_nothing_that_blocks_the_rerun(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert train.main(cli(data, out, "--steps", "3", "--batch-size", "100000")) == 1
    assert "fewer than one batch of 100000" in one_line_error(capsys)
    assert not out.exists()  # formerly settings.json stayed and the rerun was refused
    assert train.main(cli(data, out, "--steps", "3")) == 0


# ------------------------------------------------------------------ the pair cache
def test_no_room_for_the_pairs_is_one_line(data, tmp_path, capsys, monkeypatch):
    cache = tmp_path / "cache"
    real = patches.shutil.disk_usage
    monkeypatch.setattr(patches.shutil, "disk_usage",
                        lambda path: real(path)._replace(free=1000))
    assert train.main(cli(data, tmp_path / "run", "--steps", "2", "--cache-dir", str(cache))) == train.EXIT_IO
    err = one_line_error(capsys)
    assert "not enough disk space for the training pairs" in err and "--cache-dir" in err
    assert list(cache.iterdir()) == []


def test_a_disk_that_fills_while_caching_is_one_line_and_leaves_nothing(data, tmp_path, capsys, monkeypatch):
    """The disk fills after the first image's pairs (an injected ENOSPC): formerly a
    ``Bus error`` inside a memory map and a hidden temporary folder that kept the disk full."""
    cache = tmp_path / "cache"
    real, calls = patches.pair_images, []

    def fill_up(*args):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args)

    monkeypatch.setattr(patches, "pair_images", fill_up)
    assert train.main(cli(data, tmp_path / "run", "--steps", "2", "--cache-dir", str(cache))) == train.EXIT_IO
    err = one_line_error(capsys)
    assert "filled up while writing the training pairs" in err
    assert list(cache.iterdir()) == []  # the temporary folder is gone
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(sys.platform != "linux" or os.geteuid() != 0,
                    reason="mounting a 1 MB tmpfs needs root on Linux")
def test_a_real_full_disk_while_caching(data, tmp_path, capsys):
    """The reported case itself: --cache-dir on a 1 MB tmpfs (exit 135, Bus error, before)."""
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(tiny)]).returncode:
        pytest.skip("could not mount a tmpfs here")
    try:
        (tiny / "filler").write_bytes(b"\0" * 900_000)  # the 0.2 MB of pairs no longer fit
        code = subprocess.run([sys.executable, "-m", "minisr.train", *cli(data, tmp_path / "run", "--steps", "2"),
                               "--cache-dir", str(tiny)], capture_output=True, text=True)
        assert code.returncode == train.EXIT_IO, code.stderr
        assert "Traceback" not in code.stderr and "--cache-dir" in code.stderr
        assert sorted(p.name for p in tiny.iterdir()) == ["filler"]
    finally:
        subprocess.run(["umount", str(tiny)])


def test_a_killed_run_leaves_its_temporary_pairs_to_the_next_one(tmp_path):
    """A process building the cache is killed with SIGKILL: its temporary folder stays,
    and the next run removes it (its lock is free); a live builder's folder is kept."""
    cache = tmp_path / "cache"
    dead, alive = cache / ".tmp-x3_dead-abc", cache / ".tmp-x3_alive-def"
    dead.mkdir(parents=True)
    alive.mkdir()
    (dead / "lr.npy").write_bytes(b"\0" * 1000)
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from minisr.locks import hold; "
                               f"h = hold({str(dead / LOCK_NAME)!r}); print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    assert patches.remove_abandoned(cache) == []  # its maker is alive: kept
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    live = hold(alive / LOCK_NAME)
    try:
        assert patches.remove_abandoned(cache) == [dead]
        assert not dead.exists() and alive.exists()
        # a leftover of an older minisr (no lock file) goes once it is a minute old
        old = cache / ".tmp-x3_old-ghi"
        old.mkdir()
        assert patches.remove_abandoned(cache) == []
        os.utime(old, (time.time() - 120, time.time() - 120))
        assert patches.remove_abandoned(cache) == [old]
    finally:
        release(live)
    assert patches.remove_abandoned(cache) == [alive]  # its maker has finished or died


def test_making_the_pairs_says_how_big_and_where(data, tmp_path, capsys):
    cache = tmp_path / "cache"
    assert train.main(cli(data, tmp_path / "run", "--steps", "1", "--cache-dir", str(cache), val=False)) == 0
    printed = capsys.readouterr().out
    assert f"MB written once to {cache}" in printed and "python -m minisr.data cache" in printed


# ------------------------------------------------------------------ one run per folder
def test_a_run_folder_in_use_is_refused(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert train.main(cli(data, out, "--steps", "2")) == 0
    before = (out / "checkpoint.npz").read_bytes()
    other = hold(out / LOCK_NAME)  # as a second process training there would hold it
    try:
        for extra in (["--overwrite"], ["--resume", "--steps", "4"]):
            assert train.main(cli(data, out, *extra)) == 1
            assert f"{out} is in use by another training run" in one_line_error(capsys)
        steps = [int(r["step"]) for r in read_log(out)]
        assert steps == sorted(set(steps))
    finally:
        release(other)
    assert (out / "checkpoint.npz").read_bytes() == before
    assert train.main(cli(data, out, "--resume", "--steps", "4")) == 0


def test_two_processes_cannot_train_in_one_folder(data, tmp_path):
    """Two real processes (formerly both exited 0 and interleaved log.csv)."""
    out = tmp_path / "run"
    command = [sys.executable, "-m", "minisr.train", *cli(data, out, "--steps", "100000", "--val-every", "0")]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not (out / "train.log").exists() and time.time() < deadline:
            time.sleep(0.1)
        second = subprocess.run(command[:-1] + ["0", "--overwrite"], capture_output=True, text=True)
        assert second.returncode == 1
        assert "is in use by another training run" in second.stderr and "Traceback" not in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)  # a batch scheduler's stop: save and exit
        stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == train.EXIT_TERMINATED, stderr
    assert "stopped by SIGTERM at step" in stdout
    assert load_checkpoint(out / "checkpoint.npz").state["step"] >= 1


def test_leftover_checkpoint_temporaries_are_removed(data, tmp_path):
    out = tmp_path / "run"
    assert train.main(cli(data, out, "--steps", "2")) == 0
    leftover = out / ".checkpoint.npz.abc123.tmp"  # being written when its process was killed
    leftover.write_bytes(b"half")
    assert train.main(cli(data, out, "--resume", "--steps", "3")) == 0
    assert not leftover.exists()


# ------------------------------------------------------------------ saving
def test_a_full_disk_while_checkpointing_is_one_line_and_keeps_the_last_one(data, tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    assert train.main(cli(data, out, "--steps", "4", "--save-every", "2", val=False)) == 0
    good = (out / "checkpoint.npz").read_bytes()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint_module.np, "savez", full)
    assert train.main(cli(data, out, "--resume", "--steps", "8", val=False)) == train.EXIT_IO
    err = one_line_error(capsys)
    assert f"could not save {out / 'checkpoint.npz'} at step 6 (No space left on device)" in err
    assert "the previous" in err and "--resume" in err
    assert (out / "checkpoint.npz").read_bytes() == good
    assert not list(out.glob(".*.tmp"))
    monkeypatch.undo()
    assert train.main(cli(data, out, "--resume", "--steps", "8", val=False)) == 0  # space freed: go on


# ------------------------------------------------------------------ damaged files
def damage(path, how):
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "random bytes":
        path.write_bytes(np.random.default_rng(0).bytes(4000))


@pytest.mark.parametrize("how", ["truncated", "empty", "random bytes"])
def test_a_damaged_checkpoint_is_one_line_on_resume(data, tmp_path, capsys, how):
    out = tmp_path / "run"
    assert train.main(cli(data, out, "--steps", "2")) == 0
    damage(out / "checkpoint.npz", how)
    capsys.readouterr()
    assert train.main(cli(data, out, "--resume")) == 1
    assert str(out / "checkpoint.npz") in one_line_error(capsys)


@pytest.mark.parametrize("meta, says", [
    ("not json {", "is not JSON"),
    ("[1, 2]", "checkpoint format"),
    (json.dumps({"format": "minisr-checkpoint-1"}), "missing or malformed"),
])
def test_a_malformed_checkpoint_meta_is_one_line(data, tmp_path, capsys, meta, says):
    out = tmp_path / "run"
    assert train.main(cli(data, out, "--steps", "2")) == 0
    with np.load(out / "checkpoint.npz") as f:
        arrays = {k: f[k] for k in f.files}
    arrays["__meta__"] = np.array(meta)
    np.savez(out / "checkpoint.npz", **arrays)
    capsys.readouterr()
    assert train.main(cli(data, out, "--resume")) == 1
    err = one_line_error(capsys)
    assert str(out / "checkpoint.npz") in err and says in err


def test_nan_weights_in_a_checkpoint_are_refused(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert train.main(cli(data, out, "--steps", "2")) == 0
    with np.load(out / "checkpoint.npz") as f:
        arrays = {k: f[k] for k in f.files}
    arrays["model/feature.weight"][0, 0, 0, 0] = np.nan
    np.savez(out / "checkpoint.npz", **arrays)
    capsys.readouterr()
    assert train.main(cli(data, out, "--resume")) == 1
    assert "model/feature.weight holds NaN/Inf" in one_line_error(capsys)


def test_init_from_nan_weights_is_refused_before_training(data, tmp_path, capsys):
    source = FSRCNN(8, 4, 1, 3)
    source.layers[0].weight.data[0, 0, 0, 0] = np.inf
    source.save(tmp_path / "bad.npz")
    assert train.main(cli(data, tmp_path / "run", "--init-from", str(tmp_path / "bad.npz"))) == 1
    err = one_line_error(capsys)
    assert str(tmp_path / "bad.npz") in err and "NaN/Inf" in err and "--lr" not in err


# ------------------------------------------------------------------ resuming
def test_threads_are_kept_by_resume(data, tmp_path):
    import numba

    out = tmp_path / "run"
    try:
        assert train.main(cli(data, out, "--steps", "2", "--threads", "1")) == 0
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        assert train.main(cli(data, out, "--resume", "--steps", "3")) == 0
        assert numba.get_num_threads() == 1
        assert load_checkpoint(out / "checkpoint.npz").state["settings"]["run"]["threads"] == 1
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)


def test_a_time_limit_stop_validates_so_best_is_not_the_untrained_model(data, tmp_path, capsys):
    """Formerly a chunk that stopped between validations left best.npz at step 0."""
    out = tmp_path / "run"
    assert train.main(cli(data, out, "--steps", "50", "--time-limit", "1e-9")) == 0
    rows = read_log(out)
    assert [r["step"] for r in rows if r["val_psnr"]] == ["0", "1"]  # step 0, then the stop


def test_progress_counts_the_steps_of_the_whole_run(capsys):
    """A resumed run at step 2869 of 200000 shows 2870/200000, not 1/197131."""
    import io

    stream = io.StringIO()
    with Progress(200000, "x3 fsrcnn", stream=stream, always=True, initial=2869) as bar:
        bar.update(1)
        bar._draw(time.perf_counter(), "")
    assert "2870/200000" in stream.getvalue()
