"""minisr on a Dask cluster (--cluster) against the plain local commands, on this machine.

    python benchmarks/cluster.py --data-dir ../shared/datasets            # prints the tables
    python benchmarks/cluster.py --data-dir ../shared/datasets --write    # also experiments/results/cluster.md

1. Upscaling: ``python -m minisr.upscale BSD200/ --out-dir TMP`` (200 images, FSRCNN x3,
   shipped weights) plainly, with ``--cluster local:1`` and ``--cluster local:2``:
   images/s over the batch, and the wall time including the cluster's start.
2. Training: FSRCNN x3 steps on T91 pairs (batch 128 and 512) plainly (one process,
   ``DataParallel`` over the cores) and data-parallel on ``local:1`` and ``local:2``
   (:class:`minisr.cluster.data_parallel.ClusterGradients`), with each step split into
   the workers' compute, waiting (the slowest worker's compute less the mean), the
   exchange (the rest of the round trip: weights out, gradients back, Dask's
   messaging) and the client (adding the gradients, the optimiser step).
3. A model of the speed-up at 2, 8 and 32 machines of 16 cores, from those
   measurements (see :func:`model_rows` for its assumptions).
"""

import argparse
import contextlib
import io
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from minisr.data import DatasetError, dataset_files  # noqa: E402

RESULTS = ROOT / "experiments" / "results" / "cluster.md"
SPECS = ("local:1", "local:2")


def machine() -> str:
    cpu = platform.processor() or "cpu"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}"


def load_now() -> str:
    try:
        return "load average " + " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "load unknown"


# ---------------------------------------------------------------------- 1. upscaling
def bench_upscale(folder: Path, limit: int):
    from minisr.upscale import main as upscale_main

    images = sorted(folder.iterdir())[:limit]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "in"
        inputs.mkdir()
        for image in images:  # links: the same files, one folder of exactly `limit`
            os.symlink(image.resolve(), inputs / image.name)
        # warm-up: compile (or load) the kernels in this process
        upscale_main([str(images[0]), "--out-dir", str(Path(tmp) / "warm"), "--no-progress"])
        for spec in (None,) + SPECS:
            out = Path(tmp) / (spec or "plain").replace(":", "")
            argv = [str(inputs), "--out-dir", str(out), "--no-progress"]
            if spec:
                argv += ["--cluster", spec]
            start = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()) as printed:
                code = upscale_main(argv)
            wall = time.perf_counter() - start
            lines = printed.getvalue().splitlines()
            assert code == 0 and len(lines) == len(images), (code, len(lines))
            rows.append({"how": spec or "plain (2 threads)", "images": len(images), "wall": wall})
            print(f"  upscale {rows[-1]['how']:>18}: {len(images)} images in {wall:.1f} s "
                  f"= {len(images) / wall:.2f} images/s", flush=True)
        plain = Path(tmp) / "plain"
        for spec in SPECS:
            other = Path(tmp) / spec.replace(":", "")
            same = all((plain / p.name).read_bytes() == p.read_bytes() for p in other.iterdir())
            assert same and len(list(other.iterdir())) == len(images), spec
    return rows


def cluster_start_seconds(spec: str) -> float:
    from minisr.cluster import connect

    start = time.perf_counter()
    client = connect(spec)
    client.wait_for_workers(int(spec.split(":")[1]))
    seconds = time.perf_counter() - start
    client.close()
    return seconds


# ---------------------------------------------------------------------- 2. training
def bench_train_local(files, batch: int, steps: int, cache: str):
    import numba

    from minisr.model import FSRCNN
    from minisr.optim import Adam, param_groups
    from minisr.training.parallel import DataParallel
    from minisr.training.patches import PatchSpec, prepare

    pairs = prepare(files, PatchSpec.for_scale(3), cache, log=lambda *a: None)
    model = FSRCNN()
    optimizer = Adam(param_groups(model.named_parameters(), 3e-3, {"deconv.": 1e-4}))
    parallel = DataParallel(model, numba.config.NUMBA_NUM_THREADS)
    rng = np.random.default_rng(0)
    times = []
    for step in range(steps + 20):
        start = time.perf_counter()
        x, t = pairs.batch(rng.choice(len(pairs), batch, replace=False))
        parallel.gradients(x, t)
        optimizer.step()
        if step >= 20:
            times.append(time.perf_counter() - start)
    parallel.close()
    return {"how": f"plain ({numba.config.NUMBA_NUM_THREADS} threads)", "batch": batch,
            "step": float(np.mean(times)), "compute": float(np.mean(times)), "wait": 0.0,
            "exchange": 0.0, "client": 0.0}


def bench_train_cluster(spec: str, files, batches, steps: int, cache: str):
    from minisr.cluster import connect, worker_threads
    from minisr.cluster.data_parallel import ClusterGradients
    from minisr.model import FSRCNN
    from minisr.optim import Adam, param_groups
    from minisr.training.patches import PatchSpec

    client = connect(spec)
    rows = []
    try:
        backend = ClusterGradients(client, spec, worker_threads(spec))
        with contextlib.redirect_stdout(io.StringIO()):
            pairs = backend.prepare(files, PatchSpec.for_scale(3), cache)
        model = FSRCNN()
        optimizer = Adam(param_groups(model.named_parameters(), 3e-3, {"deconv.": 1e-4}))
        backend.bind(model)
        rng = np.random.default_rng(0)
        for batch in batches:
            for phase in ("warm", "measure"):
                backend.stats = {k: 0 if k == "steps" else 0.0 for k in backend.stats}
                start = time.perf_counter()
                for _ in range(20 if phase == "warm" else steps):
                    indices, _ = pairs.batch(rng.choice(len(pairs), batch, replace=False))
                    backend.gradients(indices, None)
                    optimizer.step()
                total = time.perf_counter() - start
            s = backend.stats
            n = s["steps"]
            step = total / n
            compute, slowest, call = s["compute_mean_s"] / n, s["compute_max_s"] / n, s["call_s"] / n
            rows.append({"how": spec, "batch": batch, "step": step, "compute": compute,
                         "wait": slowest - compute, "exchange": call - slowest,
                         "client": step - call})
            r = rows[-1]
            print(f"  train {spec} batch {batch}: {step * 1e3:.2f} ms/step = compute {compute * 1e3:.2f} "
                  f"+ waiting {r['wait'] * 1e3:.2f} + exchange {r['exchange'] * 1e3:.2f} "
                  f"+ client {r['client'] * 1e3:.2f}", flush=True)
        backend.close()
    finally:
        client.close()
    return rows


# ---------------------------------------------------------------------- 3. the model
CORES = 16
LINK_BYTES_PER_S = 1.25e9   # 10 Gb/s Ethernet
LAN_LATENCY_S = 100e-6      # a round trip between two machines in one rack, beyond loopback
TARGET = 0.8


def model_rows(local_row, cluster_rows, weights: int):
    """Speed-up of M machines of CORES cores over one, for a global batch B.

    Measured here: ``c``, core-seconds of compute per pair (plain run: step time x
    cores / batch); ``x1``, the exchange and client time per step with one worker and
    ``dx`` what each further worker adds (local:2 - local:1), both on loopback.
    Assumed: compute scales with the cores of a machine (FSRCNN's thread split does,
    within a few per cent, on 2 cores; at 16 that is optimistic: the speed-ups are
    upper bounds); a real network adds a LAN round trip and the client sends the
    weights and receives a gradient (4 bytes per weight each) from every worker over
    one 10 Gb/s link. One machine alone pays no exchange at all:

        T_1(B) = c B / CORES
        T_M(B) = c B / (M CORES) + x1 + (M - 1) dx + LAN + 2 M 4 W / link
    """
    B0 = local_row["batch"]
    c = local_row["step"] * (os.cpu_count() or 1) / B0
    by = {(r["how"], r["batch"]): r for r in cluster_rows}
    one, two = by[("local:1", B0)], by[("local:2", B0)]
    x1 = one["exchange"] + one["client"] + one["wait"]
    dx = max(0.0, (two["exchange"] + two["client"] + two["wait"]) - x1)
    payload = 2 * 4 * weights / LINK_BYTES_PER_S

    def step(M, B):
        if M == 1:
            return c * B / CORES
        return c * B / (M * CORES) + x1 + (M - 1) * dx + LAN_LATENCY_S + M * payload

    rows = []
    for M in (2, 8, 32):
        for B in (128, 1024, 8192, 65536):
            speedup = step(1, B) / step(M, B)
            rows.append({"machines": M, "batch": B, "per_worker": B // M, "speedup": speedup,
                         "efficiency": speedup / M})
    needed = {}
    for M in (2, 8, 32):
        b = 1
        while b < 10 ** 7 and step(1, b * M) / step(M, b * M) / M < TARGET:
            b = int(b * 1.1) + 1
        needed[M] = b
    return {"c": c, "x1": x1, "dx": dx, "payload": payload, "rows": rows, "needed": needed}


# ---------------------------------------------------------------------- report
def report(up, starts, train_rows, model, context) -> str:
    plain = up[0]["images"] / up[0]["wall"]
    lines = ["# minisr on a Dask cluster: measured on one 2-core machine", "",
             f"`python benchmarks/cluster.py --write` ({context}).", "",
             "## Upscaling 200 images (BSD200, FSRCNN x3, shipped weights, PNG out)", "",
             "| command | wall (s) | images/s | vs plain |", "|---|---:|---:|---:|"]
    for r in up:
        rate = r["images"] / r["wall"]
        lines.append(f"| {r['how']} | {r['wall']:.1f} | {rate:.2f} | {rate / plain:.2f}x |")
    lines += ["", "Wall times include starting the cluster (" +
              ", ".join(f"{s}: {t:.1f} s" for s, t in starts.items()) +
              " alone). Outputs equal the plain run's bit for bit.", "",
              "## Training steps (FSRCNN x3, T91 pairs 11x11)", "",
              "| how | batch | ms/step | compute | waiting | exchange | client |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for r in train_rows:
        lines.append(f"| {r['how']} | {r['batch']} | {r['step'] * 1e3:.2f} | {r['compute'] * 1e3:.2f} | "
                     f"{r['wait'] * 1e3:.2f} | {r['exchange'] * 1e3:.2f} | {r['client'] * 1e3:.2f} |")
    lines += ["", "compute: the workers' forward and backward (mean over workers); waiting: the slowest "
              "worker's compute less the mean; exchange: the rest of the round trip (weights out, indices, "
              "gradients back, Dask); client: adding the gradients, the optimiser step, drawing the batch. "
              "The plain run is all compute (its own thread split included).", "",
              "## Model: M machines of 16 cores", "",
              f"From the rows above: c = {model['c'] * 1e6:.1f} core-us of compute per pair; per step an "
              f"exchange of x1 = {model['x1'] * 1e3:.2f} ms with one worker and dx = {model['dx'] * 1e3:.2f} ms "
              f"more per further worker (loopback), plus {LAN_LATENCY_S * 1e6:.0f} us of LAN round trip and "
              f"{model['payload'] * 1e6:.0f} us per worker to send the weights and receive a gradient on one "
              "10 Gb/s link. Compute is assumed to scale over 16 cores (optimistic: upper bounds).", "",
              "| machines | global batch | per machine | speed-up | efficiency |", "|---:|---:|---:|---:|---:|"]
    for r in model["rows"]:
        lines.append(f"| {r['machines']} | {r['batch']:,} | {r['per_worker']:,} | {r['speedup']:.2f}x | "
                     f"{100 * r['efficiency']:.0f}% |")
    lines += ["", "Batch per machine for an efficiency above 80%: " +
              ", ".join(f"{m} machines: {b:,}" for m, b in model["needed"].items()) + "."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", help="folder of datasets (BSD200 and T91)")
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--write", action="store_true", help=f"write {RESULTS.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    context = f"{machine()}; {load_now()} at the start"
    busy = subprocess.run(["sh", "-c", "ps -eo pcpu,args --sort=-pcpu | head -4"], capture_output=True,
                          text=True).stdout.strip()
    print(context, "\nbusiest processes at the start:\n" + busy, flush=True)
    try:  # before any work: a missing dataset is one line, not a traceback
        bsd = Path(dataset_files("BSD200", args.data_dir)[0]).parent
        files = dataset_files("T91", args.data_dir)
    except DatasetError as error:
        print(f"benchmarks/cluster.py: error: {error}", file=sys.stderr)
        return 1
    up = bench_upscale(bsd, args.images)
    starts = {spec: cluster_start_seconds(spec) for spec in SPECS}
    cache = tempfile.mkdtemp(prefix="minisr-bench-cache-")
    try:
        train_rows = []
        for batch in (128, 512):
            train_rows.append(bench_train_local(files, batch, args.steps, cache))
            print(f"  train plain batch {batch}: {train_rows[-1]['step'] * 1e3:.2f} ms/step", flush=True)
        for spec in SPECS:
            train_rows += bench_train_cluster(spec, files, (128, 512), args.steps, cache)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    from minisr.model import FSRCNN

    model = model_rows(train_rows[0], train_rows, FSRCNN().weight_count())
    context += f"; {load_now()} at the end"
    text = report(up, starts, train_rows, model, context)
    print(text)
    if args.write:
        RESULTS.write_text(text)
        print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
