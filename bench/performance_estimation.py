"""Estimated vs realized performance on real data → bench/results/performance_estimation.json.

The conversion task's champion is trained through the product's own stages (collect →
validate → features → train → evaluate → register, then made ``@champion`` as the gate
would) on the UCI online-shoppers sessions of February to August
(../shared/data/audience/online_shoppers), in a throw-away MLflow store; registration
fits the CBPE estimator on the candidate's test months (July, August). The weekly check's function
(:func:`pipelines.monitor.tasks.check`) then judges each later month (September, October,
November) with all outcomes known, so each month's estimated ROC-AUC / log-loss / Brier
(before labels) stands beside the realized ones. Nothing is copied into the repository.

    python bench/performance_estimation.py [--shared ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "performance_estimation.json"
CSV = Path("audience/online_shoppers/online_shoppers_intention.csv")
TRAIN_MONTHS = ("Feb", "Mar", "May", "June", "Jul", "Aug")
LATER = {"Sep": "2017-10-01", "Oct": "2017-11-01", "Nov": "2017-12-01"}
AS_OF = pd.Timestamp("2018-01-01", tz="UTC")


def run(shared: Path, work: Path) -> dict:
    """Train the champion on the early months, judge each later month; the record."""
    from pipelines.config import load_settings
    from pipelines.monitor.tasks import check
    from pipelines.paths import ProjectPaths
    from pipelines.registry.audit import move_alias
    from pipelines.registry.register import run_register
    from pipelines.tasks import get_task

    source = shared / CSV
    sessions = pd.read_csv(source)
    early = work / "early.csv"
    sessions[sessions["Month"].isin(TRAIN_MONTHS)].to_csv(early, index=False)
    task = get_task("conversion")
    state = work / "state"
    # whole months: train Feb-May (5,455 sessions), choose on June (288), test on July and
    # August (865: the rows CBPE is fitted on); the default shares would put May, a third
    # of the file, into the test part and leave no validation month
    base = {"train.task": "conversion", "conversion.source": "file",
            "conversion.valid_fraction": 0.04, "conversion.test_fraction": 0.1,
            "register.experiment": "bench-performance-estimation"}
    train_settings = load_settings(ROOT / "params.yaml", {**base, "conversion.path": str(early)})
    train_paths = ProjectPaths(root=ROOT, state=state, data=work / "train")
    os.environ["MLFLOW_TRACKING_URI"] = train_paths.tracking_uri
    for stage in ("collect", "validate", "features", "train", "evaluate"):
        hook = getattr(task, stage)
        if stage == "validate":
            hook(train_paths, train_settings, as_of=AS_OF, reports=False)
        else:
            hook(train_paths, train_settings)
    registered = run_register(task, train_paths, train_settings, run_key="bench-conversion")
    move_alias(registered["model_name"], "champion", registered["version"], actor="bench",
               reason="the monitored model (bench/performance_estimation.py)")
    metrics = json.loads(train_paths.metrics.read_text())

    all_paths = ProjectPaths(root=ROOT, state=state, data=work / "all")
    all_settings = load_settings(ROOT / "params.yaml", {**base, "conversion.path": str(source)})
    task.collect(all_paths, all_settings)
    task.validate(all_paths, all_settings, as_of=AS_OF, reports=False)
    best = metrics["best"]
    test = metrics["candidates"][best]["test"]
    months = {}
    for month, end in LATER.items():
        settings = load_settings(ROOT / "params.yaml", {
            **base, "conversion.path": str(source), "monitor.window_end": end,
            "monitor.window_days": 31})
        decision = check(all_paths, settings, run_key=f"bench-{month}", logical=end)
        summary = json.loads(Path(decision["summary"]).read_text())
        estimated = summary["estimated_performance"]
        window = estimated["window"]
        months[month] = {
            "sessions": summary["rows_in_window"],
            "conversion_rate": _rate(all_paths, month),
            "estimated": window["estimated"], "realized": window["realized"],
            # the naive alternative to an estimate: assume the offline test value holds
            "absolute_error": {m: {"estimate": abs(v["value"] - window["realized"][m]),
                                   "offline_value": abs(test[m] - window["realized"][m])}
                               for m, v in window["estimated"].items()},
            "within_band": window["within_band"],
            "chunks": [{k: c[k] for k in ("rows", "estimated_on_known", "realized",
                                          "within_band")} for c in estimated["chunks"]],
            "comparison": estimated["comparison"],
            "estimated_loss_past_budget": estimated["performance_loss"],
            "realized_loss_past_budget": summary["realized_performance"]["performance_loss"],
            "data_drift": summary["drift"]["dataset_drift"],
            "drifted_features": summary["drift"]["drifted_features"],
            "retrain": decision["retrain"], "reason": decision["reason"]}
    return {"source": str(CSV), "training_months": list(TRAIN_MONTHS),
            "champion": {"family": best, "version": registered["version"],
                         "test": test,
                         "use_page_values": train_settings.task_sections[
                             "conversion"].use_page_values},
            "estimator": "CBPE (isotonic calibration on the candidate's test months), "
                         "bands +/- 3 standard errors",
            "months": months,
            "command": "python bench/performance_estimation.py"}


def _rate(paths, month: str) -> float:
    rows = pd.read_parquet(paths.validated("sessions"))
    inside = rows[rows["month"] == month]
    return float(inside["converted"].astype(float).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    if not (args.shared / CSV).is_file():
        sys.exit(f"performance_estimation: {args.shared / CSV} does not exist.")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        record = run(args.shared, Path(folder))
    RESULTS.write_text(json.dumps(record, indent=2, default=str))
    for month, result in record["months"].items():
        est, real = result["estimated"], result["realized"] or {}
        print(f"{month}: {result['sessions']} sessions, "
              + ", ".join(f"{m} est {est[m]['value']:.3f} [{est[m]['lower']:.3f}, "
                          f"{est[m]['upper']:.3f}] realized {real.get(m, float('nan')):.3f}"
                          for m in ("roc_auc", "log_loss")))
    print(f"→ {RESULTS}")


if __name__ == "__main__":
    main()
