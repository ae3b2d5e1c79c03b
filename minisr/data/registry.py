"""The datasets minisr knows: where they come from and what their files are.

A *data dir* holds one folder per dataset, named exactly as the registry names
it (``T91/``, ``Set5/``, ...).  A folder that is already complete is used as
is; nothing is downloaded unless asked for.

    >>> from minisr.data import dataset_files
    >>> paths = dataset_files("Set5", data_dir="../shared/datasets")  # doctest: +SKIP
"""

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Union

from ._checksums import CHECKSUMS

DATA_DIR_ENV = "MINISR_DATA"
DEFAULT_DATA_DIR = Path("~/.cache/minisr")
IMAGE_SUFFIXES = (".bmp", ".png", ".jpg", ".jpeg", ".tif", ".tiff")

_SR_REPO = ("https://raw.githubusercontent.com/wangxuewen99/Super-Resolution/"
            "63bd7cddd8bf8cc1980c4cd07fee97e9ff72588e/Data/")
_BSDS_REPO = ("https://raw.githubusercontent.com/BIDS/BSDS500/"
              "a04b7c6c3a9f0ace74bf205c72a43d32e1c72722/BSDS500/data/images/")
_URBAN_REPO = ("https://raw.githubusercontent.com/majedelhelou/denoising_datasets/"
               "58234876fef6f1b56306705c78dfd40cdb837b86/CUrban100/")
_FSRCNN_PAGE = "http://mmlab.ie.cuhk.edu.hk/projects/FSRCNN.html"


class DatasetError(ValueError):
    """A dataset cannot be used: unknown name, missing files, bad checksum, ..."""


@dataclass(frozen=True)
class Dataset:
    """One image set.

    ``files`` maps each file name to its SHA-256 hex digest; it is ``None``
    for a set the user must provide by hand (nothing to download or verify).
    ``url`` is the folder URL the files live under (file ``F`` is at
    ``url + F``), pinned to a commit so the bytes never change.
    """

    name: str
    description: str
    files: Optional[Dict[str, str]]
    url: Optional[str] = None
    homepage: Optional[str] = None
    folder: Optional[str] = None  # the data dir's folder holding it, if not ``name`` (a subset)


class FileProblem(NamedTuple):
    """A file that failed verification; ``actual`` is None when it is missing."""

    path: Path
    expected: str
    actual: Optional[str]


def _pinned(name, description, url):
    return Dataset(name, description, CHECKSUMS[name], url=url)


#: The validation set of every training run by default: 20 images of BSDS500-train (every
#: tenth name in sorted order), which no reported table tests on. They are held out of
#: the training images of any run that validates on them (``minisr.training.run``), so
#: a run on T91 + BSDS500-train trains on the other 180.
VALIDATION_SET = "BSDS500-val20"
_VAL20 = sorted(CHECKSUMS["BSDS500-train"])[::10]

DATASETS: Dict[str, Dataset] = {d.name: d for d in [
    _pinned("T91", "91 training images of Yang et al. (BMP)", _SR_REPO + "Train/"),
    Dataset("General-100",
            "100 training images released with FSRCNN (BMP); get it by hand "
            "from the FSRCNN project page",
            files=None, homepage=_FSRCNN_PAGE),
    _pinned("Set5", "5 test images: baby, bird, butterfly, head, woman (BMP)",
            _SR_REPO + "Test/Set5/"),
    _pinned("Set14", "14 test images, not modcropped (BMP)",
            _SR_REPO + "Test/Set14/"),
    _pinned("BSD200", "BSDS500 test split, 200 images, the paper's BSD200 (JPEG)",
            _BSDS_REPO + "test/"),
    _pinned("BSDS500-train", "BSDS500 train split, 200 images (JPEG)",
            _BSDS_REPO + "train/"),
    Dataset(VALIDATION_SET, "20 images of BSDS500-train (every tenth name) for validation; "
            "held out of training (JPEG)",
            files={name: CHECKSUMS["BSDS500-train"][name] for name in _VAL20},
            url=_BSDS_REPO + "train/", folder="BSDS500-train"),
    _pinned("BSD100", "BSDS500 val split, 100 images (JPEG)", _BSDS_REPO + "val/"),
    _pinned("Urban100", "100 urban scenes with regular structure (PNG)",
            _URBAN_REPO),
]}

DatasetLike = Union[str, Dataset]


def list_datasets() -> List[str]:
    """Names of all registered datasets, in registry order."""
    return list(DATASETS)


def get_dataset(name: DatasetLike) -> Dataset:
    """Look a dataset up by name (case-insensitive); a Dataset is returned as is."""
    if isinstance(name, Dataset):
        return name
    for known in DATASETS.values():
        if known.name.lower() == str(name).lower():
            return known
    raise DatasetError(f"unknown dataset {name!r}; known datasets: "
                       + ", ".join(DATASETS))


def resolve_data_dir(data_dir: Union[str, Path, None] = None) -> Path:
    """The data dir: ``data_dir`` if given, else $MINISR_DATA, else ~/.cache/minisr."""
    if data_dir is None:
        data_dir = os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
    return Path(data_dir).expanduser()


def dataset_folder(name: DatasetLike, data_dir=None) -> Path:
    """The folder of dataset ``name`` inside the data dir (it may not exist); a subset
    (``BSDS500-val20``) lives in its whole set's folder."""
    dataset = get_dataset(name)
    return resolve_data_dir(data_dir) / (dataset.folder or dataset.name)


def by_hand_message(dataset: Dataset, folder: Path) -> str:
    """How to get a set that has no pinned copy (General-100): by hand."""
    return (f"{dataset.name} has no pinned copy, so it cannot be downloaded or verified: "
            f"get it from {dataset.homepage} and put its images in {folder}/ by hand")


def fetch_command(dataset: Dataset, data_dir=None) -> str:
    """The shell command that downloads ``dataset``, for error messages."""
    command = f"python -m minisr.data download {dataset.name}"
    if data_dir is not None:
        command += f" --data-dir {data_dir}"
    return command


def dataset_files(name: DatasetLike, data_dir=None, download: bool = False,
                  base_url: Optional[str] = None) -> List[Path]:
    """Sorted paths of the images of dataset ``name``.

    Files already in the data dir are used as they are (checksums are not
    recomputed here; see :func:`verify_dataset`).  If some are missing they
    are downloaded when ``download`` is true, otherwise DatasetError says
    what is missing and how to fetch it.  ``base_url`` overrides where the
    files are downloaded from (see :func:`minisr.data.download.download_dataset`).
    """
    dataset = get_dataset(name)
    folder = dataset_folder(dataset, data_dir)
    if dataset.files is None:
        return _user_provided_files(dataset, folder)
    missing = [f for f in sorted(dataset.files) if not (folder / f).is_file()]
    if missing and download:
        from .download import download_dataset
        download_dataset(dataset, data_dir, base_url=base_url)
    elif missing:
        raise DatasetError(_missing_message(dataset, folder, missing, data_dir))
    return [folder / f for f in sorted(dataset.files)]


def _user_provided_files(dataset: Dataset, folder: Path) -> List[Path]:
    """All images in the folder of a set with no file list (General-100)."""
    images = sorted(p for p in folder.glob("*")
                    if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []
    if not images:
        raise DatasetError(f"no images in {folder}: " + by_hand_message(dataset, folder))
    return images


def _missing_message(dataset, folder, missing, data_dir) -> str:
    total = len(dataset.files)
    if not folder.is_dir():
        what = f"folder {folder} does not exist"
    else:
        shown = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
        what = f"{len(missing)} of {total} files missing in {folder} ({shown})"
    return f"{dataset.name}: {what}; fetch it with: {fetch_command(dataset, data_dir)}"


def sha256_file(path: Union[str, Path], chunk_size: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_dataset(name: DatasetLike, data_dir=None) -> List[FileProblem]:
    """Check every file of a dataset against its SHA-256.

    Returns the problems (an empty list means every file is present and
    correct).  A set with no checksums (General-100) has nothing to verify.
    """
    dataset = get_dataset(name)
    folder = dataset_folder(dataset, data_dir)
    if dataset.files is None and not folder.is_dir():
        raise DatasetError(f"folder {folder} does not exist: " + by_hand_message(dataset, folder))
    if not folder.is_dir():
        raise DatasetError(f"{dataset.name}: folder {folder} does not exist; fetch it "
                           f"with: {fetch_command(dataset, data_dir)}")
    problems = []
    for filename, expected in sorted((dataset.files or {}).items()):
        path = folder / filename
        actual = sha256_file(path) if path.is_file() else None
        if actual != expected:
            problems.append(FileProblem(path, expected, actual))
    return problems
