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

Storage: ``lr.npy`` (N, f + 2c, f + 2c) float32, ``hr.npy`` (N, F, F) uint8 (HR pixels are
whole Y levels, so uint8 loses nothing and is 4x smaller), plus ``meta.json``, in a
folder of the cache dir named by a hash of everything that changes the pairs (the
image bytes, scale, sizes, stride, augmentation, :data:`CACHE_VERSION`). The folder
is written under a temporary name and renamed when complete, so a crash never
leaves a half-written cache; the next run memory-maps it and starts at once.
"""

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

from ..imageio import read_image
from ..metrics import modcrop
from ..progress import Progress
from ..protocol import image_to_y
from ..resize import imresize, output_size_for

CACHE_VERSION = 1
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
    """LR context that keeps zero padding out of every trained output: the trunk sees
    ``2 + m`` pixels around (5x5, then m 3x3 convolutions) and the deconvolution
    reaches ``4 // n`` LR pixels beyond the sub-image (taps -4..4 at stride n)."""
    return 2 + m + 4 // scale


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
    hr = modcrop(np.asarray(hr_y), n)
    lr = imresize(hr.astype(np.float64) / 255.0, 1.0 / n).astype(np.float32)
    rows, cols = grid(lr.shape[0], size, k), grid(lr.shape[1], size, k)
    if rows == 0 or cols == 0:
        return np.zeros((0, size, size), np.float32), np.zeros((0, F, F), np.uint8)
    lr_windows = sliding_window_view(lr, (size, size))[::k, ::k][:rows, :cols]
    hr_windows = sliding_window_view(hr, (F, F))[n * c::n * k, n * c::n * k][:rows, :cols]
    return lr_windows.reshape(-1, size, size), hr_windows.reshape(-1, F, F)


# ---------------------------------------------------------------- a set of pairs
class PatchSet:
    """The prepared pairs: ``lr`` (N, f + 2c, f + 2c) float32 and ``hr`` (N, F, F)
    uint8, memory-mapped from the cache (or any arrays); the target sits
    ``target_offset`` = n*c rows and columns into the network's output."""

    def __init__(self, lr, hr, meta=None, path=None, target_offset=0):
        if len(lr) != len(hr):
            raise ValueError(f"{len(lr)} LR but {len(hr)} HR sub-images")
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
        return self.lr.nbytes + self.hr.nbytes


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
    return PatchSet(np.load(folder / "lr.npy", mmap_mode="r"), np.load(folder / "hr.npy", mmap_mode="r"),
                    meta, folder, spec.target_offset)


def prepare(files, spec: PatchSpec, cache_dir=None, log=print, label="") -> PatchSet:
    """The pairs of ``files`` (HR images) under ``spec``, from the cache or made now.

    Made in two passes: the shapes tell how many pairs each image gives, so the
    ``.npy`` files are allocated once at full size and filled image by image
    (memory stays at one image's pairs, whatever the data set's size).
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
    counts = [[pair_count(augmented_shape(y.shape, s, k), spec) for s, k, _ in augmentations]
              for y in images]
    total = sum(map(sum, counts))
    if total == 0:
        raise ValueError(f"no training pairs: every image is smaller than {spec.input_size} LR "
                         f"pixels at x{spec.scale}")
    f, F = spec.input_size, spec.hr_size
    log(f"preparing {total:,} training pairs {spec.describe()} "
        f"from {len(files)} images{' of ' + label if label else ''} x {len(augmentations)} "
        f"augmentations ...")
    cache_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=cache_root, prefix=".tmp-" + name + "-"))
    try:
        lr_out = np.lib.format.open_memmap(tmp / "lr.npy", "w+", np.float32, (total, f, f))
        hr_out = np.lib.format.open_memmap(tmp / "hr.npy", "w+", np.uint8, (total, F, F))
        at = 0
        with Progress(len(images), "preparing pairs") as bar:
            for y, image_counts in zip(images, counts):
                scaled = {}  # each downscaled image serves every rotation and flip
                for (s, k, flip), count in zip(augmentations, image_counts):
                    if count == 0:
                        continue
                    if s not in scaled:
                        scaled[s] = imresize(y, s) if s != 1.0 else y
                    lr, hr = extract_pairs(orient(scaled[s], k, flip), spec)
                    assert len(lr) == count, (len(lr), count)
                    lr_out[at:at + count], hr_out[at:at + count] = lr, hr
                    at += count
                bar.update(1)
        lr_out.flush()
        hr_out.flush()
        del lr_out, hr_out
        seconds = time.perf_counter() - start
        meta = {"pairs": total, "spec": asdict(spec), "key": key, "seconds": round(seconds, 2),
                "images": [str(p) for p in files], "version": CACHE_VERSION}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        try:
            os.rename(tmp, folder)
        except OSError:  # another process finished the same cache first: use theirs
            if not (folder / "meta.json").is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    pairs = open_cached(folder)
    log(f"training pairs: {total:,} ({pairs.nbytes / 1e6:.0f} MB) made in {seconds:.1f} s, "
        f"cached in {folder}")
    return pairs
