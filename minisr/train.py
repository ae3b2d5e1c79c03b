"""``python -m minisr.train``: train FSRCNN on augmented LR/HR sub-images.

The options and their checks are :mod:`minisr.training.command`; the run itself is
:func:`minisr.training.run.train`.

    python -m minisr.train                         # FSRCNN x3 on T91: Adam 3e-3/1e-4, cosine
    python -m minisr.train --model fsrcnn-s --scale 2 --steps 50000
    python -m minisr.train --out runs/fsrcnn_x3 --resume --time-limit 25   # go on in chunks
    python -m minisr.train --init-from runs/fsrcnn_x3/best.npz --scale 2 --finetune deconv
    python -m minisr.train --optimizer sgd --schedule constant --lr 1e-3  # the paper's recipe

Every run lives in one folder (``--out``, default ``runs/<model>_x<scale>``) holding
``checkpoint.npz`` (everything needed to ``--resume`` bit for bit), ``best.npz`` and
``last.npz`` (plain model files for ``python -m minisr.evaluate --weights``),
``log.csv`` (loss and validation PSNR/SSIM against backprops) and ``train.log``.
An existing run folder is only reused with ``--resume`` or ``--overwrite``.

Stopping: Ctrl-C (or SIGTERM, as a batch scheduler sends) finishes the current step,
validates, saves a checkpoint and exits; ``--time-limit`` does the same after that many
minutes; a NaN/Inf loss stops without saving over the last good checkpoint. One run at
a time owns a run folder (a lock; a second run there is refused). Every option is
checked before any work. Exit status: 0 finished or stopped by the time limit,
1 (2 from argparse) a usage or data error, 3 diverged, 74 a file could not be written
(disk full: the last checkpoint is kept), 130 interrupted, 143 SIGTERM.
"""

import sys

from .training.command import build_parser, main
from .training.run import EXIT_INTERRUPTED, EXIT_IO, EXIT_TERMINATED

__all__ = ["build_parser", "main", "EXIT_INTERRUPTED", "EXIT_IO", "EXIT_TERMINATED"]

if __name__ == "__main__":
    sys.exit(main())
