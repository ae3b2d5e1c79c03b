"""Reading training runs and drawing their validation curves (shared by the experiment
scripts). A run folder's ``log.csv`` has one row per logged step; the rows with a
``val_psnr`` are the validations (on the run's --val sets, exact protocol). Charts are drawn
with Pillow, so no plotting package is needed.

The files in ``experiments/results/`` are tracked: every script only prints its table
unless run with ``--write`` (:func:`add_write_options`, :func:`save`).
"""

import csv
import json
import math
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RUNS = REPO / "experiments" / "runs"
RESULTS = REPO / "experiments" / "results"
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


def pyplot(script: str):
    """matplotlib.pyplot on the Agg backend (no display) for the scripts that draw with it
    (``paper.py``, ``tour.py``), or a one-line SystemExit naming ``script``."""
    try:
        import matplotlib
    except ImportError:
        raise SystemExit(f"{script}: the pictures need matplotlib: pip install -e '.[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def add_write_options(parser, out_name: str) -> None:
    """``--write`` (replace the tracked result file) and ``--out-dir DIR`` (where to)."""
    parser.add_argument("--write", action="store_true",
                        help=f"write {out_name} (and any charts) into --out-dir; without "
                        "it the table is only printed")
    parser.add_argument("--out-dir", type=Path, default=RESULTS, metavar="DIR",
                        help="folder for the results (default: experiments/results, tracked in git)")


def save(text: str, path: Path, write: bool) -> None:
    """Write ``text`` to ``path`` when ``write`` (--write); otherwise say where it would go."""
    if write:
        path.write_text(text)
        print(f"written to {path}")
    else:
        print(f"(not written; run with --write to replace {path})")


def read_curve(run: Path, column: str = "val_psnr"):
    """[(backprops, psnr, wall_s)] of the validated rows of a run's log.csv; ``column``
    ``"report_psnr"`` reads the report set's PSNR (``--report``) instead of validation's."""
    with open(run / "log.csv", newline="") as f:
        return [(int(r["backprops"]), float(r[column]), float(r["wall_s"]))
                for r in csv.DictReader(f) if r.get(column)]


def total_steps(run: Path) -> int:
    """The steps the run was planned for (settings.json)."""
    return settings_of(run)["total_steps"]


def steps_done(run: Path) -> int:
    """The last step written to the run's log.csv."""
    with open(run / "log.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return int(rows[-1]["step"])


def run_commands(run: Path) -> list:
    """The commands of a run folder's train.log: the start, then each --resume."""
    log = run / "train.log"
    if not log.is_file():
        return []
    marks = ("starting in ", "resuming at ")
    lines = [line for line in log.read_text().splitlines() if any(m in line for m in marks)]
    return [line.split(": ", 1)[1] for line in lines if ": " in line]


def same_weights(a: Path, b: Path) -> bool:
    """Whether two model files (.npz) hold the same arrays, bit for bit."""
    with np.load(a) as x, np.load(b) as y:
        return sorted(x.files) == sorted(y.files) and all(np.array_equal(x[k], y[k]) for k in x.files)


def settings_of(run: Path) -> dict:
    """The run's settings.json (what it trained, and total_steps)."""
    return json.loads((run / "settings.json").read_text())


def chart(title, curves, path: Path, reference=None, y_span=3.0) -> None:
    """PSNR against backprops (log axis), one line per ``(label, curve)``; ``reference``
    ``(label, psnr)`` draws a dashed horizontal line (e.g. the paper's figure); the y axis
    runs from ``y_span`` dB below the best point to a little above it."""
    from PIL import Image, ImageDraw

    width, height, left, right, top, bottom = 720, 440, 60, 20, 34, 50
    points = [(b, p) for _, curve in curves for b, p, _ in curve if b > 0]
    x_lo = 10 ** math.floor(math.log10(min(b for b, _ in points)))
    x_hi = 10 ** math.ceil(math.log10(max(b for b, _ in points)))
    best = max([p for _, p in points] + ([reference[1]] if reference else []))
    step = 1.0 if y_span >= 2 else 0.1  # grid lines every dB, or every 0.1 dB when zoomed in
    y_hi = math.ceil((best + 0.05 * y_span) / step) * step
    y_lo = math.floor((best - y_span) / step) * step

    def x(b):
        span = math.log10(x_hi) - math.log10(x_lo)
        return left + (width - left - right) * (math.log10(b) - math.log10(x_lo)) / span

    def y(p):
        p = min(max(p, y_lo), y_hi)
        return top + (height - top - bottom) * (y_hi - p) / (y_hi - y_lo)

    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((left, 8), f"{title}: Set5 PSNR (dB) against backprops (steps x batch)", fill="black")
    decade = x_lo
    while decade <= x_hi:
        draw.line([(x(decade), top), (x(decade), height - bottom)], fill="#dddddd")
        draw.text((x(decade) - 10, height - bottom + 6), f"1e{round(math.log10(decade))}", fill="black")
        decade *= 10
    for index in range(round((y_hi - y_lo) / step) + 1):
        level = y_lo + index * step
        draw.line([(left, y(level)), (width - right, y(level))], fill="#dddddd")
        draw.text((left - 40, y(level) - 6), f"{level:.{0 if step == 1 else 1}f}", fill="black")
    if reference:
        label, value = reference
        for start in range(left, width - right, 12):
            draw.line([(start, y(value)), (min(start + 6, width - right), y(value))], fill="black")
        draw.text((left + 8, y(value) - 14), f"{label} {value:.2f}", fill="black")
    for index, (label, curve) in enumerate(curves):
        colour = COLOURS[index % len(COLOURS)]
        line = [(x(b), y(p)) for b, p, _ in curve if b > 0]
        draw.line(line, fill=colour, width=2)
        for px, py in line:
            draw.ellipse([px - 2, py - 2, px + 2, py + 2], fill=colour)
    # the legend in the lower right corner (curves rise to the right), on white
    legend_w = 7 * max(len(label) for label, _ in curves) + 16
    legend_top = height - bottom - 16 * len(curves) - 12
    draw.rectangle([width - right - legend_w, legend_top, width - right - 2, height - bottom - 2],
                   fill="white", outline="#bbbbbb")
    for index, (label, _) in enumerate(curves):
        draw.text((width - right - legend_w + 8, legend_top + 6 + 16 * index), label,
                  fill=COLOURS[index % len(COLOURS)])
    image.save(path)
