"""Several scales at once: ``MultiScaleFSRCNN.infer`` (the trunk once) against one
``FSRCNN.infer`` per scale, with the shipped weights, in one run on this machine.

    python benchmarks/multiscale.py [--lr-size 253] [--network fsrcnn] [--rounds 3]

Prints one line per round: both times (medians of 20 calls) and their ratio. The
outputs are checked equal first. Writes nothing.
"""

import argparse

import numpy as np

from minisr.models import load_model
from minisr.multiscale import MultiScaleFSRCNN
from minisr.profiling import median_time

SCALES = (2, 3, 4)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr-size", type=int, default=253, help="LR image side (default 253)")
    parser.add_argument("--network", default="fsrcnn", help="fsrcnn or fsrcnn-s (default fsrcnn)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of measurements (default 3)")
    args = parser.parse_args(argv)
    models = [load_model(args.network, n) for n in SCALES]
    multi = MultiScaleFSRCNN.from_models(models)
    x = np.random.default_rng(0).random((1, 1, args.lr_size, args.lr_size), dtype=np.float32)
    together = multi.infer(x)
    for model in models:  # the same numbers (and the warm-up)
        np.testing.assert_array_equal(together[model.scale], model.infer(x))
    print(f"{args.network} x{', x'.join(map(str, SCALES))}, LR {args.lr_size}x{args.lr_size}, float32")
    for _ in range(args.rounds):
        t_multi = median_time(lambda: multi.infer(x), 20)
        t_separate = median_time(lambda: [model.infer(x) for model in models], 20)
        print(f"MultiScaleFSRCNN.infer {t_multi * 1e3:.1f} ms, three FSRCNN.infer {t_separate * 1e3:.1f} ms: "
              f"{t_separate / t_multi:.2f}x")


if __name__ == "__main__":
    main()
