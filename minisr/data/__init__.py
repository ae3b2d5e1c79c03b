"""Datasets: a registry of the standard super-resolution image sets and a
safe downloader for them.

    >>> from minisr.data import list_datasets, dataset_files
    >>> list_datasets()[:3]
    ['T91', 'General-100', 'Set5']

Command line: ``python -m minisr.data {list,download,verify,cache} ...``.
"""

from .download import (ChecksumError, DownloadError, download_dataset,
                       download_file)
from .registry import (DATASETS, Dataset, DatasetError, FileProblem,
                       dataset_files, dataset_folder, get_dataset,
                       list_datasets, resolve_data_dir, sha256_file,
                       verify_dataset)

__all__ = [
    "ChecksumError", "DATASETS", "Dataset", "DatasetError", "DownloadError",
    "FileProblem", "dataset_files", "dataset_folder", "download_dataset",
    "download_file", "get_dataset", "list_datasets", "resolve_data_dir",
    "sha256_file", "verify_dataset",
]
