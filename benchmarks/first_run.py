"""The very first run of minisr's commands (empty Numba cache): with the compiling shared
between two processes (``minisr/warmup.py``) against one process compiling it all
(``MINISR_COMPILE_HELPER=0``), in alternating rounds, each run with a fresh cache
folder; then the same command with the cache warm. ``--write`` writes the tables to
``experiments/results/first_run.md``.

    python benchmarks/first_run.py [--rounds 3] [--commands upscale evaluate train]
                                   [--data-dir DIR] [--write]

The commands (each in a process of its own, process start included):

* upscale: ``python -m minisr.upscale lenna.bmp -o OUT`` (Set14 lenna, x3, the shipped
  FSRCNN; without the data dir, a 256x256 RGB picture made here);
* evaluate: ``python -m minisr.evaluate --method fsrcnn --datasets Set5 --scales 3``;
* train: ``python -m minisr.train --train T91 --steps 20 --val-every 20`` with an empty
  training-pair cache too (the pairs are made, as on a first run).

Run it on a quiet machine: nothing else heavy at the same time.
"""

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULT = REPO / "experiments" / "results" / "first_run.md"
COMMANDS = ("upscale", "evaluate", "train")


def cpu_name() -> str:
    """The CPU as LLVM names it for Numba (e.g. ``znver3``: AVX2; ``znver5``: AVX-512)."""
    import llvmlite.binding as llvm
    return f"{platform.machine()} ({llvm.get_host_cpu_name()})"


def command_line(name: str, data_dir, scratch: Path) -> list:
    """The arguments after ``python -m`` for one run of ``name`` (its outputs in ``scratch``)."""
    if name == "upscale":
        image = Path(data_dir) / "Set14" / "lenna.bmp" if data_dir else scratch.parent / "small.png"
        return ["minisr.upscale", str(image), "-o", str(scratch / "out.png"), "--no-progress"]
    data = ["--data-dir", str(data_dir)] if data_dir else []
    if name == "evaluate":
        return ["minisr.evaluate", "--method", "fsrcnn", "--datasets", "Set5", "--scales", "3",
                "--no-progress", *data]
    return ["minisr.train", "--train", "T91", "--steps", "20", "--val-every", "20", "--no-progress",
            "--cache-dir", str(scratch / "pairs"), "--out", str(scratch / "run"), *data]


def timed_run(args: list, env: dict) -> float:
    """Wall time of one ``python -m ARGS`` (process start included)."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", *args], cwd=REPO, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"python -m {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return elapsed


def measure(name: str, rounds: int, data_dir, tmp: Path) -> dict:
    """{case: [seconds]} for the shared and alone cases (alternating) and the warm cache."""
    times = {"shared": [], "alone": [], "warm": []}
    for round_index in range(rounds):
        for case in ("shared", "alone"):
            scratch = tmp / f"{name}-{case}-{round_index}"
            scratch.mkdir()
            env = dict(os.environ, NUMBA_CACHE_DIR=str(scratch / "numba-cache"),
                       MINISR_COMPILE_HELPER="1" if case == "shared" else "0")
            times[case].append(timed_run(command_line(name, data_dir, scratch), env))
            print(f"{name} round {round_index + 1} {case}: {times[case][-1]:.2f} s", flush=True)
    warm_cache = tmp / f"{name}-shared-0" / "numba-cache"
    for index in range(3):
        scratch = tmp / f"{name}-warm-{index}"
        scratch.mkdir()
        if name == "train":  # the pairs as the first run left them: only the compiling differs
            (scratch / "pairs").symlink_to(tmp / f"{name}-shared-0" / "pairs")
        times["warm"].append(timed_run(command_line(name, data_dir, scratch),
                                       dict(os.environ, NUMBA_CACHE_DIR=str(warm_cache))))
    return times


def table(name: str, times: dict, data_dir) -> list:
    args = command_line(name, data_dir, Path("OUT"))
    shown = " ".join(a if not a.startswith(("/", "OUT")) else Path(a).name for a in args)
    shared, alone = statistics.median(times["shared"]), statistics.median(times["alone"])
    return [f"## `python -m {shown}`", "",
            "| case | runs (s) | median (s) |", "|---|---|---:|",
            f"| empty cache, compiling shared with a helper process (the default) | "
            f"{', '.join(f'{t:.1f}' for t in times['shared'])} | {shared:.1f} |",
            f"| empty cache, one process compiles everything (`MINISR_COMPILE_HELPER=0`) | "
            f"{', '.join(f'{t:.1f}' for t in times['alone'])} | {alone:.1f} |",
            f"| warm cache | {', '.join(f'{t:.2f}' for t in times['warm'])} | "
            f"{statistics.median(times['warm']):.2f} |",
            "", f"Shared against alone: {alone / shared:.2f}x faster (medians).", ""]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default: %(default)s)")
    parser.add_argument("--commands", nargs="+", choices=COMMANDS, default=list(COMMANDS),
                        help="which commands (default: all; evaluate and train need --data-dir)")
    parser.add_argument("--data-dir", help="folder of datasets (Set14, Set5, T91)")
    parser.add_argument("--write", action="store_true", help=f"write {RESULT.relative_to(REPO)}")
    args = parser.parse_args(argv)
    if not args.data_dir and set(args.commands) - {"upscale"}:
        parser.error("evaluate and train need --data-dir (or give --commands upscale)")
    began = time.perf_counter()
    sections = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if not args.data_dir:
            from PIL import Image
            rng = np.random.default_rng(0)
            Image.fromarray(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)).save(tmp / "small.png")
        for name in args.commands:
            sections += table(name, measure(name, args.rounds, args.data_dir, tmp), args.data_dir)
    given = " ".join(sys.argv[1:] if argv is None else argv)
    lines = ["# The first run: compiling shared by two processes", "",
             "Each command run in a process of its own with an empty Numba cache folder "
             "(`NUMBA_CACHE_DIR`), the two cases alternating, process start included; the warm "
             "runs reuse the first shared run's cache. Issue 14's target for the first "
             "`python -m minisr.upscale` is 5 s.",
             f"Written by `python benchmarks/first_run.py {given}` on {datetime.date.today()}: "
             f"{cpu_name()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
             f"{time.perf_counter() - began:.0f} s in all.", "", *sections]
    print("\n".join(lines))
    if args.write:
        RESULT.write_text("\n".join(lines))
        print(f"wrote {RESULT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
