"""Where the tests find the real datasets (Set5, Set14, BSD200, ...), in this order:

1. ``$MINISR_DATA``;
2. ``../shared/datasets`` beside the repository (the project's machines and CI);
3. ``~/.cache/minisr``, where ``python -m minisr.data download`` puts them.

Tests that need a set skip, saying so, when its folder is absent from the chosen place.
"""

import os
from pathlib import Path

from minisr.data.registry import resolve_data_dir

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def data_root() -> Path:
    if os.environ.get("MINISR_DATA"):
        return Path(os.environ["MINISR_DATA"]).expanduser()
    if (SHARED / "datasets").is_dir():
        return SHARED / "datasets"
    return resolve_data_dir()


WHERE = "$MINISR_DATA, ../shared/datasets or ~/.cache/minisr"
