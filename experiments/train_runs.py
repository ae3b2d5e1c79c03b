"""Train the runs behind the paper's design experiments, in resumable chunks.

    python experiments/train_runs.py table2 --minutes 50        # go on with Table 2's runs for 50 min
    python experiments/train_runs.py table2 --list              # each run: done, started or not yet
    python experiments/train_runs.py claims --minutes 45        # the design claims' runs
    python experiments/train_runs.py table1 --minutes 60        # Table 1 (SRCNN-Ex: hours, in chunks)
    python experiments/train_runs.py figure5 --minutes 30       # Figure 5's six networks again, Set5 logged
    python experiments/train_runs.py shipped --only fsrcnn_x3 fsrcnn_x2 fsrcnn_x4   # some runs of a plan
    python experiments/train_runs.py recipe --minutes 30        # 10-minute training recipes (issue 14)

A *plan* is a list of runs, each a folder under ``experiments/runs/<plan>/`` and the
options of ``python -m minisr.train`` that make it. Every call goes through the plan in
order: a finished run is skipped, a started one goes on (``--resume``), a new one starts,
each as its own ``python -m minisr.train`` process with ``--time-limit`` set to what is
left of ``--minutes``, so that the call stops within a step or so of the budget with
every run resumable (its ``checkpoint.npz`` is what a later call, on any machine,
continues from). Commit the run folders between sessions. Nothing here depends on where
it runs except the time: the same threads give the same weights bit for bit.

Shared budget (stated in every result made from these runs): the same number of
backprops for every network of a plan, the same recipe (Adam, lr 3e-3 for the
convolutions and 1e-4 for the deconvolution, cosine to 1%, batch 128, T91 x3 with the
paper's augmentation) and the same validation set (BSDS500-val20, never a test set).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from itertools import product
from pathlib import Path

from curves import steps_done

HERE = Path(__file__).resolve().parent
RUNS = HERE / "runs"

#: Options every run of the design experiments shares (Table 2, Figure 5).
SHARED = ["--scale", "3", "--train", "T91", "--val", "BSDS500-val20", "--lr", "3e-3",
          "--val-every", "1000", "--log-every", "100", "--threads", "2"]
TABLE2_STEPS = 20_000  # x batch 128 = 2.56 M backprops per network


def table2_runs() -> list:
    """The paper's Table 2: d in {48, 56}, s in {12, 16}, m in {2, 3, 4}: 12 networks."""
    return [(f"d{d}_s{s}_m{m}", ["--d", str(d), "--s", str(s), "--m", str(m), "--steps", str(TABLE2_STEPS)])
            for d, s, m in product((56, 48), (12, 16), (4, 3, 2))]


CLAIMS_STEPS = TABLE2_STEPS  # the same budget as Table 2, whose d56_s12_m4 is FSRCNN seed 0


def claims_runs() -> list:
    """The design claims: FSRCNN(56, 12, 4) against the same network with identical
    deconvolution filters, without the expanding layer, and with ReLU instead of PReLU;
    PReLU and ReLU each from three seeds (the spread of the curves: stability)."""
    steps = ["--steps", str(CLAIMS_STEPS)]
    runs = [(arch, ["--arch", arch, *steps]) for arch in ("fsrcnn-shared-deconv", "fsrcnn-no-expand")]
    runs += [(f"fsrcnn-relu_seed{seed}", ["--arch", "fsrcnn-relu", "--seed", str(seed), *steps]) for seed in (0, 1, 2)]
    runs += [(f"fsrcnn_seed{seed}", ["--d", "56", "--s", "12", "--m", "4", "--seed", str(seed), *steps])
             for seed in (1, 2)]
    return runs


def figure5_runs() -> list:
    """The six Table 2 networks of the paper's Figure 5, trained again exactly as in
    ``table2`` (same options, seed and threads: the same weights) but with Set5 scored at
    every validation (``--report``, never choosing): the paper's curves are Set5 PSNR."""
    keys = [(56, 16, 2), (56, 16, 3), (56, 16, 4), (48, 12, 4), (56, 12, 4), (48, 16, 4)]
    return [(f"d{d}_s{s}_m{m}", ["--d", str(d), "--s", str(s), "--m", str(m), "--steps", str(TABLE2_STEPS)])
            for d, s, m in keys]


TABLE1_STEPS = 10_000  # SRCNN-Ex alone on the 2-core machine: 1,270 steps in 399 s with its
# validations (0.28 s a step; 2026-12-02), so 10,000 steps take about 50 minutes


def table1_runs() -> list:
    """The paper's Table 1: SRCNN-Ex, the two transition states and FSRCNN(56, 12, 4),
    the same number of backprops each (FSRCNN last: it is also the cheapest)."""
    steps = ["--steps", str(TABLE1_STEPS)]
    return [(arch, ["--arch", arch, *steps]) for arch in ("transition-2", "transition-1", "srcnn-ex")] + [
        ("fsrcnn", ["--d", "56", "--s", "12", "--m", "4", *steps])]


def shipped_runs() -> list:
    """The shipped models' runs again, each exactly as it was made (same options, seed
    and one thread: the same weights step for step) but validated on BSDS500-val20
    instead of Set5, so that the shipped checkpoint is chosen on images no table tests
    on (issue 11, honest validation); x2 and x4 fine-tune the new x3's best.npz."""
    base = os.path.relpath(RUNS / "shipped")
    common = ["--val", "BSDS500-val20", "--threads", "1"]
    runs = [("fsrcnn_x3", ["--lr", "3e-3", "--steps", "200000", "--val-every", "10000", *common]),
            ("fsrcnn-s_x3", ["--model", "fsrcnn-s", "--lr", "1e-2", "--steps", "400000", "--val-every", "10000",
                             *common])]
    for network, steps, every in (("fsrcnn", 15000, 2500), ("fsrcnn-s", 30000, 5000)):
        for scale in (2, 4):
            runs.append((f"{network}_x{scale}", ["--model", network, "--init-from", f"{base}/{network}_x3/best.npz",
                                                  "--scale", str(scale), "--finetune", "deconv", "--steps", str(steps),
                                                  "--val-every", str(every), *common]))
    return runs


RECIPE_MINUTES = 10.0  # issue 14: Set5 x3 33.06 dB within 10 minutes on the 2-core machine
RECIPE_STEPS = 46_000  # what fitted in 10 minutes when chosen: 12.3 ms a step (2 threads, validations included)


def recipe_runs() -> list:
    """FSRCNN x3 trained for a fixed ``RECIPE_MINUTES`` of wall time each (process start
    included): today's default recipe (200,000 steps, stopped by the clock) against
    recipes whose schedule ends within the time, Set5 scored at each validation."""
    short = ["--steps", str(RECIPE_STEPS)]
    return [("default", []),
            ("cosine_46k", short),
            ("cosine_46k_deconv3e-4", [*short, "--deconv-lr", "3e-4"]),
            ("cosine_46k_lr5e-3_warmup", [*short, "--lr", "5e-3", "--warmup", "1000"]),
            # half the batch: a step costs about 60% as much (2 workers), so more of them fit
            ("batch64_cosine_64k_lr5e-3_warmup", ["--batch-size", "64", "--steps", "64000", "--lr", "5e-3",
                                                  "--warmup", "1000"])]


PLANS = {"table2": table2_runs, "claims": claims_runs, "table1": table1_runs, "shipped": shipped_runs,
         "figure5": figure5_runs, "recipe": recipe_runs}
#: Plans whose runs each train for a fixed wall time (minutes) instead of a number of
#: steps: such a run is started only with its whole time left, and never resumed.
FIXED_MINUTES = {"recipe": RECIPE_MINUTES}
#: The options a plan's runs share (the shipped runs carry their own).
#: Table 2's runs were started before --report existed; the later plans also score Set5 at
#: every validation (logged, never used to choose), for curves like the paper's.
REPORT = ["--report", "Set5"]
PLAN_OPTIONS = {"table2": SHARED, "claims": SHARED + REPORT, "table1": SHARED + REPORT, "figure5": SHARED + REPORT,
                "shipped": ["--scale", "3", "--train", "T91", *REPORT],
                "recipe": ["--scale", "3", "--train", "T91", "--val", "BSDS500-val20", "--val-every", "2000",
                           "--threads", "2", *REPORT]}


def status(folder: Path, fixed_time: bool = False) -> str:
    """'done' (the run's steps all taken; for a fixed-time run, also its time spent),
    'started' (a checkpoint to resume) or 'new'."""
    log, settings = folder / "train.log", folder / "settings.json"
    if settings.is_file() and log.is_file():
        last = log.read_text().splitlines()[-1]
        if "finished" in last or (fixed_time and "time limit reached" in last):
            return "done"
    if (folder / "checkpoint.npz").is_file():
        return "started"
    return "new"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plan", choices=sorted(PLANS))
    parser.add_argument("--minutes", type=float, default=60.0, help="time budget of this call [60]")
    parser.add_argument("--data-dir", help="datasets folder (default: $MINISR_DATA or ~/.cache/minisr)")
    parser.add_argument("--list", action="store_true", help="only say where each run stands")
    parser.add_argument("--only", nargs="+", metavar="RUN",
                        help="only these runs of the plan, in the plan's order (e.g. two calls side by side, "
                             "each with --threads 1 runs, on a 2-core machine)")
    args = parser.parse_args(argv)
    runs = PLANS[args.plan]()
    if args.only:
        unknown = sorted(set(args.only) - {name for name, _ in runs})
        if unknown:
            parser.error(f"plan {args.plan} has no run {', '.join(unknown)} (it has {', '.join(n for n, _ in runs)})")
        runs = [(name, options) for name, options in runs if name in args.only]
    base = RUNS / args.plan
    if args.list:
        for name, _ in runs:
            print(f"{name}: {status(base / name, args.plan in FIXED_MINUTES)}")
        return 0
    deadline = time.monotonic() + 60 * args.minutes
    fixed = FIXED_MINUTES.get(args.plan)
    for name, options in runs:
        folder = Path(os.path.relpath(base / name))  # as the run's log will show its command
        state = status(folder, fixed is not None)
        left = (deadline - time.monotonic()) / 60
        if state == "done":
            continue
        if fixed is not None:
            if state == "started":
                print(f"{name}: stopped before its {fixed:g} minutes were up; delete {folder} to run it again",
                      flush=True)
                return 1
            if left < fixed:
                print(f"{name} needs {fixed:g} minutes and {left:.1f} are left: it and the runs after it "
                      "are left for the next call", flush=True)
                return 0
            left = fixed
        if left < 0.5:
            print(f"budget spent; {name} and the runs after it are left for the next call", flush=True)
            return 0
        command = [sys.executable, "-m", "minisr.train", *PLAN_OPTIONS[args.plan], *options, "--out", str(folder),
                   "--time-limit", f"{left:.2f}", "--no-progress"]
        if args.data_dir:
            command += ["--data-dir", args.data_dir]
        if state == "started":
            command = [sys.executable, "-m", "minisr.train", "--out", str(folder), "--resume",
                       "--time-limit", f"{left:.2f}", "--no-progress"]
            command += ["--data-dir", args.data_dir] if args.data_dir else []
        print(f"{name}: {'resuming' if state == 'started' else 'starting'} ({left:.1f} min left)", flush=True)
        folder.parent.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(command)
        if result.returncode != 0:
            print(f"{name}: python -m minisr.train exited {result.returncode}; stopping", flush=True)
            return result.returncode
        if status(folder, fixed is not None) == "done":
            settings = json.loads((folder / "settings.json").read_text())
            if fixed is None:
                print(f"{name}: done ({settings['total_steps']:,} steps)", flush=True)
            else:
                print(f"{name}: done ({fixed:g} minutes: {steps_done(folder):,} of {settings['total_steps']:,} "
                      "steps)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
