"""Speed of minisr side by side with PyTorch on the CPU; ``--write`` writes the tables
to ``experiments/results/speed.md``.

    python benchmarks/speed.py [--write]

The whole-test-set timings need Set5, Set14 and BSD200 in the data dir
(``--data-dir``, else $MINISR_DATA, else ~/.cache/minisr); without them that table
is left out.

PyTorch is optional (``pip install torch==2.13.0`` takes the CPU build); without it
only minisr's figures are printed. PyTorch runs in a child process of its own
(``--torch-worker``), before minisr's cases: sharing a process, the two libraries' thread
pools got in each other's way and PyTorch's FSRCNN x3 pass varied between 33 and 95 ms.
Both use the same number of threads; times are medians after a warm-up. Nothing else
heavy should run meanwhile.
"""

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
USER_WAIT_POLICY = os.environ.get("OMP_WAIT_POLICY")  # before minisr sets its default

import numba  # noqa: E402

from minisr import FSRCNN  # noqa: E402
from minisr.profiling import gemm_gflops, median_time  # noqa: E402
from minisr.data import dataset_folder  # noqa: E402
from minisr.models import PRESETS  # noqa: E402
from minisr.optim import SGD, param_groups  # noqa: E402
from minisr.training.parallel import DataParallel  # noqa: E402

import importlib.util  # noqa: E402
import json  # noqa: E402

torch = None  # imported only in the --torch-worker child process
HAVE_TORCH = importlib.util.find_spec("torch") is not None  # the comparison is optional

MODELS = {"FSRCNN": PRESETS["fsrcnn"], "FSRCNN-s": PRESETS["fsrcnn-s"]}  # (d, s, m) by printed name
PAPER_TIMES = {  # Table 3, seconds per image (C++, i7 4.0 GHz), FSRCNN-s / FSRCNN
    ("Set5", 2): (0.024, 0.068), ("Set14", 2): (0.061, 0.16), ("BSD200", 2): (0.033, 0.098),
    ("Set5", 3): (0.010, 0.027), ("Set14", 3): (0.023, 0.061), ("BSD200", 3): (0.013, 0.035),
    ("Set5", 4): (0.0052, 0.015), ("Set14", 4): (0.0099, 0.029), ("BSD200", 4): (0.0072, 0.019),
}


def machine() -> str:
    try:
        model = next(line.split(":", 1)[1].strip() for line in subprocess.run(
            ["lscpu"], capture_output=True, text=True).stdout.splitlines() if line.startswith("Model name"))
    except (OSError, StopIteration):
        model = platform.processor() or platform.machine()
    return f"{model}, {os.cpu_count()} CPUs"


def set_threads(n: int) -> None:
    numba.set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)


def torch_worker(repeat: int) -> None:
    """Child process: every PyTorch case of the tables, printed as one JSON object."""
    global torch
    if USER_WAIT_POLICY is None:  # PyTorch's OpenMP runs with its own default, not minisr's
        os.environ.pop("OMP_WAIT_POLICY", None)
    import torch as imported
    torch = imported
    results = {"version": torch.__version__, "forward": {}, "train": {}}
    for threads in (2, 1):
        set_threads(threads)
        for variant, (d, s, m) in MODELS.items():
            for scale in (3, 2, 4):
                results["forward"][f"{variant} {scale} {threads}"] = torch_forward_time(d, s, m, scale, 253, repeat)
        results["train"][str(threads)] = torch_train_time(128, 11, repeat)
    print(json.dumps(results))


def torch_times(repeat: int):
    """PyTorch's times, measured in a child process (None without PyTorch)."""
    if not HAVE_TORCH:
        return None
    result = subprocess.run([sys.executable, __file__, "--torch-worker", "--repeat", str(repeat)],
                            capture_output=True, text=True, cwd=REPO)
    if result.returncode != 0:
        raise RuntimeError(f"the PyTorch worker failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------- PyTorch twins
def torch_fsrcnn(d, s, m, scale):
    nn = torch.nn
    layers = [nn.Conv2d(1, d, 5, padding=2), nn.PReLU(d), nn.Conv2d(d, s, 1), nn.PReLU(s)]
    for _ in range(m):
        layers += [nn.Conv2d(s, s, 3, padding=1), nn.PReLU(s)]
    layers += [nn.Conv2d(s, d, 1), nn.PReLU(d),
               nn.ConvTranspose2d(d, 1, 9, stride=scale, padding=4, output_padding=scale - 1)]
    return nn.Sequential(*layers)


def torch_forward_time(d, s, m, scale, size, repeat):
    net = torch_fsrcnn(d, s, m, scale).eval()
    x = torch.rand(1, 1, size, size)
    with torch.inference_mode():
        net(x)
        return median_time(lambda: net(x), repeat)


def torch_train_time(batch, patch, repeat):
    net = torch_fsrcnn(56, 12, 4, 3)
    opt = torch.optim.SGD(net.parameters(), lr=1e-4, momentum=0.9)
    x = torch.rand(batch, 1, patch, patch)
    target = torch.rand(batch, 1, 3 * patch, 3 * patch)

    def step():
        opt.zero_grad()
        torch.nn.functional.mse_loss(net(x), target).backward()
        opt.step()

    step()
    return median_time(step, repeat)


# ----------------------------------------------------------------------- minisr
def minisr_forward_time(d, s, m, scale, size, repeat):
    model = FSRCNN(d, s, m, scale)
    x = np.random.default_rng(0).random((1, 1, size, size), dtype=np.float32)
    model.infer(x)
    return median_time(lambda: model.infer(x), repeat)


def minisr_train_time(batch, patch, repeat):
    model = FSRCNN(56, 12, 4, 3)
    opt = SGD(param_groups(model.named_parameters(), 1e-3, {"deconv.": 1e-4}), momentum=0.9)
    rng = np.random.default_rng(0)
    x = rng.random((batch, 1, patch, patch), dtype=np.float32)
    target = rng.random((batch, 1, 3 * patch - 2, 3 * patch - 2), dtype=np.float32)

    parallel = DataParallel(model, numba.get_num_threads())  # as python -m minisr.train runs it

    def step():
        parallel.gradients(x, target)
        opt.step()

    step()
    try:
        return median_time(step, repeat)
    finally:
        parallel.close()


def test_set_times(data_dir, repeat_small):
    """Mean time per image (network only, Y channel) over each test set."""
    from minisr.data import dataset_files
    from minisr.image.protocol import load_test_pair

    rows = []
    for scale in (2, 3, 4):
        for name in ("Set5", "Set14", "BSD200"):
            lrs = [load_test_pair(p, scale)[1].astype(np.float32)[None, None]
                   for p in dataset_files(name, data_dir)]
            times = []
            for variant, (d, s, m) in MODELS.items():
                model = FSRCNN(d, s, m, scale)
                model.infer(lrs[0])
                start = time.perf_counter()
                for _ in range(repeat_small):
                    for lr in lrs:
                        model.infer(lr)
                times.append((time.perf_counter() - start) / (repeat_small * len(lrs)))
            rows.append((name, scale, times[1], times[0]))
    return rows


def run_upscale(args, env=None):
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "minisr.upscale", *args], capture_output=True,
                            text=True, env=env, cwd=REPO)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"upscale failed: {result.stderr}")
    return wall, result.stderr


def peak_rss_mib(args) -> float:
    """Peak resident memory (MiB) of one ``python -m minisr.upscale`` run."""
    code = ("import resource, runpy, sys; sys.argv = ['minisr.upscale'] + sys.argv[1:]\n"
            "try:\n    runpy.run_module('minisr.upscale', run_name='__main__')\n"
            "except SystemExit as e:\n    assert not e.code, e.code\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=REPO)
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    return float(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", metavar="DIR", help="folder of datasets, for the test-set "
                        "timings (default: $MINISR_DATA or ~/.cache/minisr)")
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per case (the median is kept)")
    parser.add_argument("--write", action="store_true",
                        help="write the tables to --out (a tracked file); without it they are only printed")
    parser.add_argument("--out", default=str(REPO / "experiments" / "results" / "speed.md"),
                        metavar="FILE", help="where --write writes (default: experiments/results/speed.md)")
    parser.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.torch_worker:
        return torch_worker(args.repeat)
    size = 253
    theirs_all = torch_times(args.repeat)
    lines = [
        "# Speed: minisr and PyTorch on the CPU, side by side",
        "",
        "Generated by `python benchmarks/speed.py --write` on "
        f"{datetime.date.today().isoformat()}; machine: {machine()}; float32; "
        f"minisr {__import__('minisr').__version__} (Numba {numba.__version__}), "
        + (f"PyTorch {theirs_all['version']}" if theirs_all else "PyTorch not installed") + ". "
        "Medians of repeated runs after a warm-up; each library uses the thread count given; "
        "PyTorch runs in a process of its own, before minisr's cases.",
        "",
    ]
    set_threads(2)
    peak = gemm_gflops(2048, 3)
    lines += [f"NumPy float32 GEMM 2048^3 (2 threads): {peak:.0f} GFLOP/s: the yardstick for the "
              "machine's peak.", ""]

    lines += ["## 1. Inference, LR 253x253 (x3: 759x759 output)", "",
              "| model | scale | threads | minisr ms | fps | GFLOP/s | % GEMM peak | PyTorch ms | speed-up |",
              "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for threads in (2, 1):
        set_threads(threads)
        for variant, (d, s, m) in MODELS.items():
            for scale in (3, 2, 4):
                ours = minisr_forward_time(d, s, m, scale, size, args.repeat)
                flops = 2 * FSRCNN(d, s, m, scale).macs_per_lr_pixel() * size * size
                theirs = theirs_all["forward"][f"{variant} {scale} {threads}"] if theirs_all else None
                lines.append(
                    f"| {variant} | x{scale} | {threads} | {ours * 1e3:.1f} | {1 / ours:.0f} | "
                    f"{flops / ours / 1e9:.0f} | {100 * flops / ours / 1e9 / peak:.0f} | "
                    + (f"{theirs * 1e3:.1f} | {theirs / ours:.2f}x |" if theirs else "- | - |"))
                print(lines[-1], flush=True)
    lines.append("")

    lines += ["## 2. Training step, FSRCNN x3, 128 LR patches 11x11 (forward, backward, SGD)", "",
              "| threads | minisr ms | M LR px/s | PyTorch ms | PyTorch M LR px/s | speed-up |",
              "|---|---:|---:|---:|---:|---:|"]
    pixels = 128 * 11 * 11
    for threads in (2, 1):
        set_threads(threads)
        ours = minisr_train_time(128, 11, args.repeat)
        theirs = theirs_all["train"][str(threads)] if theirs_all else None
        lines.append(f"| {threads} | {ours * 1e3:.1f} | {pixels / ours / 1e6:.2f} | "
                     + (f"{theirs * 1e3:.1f} | {pixels / theirs / 1e6:.2f} | {theirs / ours:.2f}x |"
                        if theirs else "- | - | - |"))
        print(lines[-1], flush=True)
    lines.append("")
    set_threads(2)

    if all(dataset_folder(name, args.data_dir).is_dir() for name in ("Set5", "Set14", "BSD200")):
        lines += ["## 3. Whole test sets: mean time per image (network only, 2 threads)", "",
                  "| set | scale | FSRCNN-s ms | paper FSRCNN-s ms | FSRCNN ms | paper FSRCNN ms |",
                  "|---|---|---:|---:|---:|---:|"]
        for name, scale, small, big in test_set_times(args.data_dir, 3):
            paper_small, paper_big = PAPER_TIMES[(name, scale)]
            lines.append(f"| {name} | x{scale} | {small * 1e3:.1f} | {paper_small * 1e3:.1f} | "
                         f"{big * 1e3:.1f} | {paper_big * 1e3:.1f} |")
            print(lines[-1], flush=True)
        lines += ["", "The paper's times are its Table 3 (C++ on an i7 at 4.0 GHz, one thread).", ""]

    with tempfile.TemporaryDirectory() as tmp:
        from PIL import Image
        rng = np.random.default_rng(0)
        weights = Path(tmp) / "fsrcnn_x3.npz"
        FSRCNN(56, 12, 4, 3).save(weights)
        small = Path(tmp) / "small.png"
        Image.fromarray(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)).save(small)
        fresh_cache = Path(tmp) / "numba-cache"
        env = dict(os.environ, NUMBA_CACHE_DIR=str(fresh_cache))
        first, said = run_upscale([str(small), "--weights", str(weights), "-o", str(Path(tmp) / "a.png")], env)
        warm = min(run_upscale([str(small), "--weights", str(weights), "-o", str(Path(tmp) / f"b{i}.png")])[0]
                   for i in range(3))
        lines += ["## 4. Start-up: `python -m minisr.upscale` on a 256x256 RGB image (x3)", "",
                  "| case | wall time |", "|---|---:|",
                  f"| first run, empty Numba cache (compiles every kernel) | {first:.1f} s |",
                  f"| warm cache (best of 3) | {warm:.2f} s |", "",
                  "What the first run printed on stderr: "
                  f"`{said.strip().splitlines()[0] if said.strip() else '(nothing)'}`", ""]
        print("\n".join(lines[-8:]), flush=True)

        big = Path(tmp) / "big.png"
        Image.fromarray(rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8)).save(big)
        tiled_out, whole_out = Path(tmp) / "tiled.png", Path(tmp) / "whole.png"
        tiled = peak_rss_mib([str(big), "--weights", str(weights), "-o", str(tiled_out), "--no-progress"])
        whole = peak_rss_mib([str(big), "--weights", str(weights), "-o", str(whole_out), "--tile", "0",
                              "--no-progress"])
        same = np.array_equal(np.asarray(Image.open(tiled_out)), np.asarray(Image.open(whole_out)))
        lines += ["## 5. Memory: 1280x720 RGB -> 3840x2160 (x3), peak resident memory of the process", "",
                  "| case | peak RSS |", "|---|---:|",
                  f"| default tiling (`--tile 384`) | {tiled:.0f} MiB |",
                  f"| one tile (`--tile 0`) | {whole:.0f} MiB |", "",
                  f"Tiled and untiled outputs identical: {'yes' if same else 'NO'}.", ""]
        print("\n".join(lines[-8:]), flush=True)

    if args.write:
        Path(args.out).write_text("\n".join(lines) + "\n")
        print(f"written to {args.out}")
    else:
        print(f"(not written; run with --write to replace {args.out})")


if __name__ == "__main__":
    main()
