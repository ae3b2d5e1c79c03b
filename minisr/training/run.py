"""The training run behind ``python -m minisr.train``: settings, checks, the run folder,
and :func:`train` (pairs, model, optimiser, schedule, validation, the loop, the summary).

``minisr/train.py`` only reads the command line and calls :func:`train`; data-parallel
training on a cluster (:mod:`minisr.cluster.data_parallel`) calls it with a backend.
What happens, in order (:func:`train_in`)::

    RunFolder(out)            lock the folder; remove a killed run's temporaries
    check_out_dir             a folder holding a run is reused only with --resume/--overwrite
    resolve_settings, check   defaults < options (< a resumed run's settings); every number checked
    resolve_images, prepare   the training pairs (cached) and the validation images
    build_model, build_optimizer, make_schedule, Validator
    Trainer.run               steps, validation, logs, checkpoints, clean stops
"""

import contextlib
import json
import math
import os
import shlex
import time
from pathlib import Path

import numba

from .._jit import compile_notice, set_threads
from ..data import DatasetError, dataset_files, get_dataset
from ..data.registry import IMAGE_SUFFIXES, VALIDATION_SET
from ..locks import LOCK_NAME, hold, owner_note, read_owner, release
from ..model import CONFIG_RANGES, FSRCNN
from ..models import PRESETS, load_model, network_name
from ..networks import ARCHITECTURES, Network
from ..optim import SGD, Adam, make_schedule, param_groups
from ..warmup import CompileHelper, run_training_layers, run_training_share
from .checkpoint import load_checkpoint, restore_model
from .loop import Trainer, Validator
from .patches import PatchSpec, full_context, prepare

DEFAULTS = dict(
    model="fsrcnn", arch=None, d=None, s=None, m=None, scale=3,
    train=["T91"], val=[VALIDATION_SET], report=[], patch_size=None, stride=None, context="0", augment=True, flips=False,
    batch_size=128, seed=0,
    optimizer="adam", lr=1e-3, deconv_lr=1e-4, momentum=0.9, weight_decay=0.0,
    schedule="cosine", warmup=0, final_lr=0.01, step_size=0, gamma=0.1,
    init_from=None, finetune="all",
)
# Learning rates of the convolutions measured best for the two presets (Adam, cosine,
# batch 128; experiments/results/training_curves.md): FSRCNN x3 after 200k steps,
# lr 1e-3 / 3e-3: Set5 33.01 / 33.17 dB; FSRCNN-s after 50k steps, lr 3e-4 / 1e-3 /
# 3e-3 / 1e-2: 31.90 / 31.96 / 32.15 / 32.40 dB, 3e-2 unstable. Other sizes: 1e-3.
PRESET_LR = {"fsrcnn": 3e-3, "fsrcnn-s": 1e-2}
DEFAULT_STEPS = 200_000  # FSRCNN x3 on the 2-core test machine: about 32 minutes (fsrcnn_x3_v2: 31.6 min)
# Options that say how to run, not what to train: a resumed run keeps them unless given again.
RUN_OPTIONS = dict(steps=None, epochs=None, val_every=2000, save_every=0, log_every=100,
                   time_limit=None, data_dir=None, cache_dir=None, download=False,
                   threads=None, progress=True, out=None)
RUN_FILES = ("checkpoint.npz", "best.npz", "last.npz", "log.csv", "train.log", "settings.json")
EXIT_DIVERGED, EXIT_IO, EXIT_INTERRUPTED, EXIT_TERMINATED = 3, 74, 130, 143


class UsageError(ValueError):
    """A mistake in the options: reported in one line."""



model_name = network_name  # "fsrcnn", "fsrcnn-s", or "fsrcnn-d-s-m" for other sizes


def init_source(path) -> FSRCNN:
    """The FSRCNN ``--init-from`` names (one-line errors for a bad file, or one holding
    another network)."""
    source = load_model(path)
    if "arch" in source.config:
        raise UsageError(f"--init-from {path}: holds {source!r}; only FSRCNN runs start from another model")
    return source


def model_dims(given: dict) -> tuple:
    """(d, s, m): --d/--s/--m, else --model's preset, else --init-from's, else FSRCNN's."""
    d, s, m = PRESETS[given.get("model", DEFAULTS["model"])]
    if given.get("init_from") and "model" not in given:
        source = init_source(given["init_from"])
        d, s, m = source.d, source.s, source.m
    return tuple(given.get(k) if given.get(k) is not None else v for k, v in zip("dsm", (d, s, m)))


def check_arch_options(given: dict) -> None:
    """--arch names the whole network: refuse the options that would describe another."""
    if given["arch"] not in ARCHITECTURES:
        raise UsageError(f"--arch must be one of {', '.join(ARCHITECTURES)}, not {given['arch']!r} "
                         "(FSRCNN itself: --model, --d, --s, --m)")
    clash = [f"--{key.replace('_', '-')}" for key in ("model", "d", "s", "m", "init_from") if given.get(key)]
    if clash:
        raise UsageError(f"--arch {given['arch']} names the whole network; leave out {', '.join(clash)}")


def resolve_settings(given: dict, saved=None):
    """``(settings, run)``: what to train (the defaults, then the options given; when
    resuming, the saved settings, which the options may not contradict) and how to
    run it (:data:`RUN_OPTIONS`, free to change between chunks)."""
    if saved is None:
        settings = {**DEFAULTS, **{k: v for k, v in given.items() if k in DEFAULTS}}
        if settings["arch"]:  # a named network of minisr.networks: no d, s, m
            check_arch_options(given)
            settings["model_name"] = settings["arch"]
        else:
            settings["d"], settings["s"], settings["m"] = model_dims(given)
            settings["model_name"] = model_name(settings["d"], settings["s"], settings["m"])
        if "lr" not in given:
            settings["lr"] = PRESET_LR.get(settings["model_name"], DEFAULTS["lr"])
    else:
        # Settings added to minisr after the run began take their defaults.
        settings = {**DEFAULTS, **saved}
        for key, value in given.items():
            if key in DEFAULTS and value != settings.get(key):
                raise UsageError(f"--{key.replace('_', '-')} {value} differs from the resumed run's "
                                 f"{settings.get(key)!r}; leave it out, or start a new run")
    run = {**RUN_OPTIONS, **(settings.get("run") or {})}
    if "steps" in given or "epochs" in given:  # a new length replaces the old one
        run["steps"] = run["epochs"] = None
    run.update({k: v for k, v in given.items() if k in RUN_OPTIONS})
    settings["run"] = {k: v for k, v in run.items() if k not in ("out", "progress")}
    check(settings, run)
    return settings, run


# What every numeric option may be: (lowest, highest, lowest allowed?) -- checked before
# any work, so that a typo costs one line, not a run that trains something else.
LIMITS = {
    # the network: the ranges a model file may hold (minisr.model.CONFIG_RANGES), so that
    # whatever trains here also loads; scale 1 is an identity network, not super-resolution
    **{key: (low, high, True) for key, (low, high) in CONFIG_RANGES.items() if key in ("d", "s", "m")},
    "scale": (2, CONFIG_RANGES["scale"][1], True),
    "batch_size": (1, None, True), "seed": (0, None, True), "stride": (1, None, True),
    "lr": (0, None, False), "deconv_lr": (0, None, False), "momentum": (0, 1, True),
    "weight_decay": (0, None, True), "warmup": (0, None, True), "final_lr": (0, 1, True),
    "step_size": (0, None, True), "gamma": (0, None, False),
    "steps": (1, None, True), "epochs": (0, None, False), "val_every": (0, None, True),
    "save_every": (0, None, True), "log_every": (1, None, True), "time_limit": (0, None, True),
}  # --threads: checked against the machine's cores by use_threads
MEANING_OF_ZERO = {"val_every": "0: never", "save_every": "0: with each validation",
                   "time_limit": "0: none", "m": "0: no mapping layer", "step_size": "0: at 50%% and 75%%"}


def check_number(key: str, value) -> None:
    """Raise UsageError unless ``value`` is a finite number within ``LIMITS[key]``."""
    low, high, low_ok = LIMITS[key]
    option = "--" + key.replace("_", "-")
    if value is None:
        return
    if not math.isfinite(value):
        raise UsageError(f"{option} must be a finite number, not {value}")
    too_low = value < low if low_ok else value <= low
    if too_low or (high is not None and value > high):
        if high is None:
            bound = f"at least {low:g}" if low_ok else f"greater than {low:g}"
        else:
            bound = f"between {low:g} and {high:g}"
        zero = f" ({MEANING_OF_ZERO[key]})".replace("%%", "%") if key in MEANING_OF_ZERO else ""
        raise UsageError(f"{option} must be {bound}{zero}, got {value:g}")


def check(settings, run) -> None:
    """Every option, before any work: numbers in range, words from their sets."""
    for key in LIMITS:
        check_number(key, settings[key] if key in settings else run.get(key))
    if run["steps"] is not None and run["epochs"] is not None:
        raise UsageError("give --steps or --epochs, not both")
    size = settings["patch_size"]
    if not (size in (None, "paper") or (str(size).isdigit() and int(size) >= 1)):
        raise UsageError(f"--patch-size must be a whole number of LR pixels (at least 1) or 'paper', "
                         f"not {size!r}")
    if not (settings["context"] == "full" or str(settings["context"]).isdigit()):
        raise UsageError(f"--context must be a number of LR pixels (0 or more) or 'full', "
                         f"not {settings['context']!r}")
    if settings["finetune"] == "deconv" and not settings["init_from"]:
        raise UsageError("--finetune deconv needs --init-from FILE (a trained model)")


def resolve_images(sets, data_dir=None, download=False) -> list:
    """Image paths of each set: a registry name (read from the data dir) or a folder."""
    files = []
    for item in sets:
        try:
            files += dataset_files(get_dataset(item).name, data_dir, download=download)
            continue
        except DatasetError as error:
            if Path(item).is_dir():
                pass
            elif "unknown dataset" in str(error):
                raise DatasetError(f"{item}: neither a known dataset nor a folder") from None
            else:
                raise
        images = sorted(p for p in Path(item).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise DatasetError(f"{item}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
        files += images
    return files


def hold_out(train_files, val_files) -> tuple:
    """The training images without any validation image (the same file, by path):
    (kept, how many were held out). Validating on 20 images of BSDS500-train while
    training on BSDS500-train trains on the other 180."""
    validation = {os.path.realpath(p) for p in val_files}
    kept = [p for p in train_files if os.path.realpath(p) not in validation]
    return kept, len(train_files) - len(kept)


def check_out_dir(out: Path, resume: bool, overwrite: bool) -> list:
    """Refuse to reuse a run folder without --resume or --overwrite; returns the run
    files that --overwrite will delete (only once the data is ready)."""
    existing = [name for name in RUN_FILES if (out / name).exists()]
    if resume:
        if not (out / "checkpoint.npz").exists():
            raise UsageError(f"nothing to resume: {out / 'checkpoint.npz'} does not exist")
        return []
    if existing and not overwrite:
        raise UsageError(f"{out} already holds a training run ({', '.join(existing)}); "
                         "continue it with --resume, start again with --overwrite, or choose another --out")
    return existing


def build_model(settings) -> FSRCNN:
    """A fresh model, or one started from ``--init-from``'s weights."""
    d, s, m, scale = settings["d"], settings["s"], settings["m"], settings["scale"]
    if settings.get("arch"):
        return Network(settings["arch"], scale, seed=settings["seed"])
    if not settings["init_from"]:
        return FSRCNN(d, s, m, scale, seed=settings["seed"])
    source = init_source(settings["init_from"])
    if (source.d, source.s, source.m) != (d, s, m):
        raise UsageError(f"{settings['init_from']} is FSRCNN{(source.d, source.s, source.m)}, "
                         f"not the FSRCNN{(d, s, m)} asked for")
    if source.config["deconv_border"] != "zeros" or source.config["padding_mode"] != "zeros":
        raise UsageError(f"{settings['init_from']}: only models trained with zero padding can be fine-tuned")
    model = FSRCNN(d, s, m, scale, shared_prelu=source.config["shared_prelu"], seed=settings["seed"])
    keep_deconv = source.scale == scale  # otherwise the deconv keeps its fresh N(0, 0.001) init
    weights = dict(source.named_parameters())
    for name, p in model.named_parameters():
        if keep_deconv or not name.startswith("deconv."):
            p.data[...] = weights[name].data
    return model


def build_optimizer(settings, model):
    trainable = (lambda name: name.startswith("deconv.")) if settings["finetune"] == "deconv" else None
    groups = param_groups(model.named_parameters(), settings["lr"], {"deconv.": settings["deconv_lr"]},
                          trainable=trainable)
    if settings["optimizer"] == "sgd":
        return SGD(groups, momentum=settings["momentum"], weight_decay=settings["weight_decay"])
    return Adam(groups, weight_decay=settings["weight_decay"])


def describe(settings, model, optimizer, pairs, total_steps) -> str:
    lrs = ", ".join(f"{g['name']} {g['base_lr']:g}" for g in optimizer.groups)
    frozen = "  (trunk frozen: training the deconvolution only)" if settings["finetune"] == "deconv" else ""
    workers = numba.get_num_threads()
    threads = f"each batch split across {workers} worker threads" if workers > 1 else "1 thread"
    threads = getattr(pairs, "workers_text", threads)  # on a cluster: its workers
    return (f"{model!r}: {model.weight_count():,} weights{frozen}; {threads}\n"
            f"{settings['optimizer']} ({lrs}), {settings['schedule']} schedule, batch {settings['batch_size']}, "
            f"{total_steps:,} steps = {total_steps * settings['batch_size'] / len(pairs):.1f} epochs "
            f"of {len(pairs):,} pairs")


def use_threads(run: dict, resumed: bool) -> None:
    """Set the worker threads: ``--threads``, or a resumed run's own (its weights then go
    on bit for bit), else every core."""
    threads = run.get("threads")
    if threads is None:
        return
    try:
        set_threads(threads)
    except ValueError as error:
        if resumed:
            raise UsageError(f"this run used --threads {threads}, more than this machine's "
                             f"{numba.config.NUMBA_NUM_THREADS} cores; give --threads N to go on "
                             "with fewer (the weights then differ by float rounding)") from None
        raise UsageError(str(error)) from None


class RunFolder:
    """``with RunFolder(out, command):`` owns the run folder ``out`` while training.

    * Only one process trains in a folder at a time: it holds the lock on ``out/.lock``
      (:mod:`minisr.locks`); a second ``python -m minisr.train`` (or ``--resume``) there
      stops with one line saying which process has it.
    * Temporary files of checkpoints that a killed process was writing (``.*.tmp``) are
      removed: nobody else can be writing them while the lock is held.
    * A folder this run created is removed again if the run fails before it starts
      training, so that a corrected command does not meet an empty run folder.
    """

    def __init__(self, out: Path, command: str):
        self.out, self.command = Path(out), command
        self.created, self.lock = False, None

    def __enter__(self):
        # created here, or by a run killed before it began (nothing in it but the lock)
        self.created = not self.out.exists() or {p.name for p in self.out.iterdir()} <= {LOCK_NAME}
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UsageError(f"cannot create the run folder {self.out} ({error.strerror or error})") from None
        self.lock = hold(self.out / LOCK_NAME)
        if self.lock is None:
            who = read_owner(self.out / LOCK_NAME) or "another process"
            raise UsageError(f"{self.out} is in use by another training run ({who}); wait for it "
                             "to finish or stop it, or choose another --out")
        owner_note(self.lock, f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}: {self.command}")
        for leftover in [*self.out.glob(".tmp-*"), *self.out.glob(".*.tmp")]:  # older and current names
            leftover.unlink()
        return self

    def __exit__(self, kind, error, traceback):
        started = (self.out / "train.log").exists()
        if self.created and not started:
            (self.out / LOCK_NAME).unlink(missing_ok=True)
            release(self.lock)
            try:
                self.out.rmdir()  # only if empty: never delete anything else
            except OSError:
                pass
        release(self.lock)
        return False


def train(given: dict, command: str = "python -m minisr.train", backend=None) -> int:
    start = time.perf_counter()
    name = given.get("arch") or model_name(*model_dims(given))
    default_out = f"runs/{name}_x{given.get('scale', DEFAULTS['scale'])}"
    if given.get("finetune") == "deconv":
        default_out += "_deconv"
    out = Path(given.get("out") or default_out)
    resume, overwrite = given.pop("resume", False), given.pop("overwrite", False)
    if resume and overwrite:
        raise UsageError("--resume and --overwrite contradict each other")
    with RunFolder(out, command):
        return train_in(out, given, resume, overwrite, command, start, backend)


def train_in(out: Path, given: dict, resume: bool, overwrite: bool, command: str, start: float,
             backend=None) -> int:
    """The run itself, in the folder ``out`` that :class:`RunFolder` holds. ``backend``
    (``--cluster``, :mod:`minisr.cluster.data_parallel`) makes the pairs on its workers
    and computes the gradients there."""
    stale = check_out_dir(out, resume, overwrite)
    checkpoint = load_checkpoint(out / "checkpoint.npz") if resume else None
    settings, run = resolve_settings(given, checkpoint.state["settings"] if checkpoint else None)
    use_threads(run, resumed=checkpoint is not None)

    files = resolve_images(settings["train"], run["data_dir"], run["download"])
    # before the pairs are made (minutes for a large set): a mistyped --val fails at once
    val_files = resolve_images(settings["val"], run["data_dir"], run["download"]) if settings["val"] else []
    report_files = resolve_images(settings["report"], run["data_dir"], run["download"]) if settings["report"] else []
    files, held_out = hold_out(files, val_files + report_files)
    if not files:
        raise UsageError("every training image is also a validation image: give other --train or --val sets")
    context = settings["context"]
    context = full_context(settings["m"], settings["scale"]) if context == "full" else int(context)
    size = settings["patch_size"]
    size = int(size) if size not in (None, "paper") else size
    spec = PatchSpec.for_scale(settings["scale"], size, settings["stride"],
                               settings["augment"], settings["flips"], context)
    make_pairs = backend.prepare if backend is not None else prepare
    model = restore_model(checkpoint) if checkpoint else build_model(settings)
    # A first run compiles the training kernels (tens of seconds), shared with a helper
    # process on a second core (minisr/warmup.py), started at the first compilation here.
    helper = CompileHelper(model, share="train") if backend is None else None
    with (helper or contextlib.nullcontext()), \
            compile_notice(on_first=helper.start if helper is not None else None):
        pairs = make_pairs(files, spec, run["cache_dir"], label=" + ".join(settings["train"]))
        if len(pairs) < settings["batch_size"]:
            raise UsageError(f"only {len(pairs):,} training pairs, fewer than one batch of "
                             f"{settings['batch_size']}: give a smaller --batch-size or more images")
        validator = Validator(val_files, settings["scale"]) if val_files else None
        reporter = Validator(report_files, settings["scale"]) if report_files and validator else None
        if helper is not None:
            run_training_layers(model, helper=False)  # k x k and deconvolution layers; the helper the rest
            helper.wait()
            run_training_share(model)  # the whole step, from the cache (or compiled here)
    batches_per_epoch = len(pairs) // settings["batch_size"]
    if run["epochs"] is not None:
        total_steps = max(1, round(run["epochs"] * batches_per_epoch))
    else:
        total_steps = DEFAULT_STEPS if run["steps"] is None else run["steps"]

    optimizer = build_optimizer(settings, model)
    if checkpoint:
        optimizer.load_state_dict(checkpoint.optimizer_state)
    schedule = make_schedule(settings["schedule"], total_steps, settings["warmup"],
                             settings["step_size"], settings["gamma"], settings["final_lr"])
    for name in stale:
        (out / name).unlink()
    trainer = Trainer(model, optimizer, schedule, pairs, settings, out, validator, reporter=reporter,
                      state=checkpoint.state if checkpoint else None, progress=run["progress"],
                      workers=numba.get_num_threads(),
                      gradients=backend.bind(model, run) if backend is not None else None)
    # Written only once everything is ready: a start that fails leaves no run behind.
    (out / "settings.json").write_text(json.dumps({**settings, "total_steps": total_steps}, indent=1))
    step = trainer.state["step"]
    trainer.say(f"{f'resuming at step {step:,}' if checkpoint else 'starting'} in {out}: {command}")
    for line in describe(settings, model, optimizer, pairs, total_steps).splitlines():
        trainer.say(line)
    if held_out:
        sets = " + ".join(settings["val"] + settings["report"])
        trainer.say(f"{held_out} validation image(s) of {sets} held out of the training images")
    if checkpoint and step >= total_steps:
        trainer.say(f"already finished ({step:,} steps); raise --steps to train longer")
        return 0
    deadline = start + 60 * run["time_limit"] if run["time_limit"] else None
    try:
        outcome = trainer.run(total_steps, run["val_every"], run["save_every"], run["log_every"], deadline)
    finally:
        trainer.close()

    step, best = trainer.state["step"], trainer.state["best"]
    again = f"python -m minisr.train --out {shlex.quote(str(out))} --resume"
    best_text = (f"; best validation PSNR {best['psnr']:.3f} dB at step {best['step']:,} ({out / 'best.npz'})"
                 if best["psnr"] is not None else "")
    elapsed = trainer.state["elapsed"]
    if outcome == "diverged":
        return EXIT_DIVERGED
    if outcome == "finished":
        trainer.say(f"finished {step:,} steps in {elapsed / 60:.1f} min of training{best_text}")
        return 0
    why = {"interrupted": "interrupted", "terminated": "stopped by SIGTERM"}.get(outcome, "time limit reached")
    trainer.say(f"{why} at step {step:,} of {total_steps:,}: checkpoint saved{best_text}; "
                f"continue with: {again}")
    return {"interrupted": EXIT_INTERRUPTED, "terminated": EXIT_TERMINATED}.get(outcome, 0)
