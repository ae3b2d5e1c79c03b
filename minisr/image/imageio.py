"""Reading and writing images as NumPy arrays, with clear one-line errors.

``read_image`` returns what the SR pipeline works on:

* a ``uint8`` array (H, W) for a grey image, (H, W, 3) for a colour one;
* mode by mode (Pillow's names):

  ====================  =================================================
  ``L``, ``1``           grey (H, W)
  ``LA``, ``La``         grey; the alpha channel is dropped (see keep_alpha)
  ``RGB``, ``RGBX``      colour (H, W, 3)
  ``RGBA``, ``RGBa``     colour; alpha dropped (see keep_alpha)
  ``P``, ``PA``          palette expanded: to grey if every palette entry has
                         R = G = B, otherwise to colour; transparency -> alpha
  ``I;16*``, ``I``       16-bit grey, scaled to 8 bits as
                         ``round(v * 255 / 65535)`` (MATLAB's ``im2uint8``);
                         with ``keep_16bit=True`` returned as ``uint16`` instead
  ``F`` (32-bit float)   grey, read as floats in the range its values show:
                         largest value <= 1.0: [0, 1] (float TIFFs usually are);
                         <= 255: 0..255; <= 65535: 0..65535 (larger values,
                         NaN and Inf are refused; negative values become 0);
                         then as a 16-bit image (``uint16`` with
                         ``keep_16bit=True``, else 8-bit)
  ``CMYK``               converted to RGB by Pillow (no colour management)
  others (YCbCr, ...)    converted to RGB by Pillow
  ====================  =================================================

* only the first frame of an animated or multi-page file is read;
* the EXIF orientation tag is applied (``PIL.ImageOps.exif_transpose``), so the
  array is upright as a viewer shows it.

Every failure to read (missing file, not an image, truncated data, zero-size
image) raises :class:`ImageError`, a ``ValueError`` whose message names the file
and the problem on one line.

``write_image`` writes atomically: the image goes to a temporary file in the
destination folder, which is then moved into place, so a crash never leaves a
half-written file; an existing file is only replaced with ``overwrite=True``.
"""

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..atomic import atomic_write
from .png import encode_png

__all__ = ["ImageError", "read_image", "write_image", "float_image_to_uint16"]

_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_ALPHA_MODES = ("LA", "La", "RGBA", "RGBa", "PA")


class ImageError(ValueError):
    """An image file could not be read; the message is ``'<path>: <problem>'``."""

    def __init__(self, path, problem):
        self.path = str(path)
        self.problem = " ".join(str(problem).split())  # keep it on one line
        super().__init__(f"{self.path}: {self.problem}")


def _open_loaded(path):
    """Open and fully decode ``path`` with Pillow, mapping failures to ImageError."""
    path = Path(path)
    if not path.exists():
        raise ImageError(path, "no such file")
    if path.is_dir():
        raise ImageError(path, "is a folder, not an image file")
    if path.stat().st_size == 0:
        raise ImageError(path, "empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            # Pillow warns (several lines) above 89 megapixels and refuses above 179;
            # the warning is left out: callers that need much memory estimate it
            # themselves (minisr.upscale), and the refusal becomes one line below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()  # decode now: truncated data fails here, not later
                return img
    except UnidentifiedImageError:
        if _png_declares_zero_size(path):
            raise ImageError(path, "image has zero size (width or height is 0)") from None
        problem = "not an image Pillow can read (unknown format or bad header)"
        raise ImageError(path, problem) from None
    except PermissionError:
        raise ImageError(path, "permission denied") from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise ImageError(path, f"corrupt or truncated image ({err})") from None
    except Image.DecompressionBombError as err:
        raise ImageError(path, f"image too large to open safely ({err})") from None


def _png_declares_zero_size(path):
    """True if ``path`` is a PNG whose header declares a zero width or height.

    Pillow refuses such files without saying why, so we look ourselves.
    """
    with open(path, "rb") as handle:
        head = handle.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return False
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    return width == 0 or height == 0


def _is_grey_palette(img):
    palette = np.asarray(img.getpalette() or [], dtype=np.uint8).reshape(-1, 3)
    return bool(np.all(palette == palette[:, :1]))


def _split_alpha(img):
    """Return (image without alpha, alpha as uint8 (H, W) or None)."""
    if img.mode == "P":
        has_alpha = "transparency" in img.info
        if _is_grey_palette(img) and not has_alpha:
            return img.convert("L"), None
        img = img.convert("RGBA" if has_alpha else "RGB")
    if img.mode in _ALPHA_MODES:
        alpha = np.array(img.getchannel("A"))
        base = "L" if img.mode in ("LA", "La") else "RGB"
        return img.convert(base), alpha
    return img, None


#: The ranges a float image may be in, tried in this order (see the module docstring).
FLOAT_RANGES = (1.0, 255.0, 65535.0)


def float_image_to_uint16(img, path) -> np.ndarray:
    """A float (mode ``F``) image -> ``uint16`` (H, W): its values divided by the first of
    :data:`FLOAT_RANGES` that holds them all (so [0, 1] stays [0, 1]), clipped below at 0,
    scaled to 0..65535 and rounded. Raises ImageError for NaN/Inf or values over 65535."""
    values = np.asarray(img, dtype=np.float64)
    if not np.isfinite(values).all():
        raise ImageError(path, "float image holds NaN/Inf pixel values")
    largest = values.max(initial=0.0)
    if largest > FLOAT_RANGES[-1]:
        raise ImageError(path, f"float pixel values up to {largest:g} are not supported "
                               f"(the range must be 0..1, 0..255 or 0..65535)")
    top = next(top for top in FLOAT_RANGES if largest <= top)
    unit = np.clip(values / top, 0.0, 1.0)
    return np.floor(unit * 65535.0 + 0.5).astype(np.uint16)


def _sixteen_bit_array(img, path, keep_16bit):
    values = np.asarray(img, dtype=np.int64)
    if values.min(initial=0) < 0 or values.max(initial=0) > 65535:
        raise ImageError(path, f"{img.mode} pixel values outside 0..65535 are not supported")
    if keep_16bit:
        return values.astype(np.uint16)
    return _sixteen_to_eight_bits(values)


def _sixteen_to_eight_bits(values):
    """0..65535 -> uint8 as ``round(v * 255 / 65535)`` (MATLAB's ``im2uint8``)."""
    return np.floor(values * (255.0 / 65535.0) + 0.5).astype(np.uint8)


def read_image(path, keep_alpha=False, keep_16bit=False, exif_transpose=True):
    """Read an image file into a NumPy array.

    Parameters
    ----------
    path : str or Path
    keep_alpha : bool
        If True, return ``(image, alpha)`` where ``alpha`` is a ``uint8``
        (H, W) array, or None when the file has no alpha channel.
    keep_16bit : bool
        If True, 16-bit grey images come back as ``uint16`` (H, W), unscaled, and
        float images as ``uint16`` (see the module docstring).
    exif_transpose : bool
        Apply the EXIF orientation tag (default).  MATLAB's ``imread`` ignores
        it; the standard SR test sets carry none.

    Returns
    -------
    array
        ``uint8`` (H, W) grey or (H, W, 3) colour (see the module docstring),
        or ``(array, alpha)`` with ``keep_alpha=True``.

    Raises
    ------
    ImageError
        Missing file, not an image, truncated or corrupt data, zero-size image.
    """
    img = _open_loaded(path)
    if exif_transpose:
        img = ImageOps.exif_transpose(img)
    if img.width == 0 or img.height == 0:
        raise ImageError(path, f"image has zero size ({img.width}x{img.height})")
    if img.mode in _SIXTEEN_BIT_MODES:
        array, alpha = _sixteen_bit_array(img, path, keep_16bit), None
    elif img.mode == "F":
        array, alpha = float_image_to_uint16(img, path), None
        if not keep_16bit:
            array = _sixteen_to_eight_bits(array)
    else:
        img, alpha = _split_alpha(img)
        if img.mode == "1":
            img = img.convert("L")
        elif img.mode not in ("L", "RGB"):
            img = img.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX, F, ...
        array = np.array(img, dtype=np.uint8)  # a writable copy
    return (array, alpha) if keep_alpha else array


def _to_pil(array):
    array = np.asarray(array)
    if array.dtype == np.uint16 and array.ndim == 2:
        return Image.fromarray(np.ascontiguousarray(array))  # mode I;16
    if array.dtype != np.uint8:
        raise ValueError(
            f"write_image expects uint8 (or uint16 grey) pixels, got {array.dtype}; "
            "convert first, e.g. np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)"
        )
    if array.size == 0:
        raise ValueError(f"write_image: cannot write an empty image of shape {array.shape}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4)):
        return Image.fromarray(np.ascontiguousarray(array))
    raise ValueError(f"write_image expects (H, W), (H, W, 3) or (H, W, 4), got {array.shape}")


#: Pillow modes that :func:`minisr.image.png.encode_png` writes (grey, grey + alpha, RGB,
#: RGBA, 16-bit grey); other modes, and other save options, go to Pillow's PNG encoder.
PNG_MODES = ("L", "LA", "RGB", "RGBA", "I;16")


def write_image(path, image, overwrite=False, **save_params):
    """Write ``image`` (an array as for :func:`_to_pil`, or a PIL image) to ``path``
    atomically; the format follows the extension and ``save_params`` (``quality``,
    ``icc_profile``, ...) go to Pillow. PNG files with only ``compress_level`` (default
    6, as Pillow) and ``icc_profile`` are written by :func:`minisr.image.png.encode_png`.

    The image is saved to a temporary file in the same folder, flushed to disk, then
    moved into place (``os.replace``, or a hard link when not overwriting so that a
    file created meanwhile is never clobbered); the file gets the usual permissions
    (0666 less the umask). Raises ``FileExistsError`` if ``path`` exists and
    ``overwrite`` is False; a failure part-way leaves no file behind.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: already exists; pass overwrite=True to replace it")
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None or fmt not in Image.SAVE:
        raise ValueError(f"{path}: unknown image file extension {path.suffix!r} (Pillow cannot write it)")
    img = image if isinstance(image, Image.Image) else _to_pil(image)
    if fmt == "PNG" and img.mode in PNG_MODES and set(save_params) <= {"compress_level", "icc_profile"}:
        pixels = np.asarray(img)  # minisr's encoder: faster than Pillow's at the same size (image/png.py)
        def save(handle):
            handle.write(encode_png(pixels, save_params.get("compress_level", 6), save_params.get("icc_profile")))
    else:
        def save(handle):
            img.save(handle, format=fmt, **save_params)
    try:
        atomic_write(path, save, overwrite)
    except FileExistsError:
        raise FileExistsError(f"{path}: already exists; pass overwrite=True to replace it") from None


