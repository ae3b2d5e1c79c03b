"""The very first ``python -m minisr.upscale`` (empty Numba cache): with the compiling
shared between two processes (``minisr/warmup.py``) against one process compiling it
all (``MINISR_COMPILE_HELPER=0``), in alternating rounds, each run with a fresh cache
folder; then the same command with the cache warm. ``--write`` writes the table to
``experiments/results/first_run.md``.

    python benchmarks/first_run.py [--rounds 3] [--image FILE] [--write]

The image defaults to a 256x256 RGB picture made here (x3, the shipped weights). Run it
on a quiet machine: nothing else heavy at the same time.
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


def run_upscale(image: Path, out: Path, env: dict) -> float:
    """Wall time of one ``python -m minisr.upscale IMAGE -o OUT`` (process start included)."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "minisr.upscale", str(image), "-o", str(out),
                             "--overwrite", "--no-progress"], cwd=REPO, env=env,
                            capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"python -m minisr.upscale failed:\n{result.stderr}")
    return elapsed


def cpu_name() -> str:
    """The CPU as LLVM names it for Numba (e.g. ``znver3``: AVX2; ``znver5``: AVX-512)."""
    import llvmlite.binding as llvm
    return f"{platform.machine()} ({llvm.get_host_cpu_name()})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default: %(default)s)")
    parser.add_argument("--image", type=Path, help="input image (default: a 256x256 RGB picture)")
    parser.add_argument("--write", action="store_true", help=f"write {RESULT.relative_to(REPO)}")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    times = {"shared": [], "alone": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        image = args.image
        if image is None:
            from PIL import Image
            image = tmp / "small.png"
            rng = np.random.default_rng(0)
            Image.fromarray(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)).save(image)
        for round_index in range(args.rounds):
            for case in ("shared", "alone"):
                cache = tmp / f"cache-{case}-{round_index}"
                env = dict(os.environ, NUMBA_CACHE_DIR=str(cache),
                           MINISR_COMPILE_HELPER="1" if case == "shared" else "0")
                times[case].append(run_upscale(image, tmp / "out.png", env))
                print(f"round {round_index + 1} {case}: {times[case][-1]:.2f} s", flush=True)
        warm_env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp / "cache-shared-0"))
        warm = [run_upscale(image, tmp / "out.png", warm_env) for _ in range(3)]
    shared, alone = statistics.median(times["shared"]), statistics.median(times["alone"])
    name = "a 256x256 RGB picture made by the script" if args.image is None else f"`{args.image.name}`"
    lines = [
        "# The first run: compiling shared by two processes", "",
        f"`python -m minisr.upscale IMAGE -o OUT` on {name}, x3 with the shipped FSRCNN, each run "
        "with an empty Numba cache folder (`NUMBA_CACHE_DIR`), the two cases alternating.",
        f"Written by `python benchmarks/first_run.py {' '.join(sys.argv[1:] if argv is None else argv)}` on "
        f"{datetime.date.today()}: {cpu_name()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; {time.perf_counter() - began:.0f} s in all.", "",
        "| case | runs (s) | median (s) |", "|---|---|---:|",
        f"| compiling shared with a helper process (the default) | "
        f"{', '.join(f'{t:.1f}' for t in times['shared'])} | {shared:.1f} |",
        f"| one process compiles everything (`MINISR_COMPILE_HELPER=0`) | "
        f"{', '.join(f'{t:.1f}' for t in times['alone'])} | {alone:.1f} |",
        f"| warm cache, for comparison | {', '.join(f'{t:.2f}' for t in warm)} | {statistics.median(warm):.2f} |",
        "", f"Shared against alone: {alone / shared:.2f}x faster. Issue 14's target for the first run is 5 s.", ""]
    print("\n".join(lines))
    if args.write:
        RESULT.write_text("\n".join(lines))
        print(f"wrote {RESULT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
