"""The training command: its options (:func:`build_parser`), and :func:`main`, which
reads them, runs :func:`minisr.training.run.train` and turns errors into one line and an
exit status. ``python -m minisr.train`` is this; a sweep's tasks
(:mod:`minisr.cluster.sweep`) call the same :func:`main` on a worker, so that each run
of a sweep is exactly the run the command makes alone. See :mod:`minisr.train` for the
usage, the run folder and the exit statuses.
"""

import argparse
import shlex
import signal
import sys
import threading

from ..data import DatasetError
from ..models import PRESETS
from ..networks import ARCHITECTURES
from ..optim import SCHEDULES
from .checkpoint import CheckpointError
from .run import DEFAULT_STEPS, EXIT_INTERRUPTED, EXIT_IO, EXIT_TERMINATED, UsageError, train


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m minisr.train", argument_default=argparse.SUPPRESS,
                                description="Train FSRCNN (numbers in brackets are the defaults).")
    a = p.add_argument_group("model").add_argument
    a("--model", choices=sorted(PRESETS), help="fsrcnn = (56,12,4), fsrcnn-s = (32,5,1) [fsrcnn]")
    a("--arch", metavar="NAME", help="another network instead of FSRCNN: " + ", ".join(ARCHITECTURES)
      + " (minisr/networks.py: the paper's Table 1 and its design claims)")
    a("--d", type=int, metavar="D", help="feature channels (overrides --model)")
    a("--s", type=int, metavar="S", help="shrunk channels")
    a("--m", type=int, metavar="M", help="mapping layers")
    a("--scale", type=int, metavar="N", help="upscaling factor [3]")
    a("--init-from", metavar="FILE", help="start from a minisr model file: every trunk weight, "
      "and the deconvolution too when the scale is the same (else it is re-initialised)")
    a("--finetune", choices=("all", "deconv"), help="train every layer, or only the deconvolution [all]")
    a = p.add_argument_group("data").add_argument
    a("--train", nargs="+", metavar="SET", help="training sets: registry names or image folders [T91]")
    a("--val", nargs="+", metavar="SET", help="validation sets: pick best.npz with the exact test protocol; "
      "never trained on [BSDS500-val20: 20 images of BSDS500-train that no reported table tests on]")
    a("--no-val", dest="val", action="store_const", const=[], help="no validation")
    a("--report", nargs="+", metavar="SET", help="sets scored with each validation and logged (log.csv "
      "report_psnr), never used to choose best.npz: e.g. Set5, to draw the paper's curves [none]")
    a("--data-dir", metavar="DIR", help="folder of datasets [$MINISR_DATA or ~/.cache/minisr]; "
      "this and the run options below are kept by --resume unless given again")
    a("--download", action="store_true", help="download missing registry datasets")
    a("--cache-dir", metavar="DIR",
      help="where prepared pairs are kept [$MINISR_PATCH_CACHE or ~/.cache/minisr/patches]")
    a("--patch-size", metavar="F", help="LR sub-image side f (HR side n*f-n+1) [x2 16, x3 11, x4 8]; "
      "'paper': the paper's x2 10, x3 7, x4 6")
    a("--stride", type=int, metavar="K", help="LR stride between sub-images [round(12/scale)]")
    a("--context", metavar="C", help="LR pixels of context around each sub-image, seen by the "
      "network but outside the loss; 'full' keeps zero padding out of every trained output [0]")
    a("--no-augment", dest="augment", action="store_false",
      help="no downscaling (0.9-0.6) or rotations (90, 180, 270)")
    a("--flips", action="store_true", help="also add the left-right mirror of each image")
    a = p.add_argument_group("optimisation").add_argument
    a("--steps", type=int, metavar="N", help=f"minibatch updates [{DEFAULT_STEPS}]")
    a("--epochs", type=float, metavar="E", help="passes over the pairs (instead of --steps)")
    a("--batch-size", type=int, metavar="B", help="[128]")
    a("--optimizer", choices=("adam", "sgd"), help="[adam]")
    a("--lr", type=float, metavar="LR", help="learning rate of the convolutions [FSRCNN 3e-3, FSRCNN-s 1e-2, other sizes 1e-3]")
    a("--deconv-lr", type=float, metavar="LR", help="learning rate of the deconvolution [1e-4]")
    a("--momentum", type=float, metavar="MU", help="SGD momentum [0.9]")
    a("--weight-decay", type=float, metavar="WD", help="L2 weight decay [0]")
    a("--schedule", choices=SCHEDULES, help="learning-rate schedule [cosine]")
    a("--warmup", type=int, metavar="N", help="steps of linear warm-up [0]")
    a("--final-lr", type=float, metavar="FRACTION", help="cosine: final rate as a fraction of the first [0.01]")
    a("--step-size", type=int, metavar="N", help="step: decay every N steps [0: at 50%% and 75%%]")
    a("--gamma", type=float, metavar="G", help="step: decay factor [0.1]")
    a("--seed", type=int, metavar="SEED", help="seeds the initial weights and the batch order [0]")
    a = p.add_argument_group("run").add_argument
    a("--out", metavar="DIR", help="run folder [runs/<model>_x<scale>, + _deconv for --finetune deconv]")
    a("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    a("--overwrite", action="store_true", help="start again in an existing run folder")
    a("--val-every", type=int, metavar="K", help="validate (and save) every K steps [2000]")
    a("--save-every", type=int, metavar="K", help="save a checkpoint every K steps [--val-every]")
    a("--log-every", type=int, metavar="K", help="write a log.csv row every K steps [100]")
    a("--time-limit", type=float, metavar="MINUTES", help="save and stop after this many minutes "
      "(kept by --resume; 0: none)")
    a("--no-progress", dest="progress", action="store_false", help="no progress display")
    a("--threads", type=int, metavar="N", help="cores to use: each batch is split across N worker "
      "threads (the same N gives the same weights bit for bit) [$NUMBA_NUM_THREADS or all]")
    a("--cluster", metavar="SPEC", help="data-parallel on a Dask cluster: local:N or tcp://HOST:8786; "
      "each worker holds a shard of the pairs, --threads is per worker (needs pip install minisr[dask])")
    return p



class Terminated(KeyboardInterrupt):
    """SIGTERM arrived outside the training loop."""


def raise_terminated(signum, frame):
    """SIGTERM outside the training loop (e.g. while the pairs are made): stop like a
    Ctrl-C, so that temporary files are removed on the way out."""
    raise Terminated


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    given = vars(build_parser().parse_args(argv))
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, raise_terminated)
    try:
        if given.get("cluster"):  # data-parallel on a Dask cluster: minisr/cluster/data_parallel.py
            from ..cluster.data_parallel import train_on_cluster
            return train_on_cluster(given, shlex.join(["python", "-m", "minisr.train", *argv]))
        return train(given, shlex.join(["python", "-m", "minisr.train", *argv]))
    except (UsageError, DatasetError, FileNotFoundError, ValueError) as error:  # ImageError too
        print(f"python -m minisr.train: error: {one_line(error)}", file=sys.stderr)
        return 1
    except CheckpointError as error:
        print(f"python -m minisr.train: error: {one_line(error)}", file=sys.stderr)
        return EXIT_IO
    except OSError as error:  # a full disk while the pairs are made, an unreadable folder, ...
        print(f"python -m minisr.train: error: {one_line(error)}", file=sys.stderr)
        return EXIT_IO
    except KeyboardInterrupt as stop:
        why = "stopped by SIGTERM" if isinstance(stop, Terminated) else "interrupted"
        print(f"\n{why}: stopped without saving (the last checkpoint, if any, is kept)", file=sys.stderr)
        return EXIT_TERMINATED if isinstance(stop, Terminated) else EXIT_INTERRUPTED


def one_line(error) -> str:
    """An exception as one line: an OSError with a file as 'file: reason'."""
    if isinstance(error, OSError) and error.strerror and error.filename:
        text = f"{error.filename}: {error.strerror}"
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split())
