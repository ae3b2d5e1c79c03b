"""``python -m minisr.evaluate``: PSNR/SSIM of bicubic or FSRCNN on the test sets,
with the paper's exact protocol (see :mod:`minisr.image.protocol`).

    python -m minisr.evaluate --method bicubic --datasets Set5 Set14 BSD200 --scales 2 3 4 \\
        --data-dir ../shared/datasets
    python -m minisr.evaluate --method fsrcnn --weights 'FSRCNN/x{scale}.mat' --datasets Set5 --scales 3

``--weights`` takes minisr ``.npz`` files or the authors' ``.mat`` files; a path may
contain ``{scale}``, or several files may be given and each scale takes the one made
for it. Without ``--weights`` the weights shipped in ``minisr/weights/`` are used.

This module only reads the command line and prints; the work is
:func:`minisr.scoring.evaluate`.
"""

import argparse
import csv
import io
import json
import sys

from .data import DatasetError
from .scoring import METHODS, evaluate


def format_results(results, fmt: str, per_image: bool = False) -> str:
    """The results as ``table``, ``csv``, ``json`` (one JSON document: a list of
    objects) or ``jsonl`` (JSON Lines: one object per line)."""
    if fmt in ("json", "jsonl"):
        rows = [{k: v for k, v in r.items() if k != "per_image" or per_image} for r in results]
        if fmt == "json":
            return json.dumps(rows, indent=2)
        return "\n".join(json.dumps(r) for r in rows)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["method", "dataset", "scale", "image", "psnr", "ssim", "images"])
        for r in results:
            writer.writerow([r["method"], r["dataset"], r["scale"], "", f"{r['psnr']:.4f}",
                             f"{r['ssim']:.4f}", r["images"]])
            for img in r["per_image"] if per_image else []:
                writer.writerow([r["method"], r["dataset"], r["scale"], img["image"],
                                 f"{img['psnr']:.4f}", f"{img['ssim']:.4f}", 1])
        return out.getvalue().rstrip("\n")
    width = max([10] + [len(r["method"]) for r in results])
    lines = [f"{'method':<{width}} {'dataset':<14} {'scale':>5} {'PSNR':>8} {'SSIM':>8} {'images':>6}"]
    for r in results:
        lines.append(f"{r['method']:<{width}} {r['dataset']:<14} {'x' + str(r['scale']):>5} "
                     f"{r['psnr']:8.2f} {r['ssim']:8.4f} {r['images']:6d}")
        for img in r["per_image"] if per_image else []:
            lines.append(f"{'':<{width}} {'  ' + img['image']:<14} {'':>5} {img['psnr']:8.2f} {img['ssim']:8.4f}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m minisr.evaluate",
        description="PSNR/SSIM (Y channel, scale-pixel border shaved) on standard test sets.")
    parser.add_argument("--method", choices=METHODS, default="fsrcnn",
                        help="bicubic, or the network whose shipped weights to use (default fsrcnn); "
                             "with --weights, rows are named after the network the file holds")
    parser.add_argument("--weights", nargs="+", metavar="FILE",
                        help="minisr .npz or the authors' .mat files; '{scale}' in a path is "
                             "replaced by each scale (default: the shipped weights)")
    parser.add_argument("--datasets", nargs="+", default=["Set5", "Set14", "BSD200"])
    parser.add_argument("--scales", nargs="+", type=int, default=[2, 3, 4])
    parser.add_argument("--data-dir", help="folder holding one folder per dataset "
                                           "(default: $MINISR_DATA or ~/.cache/minisr)")
    parser.add_argument("--format", choices=("table", "json", "jsonl", "csv"), default="table",
                        help="table (default), json (one JSON document: a list of objects), "
                             "jsonl (JSON Lines: one object per line) or csv")
    parser.add_argument("--per-image", action="store_true", help="also print every image's scores")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress display on stderr (shown by default; a line every 10 s "
                             "when stderr is not a terminal)")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    for scale in args.scales:
        if scale < 2:
            print(f"python -m minisr.evaluate: error: scale must be >= 2, got {scale}", file=sys.stderr)
            return 2
    try:
        results = evaluate(args.method, args.datasets, args.scales, args.weights, args.data_dir,
                           progress=not args.no_progress)
    except (DatasetError, FileNotFoundError, ValueError) as error:
        print(f"python -m minisr.evaluate: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    print(format_results(results, args.format, args.per_image))
    return 0


if __name__ == "__main__":
    sys.exit(main())
