"""python -m minisr.bench runs end to end on a tiny problem and prints its tables."""

import pytest

from minisr import bench


def test_bench_prints_both_tables(capsys):
    bench.main(["--d", "8", "--s", "4", "--m", "1", "--lr-size", "12", "--batch", "4",
                "--patch", "5", "--repeat", "1"])
    out = capsys.readouterr().out
    assert "GEMM 1024^3" in out
    assert "Forward, LR 12x12 -> 36x36" in out
    assert "| deconv |" in out and "% GEMM peak" in out
    assert "batch split across" in out
    for table in out.split("Training step")[1:]:
        assert "| **whole pass** |" in table


def test_every_option_has_help_text():
    actions = bench.build_parser()._actions
    assert len(actions) > 5
    for action in actions:
        assert action.help, f"{action.option_strings} has no help text"


@pytest.mark.parametrize("option, value, says", [
    ("--repeat", "0", "--repeat must be at least 1, got 0"),   # formerly a table of NaN
    ("--scale", "0", "--scale must be at least 2, got 0"),     # formerly a ValueError traceback
    ("--d", "0", "--d must be at least 1, got 0"),
    ("--threads", "0", "--threads must be between 1 and"),
])
def test_bad_numbers_are_one_line(capsys, option, value, says):
    with pytest.raises(SystemExit) as stop:
        bench.main([option, value])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
