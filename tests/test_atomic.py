"""minisr.atomic: a file is whole or absent, and what killed writers leave is cleaned up."""

import errno
import signal
import subprocess
import sys

import numpy as np
import pytest

from minisr import FSRCNN
from minisr.atomic import atomic_write, remove_abandoned_temporaries
from minisr.image.imageio import write_image


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "model.npz"
    target.write_bytes(b"old")

    def disk_full(handle):
        handle.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic_write(target, disk_full)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


def test_no_clobber_refuses_an_existing_file(tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"mine")
    with pytest.raises(FileExistsError):
        atomic_write(target, lambda handle: handle.write(b"new"), overwrite=False)
    assert target.read_bytes() == b"mine"


def killed_writer(target):
    """A process that is writing ``target`` (its temporary file open and locked) when
    it is killed with SIGKILL; returns the temporary file it left."""
    code = ("import sys, time; from minisr.atomic import atomic_write\n"
            "def write(handle):\n"
            "    handle.write(b'half an image'); handle.flush(); print('writing', flush=True); time.sleep(60)\n"
            f"atomic_write({str(target)!r}, write)\n")
    writer = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "writing"
    [temporary] = target.parent.glob(f".{target.name}.*.tmp")
    assert remove_abandoned_temporaries(target) == []  # its writer is alive: kept
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert temporary.exists()
    return temporary


def test_a_killed_upscale_leaves_a_temporary_that_the_next_write_removes(tmp_path):
    """Formerly a killed upscale left a hidden .NAME.*.tmp file forever."""
    target = tmp_path / "photo_x3.png"
    temporary = killed_writer(target)
    write_image(target, np.zeros((4, 4), np.uint8))
    assert not temporary.exists() and target.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["photo_x3.png"]


def test_a_killed_model_save_leaves_a_temporary_that_the_next_save_removes(tmp_path):
    target = tmp_path / "best.npz"
    temporary = killed_writer(target)
    FSRCNN(4, 2, 1, 3).save(target)
    assert not temporary.exists()
    assert FSRCNN.load(target).d == 4
