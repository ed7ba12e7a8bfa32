"""The champion-challenger DAG's decision, simulated day by day.

A real prediction log (SQLite) and a real MLflow registry (SQLite + files) in tmp_path.
Each simulated day, 200 posts are predicted (half by ``@champion``, half by
``@challenger``) an hour before they are posted; their likes are observed 6 h after
posting (partial counts) and again at 48 h (final). The DAG task's function then looks at
the matured outcomes. A challenger with smaller log errors must end promoted, one with
larger errors rolled back; the outcomes each needed are printed (``pytest -s``) and kept
in docs/promotion.md.
"""

from datetime import UTC, datetime, timedelta

import mlflow
import numpy as np
import pandas as pd
import pytest

from pipelines.orchestration import champion_challenger_task
from pipelines.prediction_log import PredictionLog
from pipelines.registry import audit, tracking

MODEL = "engagement-likes"  # params.yaml's register.model_name for target likes
START = datetime(2026, 3, 1, tzinfo=UTC)
POSTS_PER_DAY = 200
CHAMPION_SD = 0.7  # sd of the champion's log error


class _Constant(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return [0.0] * len(model_input)


@pytest.fixture()
def store(tmp_path, monkeypatch, project_root):
    """Champion v1 and challenger v2 in a fresh registry; the env the DAG task reads."""
    monkeypatch.setenv("ENGAGEFLOW_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("ENGAGEFLOW_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.setenv("ENGAGEFLOW_PREDICTION_LOG_URL", f"sqlite:///{tmp_path}/predictions.db")
    tracking.connect(f"sqlite:///{tmp_path}/mlflow.db")
    experiment = tracking.ensure_experiment("cc-test", tmp_path / "mlartifacts")
    for _ in range(2):
        with mlflow.start_run(experiment_id=experiment):
            mlflow.pyfunc.log_model(name="model", python_model=_Constant(),
                                    registered_model_name=MODEL, pip_requirements=[])
    audit.move_alias(MODEL, "champion", "1", reason="first model", actor="test")
    audit.move_alias(MODEL, "challenger", "2", reason="new candidate", actor="test")
    log = PredictionLog(f"sqlite:///{tmp_path}/predictions.db")
    yield tmp_path, log, project_root
    log.close()


def _day(log: PredictionLog, rng: np.random.Generator, day: int, challenger_sd: float,
         actuals: dict) -> None:
    """Log one day of predictions; record the outcomes observable by the end of it."""
    start = START + timedelta(days=day)
    records = []
    for i in range(POSTS_PER_DAY):
        post = f"d{day:03d}-{i:04d}"
        posted = start + timedelta(minutes=int(rng.integers(0, 24 * 60)))
        likes = int(np.expm1(rng.uniform(1, 8)))
        challenger = bool(rng.random() < 0.5)
        sd = challenger_sd if challenger else CHAMPION_SD
        actuals[post] = (posted, likes)
        records.append({
            "request_id": f"r-{post}", "post_id": post, "account_id": f"a{i % 30}",
            "platform": "instagram", "model_name": MODEL,
            "model_version": "2" if challenger else "1",
            "arm": "challenger" if challenger else "champion", "target": "likes",
            "prediction": float(max(0.0, np.expm1(np.log1p(likes) + rng.normal(0, sd)))),
            "features_hash": "f" * 16, "predicted_at": posted - timedelta(hours=1),
            "posted_at": posted})
    log.log_predictions(records)
    end = start + timedelta(days=1)
    outcomes = []
    for post, (posted, likes) in actuals.items():
        for hours, share in ((6, 0.3), (48, 1.0)):
            observed = posted + timedelta(hours=hours)
            if end - timedelta(days=1) < observed <= end:
                outcomes.append({"post_id": post, "observed_at": observed,
                                 "likes": int(likes * share)})
    log.record_outcomes(outcomes)


def _simulate(store, challenger_sd: float, seed: int, max_days: int = 30) -> dict:
    root, log, project_root = store
    rng = np.random.default_rng(seed)
    actuals: dict = {}
    looks = []
    for day in range(max_days):
        _day(log, rng, day, challenger_sd, actuals)
        as_of = START + timedelta(days=day + 1)
        result = champion_challenger_task(
            project_dir=str(project_root), run_id=f"scheduled__{as_of:%Y-%m-%d}",
            form_params={}, as_of=as_of.isoformat())
        looks.append(result)
        if result["decision"] != "keep_testing":
            return {"day": day + 1, "looks": looks, "result": result}
    raise AssertionError(f"no decision in {max_days} days: {looks[-1]}")


def test_a_known_better_challenger_is_promoted(store):
    done = _simulate(store, challenger_sd=0.55, seed=1)
    result = done["result"]
    print(f"\nbetter challenger: promoted on day {done['day']} after {result['outcomes']} "
          f"matured outcomes")
    assert result["decision"] == "promote"
    assert result["aliases"] == {"champion": "2", "challenger": None, "previous": "1"}
    assert 400 <= result["outcomes"] <= 4000
    history = audit.alias_history(MODEL)
    keeps = [e for e in history if e["action"] == "keep"]
    assert len(keeps) == done["day"] - 1, "every earlier look is in the audit history"
    assert keeps[0]["decision"]["decision"] == "keep_testing"
    last = history[-3:]
    assert [(e["alias"], e["action"], e["to_version"]) for e in last] == [
        ("previous", "set", "1"), ("champion", "set", "2"), ("challenger", "remove", None)]
    assert last[1]["decision"]["cs_high"] < 0
    assert last[1]["actor"].startswith("champion_challenger/scheduled__")

    root, _, project_root = store
    day = f"{START + timedelta(days=done['day']):%Y-%m-%d}"
    report = root / "data" / "06_monitoring" / "champion_challenger" / MODEL / f"{day}.json"
    assert report.exists()
    # a re-run of the deciding day re-applies its decision; the next day has nothing to test
    again = champion_challenger_task(project_dir=str(project_root),
                                     run_id=f"scheduled__{day}", form_params={},
                                     as_of=f"{day}T00:00:00+00:00")
    assert again["decision"] == "promote" and len(audit.alias_history(MODEL)) == len(history)
    next_day = START + timedelta(days=done["day"] + 1)
    after = champion_challenger_task(project_dir=str(project_root), run_id="next",
                                     form_params={}, as_of=next_day.isoformat())
    assert after["decision"] == "no_challenger"


def test_a_known_worse_challenger_is_rolled_back(store):
    done = _simulate(store, challenger_sd=0.8, seed=2)
    result = done["result"]
    print(f"\nworse challenger: rolled back on day {done['day']} after {result['outcomes']} "
          f"matured outcomes ({result['reason'][:40]}...)")
    assert result["decision"] == "rollback"
    assert result["aliases"] == {"champion": "1", "challenger": None, "previous": None}
    assert 400 <= result["outcomes"] <= 6000
    last = audit.alias_history(MODEL)[-1]
    assert (last["alias"], last["action"], last["from_version"]) == ("challenger", "remove", "2")
    assert last["decision"]["cs_low"] > 0 or "guardrail" in last["reason"]


def test_cli_runs_one_look(store, capsys):
    from pipelines import cli

    _, _, project_root = store
    audit.move_alias(MODEL, "challenger", None, reason="test", actor="test")
    assert cli.main(["champion-challenger", "--project-dir", str(project_root),
                     "--as-of", "2026-03-10"]) == 0
    out = capsys.readouterr().out
    assert "NO_CHALLENGER" in out and "@champion v1" in out


def test_only_matured_outcomes_of_both_versions_since_the_challenger_count(store):
    from pipelines.registry.champion_challenger import arm_losses

    root, log, _ = store
    rng = np.random.default_rng(3)
    actuals: dict = {}
    for day in range(4):
        _day(log, rng, day, 0.6, actuals)
    now = START + timedelta(days=4)
    pairs = log.matured_pairs(model_name=MODEL, target="likes", horizon_hours=48, now=now)
    assert (pairs["posted_at"] <= now - timedelta(hours=48)).all()
    # the final (48 h) observation superseded the 6 h one
    first = pairs.iloc[0]
    assert first["actual"] == actuals[first["post_id"]][1]
    arms = arm_losses(pairs, champion_version="1", challenger_version="2")
    assert len(arms["champion"]) + len(arms["challenger"]) == len(pairs)
    assert arms["since"] == pairs.loc[pairs["model_version"] == "2", "predicted_at"].min() \
        .isoformat()
    # a stray prediction of another version is ignored; a repeated one counts once
    repeat = pairs.iloc[[0]].assign(request_id="again")
    other = pairs.iloc[[1]].assign(model_version="7")
    more = arm_losses(pd.concat([pairs, repeat, other]), champion_version="1",
                      challenger_version="2")
    assert more["pairs_used"] == arms["pairs_used"]


def test_a_naive_as_of_is_refused(store):
    from pipelines.config import ChampionChallengerConfig
    from pipelines.registry.champion_challenger import run_champion_challenger

    root, *_ = store
    with pytest.raises(ValueError, match="'as_of' must be tz-aware"):
        run_champion_challenger(
            prediction_log_url=f"sqlite:///{root}/predictions.db",
            tracking_uri=f"sqlite:///{root}/mlflow.db", artifact_root=root / "mlartifacts",
            model_name=MODEL, target="likes", as_of=datetime(2026, 3, 5),
            settings=ChampionChallengerConfig(), maturity_hours=48.0,
            report_dir=root / "reports", run_key="x")
