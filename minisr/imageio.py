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
  ``CMYK``               converted to RGB by Pillow (no colour management)
  others (YCbCr, ...)    converted to RGB by Pillow
  ====================  =================================================

* the EXIF orientation tag is applied (``PIL.ImageOps.exif_transpose``), so the
  array is upright as a viewer shows it.

Every failure to read (missing file, not an image, truncated data, zero-size
image) raises :class:`ImageError`, a ``ValueError`` whose message names the file
and the problem on one line.

``write_image`` writes atomically: the image goes to a temporary file in the
destination folder, which is then moved into place, so a crash never leaves a
half-written file; an existing file is only replaced with ``overwrite=True``.
"""

import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ["ImageError", "read_image", "write_image"]

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
        raise ImageError(path, f"image too large ({err})") from None


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


def _sixteen_bit_array(img, path, keep_16bit):
    values = np.asarray(img, dtype=np.int64)
    if values.min(initial=0) < 0 or values.max(initial=0) > 65535:
        raise ImageError(path, f"{img.mode} pixel values outside 0..65535 are not supported")
    if keep_16bit:
        return values.astype(np.uint16)
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
        If True, 16-bit grey images come back as ``uint16`` (H, W), unscaled.
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


def write_image(path, image, overwrite=False, **save_params):
    """Write ``image`` (an array as for :func:`_to_pil`, or a PIL image) to ``path``
    atomically; the format follows the extension and ``save_params`` (``quality``,
    ``icc_profile``, ...) go to Pillow.

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
    folder = path.parent if str(path.parent) else Path(".")
    umask = os.umask(0)
    os.umask(umask)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; an image is not
            img.save(handle, format=fmt, **save_params)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            _move_no_clobber(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _move_no_clobber(tmp, path):
    """Move ``tmp`` to ``path``, failing if ``path`` appeared in the meantime."""
    try:
        os.link(tmp, path)  # atomic, refuses an existing target
    except FileExistsError:
        raise FileExistsError(
            f"{path}: already exists; pass overwrite=True to replace it"
        ) from None
    except OSError:  # file system without hard links
        if os.path.exists(path):
            raise FileExistsError(
                f"{path}: already exists; pass overwrite=True to replace it"
            ) from None
        os.replace(tmp, path)
