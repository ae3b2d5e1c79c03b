"""Upscale images with FSRCNN: the library behind ``python -m minisr.upscale``.

    import minisr
    net = minisr.load_model("fsrcnn", scale=3)          # minisr.models.load_model: load once
    big = minisr.upscale(small, scale=3, model=net)      # this module's upscale(): uint8 in, uint8 out

Colour: the network sees the luminance only, as in the paper. An RGB image goes to
YCbCr (MATLAB's BT.601 formulas); Y goes through FSRCNN, Cb and Cr through bicubic;
the three go back to RGB. A grey image is its own Y. An alpha channel is upscaled by
bicubic and kept. Everything runs in float in [0, 1] and is rounded once at the end.

Memory: the work goes tile by tile (:func:`upscale_arrays`), each tile's result rounded
straight into the 8- or 16-bit output, so only the tiles in flight are held in float.
Before starting, :func:`check_size` estimates the memory an image needs
(:func:`memory_needed`) and refuses one that the memory available cannot hold (or,
with ``max_pixels``, an output of more pixels), saying how many bytes it would need.

Files (:func:`upscale_file`): EXIF orientation is applied (the output is upright and
has no orientation tag), a palette image comes out as RGB (RGBA with transparency), a
16-bit grey image is processed from its 16-bit values and written as 16-bit PNG or TIFF
(8-bit otherwise), a float (``F``) image is read as floats (in [0, 1] if its largest
value is at most 1, see :mod:`minisr.image.imageio`) and handled as 16-bit grey, only the
first frame of an animated or multi-page file is upscaled (with a note), and an ICC
colour profile is copied when its colour space matches the output. Outputs are written
to a temporary file and renamed, never replace an existing file without ``overwrite``,
and never replace an input file at all.

Large images run in tiles (:mod:`minisr.tiling`); the result equals the untiled one.
"""

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from .image.color import rgb_to_ycbcr, round_half_up, ycbcr_to_rgb, ycbcr_to_rgb_uint8
from .image.imageio import float_image_to_uint16, read_image, write_image
from .layers import Conv2d, Upsample
from .models import load_model
from .image.resize import apply_across, apply_down, imresize, resize_matrix
from .tiling import context_margin, forward_image, tile_spans

__all__ = ["upscale", "upscale_pixels", "upscale_arrays", "bicubic_pixels", "compare_picture",
           "memory_needed", "check_size", "upscale_file", "output_path", "plan_output"]

DEFAULT_TILE = 384  # LR pixels per tile side: about 400 MB at the peak for FSRCNN(56, 12, 4), RGB
#: LR pixels that run in one piece when no tile is given (twice a default tile, so about
#: twice its memory): one pass spares the tiles' margins and calls (a 481x321 BSD200
#: picture in two tiles took 38% longer through the network than in one, measured while
#: a training run shared the machine).
WHOLE_IMAGE_PIXELS = 2 * DEFAULT_TILE ** 2
BICUBIC_REACH = 3  # LR pixels that MATLAB's bicubic (kernel width 4) reads beyond a pixel
#: Largest output (pixels) attempted where the free memory cannot be read (not Linux).
FALLBACK_MAX_PIXELS = 400_000_000
SIXTEEN_BIT_FORMATS = ("PNG", "TIFF")
JPEG_QUALITY = 95
#: zlib level of PNG outputs (0-9), as OpenCV's default: a 1443x963 RGB output (BSD200 at
#: x3) took 80 ms and 1.38 MB at level 1 against 372 ms and 1.16 MB at Pillow's 6
#: (measured 2026-12-02 on the 2-core test machine), the largest part of an upscale then.
PNG_COMPRESSION = 1
ICC_COLOUR_SPACE = {"L": b"GRAY", "LA": b"GRAY", "I;16": b"GRAY", "RGB": b"RGB ", "RGBA": b"RGB "}


# ---------------------------------------------------------------------- pixels
def without_alpha(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 2) -> (H, W); (H, W, 4) -> (H, W, 3); others unchanged."""
    if pixels.ndim == 3 and pixels.shape[2] == 2:
        return pixels[..., 0]
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        return pixels[..., :3]
    return pixels


def without_alpha_shape(shape) -> tuple:
    """The shape :func:`without_alpha` gives an array of ``shape``."""
    if len(shape) == 3 and shape[2] == 2:
        return shape[:2]
    if len(shape) == 3 and shape[2] == 4:
        return shape[:2] + (3,)
    return tuple(shape)


def upscale_pixels(pixels: np.ndarray, model, tile=None) -> np.ndarray:
    """The upscaling itself, as floats in [0, 1] (for small images: the result is
    float64; :func:`upscale_arrays` writes 8 or 16 bits tile by tile instead).

    pixels (H, W) grey, (H, W, 2) grey + alpha, (H, W, 3) RGB or (H, W, 4) RGBA, uint8,
    uint16 or float in [0, 1] -> float64 (nH, nW[, C]) in [0, 1], n = ``model.scale``.
    ``tile``: see :func:`upscale`.
    """
    return upscale_arrays(pixels, model, tile, np.float64)[0]


def bicubic_pixels(pixels: np.ndarray, scale: int) -> np.ndarray:
    """The bicubic baseline of :func:`upscale_pixels`: every channel by MATLAB's bicubic."""
    return np.clip(imresize(pixels, scale), 0.0, 1.0)


# ---------------------------------------------------------------------- tile by tile
class TiledBicubic:
    """MATLAB's bicubic upscaling of one image, computed tile by tile with exactly the
    numbers of ``imresize(image, scale)``: the resize matrices of the whole image are
    made once (:func:`minisr.image.resize.resize_matrix`), and a tile uses their rows for its
    own output pixels and their columns for the LR pixels it has."""

    def __init__(self, height: int, width: int, scale: int):
        self.scale = scale
        self.down = resize_matrix(height, scale * height, float(scale))
        self.across = resize_matrix(width, scale * width, float(scale))

    def __call__(self, cut: np.ndarray, rows, cols) -> np.ndarray:
        """``cut`` (h, w[, C]): the LR pixels ``rows[2]:rows[3]``, ``cols[2]:cols[3]``
        (spans as from :func:`minisr.tiling.tile_spans`) -> the float64 HR pixels of the
        tile's core, (n (rows[1] - rows[0]), n (cols[1] - cols[0])[, C])."""
        n = self.scale
        down = self.down[n * rows[0]:n * rows[1], rows[2]:rows[3]]
        across = self.across[n * cols[0]:n * cols[1], cols[2]:cols[3]]
        return apply_across(across, apply_down(down, cut))  # rows first, as imresize


def scale_models(model) -> dict:
    """{scale: FSRCNN}: one entry for an FSRCNN, one per head for a
    :class:`~minisr.multiscale.MultiScaleFSRCNN` (whose trunk runs once for all)."""
    return dict(model.models) if hasattr(model, "models") else {model.scale: model}


def infer_y(model, y: np.ndarray) -> dict:
    """One (H, W) luminance image through the network -> {scale: (n*H, n*W)} in the
    model's dtype: the trunk once, every head of a multi-scale model."""
    if not hasattr(model, "models"):
        return {model.scale: forward_image(model, y)}
    any_model = next(iter(model.models.values()))
    x = np.ascontiguousarray(y, dtype=any_model.dtype)[None, None]
    return {n: out[0, 0] for n, out in model.infer(x).items()}


def tile_margin(model) -> int:
    """LR pixels of context a tile needs on each interior side: the network's
    (:func:`minisr.tiling.context_margin`, the widest of its scales) or bicubic's,
    whichever is larger."""
    return max([context_margin(m) for m in scale_models(model).values()] + [BICUBIC_REACH])


def resolve_tile(height: int, width: int, tile) -> int:
    """The tile side for an (H, W) LR image: ``tile`` when given (0: the whole image);
    for None the whole image up to :data:`WHOLE_IMAGE_PIXELS` LR pixels, else
    :data:`DEFAULT_TILE`."""
    if tile is None:
        return 0 if height * width <= WHOLE_IMAGE_PIXELS else DEFAULT_TILE
    return tile


def tile_grid(height: int, width: int, tile, model) -> list:
    """Every tile as ``(rows, cols)``, each ``(core_start, core_stop, cut_start,
    cut_stop)`` (:func:`minisr.tiling.tile_spans`); one tile for the whole image when
    ``tile`` is 0 or None or the image fits in one."""
    if not tile or (height <= tile and width <= tile):
        return [((0, height, 0, height), (0, width, 0, width))]
    margin = tile_margin(model)
    return [(rows, cols) for rows in tile_spans(height, tile, margin)
            for cols in tile_spans(width, tile, margin)]


def upscale_tile(cut: np.ndarray, model, bicubics: dict, rows, cols, dtype=None) -> dict:
    """One tile: ``cut``, float LR pixels in [0, 1] with the tile's margins -> {scale:
    HR pixels of its core} (``bicubics``: a :class:`TiledBicubic` per scale): float64 in
    [0, 1], or for ``dtype`` uint8 the 8-bit pixels themselves (the same numbers as
    :func:`from_unit_float` of the floats, computed in one pass).

    Colour goes to YCbCr (MATLAB's BT.601); Y goes through the network, Cb and Cr
    through bicubic, and the three back to RGB. A grey image is its own Y. Alpha is
    upscaled by bicubic.
    """
    colour = without_alpha(cut)
    ycbcr = rgb_to_ycbcr(colour) if colour.ndim == 3 else None
    sr_ys = infer_y(model, colour if ycbcr is None else ycbcr[..., 0])
    blocks = {}
    for n, sr_y in sr_ys.items():
        core = (slice(n * (rows[0] - rows[2]), n * (rows[1] - rows[2])),
                slice(n * (cols[0] - cols[2]), n * (cols[1] - cols[2])))
        if ycbcr is not None and np.dtype(dtype) == np.uint8:  # RGB straight to 8 bits
            out = ycbcr_to_rgb_uint8(sr_y[core], bicubics[n](ycbcr[..., 1:], rows, cols))
        elif ycbcr is not None:  # RGB: Y from the network, Cb and Cr by bicubic
            out = ycbcr_to_rgb(np.dstack([sr_y[core].astype(np.float64), bicubics[n](ycbcr[..., 1:], rows, cols)]))
        else:  # grey: the image is its own Y
            out = np.clip(sr_y[core].astype(np.float64), 0.0, 1.0)
        if colour.shape != cut.shape:  # alpha by bicubic
            alpha = np.clip(bicubics[n](cut[..., -1], rows, cols), 0.0, 1.0)
            out = np.dstack([out, from_unit_float(alpha, out.dtype) if out.dtype == np.uint8 else alpha])
        blocks[n] = out
    return blocks


def upscale_arrays(pixels: np.ndarray, model, tile=None, dtype=None, compare: bool = False):
    """Upscale ``pixels`` tile by tile into a new array of ``dtype`` (default: the
    input's), so that only the tiles in flight are ever held in float.

    pixels: as for :func:`upscale_pixels`. Returns ``(out, bicubic, sr)``: ``out``
    (nH, nW[, C]); with ``compare``, ``bicubic`` and ``sr`` are the uint8 colour
    (no alpha) pictures that :func:`compare_picture` puts side by side (else None).
    The result does not depend on ``tile``. For a multi-scale model: {scale: that
    triple}, every scale from one pass of the trunk per tile.
    """
    height, width = pixels.shape[:2]
    dtype = pixels.dtype if dtype is None else np.dtype(dtype)
    results, bicubics = {}, {}
    for n in scale_models(model):
        out = np.empty((n * height, n * width) + pixels.shape[2:], dtype)
        colour_shape = without_alpha_shape(out.shape)
        pictures = (np.empty(colour_shape, np.uint8), np.empty(colour_shape, np.uint8)) if compare else (None, None)
        results[n] = (out,) + pictures
        bicubics[n] = TiledBicubic(height, width, n)
    for rows, cols in tile_grid(height, width, resolve_tile(height, width, tile), model):
        cut = to_unit_float(pixels[rows[2]:rows[3], cols[2]:cols[3]])
        for n, block in upscale_tile(cut, model, bicubics, rows, cols, dtype).items():
            out, bicubic_picture, sr_picture = results[n]
            where = (slice(n * rows[0], n * rows[1]), slice(n * cols[0], n * cols[1]))
            out[where] = block if block.dtype == dtype else from_unit_float(block, dtype)
            if compare:
                colour = without_alpha(block)
                sr_picture[where] = colour if colour.dtype == np.uint8 else from_unit_float(colour, np.uint8)
                baseline = np.clip(bicubics[n](without_alpha(cut), rows, cols), 0.0, 1.0)
                bicubic_picture[where] = from_unit_float(baseline, np.uint8)
    return results if hasattr(model, "models") else results[model.scale]


# ---------------------------------------------------------------------- memory
def memory_needed(shape, itemsize: int, model, tile=None, compare: bool = False) -> int:
    """Bytes that upscaling an (H, W[, C]) image of ``itemsize``-byte values needs at
    the peak, estimated a little generously:

    * the input, and the output in the same bits (twice: the array, and the copy
      Pillow makes to write it);
    * one tile in float: the network's arrays (one LR plane per convolution channel and
      a few HR planes, in ``model.dtype``) and about 12 float64 HR planes per channel
      for the colour conversions and bicubic;
    * with ``compare``: the two 8-bit pictures and the side-by-side one (four times
      their size, twice).
    """
    if hasattr(model, "models"):  # every scale's output is held at once
        return sum(memory_needed(shape, itemsize, head, tile, compare) for head in model.models.values())
    height, width = shape[:2]
    channels = shape[2] if len(shape) == 3 else 1
    n = model.scale
    total = height * width * channels * itemsize * (1 + 2 * n * n)
    tile = resolve_tile(height, width, tile)
    side_h, side_w = height, width
    if tile and (height > tile or width > tile):
        side_h = min(height, tile + 2 * tile_margin(model))
        side_w = min(width, tile + 2 * tile_margin(model))
    tile_lr = side_h * side_w
    per_lr_pixel, conv_channels = 1, 0  # LR planes of the convolutions' outputs (n x n after Upsample)
    for layer in getattr(model, "layers", []):
        if isinstance(layer, Conv2d):
            conv_channels += per_lr_pixel * layer.out_channels
        elif isinstance(layer, Upsample):
            per_lr_pixel = n * n
    total += (conv_channels + 3 * n * n) * tile_lr * np.dtype(model.dtype).itemsize
    total += 12 * channels * n * n * tile_lr * 8
    if compare:
        total += (2 + 2 * 4) * n * n * height * width * 3
    return int(total)


def available_memory():
    """Bytes of memory available for a new program (``MemAvailable`` in
    ``/proc/meminfo``), or None where it cannot be read (not Linux)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def gigabytes(count: int) -> str:
    return f"{count / 1e9:.1f} GB ({count:,} bytes)"


def check_size(shape, itemsize: int, model, tile=None, max_pixels=None, compare: bool = False,
               option: str = "--max-pixels") -> None:
    """Refuse, before any work, an upscale that cannot fit: ValueError with one line
    saying the output size, the bytes it needs (:func:`memory_needed`) and the limit.

    With ``max_pixels``, the limit is that many output pixels. Without, it is the
    memory available now (:func:`available_memory`), or :data:`FALLBACK_MAX_PIXELS`
    output pixels where that cannot be read. ``option`` names the setting in messages:
    ``--max-pixels`` (command line) or ``max_pixels`` (Python).
    """
    n = max(scale_models(model))  # the largest output
    out_h, out_w = n * shape[0], n * shape[1]
    pixels = out_h * out_w
    needed = memory_needed(shape, itemsize, model, tile, compare)
    what = (f"the x{n} output ({out_w}x{out_h}, {pixels / 1e6:.1f} megapixels) "
            f"needs about {gigabytes(needed)} of memory")
    if max_pixels is not None:
        if pixels > max_pixels:
            raise ValueError(f"{what}; that is over {setting(option, max_pixels)}: raise it to try anyway")
        return
    available = available_memory()
    if available is None and pixels > FALLBACK_MAX_PIXELS:
        raise ValueError(f"{what}; that is over the default limit of {FALLBACK_MAX_PIXELS} "
                         f"output pixels: pass {setting(option, pixels)} to try anyway")
    if available is not None and needed > available:
        raise ValueError(f"{what}, more than the {available / 1e9:.1f} GB available; "
                         f"free memory, or pass {setting(option, pixels)} to try anyway")


def setting(option: str, value) -> str:
    """``--max-pixels 100`` for a command-line option, ``max_pixels=100`` for an argument."""
    return f"{option} {value}" if option.startswith("-") else f"{option}={value}"


def to_unit_float(array: np.ndarray) -> np.ndarray:
    """uint8 (/255), uint16 (/65535) or float pixels -> float64 in [0, 1]-ish."""
    if array.dtype == np.uint8 or array.dtype == np.uint16:
        return array / float(np.iinfo(array.dtype).max)
    if np.issubdtype(array.dtype, np.floating):
        return array.astype(np.float64)
    raise TypeError(f"upscale: pixels must be uint8, uint16 or float in [0, 1], got {array.dtype}")


def from_unit_float(x: np.ndarray, dtype) -> np.ndarray:
    """Inverse of :func:`to_unit_float`: integers are rounded half up and saturated."""
    dtype = np.dtype(dtype)
    if dtype.kind == "u":
        top = np.iinfo(dtype).max
        return np.clip(round_half_up(x * top), 0, top).astype(dtype)
    return np.clip(x, 0.0, 1.0).astype(dtype)


def _check_shape(array):
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (2, 3, 4))):
        raise ValueError(f"upscale: expected an (H, W), (H, W, 3) or (H, W, 4) image "
                         f"(or (H, W, 2) grey + alpha), got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"upscale: empty image of shape {array.shape}")


def _check_finite(array):
    """ValueError if a float image holds NaN or Inf (they would come out as garbage)."""
    if np.issubdtype(array.dtype, np.floating):
        bad = array.size - int(np.count_nonzero(np.isfinite(array)))
        if bad:
            raise ValueError(f"upscale: the image holds {bad} NaN/Inf values (of {array.size}); "
                             "replace them first, e.g. with np.nan_to_num")


# ---------------------------------------------------------------------- PIL images
def pil_to_array(img: Image.Image) -> np.ndarray:
    """A PIL image, upright (EXIF applied), as uint8 (H, W[, 2|3|4]) or uint16 (H, W).

    Palette -> RGB (RGBA with transparency), ``1`` -> L, 16-bit grey -> uint16, float
    (``F``) -> uint16 (:func:`minisr.image.imageio.float_image_to_uint16`: values up to 1.0 are
    the range [0, 1]), other modes (CMYK, YCbCr, ...) -> RGB.
    """
    img = ImageOps.exif_transpose(img)
    if img.mode == "F":
        return float_image_to_uint16(img, "upscale")
    if img.mode.startswith("I"):  # I;16, I;16B, ..., I (32-bit): 16-bit grey
        values = np.asarray(img).astype(np.int64)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise ValueError(f"upscale: {img.mode} pixel values outside 0..65535 are not supported")
        return values.astype(np.uint16)
    if img.mode in ("P", "PA"):
        has_alpha = img.mode == "PA" or "transparency" in img.info
        img = img.convert("RGBA" if has_alpha else "RGB")
    elif img.mode in ("La", "RGBa"):
        img = img.convert(img.mode.upper())
    elif img.mode not in ("L", "LA", "RGB", "RGBA"):
        img = img.convert("L" if img.mode == "1" else "RGB")
    return np.array(img)


def array_to_pil(array: np.ndarray) -> Image.Image:
    """uint8 (H, W[, 2|3|4]) -> L, LA, RGB, RGBA; uint16 (H, W) -> I;16."""
    if array.dtype == np.uint16:
        return Image.fromarray(np.ascontiguousarray(array)).convert("I;16")
    return Image.fromarray(np.ascontiguousarray(array))


# ---------------------------------------------------------------------- the API
def upscale(image, scale: int = 3, model="fsrcnn", tile=None, max_pixels=None):
    """Super-resolve one image by ``scale`` with FSRCNN.

    Parameters
    ----------
    image : array or PIL.Image.Image
        (H, W) grey or (H, W, 3) RGB (also (H, W, 4) RGBA, (H, W, 2) grey + alpha),
        ``uint8``, ``uint16`` or float in [0, 1]; or a PIL image of any mode.
    scale : 2, 3 or 4
    model : "fsrcnn", "fsrcnn-s", a weights file, or a loaded FSRCNN
        (anything :func:`minisr.models.load_model` takes; load once with it to
        upscale many images).
    tile : int, optional
        Tile side in LR pixels (default 384); 0 runs the image in one piece. The result
        does not depend on it.
    max_pixels : int, optional
        The largest output (in pixels) to attempt. By default an upscale whose estimated
        memory (:func:`memory_needed`) exceeds the memory available is refused.

    Raises ValueError (one line) for a bad array (wrong shape, NaN/Inf values), a
    ``scale`` that is not an integer, or an output that cannot fit (:func:`check_size`).

    Returns
    -------
    The same kind as ``image``: an array of the same dtype and channels, shape
    (scale*H, scale*W[, C]); or a PIL image (palette -> RGB/RGBA, ``1`` -> L, float ``F``
    -> 16-bit ``I;16``, other modes -> RGB), upright, carrying the input's ICC profile in
    ``.info``.
    """
    net = load_model(model, scale)
    if isinstance(image, Image.Image):
        out = array_to_pil(upscale(pil_to_array(image), scale, net, tile, max_pixels))
        profile = matching_icc(image.info.get("icc_profile"), out.mode)
        if profile:
            out.info["icc_profile"] = profile
        return out
    array = np.asarray(image)
    _check_shape(array)
    _check_finite(array)
    try:
        check_size(array.shape, array.itemsize, net, tile, max_pixels, option="max_pixels")
    except ValueError as error:
        raise ValueError(f"upscale: {error}") from None
    return upscale_arrays(array, net, tile)[0]


# ---------------------------------------------------------------------- files
def output_path(source: Path, scale: int, fmt: str, out_dir=None) -> Path:
    """``DIR/NAME_x3.png``: beside the input, or in ``out_dir``; ``fmt="same"`` keeps the
    input's extension."""
    suffix = source.suffix.lower() if fmt == "same" else "." + fmt
    if not suffix:
        raise ValueError(f"{source}: no file extension to keep; choose --format png or jpg")
    return Path(out_dir or source.parent) / f"{source.stem}_x{scale}{suffix}"


def plan_output(source, planned: dict, scale: int, output=None, fmt=None, out_dir=None) -> Path:
    """The output file of ``source`` in a batch: ``output`` if given, else
    :func:`output_path` (``fmt`` default png). ``planned`` ({absolute output: source},
    filled in here) catches two inputs of one batch that would write the same file:
    ValueError."""
    out = Path(output) if output else output_path(Path(source), scale, fmt or "png", out_dir)
    earlier = planned.setdefault(os.path.abspath(out), source)
    if earlier is not source:
        raise ValueError(f"its output {out} would also be {earlier}'s; rename one")
    return out


def compare_path(out: Path) -> Path:
    """``<output stem>_compare.png``: ``photo_x3.png`` -> ``photo_x3_compare.png``,
    ``-o big.jpg`` -> ``big_compare.png`` (always PNG, beside the output)."""
    return out.with_name(out.stem + "_compare.png")


def matching_icc(profile, mode: str):
    """``profile`` (ICC bytes or None) if its colour space fits the image ``mode``, else
    None: a CMYK profile does not describe the RGB pixels Pillow converts CMYK to."""
    if profile and profile[16:20] == ICC_COLOUR_SPACE.get(mode):
        return profile
    return None


def writable_format(path) -> str:
    """Pillow's format for ``path``'s extension ("PNG", "JPEG", ...); ValueError if Pillow
    cannot write it."""
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None or fmt not in Image.SAVE:
        raise ValueError(f"{path}: Pillow cannot write {path.suffix or 'extension-less'} files")
    return fmt


def save_image(path, img: Image.Image, overwrite: bool = False, **params) -> None:
    """Save ``img`` to ``path`` atomically with :func:`minisr.image.imageio.write_image`,
    passing ``params`` (``icc_profile``, ``quality``, ...) to Pillow; errors are
    reworded for the command line.

    Raises FileExistsError if ``path`` exists (unless ``overwrite``), also when it
    appears while the image is being written.
    """
    path = Path(path)
    writable_format(path)
    try:
        write_image(path, img, overwrite=overwrite, **params)
    except FileExistsError:
        raise FileExistsError(f"{path}: already exists (use --overwrite to replace it)") from None
    except (OSError, ValueError) as error:  # disk full, a mode the format cannot store, ...
        raise OSError(f"{path}: could not write the image ({one_line(error)})") from error


def fit_format(array: np.ndarray, fmt: str) -> tuple:
    """What an input becomes in the file format ``fmt``, decided before upscaling:
    16 bits only in PNG and TIFF (else 8), no alpha in JPEG (dropped from the input).
    Returns (array, output dtype, note or None)."""
    note = None
    dtype = array.dtype
    if dtype == np.uint16 and fmt not in SIXTEEN_BIT_FORMATS:
        dtype = np.dtype(np.uint8)
    if fmt == "JPEG" and without_alpha(array).shape != array.shape:
        array, note = without_alpha(array), "JPEG has no alpha channel: transparency dropped"
    return array, dtype, note


def compare_picture(bicubic: np.ndarray, sr: np.ndarray, zoom: int = 3, label: str = "FSRCNN",
                    gap: int = 4) -> np.ndarray:
    """bicubic | FSRCNN side by side, each uint8 (H, W) or (H, W, 3) -> RGB uint8.

    With ``zoom`` > 1 a second row shows the centre of both (1/zoom of each side),
    enlarged ``zoom`` times (nearest neighbour) and outlined in red in the first row.
    Shape: (H, 2W + gap, 3), or (2H + gap, 2W + gap, 3) with the zoomed row.
    """
    panels = [np.dstack([p] * 3) if p.ndim == 2 else p for p in (bicubic, sr)]
    h, w = panels[0].shape[:2]
    rows = 2 if zoom > 1 else 1
    canvas = np.full((rows * h + (rows - 1) * gap, 2 * w + gap, 3), 255, np.uint8)
    ch, cw = max(1, h // max(zoom, 1)), max(1, w // max(zoom, 1))
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    for i, panel in enumerate(panels):
        left = i * (w + gap)
        canvas[:h, left:left + w] = panel
        if rows == 2:
            crop = panel[y0:y0 + ch, x0:x0 + cw].repeat(zoom, axis=0).repeat(zoom, axis=1)[:h, :w]
            canvas[h + gap:h + gap + crop.shape[0], left:left + crop.shape[1]] = crop
    img = Image.fromarray(canvas)
    draw = ImageDraw.Draw(img)
    for i, text in enumerate(("bicubic", label)):
        left = i * (w + gap)
        if rows == 2:
            draw.rectangle([left + x0 - 1, y0 - 1, left + x0 + cw, y0 + ch], outline=(255, 0, 0))
        box = draw.textbbox((left + 3, 3), text)
        draw.rectangle([box[0] - 2, box[1] - 2, box[2] + 2, box[3] + 2], fill=(0, 0, 0))
        draw.text((left + 3, 3), text, fill=(255, 255, 255))
    return np.asarray(img)


def file_identity(path):
    """(device, inode) of an existing file, else None: two paths with the same
    identity are the same file (also through links)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def input_identities(paths) -> dict:
    """{file identity: path} of the inputs of a batch that exist."""
    identities = {file_identity(path): Path(path) for path in paths}
    identities.pop(None, None)
    return identities


def check_not_an_input(targets, source, inputs=None) -> None:
    """Refuse to write any of ``targets`` over ``source`` or another input of the batch
    (``inputs``, from :func:`input_identities`), even with --overwrite: ValueError."""
    source_identity = file_identity(source)
    for target in targets:
        identity = file_identity(target)
        if identity is None:
            continue
        if identity == source_identity:
            raise ValueError(f"{target}: is the input file; choose another output")
        if identity in (inputs or {}):
            raise ValueError(f"its output {target} is one of the input files; choose another output")


def upscale_file(source, out, model, tile=None, overwrite=False, compare=False, zoom=3,
                 max_pixels=None, inputs=None, png_compression=PNG_COMPRESSION) -> list:
    """Read ``source``, upscale it, write ``out`` (see :func:`prepare_outputs`, which
    takes the same arguments, and :func:`write_outputs`). Returns [(written path, note
    or None)]."""
    return write_outputs(prepare_outputs(source, out, model, tile, overwrite, compare, zoom, max_pixels,
                                         inputs, png_compression))


def prepare_outputs(source, out, model, tile=None, overwrite=False, compare=False, zoom=3,
                    max_pixels=None, inputs=None, png_compression=PNG_COMPRESSION) -> "Prepared":
    """Read ``source``, upscale it, write ``out`` (and, with ``compare``, the picture
    :func:`compare_path` names). For a multi-scale model ``out`` is {scale: path}: the
    image is read once and every scale comes from one pass of the trunk.

    Never writes over ``source`` or any of ``inputs`` (:func:`input_identities` of the
    batch). ``max_pixels``: see
    :func:`check_size`, called once the image size is known.
    Returns the pictures ready to be written (:class:`Prepared`; nothing is written
    yet, so that a batch can write one image while it computes the next). Raises
    ImageError, ValueError or OSError with a one-line message naming the file.
    """
    outs = {n: Path(path) for n, path in (out.items() if isinstance(out, dict) else [(model.scale, out)])}
    formats = {n: writable_format(path) for n, path in outs.items()}  # fail before the work, not after it
    targets = [t for path in outs.values() for t in ([path, compare_path(path)] if compare else [path])]
    check_not_an_input(targets, source, inputs)
    for target in targets:
        if target.exists() and not overwrite:
            raise FileExistsError(f"{target}: already exists (use --overwrite to replace it)")
    if len(set(formats.values())) > 1:
        raise ValueError(f"outputs {', '.join(map(str, outs.values()))} differ in format; give them one")
    fmt = next(iter(formats.values()))
    pixels, alpha = read_image(source, keep_alpha=True, keep_16bit=True)
    array = pixels if alpha is None else np.dstack([pixels, alpha])
    array, dtype, note = fit_format(array, fmt)
    check_size(array.shape, array.itemsize, model, tile, max_pixels, compare)
    with Image.open(source) as original:
        frames = getattr(original, "n_frames", 1)
        icc_profile = original.info.get("icc_profile")
    if frames > 1:
        first = f"{source} has {frames} frames; only the first is upscaled"
        note = first if note is None else f"{note}; {first}"
    results = upscale_arrays(array, model, tile, dtype, compare)
    if not isinstance(results, dict):
        results = {model.scale: results}
    prepared = Prepared(overwrite)
    for n, path in outs.items():
        result, bicubic, sr = results.pop(n)
        img = array_to_pil(result)
        del result  # Pillow has its own copy now
        params = {"quality": JPEG_QUALITY} if fmt == "JPEG" else {}
        if fmt == "PNG":
            params["compress_level"] = png_compression
        profile = matching_icc(icc_profile, img.mode)
        if profile:
            params["icc_profile"] = profile
        prepared.add(path, img, params, note)
        if compare:
            picture = compare_picture(bicubic, sr, zoom, f"FSRCNN x{n}")
            prepared.add(compare_path(path), Image.fromarray(picture), {}, None)
    return prepared


class Prepared:
    """Pictures of one input ready to be written: [(path, PIL image, save options,
    note)], whether existing files may be replaced, and their size in bytes."""

    def __init__(self, overwrite: bool):
        self.overwrite, self.outputs, self.nbytes = overwrite, [], 0

    def add(self, path, img, params, note) -> None:
        self.outputs.append((Path(path), img, params, note))
        self.nbytes += img.width * img.height * len(img.getbands()) * (2 if img.mode == "I;16" else 1)


def write_outputs(prepared: Prepared) -> list:
    """Write what :func:`prepare_outputs` made, each file atomically; returns [(written
    path, note or None)]. Pillow's encoders release the GIL, so this can run in a thread
    beside the next image's work."""
    written = []
    for path, img, params, note in prepared.outputs:
        save_image(path, img, prepared.overwrite, **params)
        written.append((path, note))
    return written


def describe(source, error) -> str:
    """One line naming the input file and the problem."""
    text = one_line(error)
    return text if text.startswith(str(source)) else f"{source}: {text}"


def one_line(error) -> str:
    """An exception as one line of text."""
    if isinstance(error, MemoryError):
        text = "out of memory; try a smaller --tile"
    elif isinstance(error, OSError) and error.strerror and error.filename:
        text = f"{error.filename}: {error.strerror}"
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split())
