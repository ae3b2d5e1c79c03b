"""The training plans of experiments/train_runs.py are valid training commands: a typo
in a plan would otherwise surface hours into a session, when its run starts."""

import sys
from pathlib import Path

import pytest

from minisr.training.command import build_parser
from minisr.training.run import resolve_settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))
import train_runs  # noqa: E402


@pytest.mark.parametrize("plan", sorted(train_runs.PLANS))
def test_every_planned_run_is_a_valid_training_command(plan):
    runs = train_runs.PLANS[plan]()
    names = [name for name, _ in runs]
    assert len(names) == len(set(names)), "two runs of one plan share a folder"
    for name, options in runs:
        argv = [*train_runs.PLAN_OPTIONS[plan], *options, "--out", f"runs/{name}"]
        given = vars(build_parser().parse_args(argv))
        settings, run = resolve_settings(given)  # every option checked, as before a real run
        # a fixed-time plan's "default" run takes the command's default steps
        assert (run["steps"] or plan in train_runs.FIXED_MINUTES) and settings["val"] == ["BSDS500-val20"], name


def test_the_design_plans_share_one_budget():
    """Table 2 and the claims: the same steps, rate and validation for every network."""
    for plan in ("table2", "claims"):
        for name, options in train_runs.PLANS[plan]():
            assert options[options.index("--steps") + 1] == str(train_runs.TABLE2_STEPS), name
    assert len(train_runs.table2_runs()) == 12


def test_figure5_reruns_table2_exactly_with_set5_reported():
    """Figure 5's runs must take Table 2's steps (same weights): only --report is added."""
    table2 = dict(train_runs.table2_runs())
    for name, options in train_runs.figure5_runs():
        assert table2[name] == options, name
    assert train_runs.PLAN_OPTIONS["figure5"] == train_runs.PLAN_OPTIONS["table2"] + ["--report", "Set5"]


def test_only_selects_runs_and_refuses_unknown_names(capsys):
    assert train_runs.main(["shipped", "--list", "--only", "fsrcnn-s_x4", "fsrcnn_x3"]) == 0
    listed = [line.split(":")[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == ["fsrcnn_x3", "fsrcnn-s_x4"]  # the plan's order, not the command line's
    with pytest.raises(SystemExit):
        train_runs.main(["shipped", "--list", "--only", "fsrcnn_x5"])
    assert "has no run fsrcnn_x5" in capsys.readouterr().err


def test_figure5_says_whether_its_curves_end_in_the_papers_order():
    import paper  # experiments/paper.py (its charts need matplotlib; this part does not)

    def label(d, s, m):
        return f"m = {m}"

    panel = ("(a)", [(56, 16, 2), (56, 16, 3), (56, 16, 4)], label)
    same = paper.figure5_orders([panel], {(56, 16, 2): 32.4, (56, 16, 3): 32.5, (56, 16, 4): 32.7})
    assert "the same order" in same[0] and "Spread: minisr 0.30 dB, the paper 0.16 dB" in same[0]
    swapped = paper.figure5_orders([panel], {(56, 16, 2): 32.6, (56, 16, 3): 32.5, (56, 16, 4): 32.7})
    assert "not the paper's order" in swapped[0]
    unfinished = paper.figure5_orders([panel], {(56, 16, 4): 32.7})
    assert "once every run has finished" in unfinished[0]


def test_recipe_says_whether_ten_minutes_reach_the_paper():
    import recipe  # experiments/recipe.py

    short = [(0, 6.5, 0.0), (1000, 32.9, 300.0)]
    long = [(0, 6.5, 0.0), (1000, 33.07, 590.0)]
    assert recipe.verdict([("a", short)]) == ("Target not met: the highest end is `a`'s 32.900 dB, 0.160 dB "
                                              "below the paper's 33.06.")
    assert recipe.verdict([("a", short), ("b", long)]).startswith("Target met: `b` ends at 33.070 dB")
