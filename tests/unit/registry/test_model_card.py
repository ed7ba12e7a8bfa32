"""Model cards: rendered from the run's reports, written to a real MLflow registry (SQLite
in tmp_path), completed by the gate's decision; the experiment is tagged as model development
and its links open the classic view."""

from types import SimpleNamespace

import mlflow
import pytest
from mlflow import MlflowClient

from pipelines.registry import model_card, tracking

TASK = SimpleNamespace(name="likes", noun="likes", target="likes", problem="count_regression",
                       table="posts", selection_metric="mae_log")
TAGS = {"engageflow.data_sha256": "ab" * 32, "engageflow.git_commit": "c0ffee" * 6,
        "engageflow.feature_set": "3740621c6fd0", "engageflow.maturity_hours": "48.0"}
MANIFEST = {"feature_columns": [f"f{i}" for i in range(45)],
            "split": {"train": 700, "valid": 150, "test": 150,
                      "test_start": "2026-05-02T18:35:00+00:00"}}


def _report(model_mae: float, baseline_mae: float = 0.74) -> dict:
    test = {"mae_log": model_mae, "spearman": 0.84, "n": 150, "within_account_spearman":
            float("nan")}
    return {"selection_metric": "mae_log", "best": "ridge",
            "candidates": {"ridge": {"test": test, "test_by_regime": {
                "warm": {"mae_log": model_mae - 0.05, "n": 120},
                "cold": {"mae_log": model_mae + 0.3, "n": 30}}},
                           "lightgbm": {"test": test}},
            "baselines": {"account_median": {"test": {"mae_log": baseline_mae,
                                                      "spearman": 0.8, "n": 150}}},
            "baselines_by_regime": {"account_median": {"warm": {"mae_log": 0.7},
                                                       "cold": {"mae_log": 1.38}}}}


def _card(model_mae: float, *, comparison: dict | None = None) -> tuple[str, dict]:
    return model_card.register_card(
        task=TASK, model_name="engagement-likes", version="3", family="ridge",
        report=_report(model_mae), manifest=MANIFEST,
        refit={"refit": True, "rows": 1000, "evidence_rows": 700,
               "labels_still_growing": 12},
        train_window=("2026-01-01 00:00:00+00:00", "2026-06-27 20:13:00+00:00"),
        train_rows=1000, tags=TAGS, comparison=comparison,
        champion_version=None if comparison is None else "2")


def test_card_says_what_the_version_is_and_learned_from():
    card, tags = _card(0.65, comparison={"champion_version": "2", "challenger_better": True,
                                         "champion_test": {"mae_log": 0.70, "spearman": 0.83}})
    assert card.startswith("# engagement-likes v3: ridge for `likes`")
    assert "Beats the naive baseline (`account_median`)" in card
    for text in ("predicts **likes**", "model family: **ridge**", "**1,000 rows**",
                 "2026-01-01 00:00:00+00:00 → 2026-06-27 20:13:00+00:00",
                 "fitted without the test part (700 rows)", "45 columns", "and 5 more",
                 "| metric | this version | baseline (account_median) | champion v2 |",
                 "| mae_log | 0.65 | 0.74 | 0.7 |", "| spearman | 0.84 | 0.8 | 0.83 |",
                 "cold accounts (30 rows): mae_log 0.95 vs baseline 1.38",
                 "## Promotion gate", "_Pending", "## Known limits",
                 "cold) are predicted worse", "12 rows whose counts were still growing"):
        assert text in card, text
    assert "| n |" not in card and "within_account_spearman" not in card  # counts, NaN
    assert tags == {"engageflow.family": "ridge", "engageflow.train_rows": "1000",
                    "engageflow.gate.verdict": "pending", "engageflow.vs_baseline": "better"}


def test_a_worse_than_baseline_version_says_so_first():
    card, tags = _card(0.80)
    second = card.splitlines()[2]
    assert second.startswith("> **Worse than the naive baseline** (`account_median`)")
    assert "mae_log 0.8 vs 0.74" in second and "do not serve it" in second
    assert "- worse than the naive `account_median` baseline on mae_log" in card
    assert tags["engageflow.vs_baseline"] == "worse"
    assert "Beats the naive baseline" not in card


def test_the_gate_decision_replaces_the_pending_section():
    card, _ = _card(0.65)
    record = {"decision": "promote", "reasons": ["first model accepted", "second reason"],
              "primary": {"improvement": 0.0861, "ci_low": 0.055, "ci_high": 0.1178},
              "settings": {"metric": "mae_log"}, "n_rows": 600,
              "aliases": {"champion": "3", "challenger": None}}
    judged = model_card.with_gate_decision(card, record)
    assert "_Pending" not in judged
    assert "**PROMOTE**: first model accepted" in judged
    assert "mae_log improvement +0.0861, CI [0.055, 0.1178] on 600 holdout rows" in judged
    assert "- registry after the decision: @champion = v3" in judged
    assert judged.index("## Promotion gate") < judged.index("## Known limits")
    # judged again (a retried gate): still one gate section
    assert model_card.with_gate_decision(judged, record).count("## Promotion gate") == 1


def test_a_card_fits_mlflows_description_column():
    huge = {**MANIFEST, "feature_columns": [f"feature_{'x' * 200}_{i}" for i in range(40)]}
    card, _ = model_card.register_card(
        task=TASK, model_name="m", version="1", family="ridge", report=_report(0.6),
        manifest=huge, refit={"refit": False}, train_window=("a", "b"), train_rows=700,
        tags=TAGS, comparison=None, champion_version=None)
    assert len(card) <= model_card.MAX_CHARS and card.endswith("character limit)_")


@pytest.fixture()
def store(tmp_path):
    tracking.connect(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = tracking.ensure_experiment("cards", tmp_path / "artifacts")
    return experiment


def test_cards_and_tags_land_on_the_version_and_filter(store):
    client = MlflowClient()
    client.create_registered_model("engagement-likes")
    for family, mae in (("ridge", 0.65), ("lightgbm", 0.80)):
        with mlflow.start_run(experiment_id=store) as run:
            version = client.create_model_version("engagement-likes", "runs:/x/model",
                                                  run_id=run.info.run_id).version
        card, tags = model_card.register_card(
            task=TASK, model_name="engagement-likes", version=str(version), family=family,
            report={**_report(mae), "candidates": {family: _report(mae)["candidates"]
                                                   ["ridge"]}},
            manifest=MANIFEST, refit={"refit": False}, train_window=("a", "b"),
            train_rows=700, tags=TAGS, comparison=None, champion_version=None)
        model_card.publish("engagement-likes", str(version), card, tags)
    model_card.publish_gate({"model_name": "engagement-likes", "challenger_version": "2",
                             "decision": "reject", "reasons": ["does not beat the baseline"],
                             "aliases": {}})

    worse = client.get_model_version("engagement-likes", "2")
    assert worse.description.splitlines()[2].startswith("> **Worse than the naive baseline**")
    assert "**REJECT**: does not beat the baseline" in worse.description
    assert worse.tags["engageflow.gate.verdict"] == "reject"
    found = client.search_model_versions(
        "name='engagement-likes' and tags.`engageflow.vs_baseline` = 'worse'")
    assert [str(v.version) for v in found] == ["2"]
    found = client.search_model_versions(
        "name='engagement-likes' and tags.`engageflow.family` = 'ridge'")
    assert [str(v.version) for v in found] == ["1"]
    assert client.get_model_version("engagement-likes", "1").tags[
        "engageflow.gate.verdict"] == "pending"


def test_the_experiment_is_tagged_and_its_links_open_the_classic_view(store, tmp_path):
    client = MlflowClient()
    assert client.get_experiment(store).tags["mlflow.experimentKind"] == \
        "custom_model_development"
    # an experiment made before the tag existed gets it on next use
    old = client.create_experiment("old", artifact_location=(tmp_path / "a").as_uri())
    assert tracking.ensure_experiment("old", tmp_path / "a") == old
    assert client.get_experiment(old).tags["mlflow.experimentKind"] == \
        "custom_model_development"
    # MLflow 3 may open even a tagged experiment on the GenAI overview: links say the view
    ui = "http://127.0.0.1:5000"
    assert f"old: {ui}/#/experiments/{old}?workflowType=machine_learning" in \
        tracking.experiment_links(ui)
    assert tracking.experiment_url(ui, old, "r1") == \
        f"{ui}/#/experiments/{old}/runs/r1?workflowType=machine_learning"
