"""Tests of the downloader against a local HTTP server on 127.0.0.1.

The server serves files made in the test, and can misbehave on purpose:
drop the connection halfway, ignore Range requests, or hang.
"""

import hashlib
import os
import random
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minisr.data import (ChecksumError, Dataset, DatasetError, DownloadError,
                         dataset_files, download_dataset, download_file)
from minisr.data import registry
from minisr.data.__main__ import main
from minisr.data.download import part_path

REPO = Path(__file__).resolve().parents[1]
FAST = dict(retries=2, backoff=0.0, timeout=2.0, stream=None)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def random_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


class FileServer:
    """A local HTTP server for ``files`` ({url path: bytes}) that records requests.

    mode: "normal" (honours Range), "ignore-range", "drop-once" (the first
    request of each path gets half its body, then the connection closes),
    "headers-only" (every response ends after its headers), or "hang" (sends
    nothing until the test ends).
    """

    def __init__(self, files, mode="normal"):
        self.files, self.mode = files, mode
        self.requests = []  # (path, Range header or None)
        self.dropped = set()
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.handle(self)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def handle(self, request):
        path, range_header = request.path, request.headers.get("Range")
        self.requests.append((path, range_header))
        if self.mode == "hang":
            self.release.wait(10)
            return
        if path not in self.files:
            request.send_error(404)
            return
        body, start = self.files[path], 0
        if range_header and self.mode != "ignore-range":
            start = int(range_header.removeprefix("bytes=").rstrip("-"))
            if start >= len(body):
                request.send_error(416)
                return
            request.send_response(206)
            request.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            request.send_response(200)
        request.send_header("Content-Length", str(len(body) - start))
        request.end_headers()
        if self.mode == "headers-only":
            request.close_connection = True
            return
        if self.mode == "drop-once" and path not in self.dropped:
            self.dropped.add(path)
            request.wfile.write(body[start:start + (len(body) - start) // 2])
            request.close_connection = True
            return
        request.wfile.write(body[start:])

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve(monkeypatch):
    """serve(files, mode) -> a running FileServer, shut down after the test."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    servers = []

    def start(files, mode="normal"):
        servers.append(FileServer(files, mode))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def tiny():
    """Three fixture files (one a real PNG) and a Dataset describing them."""
    contents = {"a.bin": random_bytes(300_000, 1), "b.bin": random_bytes(1000, 2),
                "c.png": _png_bytes()}
    dataset = Dataset("Tiny", "test set", {k: sha256(v) for k, v in contents.items()})
    return dataset, contents


def _png_bytes() -> bytes:
    import io

    import numpy as np
    from PIL import Image
    pixels = np.random.default_rng(0).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def mirror(contents, name="Tiny"):
    """The server files for a mirror holding dataset ``name``."""
    return {f"/{name}/{f}": data for f, data in contents.items()}


def test_download_dataset_fetches_and_verifies(serve, tiny, tmp_path):
    dataset, contents = tiny
    server = serve(mirror(contents))
    paths = download_dataset(dataset, tmp_path, base_url=server.url, **FAST)
    assert paths == [tmp_path / "Tiny" / f for f in sorted(contents)]
    for path in paths:
        assert path.read_bytes() == contents[path.name]
    assert not list(tmp_path.rglob("*.part"))
    assert sorted(p for p, _ in server.requests) == sorted(mirror(contents))


def test_dataset_url_is_used_without_base_url(serve, tiny, tmp_path):
    dataset, contents = tiny
    server = serve(mirror(contents))
    pinned = Dataset("Tiny", "test set", dataset.files, url=server.url + "/Tiny/")
    assert len(download_dataset(pinned, tmp_path, **FAST)) == 3


def test_dataset_files_downloads_when_asked(serve, tiny, tmp_path):
    dataset, contents = tiny
    server = serve(mirror(contents))
    with pytest.raises(DatasetError, match="fetch it with"):
        dataset_files(dataset, tmp_path)
    paths = dataset_files(dataset, tmp_path, download=True, base_url=server.url)
    assert [p.name for p in paths] == sorted(contents)


def test_corrupted_file_is_refused(serve, tiny, tmp_path):
    dataset, contents = tiny
    corrupt = dict(contents, **{"b.bin": b"not the right bytes"})
    server = serve(mirror(corrupt))
    with pytest.raises(ChecksumError) as info:
        download_dataset(dataset, tmp_path, base_url=server.url, **FAST)
    message = str(info.value)
    assert "b.bin" in message
    assert dataset.files["b.bin"] in message and sha256(b"not the right bytes") in message
    folder = tmp_path / "Tiny"
    assert not (folder / "b.bin").exists() and not part_path(folder / "b.bin").exists()


def test_dropped_connection_is_resumed_with_range(serve, tiny, tmp_path):
    dataset, contents = tiny
    server = serve(mirror(contents), mode="drop-once")
    download_dataset(dataset, tmp_path, base_url=server.url, **FAST)
    assert (tmp_path / "Tiny" / "a.bin").read_bytes() == contents["a.bin"]
    ranges = [r for p, r in server.requests if p == "/Tiny/a.bin"]
    assert ranges == [None, f"bytes={len(contents['a.bin']) // 2}-"]


def test_server_ignoring_range_restarts_from_zero(serve, tmp_path):
    data = random_bytes(50_000, 3)
    server = serve({"/f.bin": data}, mode="ignore-range")
    dest = tmp_path / "f.bin"
    part_path(dest).write_bytes(data[:20_000])
    download_file(server.url + "/f.bin", dest, sha256(data), retries=0, timeout=2)
    assert dest.read_bytes() == data
    assert server.requests == [("/f.bin", "bytes=20000-")]


def test_existing_part_file_is_resumed(serve, tmp_path):
    data = random_bytes(50_000, 4)
    server = serve({"/f.bin": data})
    dest = tmp_path / "f.bin"
    part_path(dest).write_bytes(data[:12_345])
    download_file(server.url + "/f.bin", dest, sha256(data), retries=0, timeout=2)
    assert dest.read_bytes() == data and not part_path(dest).exists()
    assert server.requests == [("/f.bin", "bytes=12345-")]


def test_stale_part_with_wrong_bytes_starts_over(serve, tmp_path):
    data = random_bytes(50_000, 5)
    server = serve({"/f.bin": data})
    dest = tmp_path / "f.bin"
    part_path(dest).write_bytes(b"x" * 1000)
    download_file(server.url + "/f.bin", dest, sha256(data), retries=0, timeout=2)
    assert dest.read_bytes() == data
    assert server.requests == [("/f.bin", "bytes=1000-"), ("/f.bin", None)]


def test_complete_part_file_gets_416_and_is_kept(serve, tmp_path):
    data = random_bytes(5_000, 6)
    server = serve({"/f.bin": data})
    dest = tmp_path / "f.bin"
    part_path(dest).write_bytes(data)
    download_file(server.url + "/f.bin", dest, sha256(data), retries=0, timeout=2)
    assert dest.read_bytes() == data
    assert server.requests == [("/f.bin", "bytes=5000-")]


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=st.integers(min_value=0, max_value=4096))
def test_any_partial_prefix_resumes_to_the_same_file(serve, tmp_path, prefix):
    data = random_bytes(4096, 7)
    server = serve({"/f.bin": data})
    dest = tmp_path / f"f{prefix}.bin"
    part_path(dest).write_bytes(data[:prefix])
    download_file(server.url + "/f.bin", dest, sha256(data), retries=0, timeout=2)
    assert dest.read_bytes() == data


def test_present_files_are_skipped_without_requests(serve, tiny, tmp_path):
    dataset, contents = tiny
    server = serve(mirror(contents))
    (tmp_path / "Tiny").mkdir()
    for name, data in contents.items():
        (tmp_path / "Tiny" / name).write_bytes(data)
    download_dataset(dataset, tmp_path, base_url=server.url, **FAST)
    assert server.requests == []


def test_present_file_with_wrong_bytes_is_replaced(serve, tiny, tmp_path):
    dataset, contents = tiny
    server = serve(mirror(contents))
    (tmp_path / "Tiny").mkdir()
    for name, data in contents.items():
        (tmp_path / "Tiny" / name).write_bytes(data if name != "b.bin" else b"old")
    download_dataset(dataset, tmp_path, base_url=server.url, **FAST)
    assert server.requests == [("/Tiny/b.bin", None)]
    assert (tmp_path / "Tiny" / "b.bin").read_bytes() == contents["b.bin"]


def test_unreachable_server_gives_up(tiny, tmp_path):
    dataset, _ = tiny
    server = FileServer({})  # start then stop: a port nobody listens on
    server.close()
    with pytest.raises(DownloadError, match="could not download .*gave up"):
        download_dataset(dataset, tmp_path, base_url=server.url, **FAST)


def test_hanging_server_times_out(serve, tmp_path):
    server = serve({}, mode="hang")
    with pytest.raises(DownloadError, match="timed out"):
        download_file(server.url + "/f.bin", tmp_path / "f.bin", "0" * 64,
                      retries=1, backoff=0, timeout=0.3)
    assert len(server.requests) == 2


def test_http_404_is_not_retried(serve, tmp_path):
    server = serve({})
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_file(server.url + "/f.bin", tmp_path / "f.bin", "0" * 64,
                      retries=3, backoff=0, timeout=2)
    assert len(server.requests) == 1


def test_progress_is_one_line_per_file_when_not_a_tty(serve, tiny, tmp_path):
    import io
    dataset, contents = tiny
    server = serve(mirror(contents))
    log = io.StringIO()
    download_dataset(dataset, tmp_path, base_url=server.url,
                     **dict(FAST, stream=log))
    download_dataset(dataset, tmp_path, base_url=server.url,
                     **dict(FAST, stream=log))
    lines = log.getvalue().splitlines()
    assert len(lines) == 6 and "\r" not in log.getvalue()
    assert lines[0].startswith("Tiny/a.bin: downloaded")
    assert lines[3].startswith("Tiny/a.bin: present")


def test_cli_download_succeeds(serve, tiny, tmp_path, monkeypatch, capsys):
    dataset, contents = tiny
    server = serve(mirror(contents))
    monkeypatch.setitem(registry.DATASETS, "Tiny", dataset)
    argv = ["download", "tiny", "--data-dir", str(tmp_path), "--base-url", server.url]
    assert main(argv) == 0
    assert "Tiny: 3 files OK" in capsys.readouterr().out
    assert (tmp_path / "Tiny" / "c.png").read_bytes() == contents["c.png"]


def test_cli_unknown_dataset_is_one_line(capsys):
    assert main(["download", "Set6"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown dataset 'Set6'" in err and "Set5" in err


def test_cli_checksum_mismatch_exits_nonzero_without_traceback(serve, tmp_path):
    server = serve({"/Set5/baby_GT.bmp": b"corrupted image"})
    env = dict(os.environ, PYTHONPATH=str(REPO), NO_PROXY="127.0.0.1")
    result = subprocess.run(
        [sys.executable, "-m", "minisr.data", "download", "Set5",
         "--data-dir", str(tmp_path), "--base-url", server.url],
        capture_output=True, text=True, timeout=30, cwd=REPO, env=env)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "checksum mismatch" in result.stderr and "baby_GT.bmp" in result.stderr
    assert not (tmp_path / "Set5" / "baby_GT.bmp").exists()
    assert not part_path(tmp_path / "Set5" / "baby_GT.bmp").exists()


# --- a failed download leaves nothing behind that it created -------------------------

def test_cli_download_without_network_leaves_no_empty_folder(tmp_path, monkeypatch, capsys):
    from minisr.data import download as download_module
    monkeypatch.setattr(download_module.time, "sleep", lambda seconds: None)  # no backoff
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    data_dir = tmp_path / "data"  # does not exist yet: neither it nor Set5/ may stay
    argv = ["download", "Set5", "--data-dir", str(data_dir), "--base-url", "http://127.0.0.1:9"]
    assert main(argv) == 1
    assert "could not download" in capsys.readouterr().err
    assert not data_dir.exists()


def test_failed_download_keeps_a_folder_that_was_there(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    dataset, _ = tiny
    (tmp_path / "Tiny").mkdir()
    with pytest.raises(DownloadError):
        download_dataset(dataset, tmp_path, base_url="http://127.0.0.1:9", **FAST)
    assert (tmp_path / "Tiny").is_dir() and not any((tmp_path / "Tiny").iterdir())


def test_failed_download_leaves_no_empty_part_file(serve, tiny, tmp_path):
    dataset, contents = tiny
    server = serve(mirror(contents), mode="headers-only")  # 0 bytes, then closed
    with pytest.raises(DownloadError, match="gave up"):
        download_dataset(dataset, tmp_path / "data", base_url=server.url, **FAST)
    assert len(server.requests) == 3  # it did connect, and retried
    assert not (tmp_path / "data").exists()


def test_failed_download_keeps_a_part_file_with_bytes(serve, tmp_path):
    server = serve({"/f.bin": b"0123456789"}, mode="drop-once")  # half, then closed
    dest = tmp_path / "f.bin"
    with pytest.raises(DownloadError):
        download_file(server.url + "/f.bin", dest, sha256(b"0123456789"),
                      retries=0, backoff=0, timeout=2)
    assert part_path(dest).read_bytes() == b"01234"  # kept, for the next run to resume
