"""Command line for the dataset registry.

    python -m minisr.data list [--data-dir DIR]
    python -m minisr.data download NAME... [--data-dir DIR]
    python -m minisr.data verify NAME... [--data-dir DIR]

The data dir is --data-dir, else $MINISR_DATA, else ~/.cache/minisr.  Errors
print one line on stderr and exit with status 1.
"""

import argparse
import sys

from .download import download_dataset
from .registry import (DATASETS, DatasetError, dataset_folder, get_dataset,
                       resolve_data_dir, verify_dataset)

PROG = "python -m minisr.data"


def cmd_list(args) -> int:
    """Print every dataset with its file count and state in the data dir."""
    print(f"data dir: {resolve_data_dir(args.data_dir)}")
    for dataset in DATASETS.values():
        folder = dataset_folder(dataset, args.data_dir)
        if dataset.files is None:
            count = "?"
            found = len(list(folder.glob("*"))) if folder.is_dir() else 0
            state = f"{found} files (provided by hand)" if found else "absent"
        else:
            count = str(len(dataset.files))
            missing = sum(not (folder / f).is_file() for f in dataset.files)
            state = ("present" if not missing else "absent" if not folder.is_dir()
                     else f"{missing} missing")
        print(f"{dataset.name:<14} {count:>4} files  {state:<28} {dataset.description}")
    return 0


def cmd_download(args) -> int:
    """Download the named datasets (unknown names fail before any download)."""
    datasets = [get_dataset(name) for name in args.names]
    for dataset in datasets:
        paths = download_dataset(dataset, args.data_dir, base_url=args.base_url)
        print(f"{dataset.name}: {len(paths)} files OK in "
              f"{dataset_folder(dataset, args.data_dir)}")
    return 0


def cmd_verify(args) -> int:
    """Check every file of the named datasets against its SHA-256."""
    datasets = [get_dataset(name) for name in args.names]
    bad = []
    for dataset in datasets:
        problems = verify_dataset(dataset, args.data_dir)
        for path, expected, actual in problems:
            what = "missing" if actual is None else f"expected sha256 {expected}, got {actual}"
            print(f"{path}: {what}")
        if dataset.files is None:
            print(f"{dataset.name}: no checksums to verify")
        elif problems:
            bad.append(f"{dataset.name} ({len(problems)} of {len(dataset.files)} files)")
        else:
            print(f"{dataset.name}: {len(dataset.files)} files OK")
    if bad:
        raise DatasetError("verification failed: " + ", ".join(bad))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, func, help_text in [
            ("list", cmd_list, "list datasets and whether they are in the data dir"),
            ("download", cmd_download, "download datasets and verify their checksums"),
            ("verify", cmd_verify, "verify the checksums of local datasets")]:
        sub = commands.add_parser(name, help=help_text)
        sub.set_defaults(func=func)
        if name != "list":
            sub.add_argument("names", nargs="+", metavar="NAME", help="dataset name")
        sub.add_argument("--data-dir", help="data dir (default: $MINISR_DATA "
                         "or ~/.cache/minisr)")
        if name == "download":
            # A mirror laid out like a data dir; used by the tests.
            sub.add_argument("--base-url", help=argparse.SUPPRESS)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (DatasetError, OSError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
