"""PSNR/SSIM of bicubic or FSRCNN on whole test sets, with the paper's exact protocol
(:mod:`minisr.image.protocol`): the library behind ``python -m minisr.evaluate``.

    from minisr.scoring import evaluate
    rows = evaluate("fsrcnn", ["Set5"], [3])                      # the shipped weights
    rows = evaluate("fsrcnn", ["Set5"], [2, 3], ["FSRCNN/x{scale}.mat"])   # the authors'
"""

from pathlib import Path

import numpy as np

from .data import dataset_files, get_dataset
from .models import PRESETS, file_scale, load_model, model_label, shipped_weights_path
from .progress import Progress
from .image.protocol import check_scorable, evaluate_pair, load_test_pair, super_resolve
from .warmup import warm_up

#: ``bicubic``, or a network whose shipped weights to use (a key of PRESETS).
METHODS = ("bicubic",) + tuple(PRESETS)


def pick_weights(method: str, weights, scale: int) -> Path:
    """The weights file for ``scale``: the shipped one of ``method`` when ``weights`` is
    empty, else the one of ``weights`` made for ``scale`` (``{scale}`` in a path is
    replaced by it). ValueError or FileNotFoundError, one line."""
    if not weights:
        path = shipped_weights_path(method, scale)
        if not path.is_file():
            raise ValueError(f"no shipped weights for {method} x{scale} ({path} does not exist); "
                             "pass --weights FILE (a minisr .npz or the authors' x<scale>.mat)")
        return path
    candidates = [Path(w.replace("{scale}", str(scale))) for w in weights]
    for path in candidates:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such weights file")
    matching = [p for p in candidates if file_scale(p) == scale]
    if not matching:
        found = ", ".join(f"{p} (x{file_scale(p)})" for p in candidates)
        raise ValueError(f"no weights for x{scale} among {found}")
    return matching[0]


def evaluate(method: str, datasets, scales, weights=None, data_dir=None, progress: bool = True):
    """Evaluate one method on every (dataset, scale). Returns a list of dicts with keys
    ``method, weights, dataset, scale, psnr, ssim, images, per_image``; ``method`` names
    the network the weights hold (:func:`minisr.models.network_name`: ``fsrcnn``,
    ``fsrcnn-s``, ``fsrcnn-d-s-m``), or ``bicubic``.

    ``progress``: a progress line on stderr, redrawn on a terminal, every 10 s otherwise."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    results = []
    for scale in scales:
        model, weights_file, label = None, None, method
        if method != "bicubic":
            weights_file = pick_weights(method, weights, scale)
            model = load_model(weights_file, scale)
            label = model_label(model)
            warm_up(model, "evaluate")  # a first run compiles, shared with a helper process, and says so
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
