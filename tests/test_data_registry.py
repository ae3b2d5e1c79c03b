"""Tests of the dataset registry: names, checksums, data dirs, local folders."""

import hashlib
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minisr.data import (Dataset, DatasetError, dataset_files, get_dataset,
                         list_datasets, resolve_data_dir, verify_dataset)
from minisr.data import registry
from minisr.data.__main__ import main

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
needs_shared = pytest.mark.skipif(
    not (SHARED / "Set5").is_dir(),
    reason=f"shared datasets folder {SHARED} is absent")

EXPECTED_COUNTS = {"T91": 91, "Set5": 5, "Set14": 14, "BSD200": 200,
                   "BSDS500-train": 200, "BSD100": 100, "Urban100": 100}


def make_dataset(tmp_path, contents, name="Tiny"):
    """A Dataset for ``contents`` ({file name: bytes}), with its files on disk."""
    (tmp_path / name).mkdir()
    for filename, data in contents.items():
        (tmp_path / name / filename).write_bytes(data)
    return Dataset(name, "test set",
                   {f: hashlib.sha256(d).hexdigest() for f, d in contents.items()})


def test_registry_knows_the_standard_sets():
    assert list_datasets() == ["T91", "General-100", "Set5", "Set14", "BSD200",
                               "BSDS500-train", "BSDS500-val20", "BSD100", "Urban100"]


@pytest.mark.parametrize("name,count", EXPECTED_COUNTS.items())
def test_pinned_sets_have_a_checksum_per_file(name, count):
    dataset = get_dataset(name)
    assert len(dataset.files) == count
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in dataset.files.values())
    assert dataset.url.startswith("https://raw.githubusercontent.com/")
    assert re.search(r"/[0-9a-f]{40}/", dataset.url), "URL must be pinned to a commit"
    assert dataset.url.endswith("/") and dataset.description


def test_set5_file_names():
    assert sorted(get_dataset("Set5").files) == [
        "baby_GT.bmp", "bird_GT.bmp", "butterfly_GT.bmp", "head_GT.bmp", "woman_GT.bmp"]


@given(name=st.sampled_from(list_datasets()), flips=st.lists(st.booleans(), min_size=16))
def test_lookup_ignores_case(name, flips):
    mixed = "".join(c.upper() if flip else c.lower() for c, flip in zip(name, flips))
    assert get_dataset(mixed).name == name


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(DatasetError) as info:
        get_dataset("Set6")
    assert isinstance(info.value, ValueError)
    assert "Set6" in str(info.value)
    assert all(name in str(info.value) for name in list_datasets())


def test_general100_has_no_checksums_and_says_where_to_get_it(tmp_path):
    general = get_dataset("general-100")
    assert general.files is None and general.url is None
    assert general.homepage == "http://mmlab.ie.cuhk.edu.hk/projects/FSRCNN.html"
    with pytest.raises(DatasetError, match="FSRCNN.html"):
        dataset_files("General-100", tmp_path)


def test_general100_accepts_a_folder_the_user_provides(tmp_path):
    folder = tmp_path / "General-100"
    folder.mkdir()
    for name in ["im_2.bmp", "im_1.BMP", "readme.txt"]:
        (folder / name).write_bytes(b"x")
    assert dataset_files("General-100", tmp_path) == [folder / "im_1.BMP",
                                                      folder / "im_2.bmp"]
    assert verify_dataset("General-100", tmp_path) == []


@pytest.mark.parametrize("command", ["verify", "download"])
def test_cli_general100_says_to_place_it_by_hand(tmp_path, capsys, command):
    """No pinned copy: never suggest a download that cannot work."""
    assert main([command, "General-100", "--data-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"put its images in {tmp_path / 'General-100'}/ by hand" in err
    assert "FSRCNN.html" in err and "python -m minisr.data download" not in err
    assert not (tmp_path / "General-100").exists()


def test_cli_download_fails_for_general100_before_downloading_anything(tmp_path, capsys):
    assert main(["download", "Set5", "General-100", "--data-dir", str(tmp_path),
                 "--base-url", "http://127.0.0.1:9"]) == 1
    assert "General-100 has no pinned copy" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_cli_verify_general100_counts_the_images_provided(tmp_path, capsys):
    (tmp_path / "General-100").mkdir()
    for name in ["im_1.bmp", "im_2.bmp"]:
        (tmp_path / "General-100" / name).write_bytes(b"x")
    assert main(["verify", "General-100", "--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == ("General-100: 2 images, provided by hand "
                                       "(no checksums to verify)\n")


def test_data_dir_resolution_order(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MINISR_DATA", raising=False)
    assert resolve_data_dir() == tmp_path / "home" / ".cache" / "minisr"
    monkeypatch.setenv("MINISR_DATA", str(tmp_path / "env"))
    assert resolve_data_dir() == tmp_path / "env"
    assert resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_dir(str(tmp_path / "arg")) == tmp_path / "arg"


def test_dataset_files_uses_the_env_data_dir(tmp_path, monkeypatch):
    dataset = make_dataset(tmp_path, {"b.png": b"2", "a.png": b"1"})
    monkeypatch.setenv("MINISR_DATA", str(tmp_path))
    assert dataset_files(dataset) == [tmp_path / "Tiny" / "a.png", tmp_path / "Tiny" / "b.png"]


def test_missing_files_error_says_what_and_how_to_fetch(tmp_path):
    dataset = make_dataset(tmp_path, {"a.png": b"1", "b.png": b"2"})
    (tmp_path / "Tiny" / "b.png").unlink()
    with pytest.raises(DatasetError) as info:
        dataset_files(dataset, tmp_path)
    message = str(info.value)
    assert "Tiny" in message and str(tmp_path / "Tiny") in message
    assert "1 of 2 files missing" in message and "b.png" in message
    assert "python -m minisr.data download Tiny" in message


def test_missing_folder_error_for_a_registered_set(tmp_path):
    with pytest.raises(DatasetError, match=r"Set5.*does not exist.*"
                       r"python -m minisr.data download Set5"):
        dataset_files("set5", tmp_path)


def test_verify_reports_wrong_and_missing_files(tmp_path):
    dataset = make_dataset(tmp_path, {"a.png": b"1", "b.png": b"2", "c.png": b"3"})
    (tmp_path / "Tiny" / "a.png").write_bytes(b"changed")
    (tmp_path / "Tiny" / "c.png").unlink()
    problems = verify_dataset(dataset, tmp_path)
    assert [(p.path.name, p.actual) for p in problems] == [
        ("a.png", hashlib.sha256(b"changed").hexdigest()), ("c.png", None)]
    assert problems[0].expected == dataset.files["a.png"]


def test_cli_verify_failure_is_one_error_line(tmp_path, monkeypatch, capsys):
    dataset = make_dataset(tmp_path, {"a.png": b"1", "b.png": b"2"})
    (tmp_path / "Tiny" / "b.png").unlink()
    monkeypatch.setitem(registry.DATASETS, "Tiny", dataset)
    assert main(["verify", "Tiny", "--data-dir", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == f"{tmp_path / 'Tiny' / 'b.png'}: missing\n"
    assert captured.err == ("python -m minisr.data: error: verification failed: "
                            "Tiny (1 of 2 files)\n")


def test_cli_list_shows_state_in_data_dir(tmp_path, capsys):
    (tmp_path / "Set14").mkdir()
    assert main(["list", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"data dir: {tmp_path}" in out
    assert re.search(r"Set14 +14 files +14 missing", out)
    assert re.search(r"Set5 +5 files +absent", out)


@needs_shared
def test_shared_set5_is_used_as_is():
    paths = dataset_files("Set5", data_dir=SHARED)
    assert [p.name for p in paths] == sorted(get_dataset("Set5").files)
    assert len(paths) == 5 and all(p.is_file() for p in paths)


@needs_shared
@pytest.mark.parametrize("name", ["Set5", "Set14"])
def test_shared_checksums_all_match(name):
    assert verify_dataset(name, SHARED) == []


@needs_shared
def test_cli_verify_shared(capsys):
    assert main(["verify", "Set5", "set14", "--data-dir", str(SHARED)]) == 0
    assert capsys.readouterr().out.splitlines() == ["Set5: 5 files OK", "Set14: 14 files OK"]


def test_the_validation_set_is_twenty_images_of_bsds500_train(tmp_path):
    """BSDS500-val20: every tenth BSDS500-train image, read from (and downloaded into)
    the BSDS500-train folder, with the same checksums."""
    from minisr.data.registry import VALIDATION_SET, dataset_folder, get_dataset

    val, whole = get_dataset(VALIDATION_SET), get_dataset("BSDS500-train")
    assert len(val.files) == 20 and set(val.files.items()) <= set(whole.files.items())
    assert sorted(val.files) == sorted(whole.files)[::10]
    assert dataset_folder(VALIDATION_SET, tmp_path) == tmp_path / "BSDS500-train"
