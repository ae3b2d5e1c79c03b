"""The pictures of docs/tour.md: FSRCNN layer by layer on Set5's butterfly at x3.

    python experiments/tour.py                  # into a new temporary folder (printed)
    python experiments/tour.py --out /tmp/tour  # into /tmp/tour
    python experiments/tour.py --write          # into docs/tour/ (tracked)

Three pictures, each computed with the same library calls as the tour's code blocks
(which ``tests/test_tour.py`` runs):

* ``feature_maps.png``: six channels after feature extraction, shrinking, the second
  mapping layer and expanding (each after its PReLU);
* ``output.png``: the LR input, bicubic, FSRCNN x3 (the shipped weights) and the
  original, whole and zoomed, with their PSNR;
* ``deconv_scatter.png``: the deconvolution's scatter-add on a 2x2 input with a 9x9
  kernel at stride 3, stamp by stamp, then the crop.

Like the other scripts here, the tracked files (``docs/tour/*.png``) are replaced only
with ``--write``; without it the pictures go to ``--out DIR`` or a new temporary folder,
and the script says where. The pictures need matplotlib (``pip install -e '.[plot]'``),
imported only in this script, never by the library. Set5 is read from ``--data-dir DIR``
(default: ``$MINISR_DATA``, else ``~/.cache/minisr``).
"""

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from curves import pyplot
from minisr.data import dataset_folder
from minisr.image.protocol import bicubic_upscale, evaluate_pair, load_test_pair, super_resolve
from minisr.kernels import reference
from minisr.models import load_model

REPO = Path(__file__).resolve().parents[1]
TRACKED = REPO / "docs" / "tour"
DPI = 100
#: The layers whose outputs feature_maps.png shows (after their PReLU), with a label.
SHOWN_LAYERS = [("feature_prelu", "feature extraction\n5x5, 1 -> 56"),
                ("shrink_prelu", "shrinking\n1x1, 56 -> 12"),
                ("map2_prelu", "mapping (2nd of 4)\n3x3, 12 -> 12"),
                ("expand_prelu", "expanding\n1x1, 12 -> 56")]
CHANNELS_SHOWN = 6
#: The zoomed region of output.png, in LR pixels (top, left, size): the
#: spotted border of the wing.
ZOOM_LR = (50, 62, 21)


def save_png(figure, path: Path, colors: int = 256) -> None:
    """Save ``figure`` as a small PNG (a palette of ``colors``, optimised) and say so."""
    from PIL import Image

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    image = Image.open(buffer).convert("RGB").quantize(colors=colors)
    image.save(path, optimize=True)
    print(f"  {path}  ({image.width}x{image.height} px, {path.stat().st_size / 1024:.0f} KB)")


# ----------------------------------------------------------------------------- the network

def layer_outputs(model, lr):
    """{layer name: its output (C, H, W)} for the LR image, layer by layer, as the
    tour's shape block computes them."""
    outputs, h = {}, lr[None, None].astype(model.dtype)
    for name, layer in model.named_layers:
        h = layer.forward(h)
        outputs[name] = h[0]
    return outputs


def feature_maps(plt, outputs, path: Path) -> None:
    """A row per layer of SHOWN_LAYERS: its CHANNELS_SHOWN most varied channels."""
    rows = len(SHOWN_LAYERS)
    figure, axes = plt.subplots(rows, CHANNELS_SHOWN, figsize=(1.45 * CHANNELS_SHOWN + 1.1, 1.62 * rows + 0.5),
                                constrained_layout=True)
    for row, (name, label) in enumerate(SHOWN_LAYERS):
        maps = outputs[name]
        channels = sorted(np.argsort(maps.std(axis=(1, 2)))[::-1][:CHANNELS_SHOWN])
        for col, channel in enumerate(channels):
            ax = axes[row, col]
            peak = float(np.abs(maps[channel]).max()) or 1.0
            ax.imshow(maps[channel], cmap="RdBu_r", vmin=-peak, vmax=peak, interpolation="nearest")
            ax.set_title(f"{name.split('_')[0]} ch {channel}: ±{peak:.2g}", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(label, fontsize=8)
    figure.suptitle("FSRCNN x3 on the butterfly (85x85 LR): the 6 most varied channels of a few layers, "
                    "after PReLU\nred > 0 > blue, each map scaled to its own largest |value| (in the title)",
                    fontsize=9)
    save_png(figure, path, colors=48)
    plt.close(figure)


def output_picture(plt, hr, lr, bicubic, sr, scores, path: Path) -> None:
    """LR | bicubic | FSRCNN | original, whole (top) and zoomed (bottom)."""
    top, left, size = ZOOM_LR
    n = 3
    panels = [("LR input, 85x85\n(shown 3x, nearest)", lr, 1),
              (f"bicubic x3\nPSNR {scores['bicubic'][0]:.2f} dB", bicubic, n),
              (f"FSRCNN x3 (shipped weights)\nPSNR {scores['fsrcnn'][0]:.2f} dB", sr, n),
              ("original (HR), 255x255", hr, n)]
    figure, axes = plt.subplots(2, 4, figsize=(10.4, 5.9), constrained_layout=True)
    for col, (title, image, factor) in enumerate(panels):
        whole, zoom = axes[0, col], axes[1, col]
        extent = (0, 255, 255, 0)  # every panel in HR pixel coordinates
        whole.imshow(np.clip(image, 0, 1), cmap="gray", vmin=0, vmax=1, interpolation="nearest", extent=extent)
        whole.set_title(title, fontsize=9)
        y0, x0, span = n * top, n * left, n * size
        whole.add_patch(plt.Rectangle((x0, y0), span, span, fill=False, edgecolor="#ff3030", linewidth=1.2))
        r0, c0, w = top * factor, left * factor, size * factor
        zoom.imshow(np.clip(image[r0:r0 + w, c0:c0 + w], 0, 1), cmap="gray", vmin=0, vmax=1,
                    interpolation="nearest", extent=(x0, x0 + span, y0 + span, y0))
        zoom.set_title(f"zoom: HR rows {y0}-{y0 + span - 1}, cols {x0}-{x0 + span - 1}", fontsize=8)
        for ax in (whole, zoom):
            ax.tick_params(labelsize=7)
            ax.set_xlabel("HR column", fontsize=7)
            ax.set_ylabel("HR row", fontsize=7)
    figure.suptitle("Set5 butterfly, Y channel, x3 (PSNR: exact protocol, 3 pixels shaved)", fontsize=10)
    save_png(figure, path)
    plt.close(figure)


# ----------------------------------------------------------------------------- the scatter-add

def toy_deconvolution():
    """The tour's toy: x (1, 1, 2, 2) = 1 2 / 3 4, w (1, 1, 9, 9) the tent kernel of
    bilinear x3 upsampling, stride 3, pad 4. Returns (x, w, canvases after each stamp)."""
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    tent = np.maximum(0, 1 - np.abs(np.arange(9) - 4) / 3)
    w = np.outer(tent, tent)[None, None]
    canvas, canvases = np.zeros((12, 12)), []
    for i in range(2):
        for j in range(2):
            canvas[3 * i:3 * i + 9, 3 * j:3 * j + 9] += w[0, 0] * x[0, 0, i, j]
            canvases.append(((i, j), canvas.copy()))
    return x, w, canvases


def annotate(ax, values, fmt, fontsize, vmax, offset=(0, 0)):
    """Write every value of a small 2-D array in its cell: white on the dark (low) end of
    viridis, black on the light (high) end."""
    for (r, q), v in np.ndenumerate(values):
        ax.text(q + offset[1], r + offset[0], fmt(v), ha="center", va="center", fontsize=fontsize,
                color="black" if v > 0.55 * vmax else "white")


def grid_axes(ax, rows, cols, first=0, label="canvas"):
    """Integer ticks at every cell, labelled axes."""
    ax.set_xticks(range(first, first + cols))
    ax.set_yticks(range(first, first + rows))
    ax.tick_params(labelsize=6, length=2)
    ax.set_xlabel(f"{label} column", fontsize=7)
    ax.set_ylabel(f"{label} row", fontsize=7)


def deconv_scatter(plt, path: Path) -> None:
    """Input, kernel, the canvas after each of the four stamps, the crops."""
    x, w, canvases = toy_deconvolution()
    full = canvases[-1][1]
    caffe = reference.conv_transpose2d_forward(x, w, np.zeros(1), 3, 4, 4, 4)[0, 0]
    exact = reference.conv_transpose2d_forward(x, w, np.zeros(1), 3, 4, 6, 6)[0, 0]
    assert np.allclose(caffe, full[4:8, 4:8]) and np.allclose(exact, full[4:10, 4:10])

    figure, axes = plt.subplots(2, 4, figsize=(11.6, 7.0), constrained_layout=True)
    style = dict(cmap="viridis", vmin=0, vmax=full.max(), interpolation="nearest")

    ax = axes[0, 0]
    ax.imshow(x[0, 0], **style)
    annotate(ax, x[0, 0], lambda v: f"x[{int(v - 1) // 2},{int(v - 1) % 2}] = {v:g}", 8, full.max())
    grid_axes(ax, 2, 2, label="input")
    ax.set_title("input x (1, 1, 2, 2)", fontsize=9)

    ax = axes[0, 1]
    ax.imshow(w[0, 0], cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
    annotate(ax, w[0, 0], lambda v: f"{v:.2f}".lstrip("0") if v else "0", 5.5, 1.0)
    grid_axes(ax, 9, 9, label="kernel")
    ax.set_title("kernel w (1, 1, 9, 9): the tent\nof bilinear x3 (outer product)", fontsize=9)

    for ax, ((i, j), canvas) in zip([axes[0, 2], axes[0, 3], axes[1, 0], axes[1, 1]], canvases):
        ax.imshow(canvas, **style)
        ax.add_patch(plt.Rectangle((3 * j - 0.5, 3 * i - 0.5), 9, 9, fill=False, edgecolor="#ff3030",
                                   linewidth=1.3))
        ax.plot(3 * j + 4, 3 * i + 4, "+", color="#ff3030", markersize=8)
        grid_axes(ax, 12, 12)
        ax.set_title(f"+= x[{i},{j}] * w at rows {3 * i}-{3 * i + 8}, cols {3 * j}-{3 * j + 8}"
                     + ("\n(the full 12x12 canvas)" if (i, j) == (1, 1) else ""), fontsize=9)
    last = axes[1, 1]
    last.add_patch(plt.Rectangle((3.5, 3.5), 4, 4, fill=False, edgecolor="white", linewidth=1.5,
                                 linestyle="--"))
    last.add_patch(plt.Rectangle((3.5, 3.5), 6, 6, fill=False, edgecolor="#ffb000", linewidth=1.2,
                                 linestyle=":"))

    ax = axes[1, 2]
    ax.imshow(caffe, extent=(3.5, 7.5, 7.5, 3.5), **style)
    annotate(ax, caffe, lambda v: f"{v:.3f}", 8, full.max(), offset=(4, 4))
    grid_axes(ax, 4, 4, first=4)
    ax.set_title("crop p = 4 (white dashes): y, 4x4\n= 3*2 - 3 + 1 (Caffe's size)", fontsize=9)

    ax = axes[1, 3]
    ax.imshow(exact, extent=(3.5, 9.5, 9.5, 3.5), **style)
    annotate(ax, exact, lambda v: f"{v:.2f}", 7, full.max(), offset=(4, 4))
    grid_axes(ax, 6, 6, first=4)
    ax.set_title("output_size=(6, 6), orange dots:\nexactly 3*2, rows/cols 4-9", fontsize=9)

    figure.suptitle("The deconvolution (stride 3, pad 4) as scatter-add: every input pixel stamps x * w "
                    "onto the canvas,\n3 pixels apart (red square: the stamp, +: its centre), then the "
                    "canvas is cropped", fontsize=10)
    save_png(figure, path)
    plt.close(figure)


# ----------------------------------------------------------------------------- command line

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    parser.add_argument("--write", action="store_true", help=f"write into {TRACKED.relative_to(REPO)}/ (tracked)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="write into DIR instead (default without --write: a new temporary folder)")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="the folder holding Set5/ (default: $MINISR_DATA, else ~/.cache/minisr)")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    butterfly = dataset_folder("Set5", args.data_dir) / "butterfly_GT.bmp"
    if not butterfly.is_file():
        raise SystemExit(f"tour.py: {butterfly} not found; python -m minisr.data download Set5, "
                         "or pass --data-dir DIR (the folder holding Set5/)")
    plt = pyplot("tour.py")
    if args.out:
        out_dir = args.out
    elif args.write:
        out_dir = TRACKED
    else:
        out_dir = Path(tempfile.mkdtemp(prefix="minisr-tour-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    if out_dir.resolve() == TRACKED.resolve():
        print(f"writing into {out_dir} (tracked: docs/tour.md shows these)")
    else:
        print(f"writing into {out_dir} (docs/tour/ is replaced only with --write)")

    hr, lr = load_test_pair(butterfly, 3)
    model = load_model("fsrcnn_x3")
    outputs = layer_outputs(model, lr)
    sr, bicubic = super_resolve(model, lr, 3), bicubic_upscale(lr, 3)
    scores = {"bicubic": evaluate_pair(bicubic, hr, 3), "fsrcnn": evaluate_pair(sr, hr, 3)}
    for name, (psnr, ssim) in scores.items():
        print(f"  {name:8s} PSNR {psnr:.2f} dB  SSIM {ssim:.4f}")

    feature_maps(plt, outputs, out_dir / "feature_maps.png")
    output_picture(plt, hr, lr, bicubic, sr, scores, out_dir / "output.png")
    deconv_scatter(plt, out_dir / "deconv_scatter.png")
    print(f"  ({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
