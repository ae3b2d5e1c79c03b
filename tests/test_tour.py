"""docs/tour.md runs as written: every ```python block, in order, in one namespace (like
a notebook), and what a block prints is the ```text block that follows it.

Output is compared line by line: the words exactly (a run of spaces counts as one space),
integers exactly, numbers written with a decimal point or an exponent to one unit of
their last shown digit, or 1e-6, whichever is larger. So shapes, counts and multiply-adds
must match exactly, a PSNR of 28.76 may read 28.75 or 28.77, and a gradient-check error
of 2.1e-09 matches any other error below 1e-6 (rounding differs between machines), while
a wrong gradient's 5.0e-01 does not. A block that prints must show its output.

The tour reads Set5's butterfly; without it this test skips and says where it looked.
The code blocks never need matplotlib (CI does not have it); the tour's pictures are
made by experiments/tour.py.

After a change that moves the tour's numbers (new shipped weights, say), rewrite the
output blocks with what the code prints now, and read the diff:

    python tests/test_tour.py --update
"""

import contextlib
import io
import math
import os
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # datasets.py, when run as a script

from datasets import WHERE, data_root  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TOUR = REPO / "docs" / "tour.md"
PICTURE_LIMIT = 200 * 1024
FENCE = re.compile(r"^```(\w*)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
NUMBER = re.compile(r"([-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)")
ABSOLUTE_TOLERANCE = 1e-6


def butterfly() -> Path:
    return data_root() / "Set5" / "butterfly_GT.bmp"


# ----------------------------------------------------------------------------- reading the tour

def code_blocks(text: str) -> list:
    """[(line, code, expected output or None, (start, end) of the output block's body)]
    for every ```python block; the expected output is the ```text block right after it
    (nothing but blank lines between)."""
    fences = list(FENCE.finditer(text))
    blocks = []
    for index, fence in enumerate(fences):
        if fence.group(1) != "python":
            continue
        line = text.count("\n", 0, fence.start()) + 1
        following = fences[index + 1] if index + 1 < len(fences) else None
        if following and following.group(1) == "text" and not text[fence.end():following.start()].strip():
            blocks.append((line, fence.group(2), following.group(2), following.span(2)))
        else:
            blocks.append((line, fence.group(2), None, None))
    return blocks


# ----------------------------------------------------------------------------- comparing

def last_digit(token: str) -> float:
    """One unit of the last digit shown: 0.01 for '28.76', 1e-10 for '2.1e-09'."""
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def numbers_match(expected: str, actual: str) -> bool:
    if not any(c in expected.lower() for c in ".e"):  # an integer: exactly
        return expected == actual
    if not any(c in actual.lower() for c in ".e"):
        return False
    tolerance = max(ABSOLUTE_TOLERANCE, 1.001 * last_digit(expected))
    return math.isclose(float(expected), float(actual), rel_tol=0, abs_tol=tolerance)


def line_differs(expected: str, actual: str):
    """None if the two lines match (see the module docstring), else why not."""
    want, got = NUMBER.split(expected), NUMBER.split(actual)
    if len(want) != len(got):
        return "different words or count of numbers"
    for index, (a, b) in enumerate(zip(want, got)):
        if index % 2:  # a number
            if not numbers_match(a, b):
                return f"{b} where the tour shows {a}"
        elif " ".join(a.split()) != " ".join(b.split()):
            return f"{b.strip()!r} where the tour shows {a.strip()!r}"
    return None


def output_differences(expected: str, actual: str) -> list:
    want = expected.rstrip("\n").split("\n") if expected.strip() else []
    got = actual.rstrip("\n").split("\n") if actual.strip() else []
    problems = [f"  line {n}: {why}\n    tour:    {a}\n    printed: {b}"
                for n, (a, b) in enumerate(zip(want, got), 1) if (why := line_differs(a, b))]
    if len(want) != len(got):
        problems.append(f"  the tour shows {len(want)} lines, the code printed {len(got)}")
    return problems


# ----------------------------------------------------------------------------- running

@contextlib.contextmanager
def tour_environment(folder: Path):
    """What the blocks assume: Set5 under $MINISR_DATA, the default (fast) kernels, and a
    working folder of their own (nothing they might write lands in the repository)."""
    saved = {key: os.environ.get(key) for key in ("MINISR_DATA", "MINISR_KERNELS")}
    cwd = os.getcwd()
    os.environ["MINISR_DATA"] = str(data_root())
    os.environ.pop("MINISR_KERNELS", None)
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(cwd)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_blocks(text: str, printed_since):
    """Run every python block of ``text`` in order in one namespace; yields
    (line, code, expected, span, printed) block by block, ``printed_since()`` giving what
    was printed since its last call (under pytest: capsys, which keeps what a block
    prints even when the Numba compile notice briefly suspends the capture)."""
    namespace = {"__name__": "__tour__"}
    printed_since()
    for line, code, expected, span in code_blocks(text):
        exec(compile(code, f"{TOUR}:{line + 1}", "exec"), namespace)
        yield line, code, expected, span, printed_since()


# ----------------------------------------------------------------------------- tests

def test_the_tour_has_code_and_output_blocks():
    blocks = code_blocks(TOUR.read_text())
    assert len(blocks) >= 8
    assert sum(expected is not None for _, _, expected, _ in blocks) >= 8


def test_the_code_blocks_do_not_need_matplotlib():
    for line, code, _, _ in code_blocks(TOUR.read_text()):
        assert "matplotlib" not in code and "pyplot" not in code, f"docs/tour.md:{line}"


def test_every_picture_of_the_tour_is_there_and_small():
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", TOUR.read_text())
    assert pictures, "the tour shows no pictures"
    for picture in pictures:
        path = TOUR.parent / picture
        assert path.is_file(), f"{picture} is missing: python experiments/tour.py --write"
        assert path.stat().st_size < PICTURE_LIMIT, f"{picture}: {path.stat().st_size} bytes"


def test_the_readme_points_to_the_tour():
    readme = (REPO / "README.md").read_text()
    section = readme.split("## A tour of the layers", 1)[1].split("\n## ", 1)[0]
    assert "docs/tour.md" in section


@pytest.mark.skipif(not butterfly().is_file(), reason=f"Set5 not found: no {butterfly()} ({WHERE})")
def test_the_tour_runs_and_prints_what_it_shows(tmp_path, capsys):
    text = TOUR.read_text()
    with tour_environment(tmp_path):
        for line, code, expected, _, printed in run_blocks(text, lambda: capsys.readouterr().out):
            if expected is None:
                assert not printed, (f"docs/tour.md:{line}: the block prints but the tour shows no "
                                     f"output block after it:\n{printed}")
                continue
            problems = output_differences(expected, printed)
            assert not problems, (f"docs/tour.md:{line}: the output differs from the tour "
                                  "(python tests/test_tour.py --update rewrites it):\n" + "\n".join(problems))


# ----------------------------------------------------------------------------- --update

def update(folder: Path) -> int:
    """Rewrite every output block of the tour with what its code prints now."""
    text = TOUR.read_text()
    buffer = io.StringIO()

    def printed_since():
        printed = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return printed

    with tour_environment(folder), contextlib.redirect_stdout(buffer):
        results = list(run_blocks(text, printed_since))
    for line, _, expected, span, printed in reversed(results):
        if span is not None:
            text = text[:span[0]] + printed + text[span[1]:]
        elif printed:
            print(f"docs/tour.md:{line}: prints but has no ```text block after it", file=sys.stderr)
    TOUR.write_text(text)
    print(f"rewrote the output blocks of {TOUR}")
    return 0


if __name__ == "__main__":
    import tempfile

    if sys.argv[1:] != ["--update"]:
        raise SystemExit("usage: python tests/test_tour.py --update   (the test itself: pytest tests/test_tour.py)")
    if not butterfly().is_file():
        raise SystemExit(f"Set5's butterfly_GT.bmp not found ({WHERE})")
    with tempfile.TemporaryDirectory() as scratch:
        sys.exit(update(Path(scratch)))
