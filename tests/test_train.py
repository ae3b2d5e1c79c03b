"""The training CLI end to end on a tiny synthetic set: the loss falls, checkpoints
resume bit for bit, Ctrl-C / time limit / NaN stop cleanly, run folders are not
clobbered, and deconvolution-only fine-tuning leaves the trunk alone."""

import csv
import json
import signal

import numpy as np
import pytest

from minisr import FSRCNN, evaluate, train
from minisr.data import DATASETS
from minisr.image.imageio import write_image
from minisr.training import loop, run
from minisr.training.checkpoint import load_checkpoint

TINY = ["--d", "8", "--s", "4", "--m", "1", "--patch-size", "7"]


def synthetic_image(h, w, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    waves = sum(np.sin(xx * rng.uniform(0.05, 0.4) + yy * rng.uniform(0.05, 0.4) + rng.uniform(0, 6))
                for _ in range(4))
    return np.clip(128 + 28 * waves[..., None] * np.array([1.0, 0.8, 0.6]), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """train/ (3 images: 360 pairs at x3), val/ (2 images), and a data dir with a
    stand-in Set5 (the registry's file names, synthetic pixels)."""
    root = tmp_path_factory.mktemp("data")
    for i in range(3):
        (root / "train").mkdir(exist_ok=True)
        write_image(root / "train" / f"{i}.png", synthetic_image(48, 60, i))
    for i in range(2):
        (root / "val").mkdir(exist_ok=True)
        write_image(root / "val" / f"{i}.png", synthetic_image(36, 36, 10 + i))
    (root / "datasets" / "Set5").mkdir(parents=True)
    for i, name in enumerate(sorted(DATASETS["Set5"].files)):
        write_image(root / "datasets" / "Set5" / name, synthetic_image(30, 33, 20 + i))
    return root


def cli(data, out, *extra, val=True):
    """Arguments of a tiny run: 22 batches of 16 per epoch, validation every 20 steps."""
    args = ["--train", str(data / "train"), *TINY, "--batch-size", "16", "--no-progress",
            "--cache-dir", str(data / "cache"), "--out", str(out), "--val-every", "20",
            "--log-every", "10", *extra]
    return args + (["--val", str(data / "val")] if val else ["--no-val"])


def read_log(out):
    with open(out / "log.csv", newline="") as f:
        return list(csv.DictReader(f))


def interrupt_at(monkeypatch, step):
    """Press Ctrl-C (SIGINT) right after the ``step``-th training step."""
    real, calls = loop.train_step, []

    def step_then_interrupt(*args):
        loss = real(*args)
        calls.append(1)
        if len(calls) == step:
            signal.raise_signal(signal.SIGINT)
        return loss

    monkeypatch.setattr(loop, "train_step", step_then_interrupt)


def assert_same_state(a, b):
    ca, cb = load_checkpoint(a / "checkpoint.npz"), load_checkpoint(b / "checkpoint.npz")
    assert ca.state["step"] == cb.state["step"]
    for name in ca.weights:
        assert np.array_equal(ca.weights[name], cb.weights[name]), name
    for name, buffers in ca.optimizer_state["buffers"].items():
        for key, array in buffers.items():
            assert np.array_equal(array, cb.optimizer_state["buffers"][name][key]), (name, key)


# ------------------------------------------------------------------ the smoke test
def test_loss_falls_and_the_best_model_evaluates(data, tmp_path, capsys):
    out = tmp_path / "run"
    args = cli(data, out, "--steps", "60", val=False)
    args += ["--val", "Set5", "--data-dir", str(data / "datasets")]
    assert train.main(args) == 0
    printed = capsys.readouterr().out
    assert "finished 60 steps" in printed and "best validation PSNR" in printed
    rows = read_log(out)
    assert [int(r["step"]) for r in rows] == [0, 10, 20, 30, 40, 50, 60]
    assert [int(r["backprops"]) for r in rows] == [16 * int(r["step"]) for r in rows]
    losses = [float(r["loss"]) for r in rows[1:]]
    assert losses[-1] < 0.9 * losses[0]
    psnrs = [float(r["val_psnr"]) for r in rows if r["val_psnr"]]
    assert len(psnrs) == 4 and psnrs[-1] > psnrs[0]
    for name in ("checkpoint.npz", "best.npz", "last.npz", "settings.json", "train.log"):
        assert (out / name).exists(), name
    best = FSRCNN.load(out / "best.npz")
    assert (best.d, best.s, best.m, best.scale) == (8, 4, 1, 3)
    assert evaluate.main(["--method", "fsrcnn", "--weights", str(out / "best.npz"), "--datasets", "Set5",
                          "--scales", "3", "--data-dir", str(data / "datasets"), "--no-progress"]) == 0
    table = capsys.readouterr().out
    assert f"{max(psnrs):8.2f}" in table  # the CLI measures what training reported
    assert json.loads((out / "settings.json").read_text())["total_steps"] == 60


# ------------------------------------------------------------------ resuming
@pytest.mark.parametrize("stop_at", [13, 22, 30])  # in epoch 0, at its end, in epoch 1
def test_ctrl_c_then_resume_equals_a_straight_run(data, tmp_path, monkeypatch, capsys, stop_at):
    straight, chunked = tmp_path / "straight", tmp_path / "chunked"
    assert train.main(cli(data, straight, "--steps", "40")) == 0
    with monkeypatch.context() as patch:
        interrupt_at(patch, stop_at)
        assert train.main(cli(data, chunked, "--steps", "40")) == train.EXIT_INTERRUPTED
    printed = capsys.readouterr().out
    assert f"interrupted at step {stop_at} of 40: checkpoint saved" in printed
    assert "--resume" in printed
    assert load_checkpoint(chunked / "checkpoint.npz").state["step"] == stop_at
    assert train.main(cli(data, chunked, "--resume")) == 0
    assert_same_state(straight, chunked)
    steps = [int(r["step"]) for r in read_log(chunked)]
    assert steps == sorted(set(steps))  # no row repeated after resuming
    scheduled = lambda rows: [(r["step"], r["val_psnr"]) for r in rows  # noqa: E731
                              if r["val_psnr"] and int(r["step"]) % 20 == 0]
    assert scheduled(read_log(chunked)) == scheduled(read_log(straight))
    # the stop itself was validated too, so best.npz is never older than the chunk
    assert [r["val_psnr"] != "" for r in read_log(chunked) if int(r["step"]) == stop_at] == [True]


@pytest.mark.parametrize("threads", [1, 2])
def test_threads_split_the_batch_and_resume_bit_for_bit(data, tmp_path, monkeypatch, capsys, threads):
    """--threads N: the batch is split across N workers; stopping and resuming with the
    same N gives the same weights as a straight run."""
    import numba

    if threads > numba.config.NUMBA_NUM_THREADS:
        pytest.skip(f"needs {threads} CPU cores")
    try:
        straight, chunked = tmp_path / "straight", tmp_path / "chunked"
        assert train.main(cli(data, straight, "--steps", "20", "--threads", str(threads))) == 0
        log = (straight / "train.log").read_text()
        assert (f"split across {threads} worker threads" in log) == (threads > 1)
        with monkeypatch.context() as patch:
            interrupt_at(patch, 7)
            assert train.main(cli(data, chunked, "--steps", "20", "--threads", str(threads))) == train.EXIT_INTERRUPTED
        assert train.main(cli(data, chunked, "--resume", "--threads", str(threads))) == 0
        assert_same_state(straight, chunked)
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)  # --threads set it for this process


def test_bad_thread_count_is_a_one_line_error(data, tmp_path, capsys):
    assert train.main(cli(data, tmp_path / "run", "--threads", "0")) == 1
    err = capsys.readouterr().err
    assert "error: --threads must be between 1 and" in err and "Traceback" not in err


def test_time_limit_saves_and_resume_finishes(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert train.main(cli(data, out, "--steps", "12", "--time-limit", "1e-9")) == 0
    printed = capsys.readouterr().out
    assert "time limit reached at step 1 of 12" in printed
    assert f"continue with: python -m minisr.train --out {out} --resume" in printed
    assert train.main(["--out", str(out), "--resume"]) == 0  # keeps the limit: one more step
    assert load_checkpoint(out / "checkpoint.npz").state["step"] == 2
    assert train.main(cli(data, out, "--resume", "--time-limit", "0")) == 0  # 0: no limit
    assert load_checkpoint(out / "checkpoint.npz").state["step"] == 12
    assert train.main(cli(data, out, "--resume")) == 0
    assert "already finished" in capsys.readouterr().out
    assert train.main(cli(data, out, "--resume", "--steps", "15")) == 0  # train longer
    assert load_checkpoint(out / "checkpoint.npz").state["step"] == 15


def test_resume_refuses_changed_settings(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert train.main(cli(data, out, "--steps", "2")) == 0
    assert train.main(cli(data, out, "--resume", "--lr", "0.5")) == 1
    assert "--lr 0.5 differs from the resumed run's 0.001" in capsys.readouterr().err


# ------------------------------------------------------------------ stopping on trouble
def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(data, tmp_path, capsys):
    out = tmp_path / "run"
    code = train.main(cli(data, out, "--steps", "50", "--save-every", "1", "--optimizer", "sgd",
                          "--lr", "1e6", "--deconv-lr", "1e6", val=False))
    assert code == run.EXIT_DIVERGED
    printed = capsys.readouterr().out
    assert "training diverged" in printed and "Start again with a lower --lr" in printed
    checkpoint = load_checkpoint(out / "checkpoint.npz")
    assert 1 <= checkpoint.state["step"] < 50
    assert all(np.all(np.isfinite(w)) for w in checkpoint.weights.values())
    assert all(np.all(np.isfinite(p.data)) for p in FSRCNN.load(out / "last.npz").parameters())


def test_an_existing_run_is_not_overwritten(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert train.main(cli(data, out, "--steps", "2", val=False)) == 0
    before = (out / "checkpoint.npz").read_bytes()
    assert train.main(cli(data, out, "--steps", "2", val=False)) == 1
    assert "already holds a training run" in capsys.readouterr().err
    assert (out / "checkpoint.npz").read_bytes() == before
    assert train.main(cli(data, out, "--steps", "3", "--overwrite", val=False)) == 0
    assert [int(r["step"]) for r in read_log(out)] == [3]
    assert train.main(cli(data, tmp_path / "empty", "--resume")) == 1
    assert "nothing to resume" in capsys.readouterr().err


# ------------------------------------------------------------------ transfer across scales
def test_finetune_deconv_at_another_scale_freezes_the_trunk(data, tmp_path):
    source = tmp_path / "x3"
    assert train.main(cli(data, source, "--steps", "5", val=False)) == 0
    out = tmp_path / "x2"
    assert train.main(["--init-from", str(source / "last.npz"), "--scale", "2", "--finetune", "deconv",
                       "--train", str(data / "train"), "--batch-size", "16", "--steps", "6",
                       "--cache-dir", str(data / "cache"), "--out", str(out), "--no-progress",
                       "--val", str(data / "val"), "--val-every", "3"]) == 0
    before, after = FSRCNN.load(source / "last.npz"), FSRCNN.load(out / "last.npz")
    assert (after.d, after.s, after.m, after.scale) == (8, 4, 1, 2)
    fresh_deconv = FSRCNN(8, 4, 1, 2, seed=0).deconv.weight.data
    for (name, p), (_, q) in zip(before.named_parameters(), after.named_parameters()):
        if name.startswith("deconv."):
            assert not np.array_equal(q.data, p.data)
        else:
            assert np.array_equal(q.data, p.data), name
    assert not np.array_equal(after.deconv.weight.data, fresh_deconv)  # it did train
    groups = load_checkpoint(out / "checkpoint.npz").optimizer_state["groups"]
    assert [g["params"] for g in groups] == [["deconv.weight", "deconv.bias"]]


def test_init_from_at_the_same_scale_keeps_every_weight(data, tmp_path):
    source = FSRCNN(8, 4, 1, 3, seed=5)
    source.save(tmp_path / "source.npz")
    settings, _ = run.resolve_settings({"init_from": str(tmp_path / "source.npz")})
    assert (settings["d"], settings["s"], settings["m"], settings["model_name"]) == (8, 4, 1, "fsrcnn-8-4-1")
    model = run.build_model(settings)
    for p, q in zip(source.parameters(), model.parameters()):
        assert np.array_equal(p.data, q.data)
    with pytest.raises(run.UsageError, match="needs --init-from"):
        run.resolve_settings({"finetune": "deconv"})


# ------------------------------------------------------------------ context
def test_train_step_compares_only_the_target_window():
    from minisr.layers import mse_loss
    from minisr.optim import SGD

    rng = np.random.default_rng(0)
    x = rng.random((4, 1, 11, 11), dtype=np.float32)          # 7x7 sub-images + 2 of context
    t = rng.random((4, 1, 19, 19), dtype=np.float32)          # their 19x19 targets
    model, reference = FSRCNN(8, 4, 1, 3, seed=2), FSRCNN(8, 4, 1, 3, seed=2)
    loss = loop.train_step(model, SGD(model.named_parameters(), lr=0.0, momentum=0.0), x, t, offset=6)
    y = reference.forward(x)
    expected, dwindow = mse_loss(y[:, :, 6:25, 6:25], t)
    dy = np.zeros_like(y)
    dy[:, :, 6:25, 6:25] = dwindow
    reference.backward(dy)
    assert loss == pytest.approx(expected)
    for p, q in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(p.grad, q.grad, rtol=1e-5, atol=1e-7)


def test_context_and_patch_size_options(data, tmp_path, capsys):
    assert train.main(cli(data, tmp_path / "full", "--steps", "3", "--context", "full", "--patch-size", "3",
                          val=False)) == 0
    assert "11x11 -> 7x7 (x3, stride 4, context 4)" in capsys.readouterr().out  # 2 + m + 4 // 3
    assert train.main(cli(data, tmp_path / "paper", "--steps", "1", "--patch-size", "paper",
                          val=False)) == 0
    assert "7x7 -> 19x19" in capsys.readouterr().out
    assert train.main(cli(data, tmp_path / "bad", "--context", "wide")) == 1
    assert "--context must be" in capsys.readouterr().err


# ------------------------------------------------------------------ usage errors
def test_unknown_training_set_is_a_one_line_error(data, tmp_path, capsys):
    assert train.main(["--train", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run")]) == 1
    assert "neither a known dataset nor a folder" in capsys.readouterr().err


def test_unknown_validation_set_fails_before_the_pairs_are_made(data, tmp_path, capsys):
    args = cli(data, tmp_path / "run", val=False)[:-1] + ["--val", str(tmp_path / "nowhere")]
    assert train.main(args) == 1
    printed = capsys.readouterr()
    assert "nowhere: neither a known dataset nor a folder" in printed.err
    assert "training pairs" not in printed.out and not (tmp_path / "run").exists()


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--resume", "--finetune", "--time-limit", "--patch-size", "--deconv-lr"):
        assert option in text


# ------------------------------------------------------------------ multi-scale
def test_multiscale_runs_the_trunk_once_and_matches_each_model(tmp_path):
    from minisr.multiscale import MultiScaleFSRCNN

    x3 = FSRCNN(8, 4, 1, 3, seed=1)
    models = [x3]
    for scale in (2, 4):  # deconv-only fine-tunes: the same trunk, their own deconvolution
        model = FSRCNN(8, 4, 1, scale, seed=scale)
        for (name, p), (_, q) in zip(model.named_parameters(), x3.named_parameters()):
            if not name.startswith("deconv."):
                p.data[...] = q.data
        models.append(model)
    multi = MultiScaleFSRCNN.from_models(models)
    x = np.random.default_rng(0).random((2, 1, 9, 11), dtype=np.float32)
    outputs = multi.infer(x)
    assert sorted(outputs) == [2, 3, 4]
    for model in models:
        assert outputs[model.scale].shape == (2, 1, 9 * model.scale, 11 * model.scale)
        np.testing.assert_allclose(outputs[model.scale], model.forward(x, exact_size=True), rtol=1e-6, atol=1e-7)
    multi.save(tmp_path / "multi.npz")
    again = MultiScaleFSRCNN.load(tmp_path / "multi.npz").infer(x)
    for scale in (2, 3, 4):
        np.testing.assert_array_equal(again[scale], outputs[scale])
    models[1].layers[0].weight.data[0, 0, 0, 0] += 1.0
    with pytest.raises(ValueError, match="differ in feature.weight"):
        MultiScaleFSRCNN.from_models(models)


def test_resume_fills_settings_added_after_the_run_began():
    """A run folder written before an option existed still resumes, with its default."""
    from minisr.training.run import DEFAULTS, resolve_settings

    fresh, _ = resolve_settings({})
    old = {k: v for k, v in fresh.items() if k != "context"}
    settings, _ = resolve_settings({}, saved=old)
    assert settings["context"] == DEFAULTS["context"]


def test_fsrcnn_s_defaults_to_its_own_learning_rate():
    """FSRCNN trains at 3e-3 and FSRCNN-s at 1e-2 unless --lr is given; other sizes at 1e-3."""
    rate = lambda given: run.resolve_settings(given)[0]["lr"]  # noqa: E731
    assert rate({"model": "fsrcnn-s"}) == 1e-2
    assert rate({"model": "fsrcnn-s", "lr": 3e-3}) == 3e-3
    assert rate({}) == rate({"model": "fsrcnn"}) == 3e-3
    assert rate({"model": "fsrcnn-s", "s": 6}) == 1e-3  # no longer the preset
    assert run.resolve_settings({}, saved={**run.DEFAULTS, "model_name": "fsrcnn-s",
                                              "lr": 1e-3})[0]["lr"] == 1e-3  # a resumed run keeps its rate


# ------------------------------------------------------------------ honest validation
def test_validation_images_are_never_trained_on(data, tmp_path, capsys):
    """A validation image that is also in --train is held out of the training pairs
    (BSDS500-val20 inside BSDS500-train); and the default validation set is
    BSDS500-val20, which no reported table tests on, not Set5."""
    from minisr.data.registry import VALIDATION_SET

    assert run.DEFAULTS["val"] == [VALIDATION_SET] and "Set5" not in run.DEFAULTS["val"]
    both = tmp_path / "both"
    both.mkdir()
    for source in sorted((data / "train").iterdir()) + sorted((data / "val").iterdir()):
        (both / f"{source.parent.name}_{source.name}").write_bytes(source.read_bytes())
    val_files = sorted(both.glob("val_*"))
    kept, held = run.hold_out(sorted(both.iterdir()), val_files)
    assert held == 2 and kept == sorted(both.glob("train_*"))
    out = tmp_path / "run"
    args = ["--train", str(both), "--val", str(both / "val_only"), *TINY, "--batch-size", "16", "--steps", "2",
            "--no-progress", "--cache-dir", str(data / "cache"), "--out", str(out)]
    (both / "val_only").mkdir()
    for path in val_files:
        (both / "val_only" / path.name).symlink_to(path)  # the same files under other names
    assert train.main(args) == 0
    printed = capsys.readouterr().out
    assert f"2 validation image(s) of {both / 'val_only'} held out of the training images" in printed
    assert "epochs of 360 pairs" in printed  # from the 3 training images only (120 pairs each)
    with pytest.raises(run.UsageError, match="every training image is also a validation image"):
        run.train_in(tmp_path / "x", {**{"train": [str(both / "val_only")], "val": [str(both / "val_only")]}},
                     False, False, "test", 0.0)


def test_train_any_named_network(data, tmp_path, capsys):
    """--arch trains a network of minisr/networks.py; its best.npz evaluates and resumes."""
    out = tmp_path / "srcnn"
    args = ["--arch", "srcnn-ex", "--train", str(data / "train"), "--val", str(data / "val"),
            "--batch-size", "16", "--patch-size", "7", "--steps", "6", "--val-every", "3", "--no-progress",
            "--cache-dir", str(data / "cache"), "--out", str(out)]
    assert train.main(args) == 0
    assert "Network('srcnn-ex', scale=3): 57,184 weights" in capsys.readouterr().out
    from minisr.models import load_model, model_label
    best = load_model(out / "best.npz")
    assert model_label(best) == "srcnn-ex" and best.infer(np.zeros((1, 1, 5, 6), np.float32)).shape == (1, 1, 15, 18)
    assert train.main(["--out", str(out), "--resume", "--steps", "8", "--no-progress"]) == 0
    assert "resuming at step 6" in capsys.readouterr().out
    assert train.main(["--arch", "srcnn-ex", "--d", "8", "--out", str(tmp_path / "x")]) == 1
    assert "names the whole network; leave out --d" in capsys.readouterr().err


def test_report_sets_are_logged_but_never_choose(data, tmp_path, capsys):
    """--report Set5 scores Set5 with each validation (log.csv report_psnr/report_ssim,
    train.log) while best.npz follows the validation set alone."""
    out = tmp_path / "run"
    args = cli(data, out, "--steps", "6", "--val-every", "3", "--report", "Set5", "--data-dir", str(data / "datasets"))
    assert train.main(args) == 0
    rows = read_log(out)
    validated = [r for r in rows if r["val_psnr"]]
    assert [r["step"] for r in validated] == ["0", "3", "6"]
    assert all(r["report_psnr"] and r["report_ssim"] for r in validated)
    assert all(not r["report_psnr"] for r in rows if not r["val_psnr"])
    best = max(validated, key=lambda r: float(r["val_psnr"]))
    state = load_checkpoint(out / "checkpoint.npz").state
    assert state["best"]["step"] == int(best["step"])
    assert "(report: PSNR" in capsys.readouterr().out


def test_init_from_another_network_is_one_line(data, tmp_path, capsys):
    from minisr.networks import Network
    Network("transition-1", 3).save(tmp_path / "t1.npz")
    for extra in ([], ["--model", "fsrcnn"]):
        args = cli(data, tmp_path / f"run{len(extra)}", "--init-from", str(tmp_path / "t1.npz"), *extra)
        assert train.main(args) == 1
        assert "holds Network('transition-1', scale=3); only FSRCNN runs start from another model" in \
            capsys.readouterr().err
