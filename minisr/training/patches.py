"""Training pairs: HR images -> augmented Y -> (LR, HR) sub-images, cached on disk.

The paper's recipe, one HR image at a time::

    y    = Y channel (uint8) of the image               (protocol.image_to_y)
    y    = imresize(y, s)  for s in 1, 0.9, 0.8, 0.7, 0.6   (MATLAB bicubic, uint8)
    y    = rot90(y, k)     for k in 0, 1, 2, 3          (optionally also flipped)
    hr   = modcrop(y, n) / 255                          (H, W), multiples of n
    lr   = imresize(hr, 1/n)                            (H/n, W/n), float, not quantised
    LR sub-images f x f at LR offsets (y0, x0) = (k*a, k*b)    (stride k)
    HR sub-images F x F, F = n*f - n + 1, at HR offset (n*y0, n*x0)

Sizes: f = 16, 11, 8 at x2, x3, x4 by default (HR 31, 31, 29; see
:func:`default_lr_size` for why not the paper's 10, 7, 6, which ``"paper"`` selects).
Optionally each LR sub-image carries ``c`` pixels of *context* on every side: the
network sees (f + 2c)^2 pixels but only the F x F outputs over the central f x f
enter the loss, so zero padding need not shape what it learns (``full_context``).

Alignment (why the HR crop starts at ``n*y0``). The deconvolution stamps LR pixel
``i`` with tap ``u`` onto canvas row ``n*i + u`` and crops from 4, so output row
``o = n*i + u - 4``. At evaluation the whole LR image goes through
``forward(lr, exact_size=True)`` and output row ``o`` is compared with HR row ``o``.
A patch whose first LR row is ``y0`` has local rows ``i' = i - y0``; its output row
``o' = n*i' + u - 4 = o - n*y0``. So patch output ``o'`` stands for HR row
``n*y0 + o'``, and the ``F = n*f - n + 1`` outputs of ``forward(patch)`` are
``HR[n*y0 : n*y0 + F]`` -- the same offset rule on both axes (tested in
``tests/test_patches.py`` with a network whose deconvolution interpolates linearly).
With context the input starts c pixels earlier, so the target window of the output
starts at ``n*c`` (:attr:`PatchSpec.target_offset`) and covers ``HR[n*(y0 + c) : ...]``.

Storage: not the pairs themselves (overlapping windows would store each pixel about
(f/k)^2 times over: 543 MB for T91 at x3) but the images they are cut from, and where
each pair's windows start. ``lr.npy``: every augmented LR image, float32, end to end in
one flat array; ``hr.npy``: every augmented, modcropped HR image, uint8 (HR pixels are
whole Y levels, so uint8 loses nothing); ``windows.npy`` (N, 4) int64: for pair ``i``
the flat index of its LR window's first pixel, the width of its LR image, and the same
two numbers for its HR window. A batch is cut out on the fly (:class:`Windows`), the
same numbers as storing every pair: T91 at x3 takes 113 MB instead of 543 MB. With
``meta.json``, they live in a
folder of the cache dir named by a hash of everything that changes the pairs (the
image bytes, scale, sizes, stride, augmentation, :data:`CACHE_VERSION`). The folder
is written under a temporary name and renamed when complete, so a crash never
leaves a half-written cache; the next run memory-maps it and starts at once. The
space needed is checked before writing (a full disk is one clear error, with the
temporary folder removed), and a temporary folder left by a killed process is
removed by the next run (:func:`remove_abandoned`). ``python -m minisr.data cache``
lists the cache and ``--clean`` empties it.
"""

import errno
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .._jit import serial_kernel
from ..image.imageio import read_image
from ..locks import LOCK_NAME, hold, is_abandoned, release
from ..image.metrics import modcrop
from ..progress import Progress
from ..image.protocol import image_to_y
from ..image.resize import imresize, output_size_for
from ..shapes import input_rows

CACHE_VERSION = 2  # 2: images + window positions (1 stored every pair)
PAPER_LR_SIZE = {2: 10, 3: 7, 4: 6}     # f_sub; HR sizes 19, 19, 21
DEFAULT_LR_SIZE = {2: 16, 3: 11, 4: 8}  # HR sizes 31, 31, 29 (see default_lr_size)
PAPER_DOWNSCALES = (0.9, 0.8, 0.7, 0.6)
PAPER_ROTATIONS = (0, 1, 2, 3)          # multiples of 90 degrees (np.rot90's k)
HR_STRIDE = 12                          # default LR stride = round(12 / n): 6, 4, 3
DEFAULT_CACHE_DIR = Path("~/.cache/minisr/patches")


def default_lr_size(scale: int, paper: bool = False) -> int:
    """LR sub-image side: x2 16, x3 11, x4 8 (HR 31, 31, 29), or with ``paper`` the
    paper's f_sub (x2 10, x3 7, x4 6; HR 19, 19, 21); other scales: HR side about 31
    (about 20 for ``paper``).

    Why not the paper's sizes by default: every convolution pads with zeros, and in a
    7x7 LR patch every output is within reach of the padding (the trunk of FSRCNN sees
    6 LR pixels around). A network trained on them leans on those borders and is off
    on whole images: FSRCNN x3 after 2,000 Adam steps scored 23.4 dB on Set5 with 7x7
    patches and 30.9 dB with 11x11 (the size of the PyTorch reference run).
    """
    if paper:
        return PAPER_LR_SIZE.get(scale, max(3, round(20 / scale) + 1))
    return DEFAULT_LR_SIZE.get(scale, max(3, round(32 / scale)))


def default_stride(scale: int) -> int:
    """LR stride ``round(12 / n)``: HR sub-images 12 pixels apart at every scale, so
    x2, x3 and x4 get about the same number of pairs (~375k from T91, augmented)."""
    return max(1, round(HR_STRIDE / scale))


def hr_size(lr_size: int, scale: int) -> int:
    """HR side of a pair: the deconvolution's training output ``n*f - n + 1``."""
    return scale * lr_size - scale + 1


def full_context(m: int, scale: int) -> int:
    """LR context that keeps zero padding out of every trained output: how many LR
    pixels before its first row the first output row reads (FSRCNN's receptive field,
    :func:`minisr.shapes.input_rows`): ``2 + m + 4 // n`` (the 5x5 and m 3x3
    convolutions, then the deconvolution's taps -4..4 at stride n)."""
    return -input_rows(0, 0, m, scale)[0]


@dataclass(frozen=True)
class PatchSpec:
    """Everything that decides the pairs made from a given list of images."""

    scale: int
    lr_size: int                           # f: the LR sub-image the target covers
    stride: int
    downscales: tuple = PAPER_DOWNSCALES   # besides the original (1.0)
    rotations: tuple = PAPER_ROTATIONS
    flips: bool = False                    # also every left-right mirror
    context: int = 0                       # c: extra LR pixels around the sub-image

    @property
    def hr_size(self) -> int:
        return hr_size(self.lr_size, self.scale)

    @property
    def input_size(self) -> int:
        """Side of the stored LR input, ``f + 2c``."""
        return self.lr_size + 2 * self.context

    @property
    def target_offset(self) -> int:
        """Where the HR target sits in the network's output: ``n*c`` rows and columns in."""
        return self.scale * self.context

    @classmethod
    def for_scale(cls, scale, lr_size=None, stride=None, augment=True, flips=False, context=0):
        """Default sizes (``lr_size="paper"``: the paper's), the paper's augmentation."""
        if lr_size in (None, "paper"):
            lr_size = default_lr_size(scale, paper=lr_size == "paper")
        return cls(scale=int(scale), lr_size=int(lr_size),
                   stride=int(stride or default_stride(scale)),
                   downscales=PAPER_DOWNSCALES if augment else (),
                   rotations=PAPER_ROTATIONS if augment else (0,), flips=bool(flips),
                   context=int(context))

    def describe(self) -> str:
        """``"11x11 -> 31x31 (x3, stride 4)"``, and the context if any."""
        f, F = self.input_size, self.hr_size
        context = f", context {self.context}" if self.context else ""
        return f"{f}x{f} -> {F}x{F} (x{self.scale}, stride {self.stride}{context})"

    def augmentations(self) -> list:
        """``[(downscale, k, flip)]`` in the order the pairs are stored."""
        flips = (False, True) if self.flips else (False,)
        return [(s, k, flip) for s in (1.0,) + tuple(self.downscales)
                for flip in flips for k in self.rotations]


# ---------------------------------------------------------------- one image
def augment(y: np.ndarray, downscale: float, k: int, flip: bool) -> np.ndarray:
    """Downscale (MATLAB bicubic on uint8, as the authors resized their images),
    mirror left-right if ``flip``, then rotate by ``k * 90`` degrees."""
    return orient(imresize(y, downscale) if downscale != 1.0 else y, k, flip)


def orient(y: np.ndarray, k: int, flip: bool) -> np.ndarray:
    """Mirror left-right if ``flip``, then rotate by ``k * 90`` degrees (a view)."""
    return np.rot90(y[:, ::-1] if flip else y, k)


def augmented_shape(shape, downscale: float, k: int) -> tuple:
    """Shape of :func:`augment`'s output, without computing it."""
    h, w = output_size_for(shape, downscale)[0] if downscale != 1.0 else shape[:2]
    return (w, h) if k % 2 else (h, w)


def grid(length: int, size: int, stride: int) -> int:
    """Number of windows of ``size`` at offsets 0, stride, ... that fit in ``length``."""
    return (length - size) // stride + 1 if length >= size else 0


def pair_count(hr_shape, spec: PatchSpec) -> int:
    """How many pairs :func:`extract_pairs` makes from an HR image of this shape."""
    h, w = hr_shape[0] // spec.scale, hr_shape[1] // spec.scale  # LR size after modcrop
    return grid(h, spec.input_size, spec.stride) * grid(w, spec.input_size, spec.stride)


def extract_pairs(hr_y: np.ndarray, spec: PatchSpec):
    """All (LR, HR) pairs of one HR Y image (uint8).

    Returns ``lr`` (K, f + 2c, f + 2c) float32 = windows of ``imresize(hr / 255, 1/n)``
    at offsets (y0, x0) = (k*a, k*b), and ``hr`` (K, F, F) uint8 =
    ``hr[n*(y0 + c) : n*(y0 + c) + F, ...]``: the target of the central f x f.
    """
    n, k, c, size, F = spec.scale, spec.stride, spec.context, spec.input_size, spec.hr_size
    lr, hr = pair_images(hr_y, n)
    rows, cols = grid(lr.shape[0], size, k), grid(lr.shape[1], size, k)
    if rows == 0 or cols == 0:
        return np.zeros((0, size, size), np.float32), np.zeros((0, F, F), np.uint8)
    lr_windows = sliding_window_view(lr, (size, size))[::k, ::k][:rows, :cols]
    hr_windows = sliding_window_view(hr, (F, F))[n * c::n * k, n * c::n * k][:rows, :cols]
    return lr_windows.reshape(-1, size, size), hr_windows.reshape(-1, F, F)


def pair_images(y: np.ndarray, n: int) -> tuple:
    """The two images an augmented HR Y image (uint8) gives pairs from:
    ``lr`` = imresize(hr / 255, 1/n) float32 (H/n, W/n) and ``hr`` = modcrop(y, n) uint8
    (H, W), both C-contiguous. Their windows are exactly :func:`extract_pairs`'s pairs."""
    hr = np.ascontiguousarray(modcrop(np.asarray(y), n))
    lr = imresize(hr.astype(np.float64) / 255.0, 1.0 / n).astype(np.float32)
    return np.ascontiguousarray(lr), hr


def window_table(lr_shape, hr_shape, spec: PatchSpec) -> np.ndarray:
    """(K, 4) int64, one row per pair of one image, in :func:`extract_pairs`' order
    (row-major over the LR grid): LR window start (flat, within the LR image), LR
    width, HR window start (flat, within the HR image), HR width.

    LR window (a, b) starts at pixel (k*a, k*b); its HR target at (n*(k*a + c), n*(k*b + c)).
    """
    n, k, c = spec.scale, spec.stride, spec.context
    rows, cols = grid(lr_shape[0], spec.input_size, k), grid(lr_shape[1], spec.input_size, k)
    a, b = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    a, b = a.ravel().astype(np.int64), b.ravel().astype(np.int64)
    table = np.empty((rows * cols, 4), np.int64)
    table[:, 0] = k * a * lr_shape[1] + k * b
    table[:, 1] = lr_shape[1]
    table[:, 2] = n * (k * a + c) * hr_shape[1] + n * (k * b + c)
    table[:, 3] = hr_shape[1]
    return table


# ---------------------------------------------------------------- a set of pairs
@serial_kernel
def gather_windows(store, starts, widths, out):
    """``out[b, r, c] = store[starts[b] + r * widths[b] + c]``: cut B windows of
    ``out.shape[1:]`` out of images stored end to end in the flat array ``store``.

    (NumPy's ``store[flat_indices]`` computes the same in one line, 5x slower: a
    third of a training step at batch 128.)
    """
    for b in range(out.shape[0]):
        for r in range(out.shape[1]):
            row = starts[b] + r * widths[b]
            for c in range(out.shape[2]):
                out[b, r, c] = store[row + c]


class Windows:
    """Square windows of images stored end to end in one flat array, cut out on demand.

    Window ``i`` is the ``size`` x ``size`` block whose first pixel is
    ``store[starts[i]]`` and whose rows are ``widths[i]`` apart (the width of the image
    it lies in): ``windows[i][r, c] = store[starts[i] + r * widths[i] + c]``.
    ``windows[indices]`` gives (B, size, size), ``windows[i]`` one (size, size).
    """

    def __init__(self, store, starts, widths, size: int):
        self.store, self.starts, self.widths, self.size = store, starts, widths, int(size)

    @classmethod
    def of_array(cls, array) -> "Windows":
        """The windows of an (N, size, size) array (each its own image)."""
        array = np.ascontiguousarray(array)
        n, size = array.shape[0], array.shape[1]
        return cls(array.reshape(-1), np.arange(n, dtype=np.int64) * size * size,
                   np.full(n, size, np.int64), size)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index) -> np.ndarray:
        starts, widths = self.starts[index], self.widths[index]
        one = np.ndim(starts) == 0
        starts, widths = np.atleast_1d(starts), np.atleast_1d(widths)
        windows = np.empty((len(starts), self.size, self.size), self.store.dtype)
        gather_windows(self.store.view(np.ndarray), starts, widths, windows)
        return windows[0] if one else windows

    @property
    def dtype(self):
        return self.store.dtype


class PatchSet:
    """The prepared pairs: ``lr[i]`` (f + 2c, f + 2c) float32 and ``hr[i]`` (F, F) uint8
    (:class:`Windows`, or arrays of shape (N, ...)); the target sits ``target_offset``
    = n*c rows and columns into the network's output."""

    def __init__(self, lr, hr, meta=None, path=None, target_offset=0):
        if len(lr) != len(hr):
            raise ValueError(f"{len(lr)} LR but {len(hr)} HR sub-images")
        lr = lr if isinstance(lr, Windows) else Windows.of_array(lr)
        hr = hr if isinstance(hr, Windows) else Windows.of_array(hr)
        self.lr, self.hr, self.meta, self.path = lr, hr, dict(meta or {}), path
        self.target_offset = int(target_offset)

    def __len__(self):
        return len(self.lr)

    def batch(self, indices, dtype=np.float32):
        """Pairs ``indices`` as network input and target: ``x`` (B, 1, f + 2c, f + 2c),
        ``t`` (B, 1, F, F) = HR / 255, both ``dtype``."""
        indices = np.sort(np.asarray(indices))  # sorted reads are kinder to a memory map
        dtype = np.dtype(dtype).type
        x = np.ascontiguousarray(self.lr[indices][:, None], dtype=dtype)
        t = self.hr[indices][:, None].astype(dtype) / dtype(255)
        return x, t

    @property
    def nbytes(self) -> int:
        """Bytes of the stored images (what the cache holds), not of every pair."""
        return self.lr.store.nbytes + self.hr.store.nbytes + self.lr.starts.nbytes * 4


def load_y(path) -> np.ndarray:
    """An image file as its uint8 Y channel, read as the test protocol reads it."""
    return image_to_y(read_image(path, exif_transpose=False))


def file_digest(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_key(files, spec: PatchSpec) -> str:
    """A hash of the image bytes (in order) and every setting that shapes the pairs."""
    description = {"version": CACHE_VERSION, "spec": asdict(spec),
                   "images": [file_digest(p) for p in files]}
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:16]


def resolve_cache_dir(cache_dir=None) -> Path:
    """``cache_dir`` if given, else $MINISR_PATCH_CACHE, else ~/.cache/minisr/patches."""
    chosen = cache_dir or os.environ.get("MINISR_PATCH_CACHE") or DEFAULT_CACHE_DIR
    return Path(chosen).expanduser()


def open_cached(folder: Path) -> PatchSet:
    meta = json.loads((folder / "meta.json").read_text())
    spec = PatchSpec(**{**meta["spec"], "downscales": tuple(meta["spec"]["downscales"]),
                        "rotations": tuple(meta["spec"]["rotations"])})
    windows = np.load(folder / "windows.npy")
    lr = Windows(np.load(folder / "lr.npy", mmap_mode="r"), windows[:, 0], windows[:, 1], spec.input_size)
    hr = Windows(np.load(folder / "hr.npy", mmap_mode="r"), windows[:, 2], windows[:, 3], spec.hr_size)
    return PatchSet(lr, hr, meta, folder, spec.target_offset)


def prepare(files, spec: PatchSpec, cache_dir=None, log=print, label="") -> PatchSet:
    """The pairs of ``files`` (HR images) under ``spec``, from the cache or made now.

    Made in two passes: the shapes tell the size of every augmented image and how many
    pairs it gives, so the size of the ``.npy`` files is known (and checked against the
    free disk space) before anything is written; then they are filled image by image
    with plain writes (memory stays at one image, whatever the data set's size; a full
    disk is an ``OSError`` naming the folder, never a crash inside a memory map).

    The folder is built under a temporary name holding a lock (:mod:`minisr.locks`)
    and renamed when complete; a temporary folder whose maker died (killed, out of
    disk) is removed by the next call.
    """
    files = [Path(p) for p in files]
    if not files:
        raise ValueError("no training images")
    cache_root = resolve_cache_dir(cache_dir)
    key = cache_key(files, spec)
    name = f"x{spec.scale}_{spec.input_size}-{spec.hr_size}_stride{spec.stride}_{key}"
    folder = cache_root / name
    if (folder / "meta.json").is_file():
        pairs = open_cached(folder)
        log(f"training pairs: {len(pairs):,} {spec.describe()} cached in {folder}")
        return pairs

    start = time.perf_counter()
    images = [load_y(p) for p in files]
    augmentations = spec.augmentations()
    shapes = [[augmented_shape(y.shape, s, k) for s, k, _ in augmentations] for y in images]
    counts = [[pair_count(shape, spec) for shape in image_shapes] for image_shapes in shapes]
    total = sum(map(sum, counts))
    if total == 0:
        raise ValueError(f"no training pairs: every image is smaller than {spec.input_size} LR "
                         f"pixels at x{spec.scale}")
    n = spec.scale
    used = [shape for image_shapes, image_counts in zip(shapes, counts)
            for shape, count in zip(image_shapes, image_counts) if count]
    lr_pixels = sum((h // n) * (w // n) for h, w in used)
    hr_pixels = sum((h // n * n) * (w // n * n) for h, w in used)
    try:
        cache_root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OSError(f"cannot create the pair cache folder {cache_root} ({error.strerror or error}); "
                      "choose another with --cache-dir DIR") from None
    removed = remove_abandoned(cache_root)
    if removed:
        log(f"removed {len(removed)} unfinished pair folder(s) left in {cache_root} by a stopped run")
    needed = 4 * lr_pixels + hr_pixels + 32 * total + 3 * NPY_HEADER_BYTES
    free = shutil.disk_usage(cache_root).free
    if free < needed:
        raise OSError(f"not enough disk space for the training pairs in {cache_root}: they need "
                      f"{megabytes(needed)}, {megabytes(free)} is free; free some space or choose "
                      "another folder with --cache-dir DIR")
    log(f"preparing {total:,} training pairs {spec.describe()} "
        f"from {len(files)} images{' of ' + label if label else ''} x {len(augmentations)} "
        f"augmentations: {megabytes(needed)} written once to {cache_root} "
        f"(see or clean the cache: python -m minisr.data cache [--clean]) ...")
    tmp = Path(tempfile.mkdtemp(dir=cache_root, prefix=TMP_PREFIX + name + "-"))
    owner = hold(tmp / LOCK_NAME)  # released when done, or by the OS if this process dies
    try:
        with open(tmp / "lr.npy", "wb") as lr_file, open(tmp / "hr.npy", "wb") as hr_file, \
                open(tmp / "windows.npy", "wb") as windows_file, \
                Progress(len(images), "preparing pairs") as bar:
            write_npy_header(lr_file, np.float32, (lr_pixels,))
            write_npy_header(hr_file, np.uint8, (hr_pixels,))
            write_npy_header(windows_file, np.int64, (total, 4))
            lr_at = hr_at = written = 0  # where the next image starts in each store
            for y, image_counts in zip(images, counts):
                scaled = {}  # each downscaled image serves every rotation and flip
                for (s, k, flip), count in zip(augmentations, image_counts):
                    if count == 0:
                        continue
                    if s not in scaled:
                        scaled[s] = imresize(y, s) if s != 1.0 else y
                    lr, hr = pair_images(orient(scaled[s], k, flip), n)
                    windows = window_table(lr.shape, hr.shape, spec)
                    assert len(windows) == count, (len(windows), count)
                    windows += (lr_at, 0, hr_at, 0)
                    lr_file.write(lr.tobytes())
                    hr_file.write(hr.tobytes())
                    windows_file.write(windows.tobytes())
                    lr_at, hr_at, written = lr_at + lr.size, hr_at + hr.size, written + count
                bar.update(1)
            assert (written, lr_at, hr_at) == (total, lr_pixels, hr_pixels)
            for handle in (lr_file, hr_file, windows_file):
                handle.flush()
                os.fsync(handle.fileno())
        seconds = time.perf_counter() - start
        meta = {"pairs": total, "spec": asdict(spec), "key": key, "seconds": round(seconds, 2),
                "images": [str(p) for p in files], "version": CACHE_VERSION}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        (tmp / LOCK_NAME).unlink()
        try:
            os.rename(tmp, folder)
        except OSError:  # another process finished the same cache first: use theirs
            if not (folder / "meta.json").is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as error:
        shutil.rmtree(tmp, ignore_errors=True)
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise OSError(f"the disk holding {cache_root} filled up while writing the training "
                          f"pairs ({megabytes(needed)} needed); nothing was kept. Free some space "
                          "or choose another folder with --cache-dir DIR") from None
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        release(owner)
    pairs = open_cached(folder)
    log(f"training pairs: {total:,} ({megabytes(pairs.nbytes)}) made in {seconds:.1f} s, "
        f"cached in {folder}")
    return pairs


# ---------------------------------------------------------------- cache files
TMP_PREFIX = ".tmp-"
NPY_HEADER_BYTES = 128  # an .npy header of this size is enough for any 3-d shape


def megabytes(size: int) -> str:
    return f"{size / 1e6:,.0f} MB" if size >= 1e6 else f"{size / 1e6:.2f} MB"


def write_npy_header(handle, dtype, shape) -> None:
    """Start an ``.npy`` file of C-ordered ``dtype`` data of ``shape``; the data follow
    as raw bytes (``np.load(..., mmap_mode="r")`` reads the result)."""
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
              "fortran_order": False, "shape": tuple(int(n) for n in shape)}
    np.lib.format.write_array_header_1_0(handle, header)


def remove_abandoned(cache_root: Path, older_than: float = 60.0) -> list:
    """Remove the temporary pair folders (``.tmp-*``) of processes that are gone.

    A folder whose lock file is free is abandoned (its maker died); one with no lock
    file is a leftover of an older minisr or of a maker killed before it took the lock,
    and is removed once it is ``older_than`` seconds old. Returns the removed paths.
    """
    removed = []
    for path in Path(cache_root).glob(TMP_PREFIX + "*"):
        if not path.is_dir():
            continue
        lock = path / LOCK_NAME
        try:
            abandoned = is_abandoned(lock) if lock.exists() else \
                time.time() - path.stat().st_mtime > older_than
        except OSError:
            continue
        if abandoned:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
