"""Many trainings as tasks on a Dask cluster: ``python -m minisr.sweep`` (see :mod:`minisr.sweep`).

Each run is one task that calls :func:`minisr.training.command.main` (what
``python -m minisr.train`` runs) on a worker with the
sweep's common options, the run's grid values and ``--out RUNS_DIR/NAME``, so it
writes its usual run folder (settings.json, train.log, log.csv, checkpoint.npz,
best.npz, last.npz) and is exactly the run the same command would make alone.

Resuming: the task looks in its run folder first. A checkpoint there means the run
was started before (by an earlier sweep, or by this one on a worker that died: the
scheduler then gives the task to another worker) and it goes on with ``--resume``; a
finished run only says so. A folder with run files but no checkpoint is a start
this sweep made that died before its first save, and starts again; one found so
when the sweep begins is refused unless ``--overwrite``. How often a run saves is
``--save-every`` (default: with each validation, ``--val-every``).
"""

import contextlib
import io
import itertools
import re
import time
from pathlib import Path

from . import ClusterError, connect, use_threads, worker_threads

TAIL_LINES = 3


def parse_grid(items) -> list:
    """``["d=48,56", "m=2,3"]`` -> ``[("d", ["48", "56"]), ("m", ["2", "3"])]``."""
    grid = []
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip().lstrip("-").replace("-", "_")
        values = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not re.fullmatch(r"[a-z][a-z0-9_]*", key) or not values:
            raise ClusterError(f"--grid takes KEY=V1,V2,... (a minisr.train option without its dashes), "
                               f"got {item!r}")
        if key in (k for k, _ in grid):
            raise ClusterError(f"--grid names {key} twice")
        grid.append((key, values))
    return grid


def run_name(point) -> str:
    """``[("d", "48"), ("lr", "1e-3")]`` -> ``"d48_lr1e-3"`` (safe as a folder name)."""
    return "_".join(f"{key}{re.sub(r'[^A-Za-z0-9.+-]', '-', value)}" for key, value in point) or "run"


def expand(grid, common) -> list:
    """Every run of the grid: [(name, argv for minisr.train, without --out)]."""
    from ..training.command import build_parser

    parser = build_parser()
    runs = []
    for point in itertools.product(*[[(key, v) for v in values] for key, values in grid]):
        argv = list(common)
        for key, value in point:
            argv += [f"--{key.replace('_', '-')}", value]
        stderr = io.StringIO()
        try:
            with contextlib.redirect_stderr(stderr):
                parser.parse_args(argv)
        except SystemExit:
            problem = (stderr.getvalue().strip().splitlines() or ["?"])[-1]
            raise ClusterError(f"run {run_name(point)}: {problem.replace('python -m minisr.train: ', '')}") from None
        runs.append((run_name(point), argv))
    return runs


def run_training(name: str, argv, out: str, fresh: bool, threads):
    """On a worker: one run of the sweep (see the module's docstring). Returns
    (name, exit status, what it did, the last lines it printed, seconds)."""
    from ..training.command import main
    from ..training.run import RUN_FILES

    start = time.perf_counter()
    use_threads(threads)
    out = Path(out)
    args = list(argv) + ["--out", str(out), "--no-progress"]
    if threads and "--threads" not in argv:
        args += ["--threads", str(threads)]
    if (out / "checkpoint.npz").exists():
        args.append("--resume")
        how = "resumed"
    elif fresh and out.is_dir() and any((out / f).exists() for f in RUN_FILES):
        args.append("--overwrite")  # this sweep started it on a worker that died before saving
        how = "restarted"
    else:
        how = "started"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        status = main(args)
    tail = [line for line in printed.getvalue().splitlines() if line.strip()][-TAIL_LINES:]
    return name, status, how, tail, time.perf_counter() - start


def sweep(spec: str, grid, common, runs_dir, threads=None, overwrite: bool = False) -> int:
    """Run every point of ``grid`` with the options ``common`` as tasks on ``spec``;
    one line per finished run, a summary; returns 0 if every run exited 0, else 1."""
    from distributed import as_completed

    from ..training.run import RUN_FILES

    for option in ("--out", "--resume", "--overwrite", "--cluster"):
        if any(arg == option or arg.startswith(option + "=") for arg in common):
            raise ClusterError(f"{option} is the sweep's to set; leave it out of the training options")
    runs = expand(grid, common)
    runs_dir = Path(runs_dir).resolve()  # workers may have another working directory
    plan = []
    for name, argv in runs:
        out = runs_dir / name
        started = out.is_dir() and any((out / f).exists() for f in RUN_FILES)
        resumable = (out / "checkpoint.npz").exists()
        if started and not resumable and not overwrite:
            raise ClusterError(f"{out} holds a run with no checkpoint to resume; remove it or give --overwrite")
        plan.append((name, argv, out, not resumable))
    threads = worker_threads(spec, threads)
    client = connect(spec)
    failed = 0
    try:
        futures = {client.submit(run_training, name, argv, str(out), fresh, threads, pure=False,
                                 key=f"minisr-run-{name}-{time.time_ns()}"): name
                   for name, argv, out, fresh in plan}
        print(f"sweep: {len(plan)} runs in {runs_dir} on {spec}", flush=True)
        for future in as_completed(futures):
            name = futures[future]
            if future.status != "finished":
                failed += 1
                error = future.exception() if future.status == "error" else future.status
                print(f"{name}: failed on the cluster ({type(error).__name__}: {error}); "
                      f"run the sweep again to resume it", flush=True)
                continue
            name, status, how, tail, seconds = future.result()
            failed += status != 0
            print(f"{name}: {how}, exit {status} after {seconds / 60:.1f} min: {tail[-1] if tail else ''}",
                  flush=True)
            if status != 0:
                for line in tail[:-1]:
                    print(f"    {line}", flush=True)
    except KeyboardInterrupt:
        client.cancel(list(futures))
        raise
    finally:
        client.close()
    print(f"{len(plan) - failed} runs finished, {failed} failed (run folders in {runs_dir})", flush=True)
    return 1 if failed else 0
