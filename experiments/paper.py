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

from curves import REPO, RESULTS
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


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display), or a one-line SystemExit."""
    try:
        import matplotlib
    except ImportError:
        raise SystemExit("paper.py: the pictures need matplotlib: pip install -e '.[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


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
    plt = pyplot()
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
    plt = pyplot()
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


# ----------------------------------------------------------------------------- registry

#: name -> item; several names may share a function (figures 7 and 8 are made together).
ITEMS = {
    "figure3": Item(figure3, "the 56 learned 9x9 deconvolution filters, x3 (minisr's and the authors')"),
    "figure7": Item(figures_7_and_8, "\"lenna\" (Set14) x3, made together with figure8"),
    "figure8": Item(figures_7_and_8, "\"butterfly\" (Set5) x3, made together with figure7"),
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
