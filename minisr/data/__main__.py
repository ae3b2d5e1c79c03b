"""Command line for the dataset registry.

    python -m minisr.data list [--data-dir DIR]
    python -m minisr.data download NAME... [--data-dir DIR]
    python -m minisr.data verify NAME... [--data-dir DIR]
    python -m minisr.data cache [--clean] [--cache-dir DIR]

The data dir is --data-dir, else $MINISR_DATA, else ~/.cache/minisr.  The cache
of training pairs that ``python -m minisr.train`` makes is --cache-dir, else
$MINISR_PATCH_CACHE, else ~/.cache/minisr/patches.  Errors print one line on
stderr and exit with status 1.
"""

import argparse
import sys

from .download import download_dataset
from .registry import (DATASETS, DatasetError, by_hand_message, dataset_files,
                       dataset_folder, get_dataset, resolve_data_dir, verify_dataset)

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
    for dataset in datasets:  # sets with no pinned copy also fail before any download
        if dataset.files is None:
            raise DatasetError(by_hand_message(dataset, dataset_folder(dataset, args.data_dir)))
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
            count = len(dataset_files(dataset, args.data_dir))  # fails if there are none
            print(f"{dataset.name}: {count} images, provided by hand (no checksums to verify)")
        elif problems:
            bad.append(f"{dataset.name} ({len(problems)} of {len(dataset.files)} files)")
        else:
            print(f"{dataset.name}: {len(dataset.files)} files OK")
    if bad:
        raise DatasetError("verification failed: " + ", ".join(bad))
    return 0


def cmd_cache(args) -> int:
    """List the training-pair cache, or with --clean empty it."""
    from ..training.patches import megabytes, resolve_cache_dir
    from . import cache

    root = resolve_cache_dir(args.cache_dir)
    if args.clean:
        freed = cache.clean(root)
        print(f"freed {megabytes(freed)} ({freed:,} bytes) in {root}")
        return 0
    sets = cache.pair_sets(root)
    print(f"pair cache: {root}" + ("" if root.is_dir() else " (does not exist)"))
    for pair_set in sets:
        print(f"{pair_set.made:%Y-%m-%d %H:%M}  x{pair_set.scale}  {pair_set.pairs:>9,} pairs  "
              f"{megabytes(pair_set.size):>9}  from {pair_set.source}  {pair_set.folder.name}")
    unfinished = cache.unfinished_folders(root)
    for folder in unfinished:
        print(f"unfinished (being made, or left by a stopped run): {folder.name}")
    total = sum(pair_set.size for pair_set in sets)
    print(f"{len(sets)} pair set(s), {megabytes(total)}"
          + (f"; remove them with: {PROG} cache --clean" if sets or unfinished else ""))
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
        sub.add_argument("--data-dir", metavar="DIR", help="data dir (default: $MINISR_DATA "
                         "or ~/.cache/minisr)")
        if name == "download":
            # A mirror laid out like a data dir; used by the tests.
            sub.add_argument("--base-url", help=argparse.SUPPRESS)
    sub = commands.add_parser("cache", help="list the cached training pairs of "
                              "python -m minisr.train (--clean removes them)")
    sub.set_defaults(func=cmd_cache)
    sub.add_argument("--clean", action="store_true",
                     help="remove every cached pair set and unfinished leftovers")
    sub.add_argument("--cache-dir", metavar="DIR", help="pair cache (default: $MINISR_PATCH_CACHE "
                     "or ~/.cache/minisr/patches)")
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
