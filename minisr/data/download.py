"""Download dataset files safely: resumable, retried and checksum-verified.

Each file ``NAME`` is written to ``NAME.part``.  A dropped connection is
retried a few times; each retry asks the server for the missing bytes only
(an HTTP ``Range`` request) and starts over if the server ignores it.  Once
complete, the ``.part`` file is fsynced, its SHA-256 checked, and only then
renamed to ``NAME`` (``os.replace`` is atomic), so a file under its final
name is always whole and correct.  A file whose checksum differs is deleted
and refused with :class:`ChecksumError`.  A download that fails keeps a
``.part`` file only if it holds bytes to resume from, and removes the folders
it created if they are still empty.
"""

import http.client
import os
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, List, Optional
from urllib.parse import quote

from .registry import (DatasetError, DatasetLike, by_hand_message, dataset_folder,
                       get_dataset, sha256_file)

CHUNK_SIZE = 64 * 1024
ProgressCallback = Callable[[int, Optional[int]], None]


class DownloadError(DatasetError):
    """A file could not be downloaded (server unreachable, HTTP error, ...)."""


class ChecksumError(DownloadError):
    """A downloaded file does not have the expected SHA-256; it was deleted."""

    def __init__(self, path, expected: str, actual: str):
        super().__init__(f"checksum mismatch for {path}: expected sha256 "
                         f"{expected}, got {actual}; the download was deleted")
        self.path, self.expected, self.actual = path, expected, actual


class _Dropped(Exception):
    """The connection ended before the whole body arrived (worth a retry)."""


# Errors after which another attempt may succeed.
_RETRYABLE = (_Dropped, urllib.error.URLError, http.client.HTTPException,
              ConnectionError, TimeoutError, socket.timeout)


def part_path(dest: Path) -> Path:
    """Where ``dest`` is written until it is complete and verified."""
    return dest.with_name(dest.name + ".part")


def download_file(url: str, dest, sha256: str, *, retries: int = 3,
                  backoff: float = 0.5, timeout: float = 30.0,
                  progress: Optional[ProgressCallback] = None) -> Path:
    """Download ``url`` to ``dest`` and check that its SHA-256 is ``sha256``.

    An existing ``dest.part`` is resumed.  Connection problems are retried
    ``retries`` times, waiting ``backoff``, 2*``backoff``, ... seconds.
    ``progress(done, total)`` is called as bytes arrive (total may be None).
    Raises DownloadError, or ChecksumError if the bytes are wrong.
    """
    dest = Path(dest)
    part = part_path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures = 0
    started_over = False
    try:
        while True:
            try:
                resumed = _fetch_into(url, part, timeout, progress)
            except _RETRYABLE as exc:
                failures += 1
                if failures > retries:
                    raise DownloadError(f"could not download {url}: {_reason(exc)} "
                                        f"(gave up after {retries} retries)") from None
                time.sleep(backoff * 2 ** (failures - 1))
                continue
            actual = sha256_file(part)
            if actual == sha256:
                break
            part.unlink()
            if resumed and not started_over:
                started_over = True  # maybe a stale .part: try once from scratch
                continue
            raise ChecksumError(dest, sha256, actual)
    except BaseException:
        # A .part with some bytes is kept, for the next attempt to resume; an empty
        # one has nothing to resume.
        if part.is_file() and part.stat().st_size == 0:
            part.unlink()
        raise
    os.replace(part, dest)
    return dest


def _fetch_into(url: str, part: Path, timeout: float,
                progress: Optional[ProgressCallback]) -> bool:
    """Append the rest of ``url`` to ``part``; True if it resumed a partial file."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                          timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            return True  # nothing left to fetch: the checksum decides
        if exc.code >= 500 or exc.code == 429:
            raise  # a server hiccup: retry
        raise DownloadError(f"could not download {url}: HTTP {exc.code} {exc.reason}") from None
    with response:
        if offset and response.getcode() != 206:
            offset = 0  # the server ignored Range and sends the whole file
        length = response.headers.get("Content-Length")
        expected = int(length) if length is not None else None
        total = offset + expected if expected is not None else None
        received = 0
        with open(part, "ab" if offset else "wb") as f:
            while True:
                chunk = response.read(CHUNK_SIZE)
                if not chunk:
                    break
                f.write(chunk)
                received += len(chunk)
                if progress:
                    progress(offset + received, total)
            f.flush()
            os.fsync(f.fileno())
    if expected is not None and received < expected:
        raise _Dropped(f"connection closed after {offset + received} of {total} bytes")
    return offset > 0


def _reason(exc: Exception) -> str:
    """A short human description of a network error."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__


class ProgressReport:
    """Progress on a stream: a redrawn bar on a terminal, else a line per file."""

    def __init__(self, stream=None):
        self.stream = stream
        self.tty = bool(stream) and stream.isatty()
        self.label = ""
        self.last_draw = 0.0

    def begin(self, label: str) -> None:
        self.label = label

    def update(self, done: int, total: Optional[int]) -> None:
        now = time.monotonic()
        if not self.tty or (now - self.last_draw < 0.1 and done != total):
            return
        self.last_draw = now
        if total:
            filled = 30 * done // total
            bar = f"[{'#' * filled}{' ' * (30 - filled)}] {100 * done // total:3d}%"
        else:
            bar = f"{done / 1024:.0f} KiB"
        self.stream.write(f"\r{self.label} {bar}\x1b[K")
        self.stream.flush()

    def end(self, message: str) -> None:
        if not self.stream:
            return
        line = f"{self.label}: {message}"
        self.stream.write(f"\r{line}\x1b[K\n" if self.tty else line + "\n")
        self.stream.flush()


def download_dataset(name: DatasetLike, data_dir=None, *,
                     base_url: Optional[str] = None, retries: int = 3,
                     backoff: float = 0.5, timeout: float = 30.0,
                     stream=sys.stderr) -> List[Path]:
    """Download every missing or wrong file of a dataset into the data dir.

    Files already present with the right checksum are skipped.
    ``base_url`` replaces the pinned source with a mirror laid out like a
    data dir (file ``F`` of dataset ``D`` at ``BASE/D/F``); tests use it
    with a local server.  Progress goes to ``stream`` (None: quiet).
    Returns the sorted paths of the dataset's files.
    """
    dataset = get_dataset(name)
    folder = dataset_folder(dataset, data_dir)
    if dataset.files is None:
        raise DatasetError(by_hand_message(dataset, folder))
    root = dataset.url if base_url is None else f"{base_url.rstrip('/')}/{quote(dataset.folder or dataset.name)}/"
    if root is None:
        raise DatasetError(f"{dataset.name} has no download URL")
    created = _make_folder(folder)
    report = ProgressReport(stream)
    for filename, sha256 in sorted(dataset.files.items()):
        dest = folder / filename
        report.begin(f"{dataset.name}/{filename}")
        if dest.is_file() and sha256_file(dest) == sha256:
            report.end("present, checksum OK, skipped")
            continue
        try:
            download_file(root + quote(filename), dest, sha256, retries=retries,
                          backoff=backoff, timeout=timeout, progress=report.update)
        except BaseException:
            if report.tty:
                report.stream.write("\n")  # keep the bar; the error goes below it
            _remove_if_empty(created)
            raise
        report.end(f"downloaded, {dest.stat().st_size / 1024:.1f} KiB, checksum OK")
    return [folder / f for f in sorted(dataset.files)]


def _make_folder(folder: Path) -> List[Path]:
    """Create ``folder`` and its missing parents; return those created, deepest first."""
    created, missing = [], folder
    while not missing.exists():
        created.append(missing)
        missing = missing.parent
    folder.mkdir(parents=True, exist_ok=True)
    return created


def _remove_if_empty(folders: List[Path]) -> None:
    """Remove the folders (deepest first) that a failed download left empty."""
    for folder in folders:
        try:
            folder.rmdir()  # fails if anything is inside: a partial file is kept
        except OSError:
            return
