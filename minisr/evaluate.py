"""``python -m minisr.evaluate``: PSNR/SSIM of bicubic or FSRCNN on the test sets,
with the paper's exact protocol (see :mod:`minisr.protocol`).

    python -m minisr.evaluate --method bicubic --datasets Set5 Set14 BSD200 --scales 2 3 4 \\
        --data-dir ../shared/datasets
    python -m minisr.evaluate --method fsrcnn --weights 'FSRCNN/x{scale}.mat' --datasets Set5 --scales 3

``--weights`` takes minisr ``.npz`` files or the authors' ``.mat`` files; a path may
contain ``{scale}``, or several files may be given and each scale takes the one made
for it. Without ``--weights`` the weights shipped in ``minisr/weights/`` are used.
"""

import argparse
import csv
import io
import json
import sys
from pathlib import Path

import numpy as np

from .data import DatasetError, dataset_files, get_dataset
from .model import FSRCNN, read_config
from .official import load_official_model, scale_from_filename
from .progress import Progress
from .protocol import bicubic_upscale, check_scorable, evaluate_pair, load_test_pair

METHODS = ("bicubic", "fsrcnn", "fsrcnn-s")
SHIPPED_WEIGHTS = Path(__file__).parent / "weights"


class UsageError(ValueError):
    """A mistake on the command line or in a file the user named: reported in one line."""


def shipped_weights_path(method: str, scale: int) -> Path:
    return SHIPPED_WEIGHTS / f"{method}_x{scale}.npz"


def weights_scale(path) -> int:
    """The scale a weights file was made for (from its configuration or its name)."""
    path = str(path)
    if path.endswith(".mat"):
        scale = scale_from_filename(path)
        if scale is None:
            raise UsageError(f"{path}: cannot tell the scale from the name (expected ...x<scale>.mat)")
        return scale
    return read_config(path)["scale"]


def load_model(path) -> FSRCNN:
    """A minisr ``.npz`` model or one of the authors' ``.mat`` files."""
    path = str(path)
    return load_official_model(path) if path.endswith(".mat") else FSRCNN.load(path)


#: (d, s, m) of the paper's two networks, by the name a result row gets.
NETWORKS = {"fsrcnn": (56, 12, 4), "fsrcnn-s": (32, 5, 1)}


def model_label(model) -> str:
    """What a result row calls a network: ``fsrcnn`` for FSRCNN(56, 12, 4),
    ``fsrcnn-s`` for (32, 5, 1), ``fsrcnn-d-s-m`` for any other size, whatever
    ``--method`` said (it only chooses the shipped weights)."""
    for name, dsm in NETWORKS.items():
        if (model.d, model.s, model.m) == dsm:
            return name
    return f"fsrcnn-{model.d}-{model.s}-{model.m}"


def pick_weights(method: str, weights, scale: int) -> Path:
    """Choose the weights file for ``scale`` among the user's (or the shipped) files."""
    if not weights:
        path = shipped_weights_path(method, scale)
        if not path.is_file():
            raise UsageError(f"no shipped weights for {method} x{scale} ({path} does not exist); "
                             "pass --weights FILE (a minisr .npz or the authors' x<scale>.mat)")
        return path
    candidates = [Path(w.replace("{scale}", str(scale))) for w in weights]
    for path in candidates:
        if not path.is_file():
            raise UsageError(f"{path}: no such weights file")
    matching = [p for p in candidates if weights_scale(p) == scale]
    if not matching:
        found = ", ".join(f"{p} (x{weights_scale(p)})" for p in candidates)
        raise UsageError(f"no weights for x{scale} among {found}")
    return matching[0]


def super_resolve(model, lr_y: np.ndarray, scale: int) -> np.ndarray:
    """(h, w) float LR -> (scale*h, scale*w) float64 SR; ``model=None`` means bicubic."""
    if model is None:
        return bicubic_upscale(lr_y, scale)
    x = lr_y[None, None].astype(model.dtype)
    return model.infer(x)[0, 0].astype(np.float64)


def evaluate(method: str, datasets, scales, weights=None, data_dir=None, progress: bool = True):
    """Evaluate one method on every (dataset, scale). Returns a list of dicts with keys
    ``method, weights, dataset, scale, psnr, ssim, images, per_image``; ``method`` names
    the network the weights hold (:func:`model_label`), or ``bicubic``.

    ``progress``: a progress line on stderr, redrawn on a terminal, every 10 s otherwise."""
    if method not in METHODS:
        raise UsageError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    results = []
    for scale in scales:
        model, weights_file, label = None, None, method
        if method != "bicubic":
            weights_file = pick_weights(method, weights, scale)
            model = load_model(weights_file)
            if model.scale != scale:
                raise UsageError(f"{weights_file}: model is for x{model.scale}, not x{scale}")
            label = model_label(model)
        for name in datasets:
            dataset = get_dataset(name).name
            files = dataset_files(dataset, data_dir)
            per_image = []
            with Progress(len(files), f"{label} {dataset} x{scale}", always=True,
                          disable=not progress) as bar:
                for path in files:
                    hr_y, lr_y = load_test_pair(path, scale)
                    check_scorable(path, hr_y, scale)
                    psnr, ssim = evaluate_pair(super_resolve(model, lr_y, scale), hr_y, scale)
                    per_image.append({"image": path.name, "psnr": psnr, "ssim": ssim})
                    bar.update(1, note=f"PSNR {np.mean([r['psnr'] for r in per_image]):.2f}")
            results.append({
                "method": label, "weights": str(weights_file) if weights_file else None,
                "dataset": dataset, "scale": scale,
                "psnr": float(np.mean([r["psnr"] for r in per_image])),
                "ssim": float(np.mean([r["ssim"] for r in per_image])),
                "images": len(per_image), "per_image": per_image,
            })
    return results


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
    except (UsageError, DatasetError, FileNotFoundError, ValueError) as error:
        print(f"python -m minisr.evaluate: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    print(format_results(results, args.format, args.per_image))
    return 0


if __name__ == "__main__":
    sys.exit(main())
