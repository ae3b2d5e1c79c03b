"""Batch upscaling on a Dask cluster: ``python -m minisr.upscale DIR... --out-dir OUT --cluster SPEC``.

The same batch as the local command (:func:`minisr.upscale._run_batch`), each image a
task:

* The model goes to the cluster once, as the result of one task that every image
  task depends on: each worker fetches it once and keeps it while the batch runs (and
  the scheduler can make it again after a ``Client.restart``).
* The client checks every output as the local run does before any work (duplicate
  outputs, an output that is one of the inputs, an existing file without
  ``--overwrite``: the same one-line errors), then submits one task per image. The
  worker runs :func:`minisr.superres.upscale_file` into a temporary name
  (``.NAME.<batch>.part.png`` beside the output) and the client, once the task has
  finished, moves it to the final name with the local rules (no clobbering a file
  that appeared meanwhile unless ``--overwrite``). A final name therefore only ever
  holds a complete file, written once.
* A bad image is the worker's one-line error (:func:`minisr.superres.describe`) and
  the batch goes on. A worker that dies mid-task: the scheduler runs its tasks on
  another worker (the temporary file is simply written again); after a
  ``Client.restart`` (every task cancelled) the client submits the unfinished images
  again. Every image is counted once, in the progress display and in the summary;
  temporary files a killed worker left are removed at the end.
* Lines are printed as images finish (not in input order); the summary line and the
  exit status are the local run's.
"""

import secrets
import sys
import threading
from pathlib import Path

from ..atomic import move_into_place, remove_abandoned_temporaries
from ..image.imageio import ImageError
from ..progress import Progress
from ..superres import (check_not_an_input, compare_path, describe, input_identities, one_line,
                        plan_output, upscale_file, writable_format)
from . import connect, use_threads, worker_threads

MAX_RESUBMITS = 3  # per image, after Client.restart-style cancellations


# ---------------------------------------------------------------------- on the workers
def model_payload(model) -> dict:
    """What travels to the workers: the configuration and the weights as plain arrays
    (not the model object, whose inference workspace is neither small nor picklable)."""
    return {"config": dict(model.config), "dtype": str(model.dtype),
            "weights": {name: p.data.copy() for name, p in model.named_parameters()}}


_MODELS = {}  # on a worker: payload key -> {thread id: model}
_MODELS_LOCK = threading.Lock()


def worker_model(key: str, payload: dict):
    """On a worker: the model of ``payload``, made once per worker process (and per
    thread, for a worker that runs tasks side by side: each has its own inference
    workspace, all share the weights)."""
    from ..model import FSRCNN

    with _MODELS_LOCK:
        per_thread = _MODELS.setdefault(key, {})
        if not per_thread:
            for stale in [k for k in _MODELS if k != key]:  # an earlier batch's model
                del _MODELS[stale]
        model = per_thread.get(threading.get_ident())
        if model is None:
            if per_thread:
                model = next(iter(per_thread.values())).replica()
            else:
                model = FSRCNN(**payload["config"], dtype=payload["dtype"])
                for name, p in model.named_parameters():
                    p.data[...] = payload["weights"][name]
            per_thread[threading.get_ident()] = model
    return model


def identity(value):
    return value


def upscale_task(payload, key: str, source: str, part: str, tile, compare: bool, zoom: int,
                 max_pixels, threads, png_compression):
    """One image on a worker: :func:`upscale_file` into the temporary name ``part``
    (replaced if an earlier attempt left it). Returns ("ok", [(part path, note)]) or
    ("error", one line)."""
    use_threads(threads)
    try:
        written = upscale_file(Path(source), Path(part), worker_model(key, payload), tile, True,
                               compare, zoom, max_pixels, None, png_compression)
        return "ok", [(str(path), note) for path, note in written]
    except (ImageError, ValueError, OSError, MemoryError) as error:
        return "error", one_line(error)


# ---------------------------------------------------------------------- on the client
def part_name(out: Path, batch: str) -> Path:
    """The temporary name a worker writes ``out`` to: hidden, unique to this batch,
    same extension (so the same format): ``.photo_x3.<batch>.part.png``."""
    return out.with_name(f".{out.stem}.{batch}.part{out.suffix}")


class Job:
    __slots__ = ("source", "out", "part", "resubmits")

    def __init__(self, source, out, part):
        self.source, self.out, self.part, self.resubmits = source, out, part, 0


def outcome(future) -> tuple:
    """What a done task gave: ``("finished", result)``, ``("error", exception)`` or
    ``("cancelled", None)``. A ``Client.restart`` can cancel a future between the moment
    it is reported done and the moment it is read; that read counts as cancelled too."""
    from concurrent.futures import CancelledError

    try:
        if future.status == "error":
            return "error", future.exception()
        if future.status != "cancelled":
            return "finished", future.result()
    except CancelledError:
        pass
    return "cancelled", None


class BatchOnCluster:
    """``BatchOnCluster(spec, threads)(files, model, args)``: the command line's batch
    (:func:`minisr.upscale._run_batch`) with the images as tasks on the cluster; returns
    the number of failures. Every line reads as the local run's (the same
    :func:`minisr.superres.describe`, printed with ``Progress.say``). Connects when made
    (ClusterError: one line); closes the client when the batch is done."""

    def __init__(self, spec: str, threads=None):
        self.spec = spec
        self.threads = worker_threads(spec, threads)
        self.client = connect(spec)

    def __call__(self, files, model, args) -> int:
        try:
            return self.run(files, model, args)
        finally:
            self.client.close()

    def model_future(self, model):
        """The model's weights as the result of one task (each worker fetches it once;
        the scheduler can make it again after a restart)."""
        return self.client.submit(identity, model_payload(model), pure=False,
                                  key=f"minisr-model-{secrets.token_hex(4)}")

    def run(self, files, model, args) -> int:
        from distributed import as_completed

        failed, planned, jobs = 0, {}, []
        inputs = input_identities(files)
        batch = secrets.token_hex(4)
        quiet = args.no_progress or len(files) < 2
        with Progress(len(files), f"upscale x{args.scale}", always=True, disable=quiet) as bar:
            # Everything the local run checks before an image's work, in the same words.
            for source in files:
                try:
                    out = plan_output(source, planned, args.scale, args.output, args.format, args.out_dir)
                    writable_format(out)
                    targets = [out, compare_path(out)] if args.compare else [out]
                    check_not_an_input(targets, source, inputs)
                    for target in targets:
                        if target.exists() and not args.overwrite:
                            raise FileExistsError(f"{target}: already exists (use --overwrite to replace it)")
                except (ImageError, ValueError, OSError) as error:
                    failed += 1
                    bar.say(f"error: {describe(source, error)}", sys.stderr)
                    bar.update(1)
                    continue
                jobs.append(Job(source, out, part_name(out, batch)))
            if not jobs:
                return failed
            options = (args.tile, args.compare, 1 if args.no_zoom else 3, args.max_pixels, self.threads,
                       args.png_compression)
            model_future = self.model_future(model)

            def submit(job):
                nonlocal model_future
                if model_future.status in ("cancelled", "lost", "error"):  # after Client.restart
                    model_future = self.model_future(model)
                future = self.client.submit(upscale_task, model_future, model_future.key, str(job.source),
                                            str(job.part), *options, pure=False)
                pending[future] = job
                return future

            pending = {}
            flow = as_completed([submit(job) for job in jobs])
            try:
                for future in flow:
                    job = pending.pop(future)
                    status, value = outcome(future)
                    if status == "cancelled" and job.resubmits < MAX_RESUBMITS:
                        job.resubmits += 1  # the cluster restarted: run it again
                        flow.add(submit(job))
                        continue
                    failed += not self.finish(job, status, value, args, bar)
                    bar.update(1)
            except BaseException:
                self.client.cancel(list(pending))
                raise
            finally:
                remove_parts(jobs, args.compare)
        return failed

    def finish(self, job, status, value, args, bar) -> bool:
        """Report one image's outcome (:func:`outcome`), moving its outputs to their final
        names. Returns True if it was written."""
        if status == "cancelled":
            error = describe(job.source, f"the cluster cancelled it {MAX_RESUBMITS + 1} times (restarted?)")
        elif status == "error":
            name = type(value).__name__
            error = describe(job.source, f"a worker failed on it ({name}: {value})"
                                  if name != "KilledWorker" else
                                  "it was running on every worker that died (out of memory?)")
        else:
            kind, result = value
            error = describe(job.source, result) if kind == "error" else None
        if error is not None:
            bar.say(f"error: {error}", sys.stderr)
            return False
        parts = {Path(path): note for path, note in result}
        try:
            for part, final in ((job.part, job.out), (compare_path(job.part), compare_path(job.out))):
                if part not in parts:
                    continue
                try:
                    move_into_place(part, final, args.overwrite)  # no clobbering without --overwrite
                finally:
                    part.unlink(missing_ok=True)
                bar.say(f"{job.source} -> {final}", sys.stdout)
                if parts[part]:
                    bar.say(f"note: {final}: {parts[part]}", sys.stderr)
        except FileExistsError:
            exists = f"{final}: already exists (use --overwrite to replace it)"
            bar.say(f"error: {describe(job.source, exists)}", sys.stderr)
            return False
        except OSError as error:
            failure = f"{final}: could not write the image ({one_line(error)})"
            bar.say(f"error: {describe(job.source, failure)}", sys.stderr)
            return False
        return True


def remove_parts(jobs, compare: bool) -> None:
    """Remove what is left of this batch's temporary files: parts of images that
    failed after writing, and the temporaries of :func:`minisr.atomic.atomic_write`
    that a killed worker left (their lock is free). Part names are unique to this
    batch, so nothing else is touched."""
    for job in jobs:
        for part in (job.part, compare_path(job.part)) if compare else (job.part,):
            try:
                part.unlink(missing_ok=True)
                remove_abandoned_temporaries(part)
            except OSError:
                pass
