"""Writing the PNG files of an upscaled folder: Pillow's encoder against minisr's
(``minisr/image/png.py``: "Up" filter on every row, then zlib), on FSRCNN x3 outputs.

    python benchmarks/png.py [--images 20] [--data-dir DIR] [--rounds 3]

For the first ``--images`` pictures of BSD200 (or synthetic smooth pictures when the
set is not found) the shipped FSRCNN x3 makes the output in RGB, which each encoder
then writes to memory: Pillow at ``compress_level`` 1 (what ``python -m minisr.upscale``
used before) and minisr's at levels 1 and 0 (stored). Prints per encoder the total time
(each image: the best of ``--rounds`` tries, encoders alternating), the total size,
and the time against Pillow's. Every file is decoded by Pillow and checked equal to the
pixels. Writes nothing.
"""

import argparse
import io
import time

import numpy as np
from PIL import Image

from minisr.data.registry import dataset_files
from minisr.image.png import encode_png
from minisr.superres import upscale


def pillow_png(pixels: np.ndarray, level: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=level)
    return buffer.getvalue()


ENCODERS = {"Pillow, level 1": lambda p: pillow_png(p, 1),
            "minisr, level 1": lambda p: encode_png(p, 1),
            "minisr, level 0 (stored)": lambda p: encode_png(p, 0)}


def pictures(count: int, data_dir) -> list:
    """``count`` RGB uint8 FSRCNN x3 outputs: of BSD200's images, or synthetic ones."""
    try:
        files = dataset_files("BSD200", data_dir)[:count]
        inputs = [np.asarray(Image.open(path).convert("RGB")) for path in files]
        print(f"{len(inputs)} BSD200 images, FSRCNN x3 outputs ({inputs[0].shape[1] * 3}x{inputs[0].shape[0] * 3} ...)")
    except (OSError, ValueError, KeyError) as error:
        print(f"BSD200 not found ({error}); synthetic 481x321 pictures instead")
        rng = np.random.default_rng(0)
        y, x = np.mgrid[0:321, 0:481]
        inputs = [np.clip(np.dstack([128 + 100 * np.sin(x / (20 + k) + c) * np.cos(y / 30)
                                     for c in range(3)]) + rng.normal(0, 3, (321, 481, 3)), 0, 255).astype(np.uint8)
                  for k in range(count)]
    return [upscale(image, 3) for image in inputs]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20, help="how many pictures (default 20)")
    parser.add_argument("--rounds", type=int, default=3, help="tries per image and encoder; the best counts")
    parser.add_argument("--data-dir", help="datasets folder (default: $MINISR_DATA or ~/.cache/minisr)")
    args = parser.parse_args(argv)
    outputs = pictures(args.images, args.data_dir)
    seconds = dict.fromkeys(ENCODERS, 0.0)
    sizes = dict.fromkeys(ENCODERS, 0)
    for pixels in outputs:
        best = dict.fromkeys(ENCODERS, float("inf"))
        for _ in range(args.rounds):
            for name, encode in ENCODERS.items():
                start = time.perf_counter()
                data = encode(pixels)
                best[name] = min(best[name], time.perf_counter() - start)
        for name, encode in ENCODERS.items():
            data = encode(pixels)
            with Image.open(io.BytesIO(data)) as img:
                assert np.array_equal(np.asarray(img), pixels), name
            seconds[name] += best[name]
            sizes[name] += len(data)
    base = seconds["Pillow, level 1"]
    print("| encoder | ms per image | MB per image | time vs Pillow level 1 |\n|---|---:|---:|---:|")
    for name in ENCODERS:
        print(f"| {name} | {seconds[name] / len(outputs) * 1e3:.1f} | {sizes[name] / len(outputs) / 1e6:.2f} | "
              f"{seconds[name] / base:.2f} |")


if __name__ == "__main__":
    main()
