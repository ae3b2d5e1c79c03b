"""Writing a file so that it is never seen half-written: the one atomic writer of minisr.

    atomic_write("model.npz", lambda f: np.savez(f, **arrays))
    atomic_write("photo_x3.png", lambda f: img.save(f, format="PNG"), overwrite=False)

1. The bytes go to a temporary file beside the target, ``.NAME.<random>.tmp``, so the
   final rename stays on one file system.
2. It is flushed to disk (``fsync``), given the usual permissions (0666 less the umask;
   ``mkstemp`` makes files private), then moved over the target with ``os.replace``
   (atomic), or with a hard link when the target must not be replaced, so that a file
   that appeared meanwhile is never clobbered.
3. Any failure (a full disk, Ctrl-C) deletes the temporary file.

A process killed with SIGKILL cannot delete anything, so the temporary file holds a
lock (:mod:`minisr.locks`) for as long as it is being written; the next write of the
same target removes the temporaries whose lock is free (their writer is gone).
"""

import os
import tempfile
from pathlib import Path

from .locks import is_abandoned, lock_open_file


def temporary_pattern(path: Path) -> str:
    """Glob pattern of the temporary files of ``path``: ``.NAME.*.tmp``."""
    return f".{path.name}.*.tmp"


def remove_abandoned_temporaries(path) -> list:
    """Delete the temporary files of ``path`` left by writers that were killed."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    removed = []
    for leftover in folder.glob(temporary_pattern(path)):
        if is_abandoned(leftover):
            leftover.unlink(missing_ok=True)
            removed.append(leftover)
    return removed


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path, write, overwrite: bool = True) -> None:
    """Create or replace ``path`` with what ``write(binary_file)`` writes, atomically.

    Raises ``FileExistsError`` if ``path`` exists (also if it appears while writing)
    and ``overwrite`` is False; re-raises whatever ``write`` or the disk raises, with no
    temporary file left behind.
    """
    path = Path(path)
    if not overwrite and path.exists():
        raise FileExistsError(f"{path}: already exists")
    folder = path.parent if str(path.parent) else Path(".")
    remove_abandoned_temporaries(path)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            lock_open_file(handle)  # held until closed: the file is being written
            os.chmod(tmp, 0o666 & ~current_umask())
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
            if os.name != "nt":  # POSIX renames an open file: keep the lock to the end
                move_into_place(tmp, path, overwrite)
        if os.name == "nt":  # Windows cannot rename an open file
            move_into_place(tmp, path, overwrite)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def move_into_place(tmp, path, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, path)
    else:
        move_no_clobber(tmp, path)


def move_no_clobber(tmp, path) -> None:
    """Move ``tmp`` to ``path``, failing if ``path`` exists (even if it appeared a moment ago)."""
    try:
        os.link(tmp, path)  # atomic, refuses an existing target
    except FileExistsError:
        raise FileExistsError(f"{path}: already exists") from None
    except OSError:  # a file system without hard links
        if os.path.exists(path):
            raise FileExistsError(f"{path}: already exists") from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def atomic_savez(path, arrays: dict) -> None:
    """``np.savez(path, **arrays)``, atomically."""
    import numpy as np

    atomic_write(path, lambda handle: np.savez(handle, **arrays))
