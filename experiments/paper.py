"""Regenerate items of the FSRCNN paper (Dong, Loy & Tang, ECCV 2016) with minisr, by name.

    python experiments/paper.py figure3                  # into a temporary folder (printed)
    python experiments/paper.py figure7 figure8 --write  # into experiments/results/ (tracked)
    python experiments/paper.py --all --out /tmp/paper   # every item, into /tmp/paper
    python experiments/paper.py --list                   # the items there are

Each item writes a Markdown file (what was made, the command that made it, its wall and
CPU time) and its pictures. Like the other scripts here, the tracked files in
``experiments/results/`` are replaced only with ``--write``; without it the files go to
``--out DIR`` or a new temporary folder, and the script says where.

Pictures need matplotlib (``pip install -e '.[plot]'``); the library itself never
imports it. The authors' released weights (academic licence) are read at run time from
``--official DIR`` (default ``../shared/reference/fsrcnn-official``) and never copied.

Adding an item: write a function ``item(context) -> Report`` and add it to ``ITEMS``.
"""

import argparse
import datetime
import os
import platform
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List

import numpy as np

from curves import REPO, RESULTS, pyplot, read_curve, same_weights
from minisr.image.color import rgb_to_ycbcr, ycbcr_to_rgb
from minisr.image.imageio import read_image
from minisr.image.metrics import modcrop
from minisr.models import load_model
from minisr.image.protocol import evaluate_pair, load_test_pair, super_resolve, to_uint8_image
from minisr.image.resize import imresize

DEFAULT_OFFICIAL = REPO.parent / "shared" / "reference" / "fsrcnn-official"


# ----------------------------------------------------------------------------- framework

@dataclass
class Context:
    """What every item gets: where to write, where the data and the authors' weights are."""
    out_dir: Path
    data_dir: str = None
    official: Path = DEFAULT_OFFICIAL

    def official_weights(self, network_folder: str, scale: int) -> Path:
        """The authors' ``<network_folder>/x<scale>.mat``; SystemExit (one line) if missing."""
        path = self.official / network_folder / f"x{scale}.mat"
        if not path.is_file():
            raise SystemExit(f"paper.py: {path} not found; pass --official DIR (the folder with "
                             "FSRCNN/ and FSRCNN-s/ of the authors' .mat files)")
        return path


@dataclass
class Report:
    """What an item made: a Markdown file ``markdown`` (title + body) and the pictures."""
    markdown: str
    title: str
    body: List[str]
    pictures: List[str] = field(default_factory=list)


@dataclass
class Item:
    """A registry entry: the function that makes the item, and one line on what it is."""
    make: Callable[[Context], Report]
    what: str


# ----------------------------------------------------------------------------- figure 3

def filter_mosaic(filters: np.ndarray, columns: int = 8, gap: int = 1) -> np.ndarray:
    """(N, k, k) filters -> one 2-D picture: a grid of ``columns`` filters per row, in
    channel order, ``gap`` pixels of NaN (drawn as background) between them.

    Each filter is normalised on its own to [-1, 1] by its largest absolute weight, so
    that zero stays at the middle grey whatever the filter's magnitude."""
    count, k, _ = filters.shape
    rows = -(-count // columns)
    mosaic = np.full((rows * (k + gap) - gap, columns * (k + gap) - gap), np.nan)
    for index, w in enumerate(filters):
        peak = np.abs(w).max()
        row, col = divmod(index, columns)
        top, left = row * (k + gap), col * (k + gap)
        mosaic[top:top + k, left:left + k] = w / peak if peak > 0 else w
    return mosaic


def figure3(context: Context) -> Report:
    """The 56 learned 9x9 deconvolution filters of FSRCNN x3: minisr's shipped model beside
    the authors' released one (the paper's Figure 3)."""
    plt = pyplot("paper.py")
    official_path = context.official_weights("FSRCNN", 3)
    models = [("minisr FSRCNN x3 (shipped, trained on T91)", load_model("fsrcnn_x3")),
              ("authors' FSRCNN x3 (released, 91-image + General-100)", load_model(official_path))]

    figure, axes = plt.subplots(1, 2, figsize=(12, 6.0), constrained_layout=True)
    cmap = plt.get_cmap("gray").copy()
    cmap.set_bad("#f0e0c0")  # the gaps between filters: a pale background, not a grey level
    stats = []
    for ax, (title, model) in zip(axes, models):
        filters = model.deconv.weight.data[:, 0].astype(np.float64)  # (56, 9, 9)
        shown = ax.imshow(filter_mosaic(filters), cmap=cmap, vmin=-1, vmax=1, interpolation="nearest")
        ax.set_title(f"{title}\n{filters.shape[0]} filters, {filters.shape[1]}x{filters.shape[2]}, "
                     "channel order row by row", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        peaks = np.abs(filters).reshape(len(filters), -1).max(axis=1)
        stats.append((title, peaks.min(), peaks.max(), float(model.deconv.bias.data.ravel()[0])))
    bar = figure.colorbar(shown, ax=list(axes), shrink=0.7, location="bottom")
    bar.set_label("weight / (largest |weight| of its own filter): black -1, mid grey 0, white +1")
    figure.suptitle("Figure 3: the learned deconvolution filters of FSRCNN(56, 12, 4), upscaling factor 3")
    picture = "figure3_deconv_filters.png"
    figure.savefig(context.out_dir / picture, dpi=110)
    plt.close(figure)

    body = [f"![the two sets of 56 deconvolution filters]({picture})", "",
            "The paper's Figure 3 shows the 56 learned 9x9 filters of the last layer of FSRCNN x3 "
            "(the deconvolution, stride 3). Left: minisr's shipped `fsrcnn_x3` "
            "(`minisr.models.load_model(\"fsrcnn_x3\")`, trained by minisr on T91). Right: the authors' "
            "released `FSRCNN/x3.mat` (read from the reference folder at run time, not copied), "
            "loaded with `minisr.models.load_model(path)`.", "",
            "- Each filter is `model.deconv.weight.data[c, 0]` (9x9), drawn in channel order, eight "
            "per row (channel c at row c // 8, column c % 8). The order of the channels is arbitrary "
            "in each network, so filters of the two grids do not correspond one to one.",
            "- Normalisation: per filter, divided by its own largest absolute weight, so each one "
            "spans at most [-1, 1] with zero at mid grey. Their magnitudes are not comparable "
            "between the grids (the layer before the deconvolution can take any scale):", ""]
    body += ["| model | smallest / largest per-filter max abs weight | deconvolution bias |",
             "|---|---:|---:|"]
    body += [f"| {title} | {low:.4f} / {high:.4f} | {bias:+.4f} |" for title, low, high, bias in stats]
    return Report("figure3.md", "Figure 3: the learned deconvolution filters (x3)", body, [picture])


# ----------------------------------------------------------------------------- figures 7 and 8

@dataclass(frozen=True)
class Example:
    """One of the paper's example images: its file, where to zoom, and the paper's figure."""
    figure: int
    name: str
    dataset: str
    file: str
    crop: tuple  # (top, left, height, width) in HR pixels


EXAMPLES = {
    "figure7": Example(7, "lenna", "Set14", "lenna.bmp", crop=(230, 240, 90, 120)),
    "figure8": Example(8, "butterfly", "Set5", "butterfly_GT.bmp", crop=(90, 120, 80, 80)),
}
SCALE = 3


def methods(context: Context) -> list:
    """The panels' methods: (title, what, model or None for bicubic)."""
    official = context.official_weights("FSRCNN", SCALE)
    return [("Bicubic", "MATLAB-exact bicubic", None),
            ("FSRCNN-s (minisr)", "shipped `fsrcnn-s_x3` (T91)", load_model(f"fsrcnn-s_x{SCALE}")),
            ("FSRCNN (minisr)", "shipped `fsrcnn_x3` (T91)", load_model(f"fsrcnn_x{SCALE}")),
            ("FSRCNN (authors)", "authors' `FSRCNN/x3.mat` (91-image + General-100)", load_model(official))]


def example_path(example: Example, data_dir) -> Path:
    """The example's image file, found through minisr's dataset registry."""
    from minisr.data import dataset_files
    for path in dataset_files(example.dataset, data_dir):
        if path.name == example.file:
            return path
    raise SystemExit(f"paper.py: {example.file} is not in {example.dataset}")


def colour_composite(y: np.ndarray, chroma_lr: np.ndarray, scale: int) -> np.ndarray:
    """(H, W, 3) RGB in [0, 1] to look at: ``y`` (H, W; a method's output, quantised to
    uint8 as it is scored) with the Cb, Cr of the LR image upscaled by bicubic, as SR
    papers draw their colour figures (every score is on Y alone)."""
    cbcr = imresize(chroma_lr, float(scale))
    ycbcr = np.dstack([to_uint8_image(y) / 255.0, cbcr])
    return ycbcr_to_rgb(ycbcr)


def score_example(example: Example, panels: list, data_dir) -> tuple:
    """(rows, pictures): rows of (title, what, psnr, ssim) per method on the exact protocol
    (:func:`minisr.image.protocol.evaluate_pair`), and the RGB picture of each panel (the last
    one the original)."""
    path = example_path(example, data_dir)
    hr_y, lr_y = load_test_pair(path, SCALE)
    rgb = modcrop(read_image(path, exif_transpose=False), SCALE)
    chroma_lr = imresize(rgb_to_ycbcr(rgb.astype(np.float64) / 255.0)[..., 1:], 1.0 / SCALE)
    rows, pictures = [], []
    for title, what, model in panels:
        sr_y = super_resolve(model, lr_y, SCALE)
        psnr, ssim = evaluate_pair(sr_y, hr_y, SCALE)
        rows.append((title, what, psnr, ssim))
        pictures.append(colour_composite(sr_y, chroma_lr, SCALE))
    pictures.append(rgb / 255.0)
    return rows, pictures


def draw_example(example: Example, rows: list, pictures: list, path: Path) -> None:
    """One column per method and the original: the whole image with the zoomed region
    outlined on top, the region enlarged below, PSNR / SSIM in each title."""
    plt = pyplot("paper.py")
    from matplotlib.patches import Rectangle

    top, left, height, width = example.crop
    titles = [f"{title}\nPSNR {psnr:.2f} dB, SSIM {ssim:.4f}" for title, _, psnr, ssim in rows]
    titles.append("Original (ground truth)\nPSNR / SSIM: reference")
    columns = len(pictures)
    figure, axes = plt.subplots(2, columns, figsize=(3.2 * columns, 6.6),
                                gridspec_kw={"height_ratios": [1, height / width]}, constrained_layout=True)
    for column, (picture, title) in enumerate(zip(pictures, titles)):
        whole, zoom = axes[0, column], axes[1, column]
        whole.imshow(picture, interpolation="lanczos")
        whole.add_patch(Rectangle((left - 0.5, top - 0.5), width, height, fill=False, edgecolor="red", lw=1.5))
        whole.set_title(title, fontsize=10)
        zoom.imshow(picture[top:top + height, left:left + width], interpolation="nearest")
        zoom.set_title("red box, enlarged", fontsize=9)
        for ax in (whole, zoom):
            ax.set_xticks([])
            ax.set_yticks([])
    figure.suptitle(f"Figure {example.figure}: \"{example.name}\" ({example.dataset}), upscaling factor "
                    f"{SCALE}; PSNR / SSIM on the Y channel, exact protocol")
    figure.savefig(path, dpi=100)
    plt.close(figure)


def figures_7_and_8(context: Context) -> Report:
    """Figures 7 ("lenna", Set14) and 8 ("butterfly", Set5) at x3: bicubic, FSRCNN-s and
    FSRCNN (minisr's shipped weights), FSRCNN (the authors' weights), and the original."""
    panels = methods(context)
    table = ["| image | method | weights | PSNR (dB) | SSIM |", "|---|---|---|---:|---:|"]
    pictures = []
    for key in ("figure7", "figure8"):
        example = EXAMPLES[key]
        rows, images = score_example(example, panels, context.data_dir)
        picture = f"figure{example.figure}_{example.name}.png"
        draw_example(example, rows, images, context.out_dir / picture)
        pictures.append(picture)
        table += [f"| {example.name} ({example.dataset}) | {title} | {what} | {psnr:.2f} | {ssim:.4f} |"
                  for title, what, psnr, ssim in rows]
    crops = "; ".join(f"{e.name}: rows {e.crop[0]}-{e.crop[0] + e.crop[2] - 1}, columns "
                      f"{e.crop[1]}-{e.crop[1] + e.crop[3] - 1}" for e in EXAMPLES.values())
    body = [f"![Figure 7: lenna]({pictures[0]})", "", f"![Figure 8: butterfly]({pictures[1]})", "",
            f"The paper's Figures 7 and 8 compare methods on \"lenna\" (Set14) and \"butterfly\" (Set5) "
            f"at x{SCALE}. Here: bicubic, minisr's shipped FSRCNN-s and FSRCNN (trained on T91), the "
            "authors' released FSRCNN x3 (trained on 91-image + General-100; read at run time, not "
            "copied), and the original.", "",
            "Scores: `minisr.image.protocol.load_test_pair` (Y of MATLAB `rgb2ycbcr`, modcrop, MATLAB bicubic "
            "LR, not quantised), `super_resolve`, then `evaluate_pair` (both quantised to uint8, "
            f"{SCALE} pixels shaved per border; SSIM of Wang et al., Gaussian 11, sigma 1.5): the "
            "protocol of `python -m minisr.evaluate`.", "", *table, "",
            "The paper prints the PSNR of each method inside its Figures 7 and 8, but "
            "`paper-results.md` (the project's transcription of the paper) does not give those "
            "per-image values, so they are not compared here.", "",
            "Pictures: top row the whole image, drawn in colour (the method's Y, quantised as scored, "
            "with the LR image's Cb and Cr upscaled by bicubic); bottom row the red box enlarged "
            f"with nearest-neighbour pixels ({crops}; HR pixels after modcrop)."]
    return Report("figures7_8.md", "Figures 7 and 8: \"lenna\" and \"butterfly\" at x3", body, pictures)


# ----------------------------------------------------------------------------- Table 2, Figure 5

#: The paper's Table 2 (Set5 x3 PSNR, T91 training; weights): {(d, s, m): (psnr, weights)}.
TABLE_2 = {
    (48, 12, 2): (32.87, 8832), (48, 12, 3): (32.88, 10128), (48, 12, 4): (33.08, 11424),
    (56, 12, 2): (33.00, 9872), (56, 12, 3): (32.97, 11168), (56, 12, 4): (33.16, 12464),
    (48, 16, 2): (32.95, 11232), (48, 16, 3): (33.10, 13536), (48, 16, 4): (33.18, 15840),
    (56, 16, 2): (33.01, 12336), (56, 16, 3): (33.12, 14640), (56, 16, 4): (33.17, 16944),
}
TABLE_2_RUNS = REPO / "experiments" / "runs" / "table2"


def table2_run(d: int, s: int, m: int) -> Path:
    return TABLE_2_RUNS / f"d{d}_s{s}_m{m}"


def run_finished(run: Path) -> bool:
    log = run / "train.log"
    return log.is_file() and "finished" in log.read_text().splitlines()[-1]


def budget_line(plan: str = "table2") -> str:
    """The shared training budget of the design runs, from experiments/train_runs.py."""
    from train_runs import SHARED, TABLE2_STEPS
    return (f"Budget, the same for every network: {TABLE2_STEPS:,} steps of batch 128 "
            f"({TABLE2_STEPS * 128 / 1e6:.2f} M backprops), T91 x3 with the paper's augmentation, Adam, "
            "lr 3e-3 (deconvolution 1e-4), cosine to 1%, seed 0; each network's checkpoint chosen on "
            "BSDS500-val20 (20 images of BSDS500-train, no test set), validated every 1,000 steps. "
            f"Made by `python experiments/train_runs.py {plan}` (options: `{' '.join(SHARED)}`), in "
            "resumable chunks; the paper trains far longer with SGD, so every cell is expected below its "
            "paper value: the comparison is between the rows.")


def table2(context: Context) -> Report:
    """Table 2: the 12 settings of (d, s, m), weights (exact) and Set5 x3 PSNR/SSIM of each
    run's best.npz (chosen on BSDS500-val20), beside the paper's; which trends hold."""
    from minisr.model import FSRCNN
    from minisr.scoring import evaluate

    rows, scores = [], {}
    for (d, s, m), (paper_psnr, paper_weights) in TABLE_2.items():
        weights = FSRCNN(d, s, m, 3).weight_count()
        run = table2_run(d, s, m)
        if not run_finished(run):
            rows.append(f"| {d} | {s} | {m} | {weights:,} | {paper_weights:,} | not trained yet | | | {paper_psnr:.2f} | |")
            continue
        result = evaluate("fsrcnn", ["Set5"], [3], [str(run / "best.npz")], context.data_dir, progress=False)[0]
        curve = read_curve(run)
        best = max(curve, key=lambda row: row[1])
        scores[(d, s, m)] = result["psnr"]
        rows.append(f"| {d} | {s} | {m} | {weights:,} | {paper_weights:,} | {best[1]:.2f} "
                    f"({best[0] / 1e6:.2f} M) | {result['psnr']:.2f} | {result['ssim']:.4f} | {paper_psnr:.2f} | "
                    f"{result['psnr'] - paper_psnr:+.2f} |")
    body = [budget_line(), "",
            "| d | s | m | weights (minisr) | weights (paper) | BSDS500-val20 PSNR of best.npz (at backprops) | "
            "Set5 x3 PSNR | Set5 SSIM | paper PSNR | minisr - paper |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"] + rows + [""]
    body += trends(scores)
    return Report("table2.md", "Table 2: the hourglass's settings d, s, m (x3, T91)", body)


def trends(scores: dict) -> list:
    """The paper's trends, each stated as holds / does not hold on the runs finished."""
    lines = ["Trends (the paper's, on minisr's runs):", ""]
    pairs = [(d, s) for d in (48, 56) for s in (12, 16)]
    complete = [(d, s) for d, s in pairs if all((d, s, m) in scores for m in (2, 3, 4))]
    if not complete:
        return lines + ["- not judged yet: no (d, s) has all three m trained."]
    best_is_4 = {(d, s): max((2, 3, 4), key=lambda m: scores[(d, s, m)]) == 4 for d, s in complete}
    detail = "; ".join(f"({d}, {s}): " + ", ".join(f"m={m} {scores[(d, s, m)]:.2f}" for m in (2, 3, 4))
                       for d, s in complete)
    verdict = "holds" if all(best_is_4.values()) else (
        f"holds for {sum(best_is_4.values())} of {len(complete)}" if any(best_is_4.values()) else "does not hold")
    lines.append(f"- m = 4 is the best m for each (d, s): {verdict} ({detail}).")
    largest = sorted(TABLE_2, key=lambda key: TABLE_2[key][1])[-3:]
    if all(key in scores for key in largest):
        spread = max(scores[k] for k in largest) - min(scores[k] for k in largest)
        paper_spread = max(TABLE_2[k][0] for k in largest) - min(TABLE_2[k][0] for k in largest)
        names = ", ".join(f"({d}, {s}, {m})" for d, s, m in largest)
        lines.append(f"- the three largest networks ({names}) lie close together: {spread:.2f} dB apart "
                     f"(paper: {paper_spread:.2f} dB) -- "
                     f"{'holds' if spread <= 0.1 else 'does not hold'} (taking 0.1 dB as close).")
    else:
        lines.append("- the three largest networks close together: not judged yet (not all trained).")
    return lines


FIGURE_5_RUNS = REPO / "experiments" / "runs" / "figure5"


def figure5_orders(panels, ends: dict) -> list:
    """For each panel, the order of its curves at the end against the paper's order
    (its curves end at Table 2's values), and whether they agree."""
    lines = []
    for title, keys, label in panels:
        if not all(key in ends for key in keys):
            lines.append(f"- {title}: the order of the curves is compared once every run has finished")
            continue
        ours = sorted(keys, key=lambda key: -ends[key])
        papers = sorted(keys, key=lambda key: -TABLE_2[key][0])
        said = " > ".join(f"{label(*key)} ({ends[key]:.2f})" for key in ours)
        paper = " > ".join(f"{label(*key)} ({TABLE_2[key][0]:.2f})" for key in papers)
        verdict = "the same order" if ours == papers else "not the paper's order"
        lines.append(f"- {title}, order at the end: minisr {said}; the paper (Table 2) {paper}: {verdict}. "
                     f"Spread: minisr {ends[ours[0]] - ends[ours[-1]]:.2f} dB, the paper "
                     f"{TABLE_2[papers[0]][0] - TABLE_2[papers[-1]][0]:.2f} dB.")
    return lines


def figure5(context: Context) -> Report:
    """Figure 5: Set5 x3 PSNR against backprops, as the paper plots it, (a) d=56, s=16,
    m in {2, 3, 4}; (b) m=4, (d, s) in {(48,12), (56,12), (48,16), (56,16)}. The curves
    are the ``report_psnr`` column of ``train_runs.py figure5``'s runs (Table 2's runs
    again with Set5 scored at every validation, never choosing). Top row: every
    validation; bottom row: the second half of training, where the curves separate, its
    axis fitted to all the points there (no point is cut off in either row)."""
    plt = pyplot("paper.py")
    panels = [("(a) d = 56, s = 16", [(56, 16, m) for m in (2, 3, 4)], lambda d, s, m: f"m = {m}"),
              ("(b) m = 4", [(d, s, 4) for d, s in ((48, 12), (56, 12), (48, 16), (56, 16))],
               lambda d, s, m: f"d = {d}, s = {s}")]
    figure, axes = plt.subplots(2, 2, figsize=(11, 8), dpi=90)
    lines = [budget_line("figure5"), "", "![Figure 5](figure5_convergence.png)", "",
             "Each curve: Set5 x3 PSNR (exact protocol) at every 1,000 steps against backprops (steps x 128), "
             "from the `report_psnr` column of the run's log.csv: `python experiments/train_runs.py figure5` "
             "trains Table 2's networks again with Table 2's options, seed and threads, adding `--report "
             "Set5`, which scores Set5 at each validation without letting it choose anything (checkpoints are "
             "still chosen on BSDS500-val20). Top row all of it, bottom row the second half enlarged.", ""]
    ends = {}  # (d, s, m) -> Set5 at the end of the curve
    for column, (title, keys, label) in enumerate(panels):
        for key in keys:
            run = FIGURE_5_RUNS / table2_run(*key).name
            if not (run / "log.csv").is_file():
                lines.append(f"- {title}, {label(*key)}: no run yet")
                continue
            curve = [row for row in read_curve(run, "report_psnr") if row[0] > 0]
            if not curve:
                lines.append(f"- {title}, {label(*key)}: no Set5 validation in {run.name}/log.csv yet")
                continue
            x = [row[0] / 1e6 for row in curve]
            y = [row[1] for row in curve]
            name = label(*key) + ("" if run_finished(run) else " (unfinished)")
            late = [(bx, by) for bx, by in zip(x, y) if bx >= x[-1] / 2]  # the second half
            axes[0, column].plot(x, y, label=name)
            axes[1, column].plot(*zip(*late), marker=".", label=name)
            same = ""
            if run_finished(run) and run_finished(table2_run(*key)):
                same = ("; best.npz identical to Table 2's run" if same_weights(run / "best.npz", table2_run(*key) /
                        "best.npz") else "; **best.npz differs from Table 2's run**")
            if run_finished(run):
                ends[key] = y[-1]
            lines.append(f"- {title}, {label(*key)}: Set5 {y[-1]:.3f} dB at the end ({x[-1]:.2f} M backprops), "
                         f"highest {max(y):.3f} dB at {x[y.index(max(y))]:.2f} M{same}")
        for row, axis in enumerate(axes[:, column]):
            axis.set_xlabel("backprops (millions of sub-images)")
            axis.set_ylabel("Set5 PSNR (dB), x3")
            axis.set_title(title + ("" if row == 0 else ", second half enlarged"))
            axis.grid(alpha=0.3)
            if axis.get_lines():
                axis.legend(loc="lower right")
    lines += ["", *figure5_orders(panels, ends)]
    figure.tight_layout()
    figure.savefig(context.out_dir / "figure5_convergence.png")
    plt.close(figure)
    return Report("figure5.md", "Figure 5: convergence of the hourglass's settings (x3, T91)", lines,
                  ["figure5_convergence.png"])


# ----------------------------------------------------------------------------- Table 1, claims
RUNS_DIR = REPO / "experiments" / "runs"
#: The paper's Table 1: network -> (weights, speed-up over SRCNN-Ex, Set5 x3 PSNR).
TABLE_1 = {"srcnn-ex": (57184, 1.0, 32.83), "transition-1": (58976, 8.7, 32.95),
           "transition-2": (17088, 30.1, 33.01), "fsrcnn": (12464, 41.3, 33.06)}


def set5_of(run: Path, data_dir) -> tuple:
    """(Set5 x3 PSNR, SSIM) of a finished run's best.npz (exact protocol), or None."""
    from minisr.scoring import evaluate
    if not run_finished(run):
        return None
    result = evaluate("fsrcnn", ["Set5"], [3], [str(run / "best.npz")], data_dir, progress=False)[0]
    return result["psnr"], result["ssim"]


TIMING_ROUNDS = 5  # Table 1's speed: rounds over the four networks


def table1(context: Context) -> Report:
    """Table 1: SRCNN-Ex, the two transition states and FSRCNN: weights, multiply-adds,
    the speed-up over SRCNN-Ex (by multiply-adds and measured with minisr at x3,
    253x253 -> 759x759) and Set5 x3 PSNR after the shared budget."""
    from minisr.model import FSRCNN
    from minisr.networks import Network
    from minisr.profiling import median_time
    from train_runs import TABLE1_STEPS

    x = np.random.default_rng(0).random((1, 1, 253, 253), dtype=np.float32)
    nets = {name: (FSRCNN(56, 12, 4, 3) if name == "fsrcnn" else Network(name, 3)) for name in TABLE_1}
    for net in nets.values():
        net.infer(x)  # compiles, and makes the workspace
    # Alternating rounds, each network's best round kept: this VM's speed drifts by a
    # third between minutes, and a network timed alone in a slow minute looked slower.
    times = {name: float("inf") for name in nets}
    for _ in range(TIMING_ROUNDS):
        for name, net in nets.items():
            times[name] = min(times[name], median_time(lambda net=net: net.infer(x), 3 if name == "srcnn-ex" else 10))
    base_macs, base_time = nets["srcnn-ex"].macs_per_lr_pixel(), times["srcnn-ex"]
    rows, scores_by_name = [], {}
    for name, (paper_weights, paper_speed, paper_psnr) in TABLE_1.items():
        net = nets[name]
        scores = set5_of(RUNS_DIR / "table1" / name, context.data_dir)
        psnr = "not trained yet" if scores is None else f"{scores[0]:.2f} / {scores[1]:.4f}"
        if scores is not None:
            scores_by_name[name] = scores[0]
        rows.append(f"| {name} | {net.weight_count():,} | {paper_weights:,} | {net.macs_per_lr_pixel():,} | "
                    f"{base_macs / net.macs_per_lr_pixel():.1f}x | {paper_speed:.1f}x | {times[name] * 1e3:.1f} | "
                    f"{base_time / times[name]:.1f}x | {psnr} | {paper_psnr:.2f} |")
    body = [
        "Networks (`minisr/networks.py`; `python -m minisr.train --arch NAME`): SRCNN-Ex "
        "Conv(9,64,1)-Conv(5,32,64)-Conv(5,1,32) on the bicubic-upscaled image (ReLU); transition "
        "state 1, its last convolution replaced by DeConv(9,1,32) on the LR image; transition state 2, "
        "Conv(9,64,1)-Conv(1,12,64)-4xConv(3,12,12)-Conv(1,64,12)-DeConv(9,1,64) (PReLU); FSRCNN(56,12,4).",
        "",
        f"Speed: `infer` of one 253x253 LR image at x3 (-> 759x759), float32, all cores: {TIMING_ROUNDS} rounds that "
        "time the four networks in turn, each round the median of 10 runs (SRCNN-Ex: 3), each network's fastest "
        "round kept, all in this one run; the paper's speed-ups are the ratios of multiply-adds (the column beside them).",
        "",
        f"PSNR: each network trained on T91 x3 for {TABLE1_STEPS:,} steps of batch 128 (the same backprops for "
        "all), Adam lr 3e-3 (deconvolution 1e-4), cosine, best.npz chosen on BSDS500-val20; "
        "`python experiments/train_runs.py table1` (resumable chunks).",
        "",
        "| network | weights | paper | multiply-adds per LR pixel | speed-up by multiply-adds | paper | "
        "ms (minisr) | speed-up measured | Set5 x3 PSNR / SSIM | paper PSNR |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"] + rows
    if all(name in scores_by_name for name in TABLE_1):
        steps = list(TABLE_1)
        rises = [scores_by_name[b] > scores_by_name[a] for a, b in zip(steps, steps[1:])]
        body += ["", "The paper's trend, PSNR rising at each step from SRCNN-Ex to FSRCNN (32.83, 32.95, 33.01, "
                 "33.06): " + ("holds" if all(rises) else "does not hold") + " after this budget ("
                 + ", ".join(f"{b} {scores_by_name[b] - scores_by_name[a]:+.2f} dB" for a, b in zip(steps, steps[1:]))
                 + "). The measured speed-ups "
                 + ("rise" if times["srcnn-ex"] > times["transition-1"] > times["transition-2"] > times["fsrcnn"]
                    else "do not rise") + " in the paper's order."]
    return Report("table1.md", "Table 1: from SRCNN-Ex to FSRCNN (x3)", body)


def claims(context: Context) -> Report:
    """The paper's design claims, each measured on the claims runs and stated as holds /
    does not hold: identical deconvolution filters, no expanding layer, PReLU vs ReLU."""
    claims_dir = RUNS_DIR / "claims"
    fsrcnn_runs = {0: table2_run(56, 12, 4), 1: claims_dir / "fsrcnn_seed1", 2: claims_dir / "fsrcnn_seed2"}
    relu_runs = {seed: claims_dir / f"fsrcnn-relu_seed{seed}" for seed in (0, 1, 2)}
    base = set5_of(fsrcnn_runs[0], context.data_dir)
    lines = [budget_line("claims") + " FSRCNN seed 0 is Table 2's d56_s12_m4 run.", ""]

    def against_base(run_name, what, threshold, at_least):
        other = set5_of(claims_dir / run_name, context.data_dir)
        if base is None or other is None:
            return f"- {what}: not judged yet (runs unfinished)."
        loss = base[0] - other[0]
        holds = loss >= threshold if at_least else 0 < loss <= threshold + 0.05
        return (f"- {what}: Set5 x3 {other[0]:.2f} dB against FSRCNN's {base[0]:.2f} dB, a loss of {loss:.2f} dB "
                f"-- {'holds' if holds else 'does not hold'}.")

    lines.append(against_base("fsrcnn-shared-deconv", "(a) 56 identical deconvolution filters cost at least 0.9 dB",
                              0.9, True))
    lines.append(against_base("fsrcnn-no-expand", "(b) without the expanding layer the network loses up to 0.3 dB",
                              0.3, False))
    curves = {}
    for label, runs in (("PReLU", fsrcnn_runs), ("ReLU", relu_runs)):
        curves[label] = [read_curve(run) for run in runs.values() if run_finished(run)]
    if all(len(c) == 3 for c in curves.values()):
        spreads = {}
        for label, runs in curves.items():
            points = min(len(c) for c in runs)
            later = range(points // 10, points)  # past the first tenth of the training
            spreads[label] = float(np.mean([np.std([c[i][1] for c in runs]) for i in later]))
        finals = {label: [max(row[1] for row in c) for c in runs] for label, runs in curves.items()}
        holds = spreads["PReLU"] < spreads["ReLU"]
        lines.append(f"- (c) PReLU networks are more stable than ReLU ones: across 3 seeds the validation PSNR "
                     f"curves spread by {spreads['PReLU']:.3f} dB (PReLU) and {spreads['ReLU']:.3f} dB (ReLU) on "
                     f"average (standard deviation at each validation after the first tenth); best validation "
                     f"PSNR PReLU {', '.join(f'{v:.2f}' for v in finals['PReLU'])}, ReLU "
                     f"{', '.join(f'{v:.2f}' for v in finals['ReLU'])} -- {'holds' if holds else 'does not hold'}.")
    else:
        lines.append("- (c) PReLU more stable than ReLU: not judged yet (3 seeds of each needed).")
    pictures = []
    if any(curves.values()):
        draw_seed_curves(curves, context.out_dir / "claims_prelu_relu.png")
        pictures.append("claims_prelu_relu.png")
        lines += ["", "![PReLU and ReLU, three seeds each](claims_prelu_relu.png)"]
    return Report("claims.md", "The paper's design claims, measured", lines, pictures)


def draw_seed_curves(curves: dict, path: Path) -> None:
    """Claim (c)'s picture: each activation's runs (one per seed), validation PSNR against
    backprops; left every point, right the second half enlarged (no point cut off)."""
    plt = pyplot("paper.py")
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2), dpi=90)
    colours = {"PReLU": "tab:blue", "ReLU": "tab:red"}
    for label, runs in curves.items():
        for index, curve in enumerate(runs):
            x = [row[0] / 1e6 for row in curve if row[0] > 0]
            y = [row[1] for row in curve if row[0] > 0]
            name = f"{label} ({len(runs)} seeds)" if index == 0 else None
            axes[0].plot(x, y, color=colours[label], alpha=0.8, label=name)
            late = [(bx, by) for bx, by in zip(x, y) if bx >= x[-1] / 2]
            axes[1].plot(*zip(*late), color=colours[label], marker=".", alpha=0.8,
                         label=f"{label} ({len(runs)} seeds)" if index == 0 else None)
    for axis, title in zip(axes, ("every validation", "second half enlarged")):
        axis.set_xlabel("backprops (millions of sub-images)")
        axis.set_ylabel("BSDS500-val20 PSNR (dB), x3")
        axis.set_title(f"FSRCNN(56, 12, 4), PReLU vs ReLU: {title}")
        axis.grid(alpha=0.3)
        axis.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def figure6(context: Context) -> Report:
    """Figure 6 (transfer across scales): ``experiments/transfer_curves.py``'s table and
    charts, made into the same folder as the other items."""
    import transfer_curves
    transfer_curves.main(["--write", "--out-dir", str(context.out_dir)])
    pictures = [f"transfer_{name}.png" for name, _, _ in transfer_curves.COMPARISONS]
    return Report("figure6.md", "Figure 6: transfer across scales (fine-tuning the deconvolution)",
                  ["The table and charts are `transfer.md` and " + ", ".join(f"`{p}`" for p in pictures) +
                   " in this folder, made by `experiments/transfer_curves.py` from the transfer runs "
                   "(their text says how)."], pictures)


# ----------------------------------------------------------------------------- honest validation
#: The shipped models as they were first chosen: the Set5-best checkpoint of each run
#: (Set5 was then the validation set and also a reported test set).
SET5_CHOSEN = {("fsrcnn", 3): "fsrcnn_x3_lr3e-3", ("fsrcnn-s", 3): "fsrcnn-s_x3_v2",
               ("fsrcnn", 2): "fsrcnn_x2_v2", ("fsrcnn", 4): "fsrcnn_x4_v2",
               ("fsrcnn-s", 2): "fsrcnn-s_x2_v2", ("fsrcnn-s", 4): "fsrcnn-s_x4_v2"}
#: The same runs again, validated on BSDS500-val20 (`train_runs.py shipped`).
VAL20_CHOSEN = {(network, scale): f"shipped/{network}_x{scale}" for network, scale in SET5_CHOSEN}


def chosen_step(run: Path) -> int:
    """The step whose weights a finished run kept as best.npz (from its train.log)."""
    last = (run / "train.log").read_text().splitlines()[-1]
    return int(last.split(" at step ")[1].split()[0].replace(",", ""))


def same_trajectory(old: Path, new: Path) -> tuple:
    """(largest |Set5 PSNR| difference, validations compared) between the old run's
    validations (on Set5) and the new run's report column (Set5 too) at the backprops both
    validated after the start: 0 when the two runs took the same steps."""
    old_psnr = {backprops: psnr for backprops, psnr, _ in read_curve(old)}
    new_psnr = {backprops: psnr for backprops, psnr, _ in read_curve(new, "report_psnr")}
    shared = sorted(set(old_psnr) & set(new_psnr) - {0})
    return max(abs(old_psnr[b] - new_psnr[b]) for b in shared), len(shared)


def validation(context: Context) -> Report:
    """Honest validation, cell by cell: each shipped model chosen on Set5 (as first shipped)
    against the same run validated on BSDS500-val20 (never a test set), on Set5, Set14, BSD200."""
    from minisr.scoring import evaluate
    from trained_table import TABLE_3
    rows, notes, changes = [], [], []
    for (network, scale), old_name in SET5_CHOSEN.items():
        old, new = RUNS_DIR / old_name, RUNS_DIR / VAL20_CHOSEN[(network, scale)]
        if not run_finished(new):
            rows.append(f"| {network} x{scale} | all | not trained yet | | | | | | |")
            continue
        scores = {}
        for which, run in (("old", old), ("new", new)):
            for r in evaluate(network, ["Set5", "Set14", "BSD200"], [scale], [str(run / "best.npz")],
                              context.data_dir, progress=False):
                scores[which, r["dataset"]] = (r["psnr"], r["ssim"])
        steps = f"{chosen_step(old):,} / {chosen_step(new):,}"
        for dataset in ("Set5", "Set14", "BSD200"):
            (p_old, s_old), (p_new, s_new) = scores["old", dataset], scores["new", dataset]
            paper = TABLE_3[(dataset, scale)][0 if network == "fsrcnn-s" else 1]
            changes.append((p_new - p_old, f"{network} x{scale} {dataset}", p_new, paper))
            rows.append(f"| {network} x{scale} | {dataset} | {steps} | {p_old:.3f} | {p_new:.3f} | "
                        f"{p_new - p_old:+.3f} | {s_old:.4f} | {s_new:.4f} | {paper:.2f} ({p_new - paper:+.2f}) |")
        gap, count = same_trajectory(old, new)
        notes.append(f"- {network} x{scale}: `experiments/runs/{old_name}` (Set5-chosen) and "
                     f"`experiments/runs/{VAL20_CHOSEN[(network, scale)]}` (val20-chosen); Set5 at the "
                     f"{count} validations they share differs by at most {gap:.4f} dB "
                     + ("(the same steps: only the choice of checkpoint differs)." if gap < 5e-4 else
                        "(not the same steps: the fine-tune starts from the other x3 checkpoint)."))
    body = [
        "Each shipped model was first the checkpoint with the best Set5 PSNR of its run, and Set5 is also "
        "a test set. `python experiments/train_runs.py shipped` ran each again with the same options and "
        "seed on one thread, validated on BSDS500-val20 (every 10th image of BSDS500-train, 20 images no "
        "table tests on; T91 is the training set, so nothing is held out of it), with Set5 logged beside "
        "it (`report_psnr` in `log.csv`, never used to choose). x2 and x4 fine-tune the deconvolution of "
        "the new x3 checkpoint. The shipped files are now the val20-chosen ones.",
        "",
        "Exact protocol (Y, modcrop, MATLAB bicubic LR, uint8, `scale` pixels shaved). Steps: the step "
        "each run kept (Set5-chosen / val20-chosen).",
        "",
        "| model | set | steps kept | PSNR, Set5-chosen | PSNR, val20-chosen | change | SSIM, Set5-chosen | "
        "SSIM, val20-chosen | paper Table 3 (val20-chosen's diff) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|"] + rows + [""]
    if changes:
        worst = min(changes)
        below = [f"{name} ({new:.2f} against {paper:.2f})" for _, name, new, paper in changes if round(new, 2) < paper]
        body += [f"What changed: {len(changes)} cells, PSNR from {worst[0]:+.3f} dB ({worst[1]}) to "
                 f"{max(changes)[0]:+.3f} dB ({max(changes)[1]}), mean {np.mean([c[0] for c in changes]):+.3f} dB; "
                 + (f"below the paper now: {', '.join(below)}." if below else "every cell still at or above the paper."),
                 ""]
    body += ["Runs:", ""] + notes
    return Report("validation.md", "Honest validation: shipped checkpoints chosen on BSDS500-val20, not Set5", body)


# ----------------------------------------------------------------------------- registry

#: name -> item; several names may share a function (figures 7 and 8 are made together).
ITEMS = {
    "figure3": Item(figure3, "the 56 learned 9x9 deconvolution filters, x3 (minisr's and the authors')"),
    "figure7": Item(figures_7_and_8, "\"lenna\" (Set14) x3, made together with figure8"),
    "figure8": Item(figures_7_and_8, "\"butterfly\" (Set5) x3, made together with figure7"),
    "table2": Item(table2, "the 12 settings of d, s, m: weights and Set5 x3 PSNR (runs of train_runs.py table2)"),
    "figure5": Item(figure5, "convergence curves (Set5) of d, s, m (runs of train_runs.py figure5)"),
    "table1": Item(table1, "SRCNN-Ex to FSRCNN: weights, speed-ups (multiply-adds and measured), PSNR"),
    "claims": Item(claims, "identical deconvolution filters, no expanding layer, PReLU vs ReLU"),
    "figure6": Item(figure6, "transfer across scales: the deconvolution fine-tuned vs from scratch"),
    "validation": Item(validation, "the shipped checkpoints chosen on BSDS500-val20 against Set5, cell by cell"),
}


def machine() -> str:
    """One line on where it ran (times depend on it)."""
    return f"{platform.machine()} {platform.system()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def run_item(make: Callable[[Context], Report], context: Context, command: str) -> Path:
    """Make one item, timing it, and write its Markdown file; returns that file's path."""
    wall, cpu = time.perf_counter(), time.process_time()
    report = make(context)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    lines = [f"# {report.title}", "",
             f"Generated by `{command}` on {datetime.date.today().isoformat()}: {wall:.1f} s wall, "
             f"{cpu:.1f} s CPU (all threads of the process) for this item (any JIT compilation included); "
             f"{machine()}.", ""] + report.body
    path = context.out_dir / report.markdown
    path.write_text("\n".join(lines) + "\n")
    for name in [report.markdown] + report.pictures:
        print(f"  {context.out_dir / name}")
    print(f"  ({wall:.1f} s wall, {cpu:.1f} s CPU)")
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="items: " + ", ".join(ITEMS))
    parser.add_argument("items", nargs="*", metavar="ITEM", help="items to make (see --list)")
    parser.add_argument("--all", action="store_true", help="make every item")
    parser.add_argument("--list", action="store_true", help="list the items and exit")
    parser.add_argument("--write", action="store_true",
                        help="write into experiments/results/ (tracked in git), replacing the files there")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="write into DIR instead (default without --write: a new temporary folder)")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="folder of datasets (default: $MINISR_DATA or ~/.cache/minisr)")
    parser.add_argument("--official", type=Path, default=DEFAULT_OFFICIAL, metavar="DIR",
                        help="folder with the authors' FSRCNN/ and FSRCNN-s/ .mat files "
                        "(default: ../shared/reference/fsrcnn-official)")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        for name, item in ITEMS.items():
            print(f"{name:10s} {item.what}")
        return 0
    unknown = [name for name in args.items if name not in ITEMS]
    if unknown:
        parser.error(f"unknown item(s) {', '.join(unknown)}; choose from {', '.join(ITEMS)} or --all")
    names = list(ITEMS) if args.all else args.items
    if not names:
        parser.error("name the items to make, or --all (see --list)")

    if args.out:
        out_dir = args.out
    elif args.write:
        out_dir = RESULTS
    else:
        out_dir = Path(tempfile.mkdtemp(prefix="minisr-paper-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    if out_dir.resolve() != RESULTS.resolve():
        print(f"writing into {out_dir} (experiments/results/ is replaced only with --write)")
    context = Context(out_dir=out_dir, data_dir=args.data_dir, official=args.official)
    command = shlex.join(["python", "experiments/paper.py"] + (sys.argv[1:] if argv is None else list(argv)))

    done = set()  # several names can share one function: make it once
    for name in names:
        make = ITEMS[name].make
        if make in done:
            continue
        done.add(make)
        print(" + ".join(other for other, item in ITEMS.items() if item.make is make) + ":")
        run_item(make, context, command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
