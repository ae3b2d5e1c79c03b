"""``python -m minisr.sweep``: many trainings (a grid of settings) as tasks on a Dask cluster.

    python -m minisr.sweep --cluster local:2 --grid d=48,56 s=12,16 m=2,3,4 \\
        --runs-dir runs/table2 -- --steps 200000 --lr 1e-3        # the 12 networks of Table 2
    python -m minisr.sweep --cluster tcp://head:8786 --grid lr=1e-3,3e-3,1e-2 seed=0,1,2 -- --steps 50000

Options after ``--`` go to every ``python -m minisr.train``; ``--grid KEY=V1,V2,...``
gives one run per combination, in ``RUNS_DIR/<key><value>_...`` (``d48_s12_m2``).
Every run is resumable: run the same command again after a crash, or after a worker
is lost (the scheduler also moves a lost worker's run to another worker, which goes
on from the run's last checkpoint). Finished runs are not repeated. The runs folder
and every path in the training options must be reachable by every worker.
Exit status: 0 every run finished, 1 a run failed, 2 a usage or cluster error.
Needs dask (``pip install minisr[dask]``); see :mod:`minisr.cluster`.
"""

import argparse
import sys

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m minisr.sweep", description="Many trainings (a grid of settings) as tasks on a Dask cluster.",
                                usage="python -m minisr.sweep --cluster SPEC --grid KEY=V1,V2 ... "
                                      "[--runs-dir DIR] -- [minisr.train options]")
    p.add_argument("--cluster", required=True, metavar="SPEC",
                   help="local:N (N worker processes here) or tcp://HOST:8786 (a running scheduler)")
    p.add_argument("--grid", nargs="+", required=True, metavar="KEY=V1,V2",
                   help="minisr.train options without dashes and their values, e.g. d=48,56 lr=1e-3,3e-3")
    p.add_argument("--runs-dir", default="runs/sweep", metavar="DIR",
                   help="folder of the run folders, reachable by every worker [runs/sweep]")
    p.add_argument("--threads", type=int, metavar="N",
                   help="Numba threads per run [local:N: cores / N; a remote cluster: every core]")
    p.add_argument("--overwrite", action="store_true",
                   help="start again runs whose folder holds a start without a checkpoint")
    return p


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    common = []
    if "--" in argv:
        at = argv.index("--")
        argv, common = argv[:at], argv[at + 1:]
    args = build_parser().parse_args(argv)
    from .cluster import ClusterError
    from .cluster.sweep import parse_grid, sweep

    try:
        return sweep(args.cluster, parse_grid(args.grid), common, args.runs_dir, args.threads, args.overwrite)
    except ClusterError as error:
        print(f"python -m minisr.sweep: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: run the same command again to resume the runs", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
