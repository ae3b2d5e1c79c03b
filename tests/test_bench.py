"""python -m minisr.bench runs end to end on a tiny problem and prints its tables."""

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
