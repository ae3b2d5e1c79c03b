"""Advisory file locks: who owns a run folder, and which leftovers are abandoned.

A process that owns something (a training run folder, a half-built pair cache) holds an
exclusive lock on a small file inside it for as long as it works there. The operating
system releases the lock when the process ends, however it ends (Ctrl-C, SIGTERM,
``kill -9``, a crash), so another process can tell at once:

* lock taken by someone else  -> the owner is alive: keep out;
* lock free                   -> nobody owns it: a leftover of a dead process, safe
                                 to clean up or reuse.

No PID files to go stale, no timeouts to guess. POSIX ``flock`` (Linux, macOS) or
``msvcrt.locking`` (Windows); locks are per open file, so two ``hold`` calls on the
same path conflict even inside one process.
"""

import os

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt

LOCK_NAME = ".lock"


def lock_open_file(handle) -> bool:
    """Take an exclusive lock on an open file without waiting; False if someone holds it.
    The lock lasts until the file is closed (or its process ends)."""
    try:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    return True


def hold(path):
    """Create ``path`` if needed and take an exclusive lock on it without waiting.

    Returns the open file (keep it open to keep the lock; ``release`` it when done), or
    None if another process (or another ``hold`` in this one) holds the lock.
    """
    handle = open(path, "a+")
    if not lock_open_file(handle):
        handle.close()
        return None
    return handle


def release(handle) -> None:
    """Give up a lock taken by :func:`hold` (closing the file releases it)."""
    if handle is not None and not handle.closed:
        handle.close()


def owner_note(handle, text: str) -> None:
    """Write ``text`` (who holds the lock: PID, command) into a held lock file, so that a
    refused process can say who is in the way."""
    handle.seek(0)
    handle.truncate()
    handle.write(text)
    handle.flush()


def read_owner(path) -> str:
    """What the holder of lock file ``path`` wrote about itself ('' if nothing)."""
    try:
        with open(path) as f:
            return " ".join(f.read().split())
    except OSError:
        return ""


def is_abandoned(lock_path) -> bool:
    """True if ``lock_path`` exists and no process holds its lock (its owner is gone)."""
    if not os.path.exists(lock_path):
        return False
    handle = hold(lock_path)
    if handle is None:
        return False
    release(handle)
    return True
