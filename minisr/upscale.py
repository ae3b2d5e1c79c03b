"""``python -m minisr.upscale``: upscale image files with FSRCNN.

    python -m minisr.upscale photo.jpg                                  # -> photo_x3.png
    python -m minisr.upscale photo.jpg --weights fsrcnn_x3.npz
    python -m minisr.upscale shots/ 'more/*.png' --out-dir big --scale 3 --weights x3.mat

This module reads the command line, finds the input files and prints one line per
output or failure; the upscaling itself is :mod:`minisr.superres` (colour, tiles,
memory, files) and the model comes from :func:`minisr.models.load_model`.

It is also what ``minisr.upscale`` names once imported: the module is made callable,
so that ``minisr.upscale(image, scale=3)`` calls :func:`minisr.superres.upscale`
whether ``minisr.upscale`` is this module or the function.
"""

import argparse
import glob
import os
import re
import sys
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

from ._jit import set_threads
from .warmup import warm_up
from .image.imageio import ImageError
from .models import PRESETS, load_model, preset_config
from .multiscale import MultiScaleFSRCNN
from .progress import Progress
from .superres import (DEFAULT_TILE, PNG_COMPRESSION, WHOLE_IMAGE_PIXELS, describe, input_identities, one_line,
                       plan_output, prepare_outputs, upscale, write_outputs, writable_format)

SCALES = (2, 3, 4)


# ---------------------------------------------------------------------- command line
OUR_OUTPUT = re.compile(r"_x\d+(_compare)?$")  # names this tool writes, skipped in folders


def image_extensions() -> set:
    return {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}


def expand_inputs(items) -> tuple:
    """Files, folders and glob patterns -> ([files], [problems]).

    A named file that does not exist is a problem at once, before any kernel is
    compiled (a first run would otherwise compile for seconds, then report it); any
    other named file is tried, and what is wrong with it reported when it is read. Folders
    (not recursive) and patterns give their files with image extensions, except files
    named like this tool's outputs (``*_x3.png``, ``*_x3_compare.png``), so that a second
    run on a folder does not upscale the first run's results. Repeats are dropped.
    """
    files, problems = [], []
    extensions = image_extensions()

    def images(paths):
        return [p for p in paths if p.is_file() and p.suffix.lower() in extensions
                and not OUR_OUTPUT.search(p.stem)]

    for item in items:
        path = Path(item)
        if path.is_dir():
            found = images(sorted(path.iterdir()))
            files += found
            if not found:
                problems.append(f"{path}: folder has no image files")
        elif not path.exists() and any(c in str(item) for c in "*?["):
            matches = [Path(m) for m in sorted(glob.glob(str(item), recursive=True))]
            found = images(matches)
            for folder in (m for m in matches if m.is_dir()):
                found += images(sorted(folder.iterdir()))
            files += found
            if not found:
                problems.append(f"{item}: no image file matches")
        elif not path.exists():
            problems.append(f"{item}: no such file")
        else:
            files.append(path)
    unique = {}
    for path in files:
        unique.setdefault(os.path.abspath(path), path)
    return list(unique.values()), problems


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m minisr.upscale",
        description="Upscale images with FSRCNN (Y through the network, colour by bicubic).",
        epilog="Outputs go beside each input as NAME_x<scale>.png unless -o or --out-dir "
               "says otherwise; existing files are kept unless --overwrite. Exit status: "
               "0 all written, 1 some input failed, 2 nothing could run.")
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="image files, folders (their images, not recursive) or glob patterns")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", metavar="OUT",
                       help="output file for a single input; its extension picks the format")
    where.add_argument("--out-dir", metavar="DIR", help="folder for the outputs (created if missing)")
    parser.add_argument("--scale", type=int, choices=SCALES, default=[3], nargs="+", metavar="N",
                        help="upscaling factor: 2, 3 or 4 (default 3); several (--scale 2 3 4) write one "
                             "output per scale, running the network's trunk once for all of them")
    parser.add_argument("--model", choices=list(PRESETS),
                        help="network (default fsrcnn; with --weights the file must hold it)")
    parser.add_argument("--weights", metavar="FILE",
                        help="a minisr .npz or the authors' x<scale>.mat (default: shipped weights)")
    parser.add_argument("--format", choices=("png", "jpg", "same"),
                        help="output format (default png; 'same' keeps the input's)")
    parser.add_argument("--png-compression", type=int, choices=range(10), default=PNG_COMPRESSION, metavar="0-9",
                        help=f"zlib level of PNG outputs (default {PNG_COMPRESSION}: fast; 9: smallest files)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--compare", action="store_true",
                        help="also write <output stem>_compare.png beside the output (photo_x3_compare.png, "
                             "or big_compare.png for -o big.jpg): bicubic | FSRCNN, centre zoomed 3x")
    parser.add_argument("--no-zoom", action="store_true", help="--compare without the zoomed row")
    parser.add_argument("--tile", type=int, metavar="N",
                        help=f"tile side in LR pixels (default: the whole image up to {WHOLE_IMAGE_PIXELS:,} LR "
                             f"pixels, else {DEFAULT_TILE}; 0 = whole image); the result does not depend on it")
    parser.add_argument("--max-pixels", type=int, metavar="N",
                        help="largest output to attempt, in pixels (default: whatever the memory "
                             "available now can hold, by an estimate made before the work)")
    parser.add_argument("--threads", type=int, metavar="N", help="Numba threads (default: all cores)")
    parser.add_argument("--cluster", metavar="SPEC",
                        help="run the batch on a Dask cluster: local:N (N worker processes here) or "
                             "tcp://HOST:8786 (a running scheduler); needs pip install minisr[dask]")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress display on stderr (shown for several inputs; a line "
                             "every 10 s when stderr is not a terminal)")
    return parser


def _setup(args):
    """Check the options that argparse cannot, load the model. Returns (model, files,
    problems); raises ValueError/FileNotFoundError for a one-line error."""
    if args.tile is not None and args.tile < 0:
        raise ValueError(f"--tile must be >= 0, got {args.tile}")
    if args.max_pixels is not None and args.max_pixels < 1:
        raise ValueError(f"--max-pixels must be >= 1, got {args.max_pixels}")
    if args.output and args.format:
        raise ValueError("-o takes the format from its extension (e.g. -o out.jpg); drop --format")
    if args.threads is not None:
        set_threads(args.threads)  # ValueError with the allowed range
    args.scales = sorted(set(args.scale))
    args.scale = args.scales[0]
    model = _load(args)
    files, problems = expand_inputs(args.inputs)
    if args.output:
        if len(args.scales) > 1:
            raise ValueError("-o names one output file but --scale asks for several; use --out-dir DIR "
                             "(outputs NAME_x2.png, NAME_x3.png, ...)")
        if len(files) + len(problems) != 1:
            raise ValueError(f"-o names one output file but the inputs give {len(files)} files; "
                             "use --out-dir DIR")
        if Path(args.output).is_dir():
            raise ValueError(f"-o {args.output} is a folder; use --out-dir for a folder")
        writable_format(args.output)
        if not Path(args.output).parent.is_dir():
            raise ValueError(f"-o {args.output}: folder {Path(args.output).parent} does not exist")
        if Path(args.output).exists() and not args.overwrite and files:  # said before any compiling
            raise ValueError(f"{args.output}: already exists (use --overwrite to replace it)")
    if args.out_dir:
        Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    if files and not args.cluster:  # after every check above, so that a mistake is reported at once
        warm_up(model)  # compiles on the very first run, and says so (on a cluster: the workers)
    return model, files, problems


def _load(args):
    """The network for ``args.scales``: one FSRCNN, or for several scales a
    :class:`~minisr.multiscale.MultiScaleFSRCNN` (the shipped models of one network
    share their trunk; ``--weights`` must then be a multi-scale file)."""
    config = preset_config(args.model) if args.model else {}  # with --weights: a check of the file
    if len(args.scales) == 1:
        return load_model(args.weights or args.model or "fsrcnn", args.scale, **config)
    if args.cluster:
        raise ValueError("--cluster takes one --scale; run one batch per scale")
    if not args.weights:
        return MultiScaleFSRCNN.from_models([load_model(args.model or "fsrcnn", n) for n in args.scales])
    multi = MultiScaleFSRCNN.load(args.weights)
    missing = sorted(set(args.scales) - set(multi.scales))
    if missing:
        raise ValueError(f"{args.weights}: has no head for x{', x'.join(map(str, missing))} "
                         f"(it holds {', '.join(f'x{n}' for n in multi.scales)})")
    if config:
        load_model(multi.models[multi.scales[0]], **config)  # the check that it holds --model
    return multi


#: Outputs of up to this many bytes are written in a thread while the next image is
#: computed; a larger one is written before the next image starts (memory: the estimate
#: made before each image counts one image's outputs).
OVERLAP_BYTES = 256 * 2 ** 20


def _run_batch(files, model, args) -> int:
    """Upscale every file; one line per output or failure. Returns the number of failures.

    Each image's outputs are written by one writer thread while the next image is
    computed (Pillow encodes without holding the GIL); the lines still come in the
    order of the inputs, each once its files are written."""
    failed, planned = 0, {}
    inputs = input_identities(files)
    quiet = args.no_progress or len(files) < 2
    label = "upscale " + " ".join(f"x{n}" for n in args.scales)
    writing = None  # (source, future) of the outputs being written

    def finish(job) -> int:
        """Wait for a write; its lines, or its error; returns 1 if it failed."""
        source, future = job
        try:
            for path, note in future.result():
                bar.say(f"{source} -> {path}", sys.stdout)
                if note:
                    bar.say(f"note: {path}: {note}", sys.stderr)
            return 0
        except (ValueError, OSError, MemoryError) as error:
            bar.say(f"error: {describe(source, error)}", sys.stderr)
            return 1
        finally:
            bar.update(1)

    with Progress(len(files), label, always=True, disable=quiet) as bar, \
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="minisr-writer") as writer:
        for source in files:
            try:
                out = {n: plan_output(source, planned, n, args.output, args.format, args.out_dir)
                       for n in args.scales}
                if len(out) == 1:
                    out = out[args.scale]
                prepared = prepare_outputs(source, out, model, args.tile, args.overwrite, args.compare,
                                           1 if args.no_zoom else 3, args.max_pixels, inputs, args.png_compression)
            except (ImageError, ValueError, OSError, MemoryError) as error:
                if writing is not None:
                    failed += finish(writing)
                    writing = None
                failed += 1
                bar.say(f"error: {describe(source, error)}", sys.stderr)
                bar.update(1)
                continue
            if writing is not None:
                failed += finish(writing)
            writing = (source, writer.submit(write_outputs, prepared))
            if prepared.nbytes > OVERLAP_BYTES:
                failed += finish(writing)
                writing = None
        if writing is not None:
            failed += finish(writing)
    return failed


def main(argv=None) -> int:
    """The command line; returns the exit status (0 all written, 1 some input failed,
    2 nothing could run)."""
    args = build_parser().parse_args(argv)
    try:
        model, files, problems = _setup(args)
        batch = _run_batch
        if args.cluster and files:  # each image a task on a Dask cluster (minisr/cluster/upscale.py)
            from .cluster.upscale import BatchOnCluster
            batch = BatchOnCluster(args.cluster, args.threads)  # no cluster: one line
    except (ValueError, OSError) as error:
        print(f"python -m minisr.upscale: error: {one_line(error)}", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    try:
        failed = len(problems) + batch(files, model, args)
    except KeyboardInterrupt:
        print("\ninterrupted (every output written is complete)", file=sys.stderr)
        return 130
    total = len(files) + len(problems)
    if failed and total > 1:
        print(f"{total - failed} written, {failed} failed", file=sys.stderr)
    return 1 if failed else 0


class _CallableModule(types.ModuleType):
    """Lets ``minisr.upscale(image, ...)`` call :func:`upscale` while ``minisr.upscale``
    stays this module (``python -m minisr.upscale``, ``from minisr.upscale import main``)."""

    def __call__(self, *args, **kwargs):
        return upscale(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule


if __name__ == "__main__":
    sys.exit(main())
