"""The training-pair cache: what is in it, and emptying it.

``python -m minisr.train`` keeps the LR/HR pairs it cuts from the training images in
a cache folder (``minisr/training/patches.py``): one folder per pair set, holding
``lr.npy``, ``hr.npy`` and ``meta.json``, a few hundred MB each for T91.  Here they
are listed and removed:

    python -m minisr.data cache [--cache-dir DIR]            # list the pair sets
    python -m minisr.data cache --clean [--cache-dir DIR]    # remove them

The cache folder is ``--cache-dir``, else $MINISR_PATCH_CACHE, else
~/.cache/minisr/patches (the same rule as training: ``resolve_cache_dir``).
"""

import datetime
import json
import shutil
from pathlib import Path
from typing import List, NamedTuple


class PairSet(NamedTuple):
    """One cached pair set (a folder of the cache with a ``meta.json``)."""

    folder: Path
    scale: int
    pairs: int
    size: int            # bytes on disk
    made: datetime.datetime
    source: str          # the folder(s) of the training images


def folder_size(folder: Path) -> int:
    """Bytes of all files under ``folder``."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _source(images: List[str]) -> str:
    """The folders the images came from, e.g. ``../shared/datasets/T91``."""
    folders = sorted({str(Path(p).parent) for p in images})
    return ", ".join(folders[:2]) + (f" and {len(folders) - 2} more" if len(folders) > 2 else "")


def pair_sets(cache_dir=None) -> List[PairSet]:
    """The pair sets in the cache folder, oldest first (none if it does not exist)."""
    from ..training.patches import resolve_cache_dir

    root = resolve_cache_dir(cache_dir)
    found = []
    for meta_file in sorted(root.glob("*/meta.json")) if root.is_dir() else []:
        folder = meta_file.parent
        try:
            meta = json.loads(meta_file.read_text())
            made = datetime.datetime.fromtimestamp(meta_file.stat().st_mtime)
            found.append(PairSet(folder, int(meta["spec"]["scale"]), int(meta["pairs"]),
                                 folder_size(folder), made, _source(meta.get("images", []))))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not a pair set of this minisr: leave it alone
    return sorted(found, key=lambda s: s.made)


def unfinished_folders(cache_dir=None) -> List[Path]:
    """Temporary folders (``.tmp-*``) of pair sets being made, or left by a stopped run."""
    from ..training.patches import TMP_PREFIX, resolve_cache_dir

    root = resolve_cache_dir(cache_dir)
    return sorted(p for p in root.glob(TMP_PREFIX + "*") if p.is_dir()) if root.is_dir() else []


def clean(cache_dir=None) -> int:
    """Remove every pair set and every abandoned temporary folder; return the bytes freed.

    A temporary folder that a running training still writes (its lock is held) is kept.
    """
    from ..training.patches import remove_abandoned, resolve_cache_dir

    root = resolve_cache_dir(cache_dir)
    freed = 0
    for pair_set in pair_sets(root):
        shutil.rmtree(pair_set.folder)
        freed += pair_set.size
    if root.is_dir():
        sizes = {p: folder_size(p) for p in unfinished_folders(root)}
        freed += sum(sizes[p] for p in remove_abandoned(root))
    return freed
