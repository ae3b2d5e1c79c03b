"""Data-parallel training of one model on a Dask cluster: ``python -m minisr.train ... --cluster SPEC``.

The training loop is the local one (:class:`minisr.training.loop.Trainer`: schedule,
batch order, validation, logs, checkpoints, ``--resume``, Ctrl-C, time limit); only
where the pairs live and who computes the gradients change:

* **Shards, made on the workers.** The training images (files every worker can read)
  are cut into W contiguous runs of files, W = the workers present at the start,
  balanced by pixel count. Worker k makes the pairs of its run of files itself
  (:func:`minisr.training.patches.prepare`, into its own pair cache) and keeps them in
  a Dask actor, :class:`PairShard`. Pairs are made image by image, so shard 0's pairs
  followed by shard 1's ... are exactly the pairs a single process makes of all the
  files, in the same order: the global pair index ``i`` is shard k's pair
  ``i - offset_k``.
* **A step.** The client draws the batch as locally (the same seeded permutation) but
  sends indices, not pixels: each worker gets the current weights (one float32
  vector, 50 KB for FSRCNN) and the sorted indices of its pairs in the batch, and
  returns its loss and gradient (means over its B_k pairs), computed with
  :class:`minisr.training.parallel.DataParallel` over its cores. The client adds them
  in worker order, ``grad = sum_k (B_k / B) grad_k``, exactly as ``DataParallel``
  adds its threads' parts, and the optimiser steps once, on the client.
* **Determinism.** With one worker and ``--threads 1`` the weights equal a local
  ``--threads 1`` run bit for bit. With more workers (or threads) the same
  gradient is added in another order: equal to float32 round-off (about 1e-7
  relative per step), and bit for bit from run to run for the same workers and
  threads (the shards depend only on the number of workers).
* **A lost worker** stops the step before the optimiser moves (:class:`WorkerLost`);
  :func:`train_on_cluster` then re-shards over the workers that remain and resumes
  from the last checkpoint, as ``--resume`` does (a run without a checkpoint yet
  starts again).
* **Timing** of every step is kept in :attr:`ClusterGradients.stats`: the workers'
  compute, the exchange (the rest of the round trip: serialisation, network, Dask),
  and the client's own work (adding gradients); ``benchmarks/cluster.py`` reports it.
"""

import os
import socket
import time
from pathlib import Path

import numpy as np

from . import ClusterError, connect, tune_malloc, use_threads, wait_for_workers, worker_threads

MAX_RECOVERIES = 5
POLL_S = 2.0  # seconds between checks that the workers of a step are alive


class WorkerLost(RuntimeError):
    """A worker holding a shard went away during a step; no update was made."""


# ---------------------------------------------------------------------- on the workers
class PairShard:
    """A Dask actor: one worker's share of the training pairs, and a model to compute
    gradients on them."""

    def __init__(self, files, spec: dict, cache_dir, label: str = ""):
        from ..training.patches import PatchSpec, prepare

        tune_malloc()
        self.messages = []
        spec = PatchSpec(**{**spec, "downscales": tuple(spec["downscales"]),
                            "rotations": tuple(spec["rotations"])})
        self.pairs = prepare([Path(f) for f in files], spec, cache_dir, log=self.messages.append, label=label)
        self.model = self.parallel = None

    def info(self) -> dict:
        return {"pairs": len(self.pairs), "messages": self.messages, "host": socket.gethostname(),
                "pid": os.getpid(), "target_offset": self.pairs.target_offset}

    def set_model(self, config: dict, dtype: str, threads) -> int:
        """Make this worker's model (its weights come with every step) and split its
        share of each batch across ``threads`` (None: every core) threads."""
        import numba

        from ..model import FSRCNN
        from ..training.parallel import DataParallel

        if self.parallel is not None:
            self.parallel.close()
        self.model = FSRCNN(**config, dtype=dtype)
        self.params = list(self.model.parameters())
        threads = max(1, min(int(threads or numba.config.NUMBA_NUM_THREADS), numba.config.NUMBA_NUM_THREADS))
        self.parallel = DataParallel(self.model, threads)
        return threads

    def gradients(self, weights, indices, offset: int, stop_at: int):
        """(loss, flat gradient, compute seconds) of this worker's pairs ``indices``
        (sorted, local) at ``weights`` (flat): the mean over them."""
        start = time.perf_counter()
        use_threads(1)  # one Numba thread per DataParallel thread (as training/parallel.py)
        at = 0
        for p in self.params:
            p.data[...] = weights[at:at + p.data.size].reshape(p.data.shape)
            at += p.data.size
        x, t = self.pairs.batch(indices, self.model.dtype)
        with np.errstate(over="ignore", invalid="ignore"):
            loss = self.parallel.gradients(x, t, offset, stop_at)
        grads = np.concatenate([p.grad.ravel() for p in self.params])
        return loss, grads, time.perf_counter() - start


# ---------------------------------------------------------------------- on the client
def image_pixels(path) -> int:
    """Pixels of an image, from its header (cheap)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.width * img.height
    except OSError:
        return max(1, os.path.getsize(path))  # unreadable here: prepare() will say why


def split_files(files, parts: int) -> list:
    """``files`` cut into ``parts`` contiguous non-empty runs of about equal pixels."""
    parts = max(1, min(parts, len(files)))
    weights = np.cumsum([image_pixels(p) for p in files], dtype=np.float64)
    cuts = [0]
    for k in range(1, parts):
        cut = int(np.searchsorted(weights, weights[-1] * k / parts)) + 1
        cuts.append(min(max(cut, cuts[-1] + 1), len(files) - (parts - k)))
    cuts.append(len(files))
    return [list(files[a:b]) for a, b in zip(cuts, cuts[1:])]


class ShardedPairs:
    """The client's view of the pairs: how many, where each shard's begin; ``batch``
    gives the sorted indices (the workers cut the pixels)."""

    def __init__(self, sizes, target_offset: int, workers_text: str):
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.target_offset = int(target_offset)
        self.workers_text = workers_text

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def batch(self, indices, dtype=np.float32):
        return np.sort(np.asarray(indices, dtype=np.int64)), None


class ClusterGradients:
    """The ``backend`` of :func:`minisr.training.run.train`: ``prepare`` makes the shards on
    the workers, ``bind`` gives the Trainer an object whose ``gradients`` gathers
    theirs (the seam of :class:`minisr.training.loop.Trainer`)."""

    def __init__(self, client, spec: str, threads=None):
        self.client, self.spec, self.threads = client, spec, threads
        self.shards = []  # [(actor future, actor, address)]
        self.model = None
        self.stats = {"steps": 0, "call_s": 0.0, "compute_max_s": 0.0, "compute_mean_s": 0.0,
                      "client_s": 0.0}

    def prepare(self, files, spec, cache_dir=None, label: str = ""):
        from dataclasses import asdict

        addresses = wait_for_workers(self.client, self.spec)
        runs = split_files(files, len(addresses))
        cache = str(cache_dir) if cache_dir else None
        futures = [self.client.submit(PairShard, [str(f) for f in run], asdict(spec), cache, label,
                                      actor=True, workers=[address], allow_other_workers=False, pure=False)
                   for run, address in zip(runs, addresses)]
        try:
            actors = [future.result() for future in futures]
            infos = [actor.info().result() for actor in actors]
        except Exception as error:
            if isinstance(error, (ValueError, OSError)):  # no pairs, a bad image, a full disk: as locally
                raise
            raise WorkerLost(f"a worker failed while making its pairs ({type(error).__name__}: {error})") from None
        self.shards = list(zip(futures, actors, addresses[:len(runs)]))
        for run, info, address in zip(runs, infos, addresses):
            for message in info["messages"]:
                print(f"[{address} on {info['host']}] {message}", flush=True)
        threads = f"{self.threads} threads each" if self.threads else "every core of each"
        sizes = [info["pairs"] for info in infos]
        text = (f"each batch split across {len(runs)} dask workers at {self.client.scheduler.address} "
                f"({threads}; shards of {', '.join(f'{n:,}' for n in sizes)} pairs)")
        pairs = ShardedPairs(sizes, infos[0]["target_offset"], text)
        self.offsets = pairs.offsets
        return pairs

    def bind(self, model, run=None):
        """Give every worker a model like ``model``; returns self (the Trainer's
        ``gradients``)."""
        self.model = model
        self.params = list(model.parameters())
        self._results([lambda actor=actor: actor.set_model(dict(model.config), str(model.dtype), self.threads)
                       for _, actor, _ in self.shards])
        return self

    def _results(self, calls, shards=None):
        """Make every call (all in flight at once), then wait for their results. A
        worker that is gone, or goes while we wait, raises WorkerLost (checked every
        :data:`POLL_S` seconds: a call to a dead worker may otherwise wait for ever)."""
        shards = self.shards if shards is None else shards
        try:
            futures = [call() for call in calls]
        except Exception as error:
            raise WorkerLost(" ".join(str(error).split()) or type(error).__name__) from None
        results = []
        for future, (shard, _, address) in zip(futures, shards):
            while True:
                try:
                    results.append(future.result(timeout=POLL_S))
                    break
                except TimeoutError:
                    if shard.status != "finished" or address not in self.live_workers():
                        raise WorkerLost(f"worker {address} is gone") from None
                except Exception as error:
                    raise WorkerLost(" ".join(str(error).split()) or type(error).__name__) from None
        return results

    def live_workers(self) -> set:
        return set(self.client.scheduler_info(n_workers=-1)["workers"])

    def gradients(self, indices, t, offset: int = 0, stop_at: int = 0) -> float:
        """Leave in the model's ``.grad`` the batch's gradient, the workers' parts added
        in a fixed order (see the module's docstring); returns the loss."""
        start = time.perf_counter()
        offsets = self.offsets
        weights = np.concatenate([p.data.ravel() for p in self.params])
        bounds = np.searchsorted(indices, offsets)
        sent = time.perf_counter()
        calls, shares, busy = [], [], []
        for k, shard in enumerate(self.shards):
            lo, hi = bounds[k], bounds[k + 1]
            if hi > lo:
                calls.append(lambda actor=shard[1], part=indices[lo:hi] - offsets[k]:
                             actor.gradients(weights, part, offset, stop_at))
                shares.append((hi - lo) / len(indices))
                busy.append(shard)
        results = self._results(calls, busy)  # WorkerLost: nothing has been updated
        received = time.perf_counter()
        loss = sum(share * part for share, (part, _, _) in zip(shares, results))
        if np.isfinite(loss):
            dtype = self.params[0].data.dtype.type
            total = None
            for share, (_, grads, _) in zip(shares, results):
                part = dtype(share) * grads
                total = part if total is None else total + part  # worker order: fixed
            at = 0
            for p in self.params:
                p.grad[...] = total[at:at + p.grad.size].reshape(p.grad.shape)
                at += p.grad.size
        computes = [seconds for _, _, seconds in results]
        stats = self.stats
        stats["steps"] += 1
        stats["call_s"] += received - sent
        stats["compute_max_s"] += max(computes)
        stats["compute_mean_s"] += sum(computes) / len(computes)
        stats["client_s"] += (sent - start) + (time.perf_counter() - received)
        return loss

    def close(self) -> None:
        """Release the shards (the actors go when their futures do)."""
        for future, _, _ in self.shards:
            future.release()
        self.shards = []


# ---------------------------------------------------------------------- the command
def run_folder(given: dict) -> Path:
    """The run folder :func:`minisr.training.run.train` uses for these options."""
    from ..training.run import DEFAULTS, model_dims, model_name

    default = f"runs/{model_name(*model_dims(given))}_x{given.get('scale', DEFAULTS['scale'])}"
    if given.get("finetune") == "deconv":
        default += "_deconv"
    return Path(given.get("out") or default)


def train_on_cluster(given: dict, command: str) -> int:
    """``python -m minisr.train ... --cluster SPEC``: :func:`minisr.training.run.train` with
    the pairs and gradients on the cluster. A lost worker: the run goes on from its
    last checkpoint with the workers that remain (at most :data:`MAX_RECOVERIES` times)."""
    from ..training.run import train
    from ..training.checkpoint import load_checkpoint

    given = dict(given)
    spec = given.pop("cluster")
    threads = worker_threads(spec, given.get("threads"))
    client = connect(spec)
    try:
        attempt, losses = dict(given), 0
        while True:
            backend = ClusterGradients(client, spec, threads)
            try:
                return train(dict(attempt), command, backend)
            except WorkerLost as lost:
                losses += 1
                out = run_folder(given)
                if losses > MAX_RECOVERIES:
                    raise ClusterError(f"lost workers {losses} times ({lost}); the last checkpoint in {out} "
                                       "is kept: continue with --resume") from None
                attempt = {k: v for k, v in given.items() if k not in ("resume", "overwrite")}
                attempt["out"] = str(out)
                if (out / "checkpoint.npz").exists():
                    step = load_checkpoint(out / "checkpoint.npz").state["step"]
                    attempt["resume"] = True
                    again = f"resuming from the checkpoint at step {step:,}"
                else:
                    attempt["overwrite"] = True
                    again = "no checkpoint yet: starting again"
                time.sleep(1.0)  # let the scheduler notice the loss
                workers = len(wait_for_workers(client, spec))
                message = f"a worker was lost ({lost}); {again} with the {workers} workers that remain"
                print(message, flush=True)
                if out.is_dir():
                    with open(out / "train.log", "a") as log:
                        log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')}  {message}\n")
            finally:
                backend.close()
    finally:
        client.close()
