"""Speed benchmark: ``python -m minisr.bench``.

Prints, per layer and in total, the time of

1. an FSRCNN forward pass on one LR image (default 253x253 -> 759x759 at x3), and
2. one training step (forward + backward through the MSE loss) on a batch of LR
   patches (default 128 patches of 11x11),

with the multiply-adds turned into GFLOP/s (1 MAC = 2 FLOP), beside a NumPy float32
GEMM measured in the same run as a yardstick for the machine's peak. Times are medians
of ``--repeat`` runs after a warm-up run (which also triggers Numba's compilation).
Set ``NUMBA_NUM_THREADS`` (or ``--threads``) to choose the number of threads.

``--compare-kernels`` instead times the same passes (and each layer's forward pass) on
the fast kernels and on the reference kernels (``minisr/kernels/reference.py``), in one
run: what the fast kernels' tricks buy (``minisr/kernels/__init__.py``).

This module reads the options and prints the tables; the measuring is
:mod:`minisr.profiling`.
"""

import argparse
import os
import platform
import sys

import numpy as np

from ._jit import set_threads
from .model import FSRCNN
from .models import PRESETS
from .profiling import (compare_kernels, data_parallel_step_time, gemm_gflops, profile_forward,
                        profile_training_step, trick_ablations)

D, S, M = PRESETS["fsrcnn"]


def format_table(title: str, rows, total: float, total_flops: float, peak: float, extra=()) -> str:
    """A markdown table: time, GFLOP, GFLOP/s and % of the GEMM yardstick ``peak``."""
    def rate(flops, seconds):
        if not flops:
            return "- | -"
        gflops = flops / seconds / 1e9
        return f"{gflops:.1f} | {100 * gflops / peak:.0f}"

    lines = [title, "", "| layer | ms | GFLOP | GFLOP/s | % GEMM peak |", "|---|---:|---:|---:|---:|"]
    for name, seconds, flops in rows:
        lines.append(f"| {name} | {seconds * 1e3:.2f} | {flops / 1e9:.3f} | {rate(flops, seconds)} |")
    layer_sum = sum(r[1] for r in rows)
    lines.append(f"| sum of layers | {layer_sum * 1e3:.2f} | | | |")
    lines.append(f"| **whole pass** | **{total * 1e3:.2f}** | {total_flops / 1e9:.3f} | "
                 f"{rate(total_flops, total)} |")
    for name, seconds in extra:  # other ways to run the whole pass
        lines.append(f"| **{name}** | **{seconds * 1e3:.2f}** | {total_flops / 1e9:.3f} | "
                     f"{rate(total_flops, seconds)} |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m minisr.bench",
        description="Time FSRCNN's forward pass and training step, layer by layer, in ms and "
                    "GFLOP/s, beside NumPy's GEMM speed as a yardstick.")
    parser.add_argument("--d", type=int, default=D, help="FSRCNN's d: feature channels (default: %(default)s)")
    parser.add_argument("--s", type=int, default=S, help="FSRCNN's s: shrunk channels (default: %(default)s)")
    parser.add_argument("--m", type=int, default=M, help="FSRCNN's m: mapping layers (default: %(default)s)")
    parser.add_argument("--scale", type=int, default=3, help="upscaling factor (default: %(default)s)")
    parser.add_argument("--lr-size", type=int, default=253,
                        help="LR image side for the forward pass (default: %(default)s)")
    parser.add_argument("--batch", type=int, default=128, help="patches per training step (default: %(default)s)")
    parser.add_argument("--patch", type=int, default=11,
                        help="LR patch side for the training step (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=10,
                        help="timed runs per measurement; the median is reported (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=None,
                        help="Numba threads (default: $NUMBA_NUM_THREADS or every core)")
    parser.add_argument("--compare-kernels", action="store_true",
                        help="time the whole passes and each layer on the fast and on the reference "
                             "kernels (minisr/kernels/reference.py) instead")
    return parser


# The smallest value of each numeric option (checked before any work, one line each).
LOWEST = {"d": 1, "s": 1, "m": 0, "scale": 2, "lr_size": 1, "batch": 1, "patch": 1, "repeat": 1}


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for key, low in LOWEST.items():
        if getattr(args, key) < low:
            parser.error(f"--{key.replace('_', '-')} must be at least {low}, got {getattr(args, key)}")

    import numba
    if args.threads is not None:
        try:
            set_threads(args.threads)
        except ValueError as error:
            parser.error(str(error))

    if args.compare_kernels:
        print(f"minisr kernels, fast vs reference: FSRCNN({args.d}, {args.s}, {args.m}) x{args.scale}, "
              f"float32, {numba.get_num_threads()} Numba thread(s), {os.cpu_count()} CPU(s)\n", flush=True)
        sizes = {key: getattr(args, key) for key in ("d", "s", "m", "scale", "lr_size", "batch", "patch", "repeat")}
        print(compare_kernels(**sizes))
        print()
        print(trick_ablations(**sizes))
        return 0

    rng = np.random.default_rng(0)
    model = FSRCNN(args.d, args.s, args.m, args.scale)
    print(f"minisr benchmark: FSRCNN({args.d}, {args.s}, {args.m}) x{args.scale}, float32, "
          f"{numba.get_num_threads()} Numba thread(s), {os.cpu_count()} CPU(s), "
          f"{platform.processor() or platform.machine()}", flush=True)

    x = rng.random((1, 1, args.lr_size, args.lr_size), dtype=np.float32)
    forward_rows, forward_total = profile_forward(model, x, args.repeat)
    forward_flops = 2.0 * model.macs_per_lr_pixel() * args.lr_size ** 2
    out = model.infer(x).shape[-1]

    xb = rng.random((args.batch, 1, args.patch, args.patch), dtype=np.float32)
    target = rng.random(model.forward(xb).shape, dtype=np.float32)
    train_rows, train_total = profile_training_step(model, xb, target, args.repeat)
    split = data_parallel_step_time(model, xb, target, args.repeat)
    first = model.layers[0].macs_per_input_pixel()  # no input gradient for the first layer
    train_flops = 2.0 * (3 * model.macs_per_lr_pixel() - first) * args.batch * args.patch ** 2
    pixels = args.batch * args.patch ** 2
    workers = numba.get_num_threads()

    # Measured last (printed first), so that no thread of NumPy's BLAS pool is around
    # while minisr's passes are timed (the trap of two thread pools on 2 cores).
    peak = gemm_gflops()
    print(f"NumPy float32 GEMM 1024^3: {peak:.1f} GFLOP/s (yardstick)\n")
    print(format_table(f"Forward, LR {args.lr_size}x{args.lr_size} -> {out}x{out} "
                       f"({1 / forward_total:.1f} images/s)", forward_rows, forward_total,
                       forward_flops, peak))
    print("(Each row runs one step of infer() alone, as infer() runs it: a convolution with its PReLU "
          "fused, writing into the next layer's padded input, in arrays kept between calls.)\n")
    print(format_table(f"Training step (forward + backward), {args.batch} LR patches "
                       f"{args.patch}x{args.patch} ({pixels / split / 1e6:.2f} M LR px/s as "
                       f"python -m minisr.train runs it)", train_rows, train_total, train_flops, peak,
                       extra=[(f"batch split across {workers} worker threads (python -m minisr.train)", split)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
