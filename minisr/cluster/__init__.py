"""Running minisr's jobs on a Dask cluster (``--cluster``): optional, needs ``dask[distributed]``.

    pip install -e .[dask]
    python -m minisr.upscale photos/ --out-dir big --cluster local:2        # 2 worker processes here
    python -m minisr.upscale photos/ --out-dir big --cluster tcp://head:8786  # a running scheduler
    python -m minisr.sweep --cluster tcp://head:8786 --grid d=48,56 s=12,16 m=2,3,4 -- --steps 200000
    python -m minisr.train --cluster tcp://head:8786 --train DIV2K ...         # one model, data-parallel

``SPEC`` is ``local:N`` (a ``LocalCluster`` of N worker processes on this machine, one
task at a time each, the cores shared out between them) or the address of a running
scheduler (``tcp://HOST:8786``; start one with ``dask scheduler`` and a worker per
machine with ``dask worker tcp://HOST:8786 --nthreads 1``: one task at a time, which
uses every core of its machine through Numba's threads).

Every path a job names (inputs, outputs, run folders, training images) must mean the
same file on the client and on every worker: one machine, or a shared file system.

Nothing in minisr imports dask at module level: without it installed, minisr works as
before and ``--cluster`` says in one line how to get it (:func:`connect`).

Modules: :mod:`minisr.cluster.upscale` (batch upscaling), :mod:`minisr.cluster.sweep`
(many trainings), :mod:`minisr.cluster.data_parallel` (one training, gradients from
every worker).
"""

import logging
import os

__all__ = ["ClusterError", "connect", "worker_threads", "require_dask"]

MISSING = "--cluster needs dask: pip install minisr[dask]"
CONNECT_TIMEOUT = "20s"


class ClusterError(ValueError):
    """A cluster that cannot be used: a one-line message (no dask, a bad spec, an
    unreachable scheduler, no workers)."""


def require_dask():
    """The ``distributed`` module, or ClusterError with the line that says how to get it."""
    try:
        import distributed
    except ImportError:
        raise ClusterError(MISSING) from None
    return distributed


def parse_spec(spec: str):
    """``"local:N"`` -> ("local", N); ``"tcp://HOST:PORT"`` (any ``scheme://``) ->
    ("address", spec); ClusterError for anything else."""
    spec = str(spec).strip()
    if spec.startswith("local:"):
        count = spec[len("local:"):]
        if not count.isdigit() or int(count) < 1:
            raise ClusterError(f"--cluster local:N needs a number of worker processes N >= 1, got {spec!r}")
        return "local", int(count)
    if "://" in spec:
        return "address", spec
    raise ClusterError(f"--cluster takes local:N (N worker processes on this machine) or a scheduler's "
                       f"address such as tcp://HOST:8786, got {spec!r}")


def connect(spec: str, timeout: str = CONNECT_TIMEOUT):
    """A ``distributed.Client`` for ``spec`` (see the module's docstring); closing it
    also stops a ``local:N`` cluster. Raises ClusterError (one line) when dask is not
    installed, the spec is malformed or the scheduler cannot be reached."""
    kind, value = parse_spec(spec)
    distributed = require_dask()
    if kind == "local":
        try:
            return distributed.Client(n_workers=value, threads_per_worker=1, processes=True,
                                      dashboard_address=":0", silence_logs=logging.CRITICAL)
        except Exception as error:  # ports, spawn failures: say it in one line
            raise ClusterError(f"could not start {value} local dask workers ({error})") from None
    try:
        client = distributed.Client(value, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as error:
        raise ClusterError(f"cannot reach the dask scheduler at {value} ({' '.join(str(error).split())}); "
                           f"start one with 'dask scheduler' and workers with 'dask worker {value}'") from None
    return client


def wait_for_workers(client, spec: str, seconds: float = 60.0) -> list:
    """Addresses of the cluster's workers, in a fixed (sorted) order, after waiting up
    to ``seconds`` for at least one; ClusterError if none comes."""
    try:
        client.wait_for_workers(1, timeout=seconds)
    except (TimeoutError, OSError):
        raise ClusterError(f"the dask scheduler at {spec} has no workers; start some with "
                           f"'dask worker ADDRESS'") from None
    return sorted(client.scheduler_info(n_workers=-1)["workers"])


def worker_threads(spec: str, threads=None):
    """Numba threads for each task: ``threads`` if given; for ``local:N`` this
    machine's cores shared out (at least 1 each); for a remote cluster None (every
    core of the worker's machine, Numba's default)."""
    if threads:
        return int(threads)
    kind, value = parse_spec(spec)
    if kind == "local":
        return max(1, (os.cpu_count() or 1) // value)
    return None


_MALLOC_TUNED = False


def tune_malloc() -> None:
    """On a worker: undo what Dask's nanny sets for its workers, ``MALLOC_TRIM_THRESHOLD_=65536``
    (``distributed.nanny.pre-spawn-environ``). With it glibc hands every freed block above
    64 KiB back to the system, and a training step, which allocates and frees hundreds
    of such arrays, ran 2.1x slower (58.9 ms instead of 28.8 ms for FSRCNN x3 at batch 128,
    one thread, measured in one process with and without the variable). Setting the
    thresholds explicitly (glibc's ``mallopt``: 32 MiB for mmap, 64 MiB for trimming,
    about where glibc's own adaptive thresholds settle) brings back the normal speed
    (27.3 ms). Once per process; nothing where glibc is not the C library."""
    global _MALLOC_TUNED
    if _MALLOC_TUNED:
        return
    _MALLOC_TUNED = True
    if not os.environ.get("MALLOC_TRIM_THRESHOLD_"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 32 << 20)
        libc.mallopt(m_trim_threshold, 64 << 20)
    except (OSError, AttributeError):
        pass


def use_threads(threads) -> None:
    """On a worker: run this thread's Numba kernels on ``threads`` threads (capped at
    the worker machine's count); None leaves Numba's default. Also :func:`tune_malloc`."""
    tune_malloc()
    if threads:
        import numba

        numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
