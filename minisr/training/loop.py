"""The training loop: minibatch steps, validation, logging, checkpoints, clean stops.

One step (``train_step``)::

    model.zero_grad()
    y = model.forward(x)                 x (B, 1, f, f) -> y (B, 1, F, F), F = n*f - n + 1
    loss, dy = mse_loss(y, t)            t (B, 1, F, F) = HR / 255
                                         (with context c: x is f + 2c wide, and only the
                                         F x F window of y at n*c is compared with t)
    model.backward(dy)                   accumulates every parameter's .grad (not dL/dx)
    optimizer.step()

With ``workers`` > 1 (``--threads``), the forward/loss/backward part runs on shares of the
batch in worker threads and the gradients are added (``training/parallel.py``).

Batches: every epoch draws one permutation of the N pairs from a seeded
``numpy.random.Generator`` and walks it ``batch_size`` at a time (a last partial
batch is dropped, so step ``s`` is batch ``s % (N // B)`` of epoch ``s // (N // B)``).
A checkpoint stores the generator's state from just before the current epoch's
permutation, so a resumed run redraws the same permutation and picks up at the
same batch: with the same settings it produces the same weights, bit for bit.

A run directory holds::

    checkpoint.npz   model + optimiser + step + RNG state + settings (to --resume)
    last.npz         the latest weights as a plain model file (minisr.load_model)
    best.npz         the weights with the best validation PSNR so far
    log.csv          step, backprops (= step * batch), epoch, lr, mean loss since the last
                     row, validation PSNR/SSIM, wall_s (seconds in the loop, over all chunks)
    train.log        the messages printed during training
"""

import csv
import math
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np

from ..progress import Progress
from ..image.protocol import check_scorable, evaluate_pair, load_test_pair, super_resolve
from .checkpoint import CheckpointError, save_checkpoint
from .parallel import DataParallel, batch_gradients

LOG_COLUMNS = ["step", "backprops", "epoch", "lr", "loss", "val_psnr", "val_ssim", "wall_s"]
#: Appended to a run's log.csv when it reports on other sets too (``--report``).
REPORT_COLUMNS = ["report_psnr", "report_ssim"]


def train_step(model, optimizer, x, t, offset: int = 0, parallel=None) -> float:
    """One minibatch update; returns the loss. A non-finite loss updates nothing.

    The target ``t`` (B, 1, F, F) is compared with the output window that starts
    ``offset`` rows and columns in (0 unless the inputs carry context); the rest of
    the output gets zero gradient. Layers before the first trainable one are skipped
    by the backward pass; frozen parameters after it still receive gradients, which the
    optimiser leaves alone. ``parallel``: a :class:`~minisr.training.parallel.DataParallel`
    for ``model`` that splits the batch across worker threads.
    """
    # No gradient w.r.t. the LR input, and none for layers before the first trainable one
    # (fine-tuning the deconvolution alone back-propagates through it only).
    stop_at = first_trainable_layer(model, optimizer)
    if parallel is None:
        loss = batch_gradients(model, x, t, offset, stop_at)
    else:
        loss = parallel.gradients(x, t, offset, stop_at)
    if not math.isfinite(loss):
        return loss
    optimizer.step()
    return loss


def first_trainable_layer(model, optimizer) -> int:
    """Index of the first layer with a parameter that ``optimizer`` updates."""
    trainable = {id(p) for group in optimizer.groups for _, p in group["params"]}
    for index, layer in enumerate(model.layers):
        if any(id(p) in trainable for p in layer.parameters()):
            return index
    return len(model.layers) - 1


def truncate_log(path, step: int) -> None:
    """Drop the log rows written after ``step`` (by a run that stopped before saving
    again), so that a resumed run's rows follow on without repeats."""
    path = Path(path)
    if not path.exists():
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    kept = rows[:1] + [r for r in rows[1:] if r and int(r[0]) <= step]
    if len(kept) != len(rows):
        with open(path, "w", newline="") as f:
            csv.writer(f).writerows(kept)


class Validator:
    """Mean PSNR/SSIM over a validation set with the exact test protocol
    (``load_test_pair``, full-image ``forward(exact_size=True)``, ``evaluate_pair``)."""

    def __init__(self, files, scale: int):
        self.scale = int(scale)
        self.pairs = [load_test_pair(p, self.scale) for p in files]
        for path, (hr, _) in zip(files, self.pairs):
            check_scorable(path, hr, self.scale)  # before training, not at the first validation

    def __call__(self, model):
        scores = [evaluate_pair(super_resolve(model, lr, self.scale), hr, self.scale)
                  for hr, lr in self.pairs]
        return float(np.mean([p for p, _ in scores])), float(np.mean([s for _, s in scores]))


class InterruptFlag:
    """While active, the first Ctrl-C (SIGINT) or SIGTERM only sets ``requested`` to
    ``"interrupted"`` or ``"terminated"`` (the loop then finishes the current step,
    validates, saves and stops); a second one raises KeyboardInterrupt."""

    SIGNALS = {signal.SIGINT: ("interrupted", "Ctrl-C"), signal.SIGTERM: ("terminated", "SIGTERM")}

    def __init__(self):
        self.requested = None
        self._previous = {}

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested, name = self.SIGNALS[signum]
        print(f"\n{name}: saving a checkpoint after this step (press Ctrl-C again to quit without saving)",
              file=sys.stderr, flush=True)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handler)
        return self

    def __exit__(self, *exc):
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        return False


class Trainer:
    """Runs the loop for a model, optimiser, schedule and set of pairs.

    ``state`` is what a checkpoint keeps besides the weights and the optimiser:
    ``step``, ``epoch``, ``epoch_rng_state``, ``best`` ({psnr, ssim, step}),
    ``elapsed`` (seconds in the loop, validation included, over every chunk), ``finished``,
    and ``settings`` (the run's options, as the CLI resolved them).
    """

    def __init__(self, model, optimizer, schedule, pairs, settings: dict, out_dir,
                 validator=None, state=None, progress: bool = True, workers: int = 1,
                 gradients=None, reporter=None):
        self.model, self.optimizer, self.schedule, self.pairs = model, optimizer, schedule, pairs
        # workers > 1: each batch is split across that many threads (training/parallel.py).
        # gradients: another object with DataParallel's .gradients(x, t, offset, stop_at)
        # and .close(), fed with what pairs.batch() returns (e.g. minisr/cluster/
        # data_parallel.py, whose pairs give indices: the workers hold the pixels).
        self.parallel = gradients if gradients is not None else \
            DataParallel(model, workers) if workers > 1 else None
        self.settings = settings
        self.batch_size = int(settings["batch_size"])
        self.batches_per_epoch = len(pairs) // self.batch_size
        if self.batches_per_epoch < 1:
            raise ValueError(f"only {len(pairs)} training pairs, fewer than one batch of {self.batch_size}")
        self.out = Path(out_dir)
        self.validator = validator
        self.reporter = reporter  # sets scored with each validation and logged, never used to choose
        self.progress = progress
        self.rng = np.random.default_rng(settings["seed"])
        self.state = state or {"step": 0, "epoch": -1, "epoch_rng_state": None, "finished": False,
                               "best": {"psnr": None, "ssim": None, "step": None}, "elapsed": 0.0}
        self.order = None
        if self.state["epoch"] >= 0:  # resuming: redraw the current epoch's permutation
            self.rng.bit_generator.state = self.state["epoch_rng_state"]
            self.order = self.rng.permutation(len(pairs))
            truncate_log(self.out / "log.csv", self.state["step"])
        self._bar = None

    def close(self) -> None:
        """Stop the worker threads (if any)."""
        if self.parallel is not None:
            self.parallel.close()

    # ------------------------------------------------------------------ output
    def say(self, message: str) -> None:
        """Print a message (above the progress bar) and append it to train.log."""
        if self._bar is not None:
            self._bar.close()  # clears the bar's line on a terminal
        print(message, flush=True)
        with open(self.out / "train.log", "a") as f:
            f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')}  {message}\n")

    def log_row(self, loss=None, psnr=None, ssim=None, report=None) -> None:
        path = self.out / "log.csv"
        new = not path.exists()
        step = self.state["step"]
        row = [step, step * self.batch_size, f"{step / self.batches_per_epoch:.4f}",
               f"{self.optimizer.groups[0]['lr']:.6g}",
               "" if loss is None else f"{loss:.7g}",
               "" if psnr is None else f"{psnr:.4f}", "" if ssim is None else f"{ssim:.5f}",
               f"{self.state['elapsed']:.1f}"]
        if self.reporter is not None:
            row += ["", ""] if report is None else [f"{report[0]:.4f}", f"{report[1]:.5f}"]
        with open(path, "a", newline="") as f:
            writer = csv.writer(f)
            if new:
                writer.writerow(LOG_COLUMNS + (REPORT_COLUMNS if self.reporter is not None else []))
            writer.writerow(row)

    def weights_finite(self) -> bool:
        return all(np.all(np.isfinite(p.data)) for p in self.model.parameters())

    def save(self) -> None:
        """checkpoint.npz (full state) and last.npz (plain model), both atomic.

        Raises :class:`CheckpointError` (one line) if a file cannot be written, e.g. on
        a full disk; the previous files are then untouched.
        """
        self.state["settings"] = self.settings
        self.write(save_checkpoint, self.out / "checkpoint.npz", self.model, self.optimizer, self.state)
        self.write(self.model.save, self.out / "last.npz")

    def write(self, save, path, *args) -> None:
        """``save(path, *args)``, an OSError (disk full, ...) turned into a one-line
        :class:`CheckpointError` that says what is kept."""
        try:
            save(path, *args)
        except OSError as error:
            checkpoint = self.out / "checkpoint.npz"
            kept = (f"the previous {checkpoint} is kept" if checkpoint.exists()
                    else "no checkpoint had been saved yet")
            raise CheckpointError(f"could not save {path} at step {self.state['step']:,} "
                                  f"({error.strerror or error}); {kept}. Free some space, "
                                  "then continue with --resume") from None

    def validate(self) -> tuple:
        """(PSNR, SSIM) on the validation set, which picks best.npz, and (PSNR, SSIM) on
        the ``--report`` sets, or None."""
        psnr, ssim = self.validator(self.model)
        best = self.state["best"]
        mark = ""
        if best["psnr"] is None or psnr > best["psnr"]:
            self.write(self.model.save, self.out / "best.npz")
            self.state["best"] = {"psnr": psnr, "ssim": ssim, "step": self.state["step"]}
            mark = "  (best)"
        report = self.reporter(self.model) if self.reporter is not None else None
        reported = "" if report is None else f"  (report: PSNR {report[0]:.3f} dB)"
        self.say(f"step {self.state['step']:>7}  validation PSNR {psnr:.3f} dB  SSIM {ssim:.4f}{mark}{reported}")
        return psnr, ssim, report

    # ------------------------------------------------------------------ batches
    def next_batch(self):
        step = self.state["step"]
        epoch, index = divmod(step, self.batches_per_epoch)
        if epoch != self.state["epoch"]:
            self.state["epoch"] = epoch
            self.state["epoch_rng_state"] = self.rng.bit_generator.state
            self.order = self.rng.permutation(len(self.pairs))
        chosen = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        return self.pairs.batch(chosen, self.model.dtype)

    # ------------------------------------------------------------------ the loop
    def step(self) -> float:
        """One update at the schedule's rate for this step; returns the loss."""
        self.optimizer.set_lr_factor(self.schedule(self.state["step"]))
        x, t = self.next_batch()
        with np.errstate(over="ignore", invalid="ignore"):  # run() checks for NaN/Inf itself
            loss = train_step(self.model, self.optimizer, x, t, self.pairs.target_offset,
                              self.parallel)
        self.state["step"] += 1
        return loss

    def run(self, total_steps: int, val_every: int = 0, save_every: int = 0, log_every: int = 100,
            deadline: float = None) -> str:
        """Train until ``total_steps``; returns why it stopped: ``"finished"``,
        ``"time-limit"`` (``deadline``, a ``time.perf_counter()`` value, passed),
        ``"interrupted"`` (Ctrl-C), ``"terminated"`` (SIGTERM) or ``"diverged"``
        (NaN/Inf; nothing saved).

        Validates every ``val_every`` steps, at the end and whenever it stops early (so
        ``best.npz`` is never older than the last chunk), writes a log row every
        ``log_every`` steps, saves every ``save_every`` steps and whenever it stops.
        """
        save_every = save_every or val_every or 1000
        clock, elapsed = time.perf_counter(), self.state["elapsed"]
        if self.state["step"] == 0 and self.validator is not None and val_every:
            self.log_row(None, *self.validate())  # (psnr, ssim, report)
        losses, smooth = [], None
        label = f"x{self.settings['scale']} {self.settings['model_name']}"
        with InterruptFlag() as interrupt, Progress(total_steps, label, always=True, initial=self.state["step"],
                                                    disable=not self.progress) as bar:
            self._bar = bar
            try:
                while self.state["step"] < total_steps:
                    loss = self.step()
                    if not (math.isfinite(loss) and self.weights_finite()):
                        self.say(self.divergence_message(loss))
                        return "diverged"
                    step, done = self.state["step"], self.state["step"] >= total_steps
                    losses.append(loss)
                    smooth = loss if smooth is None else 0.98 * smooth + 0.02 * loss
                    lr = self.optimizer.groups[0]["lr"]
                    bar.update(1, note=f"step {step}  loss {smooth:.3e}  lr {lr:.2e}")
                    self.state["elapsed"] = elapsed + time.perf_counter() - clock
                    outcome = interrupt.requested  # None, "interrupted" or "terminated"
                    if outcome is None and deadline is not None and not done and time.perf_counter() > deadline:
                        outcome = "time-limit"
                    validate = self.validator is not None and val_every and (
                        step % val_every == 0 or done or outcome is not None)
                    if validate or step % log_every == 0 or done or outcome:
                        self.log_row(float(np.mean(losses)), *(self.validate() if validate else (None, None, None)))
                        losses = []
                    if done or outcome or step % save_every == 0:
                        self.state["finished"] = done
                        self.save()
                    if outcome:
                        return outcome
                return "finished"
            finally:
                self._bar = None

    def divergence_message(self, loss) -> str:
        checkpoint = self.out / "checkpoint.npz"
        kept = (f"the last good checkpoint {checkpoint} is kept" if checkpoint.exists()
                else "no checkpoint had been saved yet")
        lrs = ", ".join(f"{g['name']} {g['lr']:.3g}" for g in self.optimizer.groups)
        what = f"the loss is {loss}" if not math.isfinite(loss) else "the weights hold NaN/Inf"
        return (f"training diverged: {what} at step {self.state['step']} "
                f"(learning rates: {lrs}); {kept}. Start again with a lower --lr/--deconv-lr.")
