"""--cluster: batch upscaling, sweeps and data-parallel training on a Dask LocalCluster.

One LocalCluster of 2 worker processes (1 thread each) serves the module; the commands
reach it by its address (tcp://127.0.0.1:PORT), as they would reach a real scheduler.
Everything is tiny: images and FSRCNNs made here. Skipped (with the reason) where
dask[distributed] is not installed, except the test of the message that says so.
"""

import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from minisr import FSRCNN, train
from minisr.cluster import MISSING, ClusterError, connect, parse_spec
from minisr.image.imageio import write_image
from minisr.training import loop
from minisr.training.checkpoint import load_checkpoint
from minisr.upscale import main as upscale_main

import test_train

NO_DASK = "dask[distributed] is not installed (pip install -e .[dask])"
TINY = ["--d", "8", "--s", "4", "--m", "1", "--patch-size", "7", "--batch-size", "16"]


def have_dask() -> bool:
    return importlib.util.find_spec("distributed") is not None


needs_dask = pytest.mark.skipif(not have_dask(), reason=NO_DASK)


# ---------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def cluster():
    """(address, client) of a LocalCluster of 2 processes, 1 thread each."""
    if not have_dask():
        pytest.skip(NO_DASK)
    import logging

    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=logging.CRITICAL) as local, Client(local) as client:
        yield local.scheduler_address, client


def worker_pids(client) -> dict:
    client.wait_for_workers(2, timeout=180)  # the scheduler gives the killed one 30 s, then the nanny restarts it
    return client.run(os.getpid)


def random_model(seed=0):
    model = FSRCNN(6, 3, 1, 3)
    rng = np.random.default_rng(seed)
    for p in model.parameters():
        p.data[...] = rng.normal(0.0, 0.2, p.shape)
    model.deconv.bias.data[...] = 0.5
    return model


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """in/: 10 small RGB and grey images and a corrupt file; x3.npz: a random model."""
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    (root / "in").mkdir()
    for i in range(10):
        shape = (40 + 3 * i, 50, 3) if i % 3 else (45, 38)
        write_image(root / "in" / f"p{i}.png", (rng.random(shape) * 255).astype(np.uint8))
    (root / "in" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    random_model().save(root / "x3.npz")
    return root


data = test_train.data  # the fixture: train/ (3 images, 360 pairs of 7x7 at x3), val/, ...


def upscale(argv, capsys):
    code = upscale_main([str(a) for a in argv] + ["--no-progress"])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def upscale_process(argv):
    """The command in a process of its own: its one Dask client is then the only one in
    the process, as for a user. (In this process the module's client and the command's
    would share one distributed runtime; when a worker dies, a future's wait could land
    on the other client's event loop: "bound to a different event loop", a test
    artefact seen about one run in five.)"""
    done = subprocess.run([sys.executable, "-m", "minisr.upscale", *map(str, argv), "--no-progress"],
                          capture_output=True, text=True, timeout=600)
    return done.returncode, done.stdout.splitlines(), done.stderr.splitlines()


def files_of(folder) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def train_args(data, out, *extra):
    return ["--train", str(data / "train"), *TINY, "--no-progress", "--no-val",
            "--cache-dir", str(data / "cache"), "--out", str(out), "--threads", "1", *extra]


def assert_close_weights(a, b, exact=False):
    ca, cb = load_checkpoint(a / "checkpoint.npz"), load_checkpoint(b / "checkpoint.npz")
    assert ca.state["step"] == cb.state["step"]
    for name in ca.weights:
        if exact:
            assert np.array_equal(ca.weights[name], cb.weights[name]), name
        else:  # float32 round-off, a few steps of Adam
            np.testing.assert_allclose(ca.weights[name], cb.weights[name], rtol=1e-4, atol=1e-6, err_msg=name)


# ---------------------------------------------------------------------- without dask
def test_without_dask_the_option_says_how_to_get_it(photos, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(ClusterError, match=r"^--cluster needs dask: pip install minisr\[dask\]$"):
        connect("local:2")
    code, out, err = upscale([photos / "in", "--out-dir", tmp_path / "o", "--weights", photos / "x3.npz",
                              "--cluster", "local:2"], capsys)
    assert code == 2 and err == [f"python -m minisr.upscale: error: {MISSING}"]
    assert not any((tmp_path / "o").iterdir())
    assert train.main(train_args(photos, tmp_path / "run", "--cluster", "local:2")) == 1
    assert capsys.readouterr().err.strip() == f"python -m minisr.train: error: {MISSING}"


def test_cluster_specs_are_checked():
    assert parse_spec("local:3") == ("local", 3)
    assert parse_spec("tcp://head:8786") == ("address", "tcp://head:8786")
    for bad in ("local:0", "local:x", "head:8786", ""):
        with pytest.raises(ClusterError, match="--cluster"):
            parse_spec(bad)


# ---------------------------------------------------------------------- batch upscaling
def test_batch_upscale_equals_the_local_run_bit_for_bit(cluster, photos, tmp_path, capsys):
    address, _ = cluster
    common = [photos / "in", "--weights", photos / "x3.npz"]
    local = upscale(common + ["--out-dir", tmp_path / "local"], capsys)
    remote = upscale(common + ["--out-dir", tmp_path / "remote", "--cluster", address], capsys)
    assert local[0] == remote[0] == 1
    assert local[2][-1] == remote[2][-1] == "10 written, 1 failed"
    broken = [line for line in remote[2] if "broken.png" in line]
    assert broken == [line for line in local[2] if "broken.png" in line] and broken[0].startswith("error: ")
    assert sorted(local[1]) == sorted(line.replace("remote", "local") for line in remote[1])
    assert files_of(tmp_path / "local") == files_of(tmp_path / "remote")  # no leftovers either
    # the same no-clobber rule: a second run refuses every existing output, writes nothing
    again = upscale(common + ["--out-dir", tmp_path / "remote", "--cluster", address], capsys)
    assert again[0] == 1 and again[2][-1] == "0 written, 11 failed"
    assert sum("already exists (use --overwrite to replace it)" in line for line in again[2]) == 10


@pytest.mark.parametrize("how", ["kill", "restart"])
def test_a_worker_lost_mid_batch_loses_no_image(cluster, photos, tmp_path, capsys, how):
    address, client = cluster
    rng = np.random.default_rng(1)
    (tmp_path / "in").mkdir()
    for i in range(24):
        write_image(tmp_path / "in" / f"big{i:02d}.png", (rng.random((120, 120, 3)) * 255).astype(np.uint8))
    victim = sorted(worker_pids(client).values())[0]
    out = tmp_path / "out"
    done = threading.Event()

    def strike():  # once the first outputs exist, while others are in flight
        # Not through this process's client from this thread: two clients driven from
        # two threads at once trip over each other's event loops (a test artefact: a
        # user's command has one client).
        while not done.is_set() and (not out.is_dir() or len(list(out.glob("*_x3.png"))) < 2):
            time.sleep(0.005)
        if how == "kill":
            os.kill(victim, signal.SIGKILL)
        else:
            subprocess.run([sys.executable, "-c", "from distributed import Client; "
                            f"Client({address!r}).restart(wait_for_workers=False)"], check=True,
                           capture_output=True, timeout=120)

    striker = threading.Thread(target=strike)
    striker.start()
    try:
        code, lines, err = upscale_process([tmp_path / "in", "--out-dir", out, "--weights", photos / "x3.npz",
                                            "--cluster", address])
    finally:
        done.set()
        striker.join()
    assert code == 0, err
    assert len(lines) == 24 and len(set(lines)) == 24  # every image reported once
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"big{i:02d}_x3.png" for i in range(24)]  # and no temporary files
    expected = tmp_path / "expected"
    assert upscale([tmp_path / "in", "--out-dir", expected, "--weights", photos / "x3.npz"], capsys)[0] == 0
    assert files_of(out) == files_of(expected)
    client.wait_for_workers(2, timeout=180)  # the scheduler gives the killed one 30 s, then the nanny restarts it


# ---------------------------------------------------------------------- sweeps
def test_a_sweep_makes_the_runs_it_would_make_alone(data, tmp_path, capsys):
    if not have_dask():
        pytest.skip(NO_DASK)
    from minisr import sweep

    common = ["--train", str(data / "train"), *TINY, "--no-val", "--cache-dir", str(data / "cache"),
              "--steps", "12", "--save-every", "5"]
    code = sweep.main(["--cluster", "local:2", "--threads", "1", "--grid", "seed=0,1",
                       "--runs-dir", str(tmp_path / "runs"), "--", *common])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "2 runs finished, 0 failed" in printed
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["seed0", "seed1"]
    for seed in (0, 1):
        alone = tmp_path / f"alone{seed}"
        assert train.main([*common, "--seed", str(seed), "--threads", "1", "--no-progress",
                           "--out", str(alone)]) == 0
        assert_close_weights(tmp_path / "runs" / f"seed{seed}", alone, exact=True)
        assert sorted(p.name for p in alone.iterdir()) == sorted(p.name for p in (tmp_path / "runs" / f"seed{seed}").iterdir())
    capsys.readouterr()
    # the same sweep again: nothing to do but say the runs are finished (resumed)
    assert sweep.main(["--cluster", "local:1", "--threads", "1", "--grid", "seed=0,1",
                       "--runs-dir", str(tmp_path / "runs"), "--", *common]) == 0
    assert capsys.readouterr().out.count("resumed, exit 0") == 2


# ---------------------------------------------------------------------- data-parallel training
@needs_dask
def test_data_parallel_steps_equal_single_process_training(cluster, data, tmp_path, capsys):
    address, _ = cluster
    assert train.main(train_args(data, tmp_path / "alone", "--steps", "25")) == 0
    assert train.main(train_args(data, tmp_path / "cluster", "--steps", "25", "--cluster", address)) == 0
    printed = capsys.readouterr().out
    assert "each batch split across 2 dask workers" in printed and "finished 25 steps" in printed
    assert_close_weights(tmp_path / "alone", tmp_path / "cluster")
    # --resume works as locally: 25 + 25 steps on the cluster = 50 in one go, bit for bit
    constant = ["--schedule", "constant", "--cluster", address]
    assert train.main(train_args(data, tmp_path / "chunks", "--steps", "25", *constant)) == 0
    assert train.main(train_args(data, tmp_path / "chunks", "--steps", "50", "--resume", *constant)) == 0
    assert train.main(train_args(data, tmp_path / "straight", "--steps", "50", *constant)) == 0
    assert_close_weights(tmp_path / "chunks", tmp_path / "straight", exact=True)


@needs_dask
def test_a_lost_worker_stops_the_step_and_training_resumes_from_the_checkpoint(
        cluster, data, tmp_path, capsys, monkeypatch):
    address, client = cluster
    real, calls = loop.train_step, []
    victim = sorted(worker_pids(client).values())[0]  # known before the run's own client starts

    def step_then_kill(*args, **kwargs):
        calls.append(1)
        if len(calls) == 17:
            os.kill(victim, signal.SIGKILL)
            time.sleep(0.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "train_step", step_then_kill)
    out = tmp_path / "run"
    assert train.main(train_args(data, out, "--steps", "30", "--save-every", "10",
                                 "--cluster", address)) == 0
    printed = capsys.readouterr().out
    assert "a worker was lost" in printed and "resuming from the checkpoint at step 10" in printed
    assert "finished 30 steps" in printed
    monkeypatch.setattr(loop, "train_step", real)
    assert train.main(train_args(data, tmp_path / "alone", "--steps", "30")) == 0
    assert_close_weights(out, tmp_path / "alone")
    steps = [int(line.split(",")[0]) for line in (out / "log.csv").read_text().splitlines()[1:]]
    assert steps == sorted(set(steps))  # no repeated rows after the resume
    client.wait_for_workers(2, timeout=180)  # the scheduler gives the killed one 30 s, then the nanny restarts it
