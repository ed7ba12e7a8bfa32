"""The A/B readout: on simulated arms with a known effect the interval covers it; with no
effect the sequential test, looked at many times, declares a winner in at most about
alpha of the experiments; the record has the champion-challenger fields; bad input and
the CLI; the real Cookie Cats arms (shared_data)."""

import json

import numpy as np
import pytest

from pipelines.cli import main
from pipelines.collect.formats import ReadLimits
from pipelines.evaluate.ab_test import ab_test_record, fixed_horizon_test, read_arms
from pipelines.evaluate.sequential_test import KEEP_TESTING, PROMOTE, ROLLBACK

LIMITS = ReadLimits.defaults()

SETTINGS = {"alpha": 0.05, "mixture_sd": 0.05, "min_outcomes": 200, "max_outcomes": 0,
            "guardrail_margin": 10.0}


def record(a, b, looks=1, **overrides):
    return ab_test_record(a, b, control_arm="A", treatment_arm="B", outcome="retained",
                          looks=looks, experiment="sim", **{**SETTINGS, **overrides})


def test_the_record_has_the_champion_challenger_fields_and_signs():
    rng = np.random.default_rng(0)
    a, b = rng.random(20_000) < 0.20, rng.random(20_000) < 0.24
    out = record(a, b)
    for field in ("decision", "reason", "champion", "challenger", "difference", "cs_low",
                  "cs_high", "champion_version", "challenger_version", "model_name"):
        assert field in out
    assert (out["champion_version"], out["challenger_version"]) == ("A", "B")
    assert out["effect"] == pytest.approx(b.mean() - a.mean())
    assert out["effect_cs_low"] < out["effect"] < out["effect_cs_high"]
    assert out["decision"] == PROMOTE          # B retains more: its loss is lower
    assert out["fixed_horizon"]["decision"] == "treatment_better"
    worse = record(b, a)
    assert worse["decision"] == ROLLBACK and worse["effect"] < 0


def test_intervals_cover_a_known_effect():
    rng = np.random.default_rng(1)
    effect, covered_cs, covered_fixed, runs = -0.01, 0, 0, 200
    for _ in range(runs):
        a, b = rng.random(8000) < 0.19, rng.random(8000) < 0.19 + effect
        out = record(a, b)
        covered_cs += out["effect_cs_low"] <= effect <= out["effect_cs_high"]
        fixed = out["fixed_horizon"]
        covered_fixed += fixed["ci_low"] <= effect <= fixed["ci_high"]
    assert covered_cs / runs >= 0.95          # the sequence is wider: it must cover more
    assert covered_fixed / runs >= 0.90       # nominal 95 %, 200 runs: sampling slack


def test_with_no_effect_ten_looks_declare_a_winner_at_most_about_alpha():
    rng = np.random.default_rng(2)
    runs, wins_sequential, wins_daily_z = 300, 0, 0
    for _ in range(runs):
        a, b = rng.random(4000) < 0.3, rng.random(4000) < 0.3
        out = record(a, b, looks=10)
        wins_sequential += out["first_decision_look"] is not None
        # The naive analyst: a fixed-horizon test at each of the same ten looks.
        wins_daily_z += any(
            fixed_horizon_test(a[:n], b[:n], alpha=0.05)["decision"] != "no_difference"
            for n in range(400, 4001, 400))
    assert wins_sequential / runs <= 0.05 + 0.02
    assert wins_daily_z > wins_sequential       # peeking inflates the fixed test's error


def test_too_few_outcomes_keep_testing():
    out = record([1, 0, 1], [0, 0, 1])
    assert out["decision"] == KEEP_TESTING and out["effect"] is None


@pytest.mark.parametrize(("a", "b", "match"), [
    ([], [1, 0], "an arm has no outcome"),
    ([0, 2], [1, 0], "outcomes must be 0 or 1"),
])
def test_bad_outcomes_are_refused(a, b, match):
    with pytest.raises(ValueError, match=match):
        record(a, b)


def test_bad_looks_and_alpha_are_refused():
    with pytest.raises(ValueError, match="'looks' must be an int >= 1"):
        record([0, 1], [1, 0], looks=0)
    with pytest.raises(ValueError, match="'alpha' must be in"):
        fixed_horizon_test([0, 1], [1, 0], alpha=0.7)


def test_reader_names_the_bad_row_and_the_missing_arm(tmp_path):
    path = tmp_path / "ab.csv"
    path.write_text("user,arm,kept\n1,A,TRUE\n2,B,maybe\n3,B,0\n")
    with pytest.raises(ValueError, match=r"row 2, column 'kept': 'maybe'"):
        read_arms(path, arm_column="arm", outcome_column="kept", control="A", treatment="B",
                  limits=LIMITS)
    with pytest.raises(ValueError, match="no row of arm 'C'"):
        read_arms(path, arm_column="arm", outcome_column="kept", control="A", treatment="C",
                  limits=LIMITS)
    with pytest.raises(ValueError, match="lacks column"):
        read_arms(path, arm_column="group", outcome_column="kept", control="A",
                  treatment="B", limits=LIMITS)


def test_the_cli_writes_the_record(tmp_path, capsys):
    rng = np.random.default_rng(3)
    lines = ["user,arm,kept"] + [f"{i},{'AB'[i % 2]},{int(rng.random() < 0.4)}"
                                 for i in range(1000)]
    path = tmp_path / "ab.csv"
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "record.json"
    code = main(["ab-test", "--file", str(path), "--arm-column", "arm", "--outcome-column",
                 "kept", "--control", "A", "--treatment", "B", "--looks", "3", "--output",
                 str(out), "--set", "champion_challenger.alpha=0.01"])
    assert code == 0
    written = json.loads(out.read_text())
    assert written["alpha"] == 0.01 and written["looks"] == 3
    assert written == json.loads(capsys.readouterr().out)
    assert main(["ab-test", "--file", str(tmp_path / "none.csv"), "--arm-column", "arm",
                 "--outcome-column", "kept", "--control", "A", "--treatment", "B"]) == 2


@pytest.mark.shared_data
def test_real_cookie_cats_arms(shared_data_dir):
    a, b = read_arms(shared_data_dir / "audience" / "cookie_cats" / "cookie_cats.csv",
                     arm_column="version", outcome_column="retention_7", control="gate_30",
                     treatment="gate_40", limits=LIMITS)
    assert (a.size, b.size) == (44_700, 45_489)
    out = record(a, b)
    assert out["fixed_horizon"]["decision"] == "treatment_worse"
    assert out["fixed_horizon"]["p_value"] < 0.01
    assert out["effect"] == pytest.approx(-0.0082, abs=1e-4)
