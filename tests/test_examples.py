"""The examples: training scripts run through the local runner, and tuning requests that parse."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from byohpo import algorithms, standins
from byohpo.jobs import run_local_training

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
REQUESTS = sorted(EXAMPLES.glob("*/*.json"))
DIGITS_REQUESTS = {p.name for p in (EXAMPLES / "digits").glob("*.json")}

# The blog's XGBoost table: name -> (type, MinValue, MaxValue).
XGBOOST_TABLE = {
    "alpha": ("Continuous", 0, 1000), "colsample_bylevel": ("Continuous", 0.1, 1),
    "colsample_bytree": ("Continuous", 0.5, 1), "eta": ("Continuous", 0.1, 0.5),
    "gamma": ("Continuous", 0, 5), "lambda": ("Continuous", 0, 1000),
    "max_delta_step": ("Integer", 0, 10), "max_depth": ("Integer", 0, 10),
    "min_child_weight": ("Continuous", 0, 120), "num_round": ("Integer", 1, 4000),
    "subsample": ("Continuous", 0.5, 1),
}


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def metric_definitions(request: dict[str, Any]) -> list[dict[str, str]]:
    return request["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"]


@pytest.fixture(scope="module")
def xgboost_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out like the repository root, with the XGBoost example's data generated as its
    README says (``python examples/xgboost/make_data.py``)."""
    root = tmp_path_factory.mktemp("root")
    subprocess.run([sys.executable, str(EXAMPLES / "xgboost" / "make_data.py"),
                    str(root / "examples" / "xgboost" / "data")], check=True, capture_output=True)
    return root


def test_digits_has_every_blog_strategy() -> None:
    assert {"random.json", "ga.json", "pso.json", "paes.json", "bayesian.json"} <= DIGITS_REQUESTS
    assert (EXAMPLES / "xgboost" / "request.json").is_file()
    assert (EXAMPLES / "README.md").is_file()


@pytest.mark.parametrize("path", REQUESTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_request_is_a_complete_tuning_job_body(path: Path) -> None:
    request = load(path)
    config = request["HyperParameterTuningJobConfig"]
    definition = request["TrainingJobDefinition"]
    assert request["HyperParameterTuningJobName"]
    assert config["Strategy"]
    limits = config["ResourceLimits"]
    assert 18 <= limits["MaxNumberOfTrainingJobs"] <= 32
    assert 1 <= limits["MaxParallelTrainingJobs"] <= 3
    for key in config.get("StrategyConfig", {}):
        assert key[0].isupper() and "_" not in key, f"StrategyConfig.{key} must be PascalCase"
    builtin = algorithms.algorithm_for_image(definition["AlgorithmSpecification"]["TrainingImage"],
                                             definition.get("StaticHyperParameters"))
    if builtin is not None:  # the built-in algorithm defines its metrics; its tunable ones may be objectives
        assert "MetricDefinitions" not in definition["AlgorithmSpecification"]
        defined = {m.name for m in builtin.tunable_metrics}
    else:
        defined = {d["Name"] for d in metric_definitions(request)}
    objectives = [config["HyperParameterTuningJobObjective"], *config.get("Objectives", [])]
    assert all(o["MetricName"] in defined and o["Type"] in ("Maximize", "Minimize") for o in objectives)
    for key in ("TrainingImage", "TrainingInputMode"):
        assert definition["AlgorithmSpecification"][key]
    assert definition["RoleArn"].startswith("arn:aws:iam::")
    assert definition["OutputDataConfig"]["S3OutputPath"].startswith("s3://")
    assert definition["ResourceConfig"]["InstanceType"].startswith("ml.")
    assert definition["StoppingCondition"]["MaxRuntimeInSeconds"] > 0
    # Local paths are relative to the directory byohpo runs from: the repository root for the examples
    local = definition["Local"]
    for where in [local.get("EntryPoint"), *local.get("Channels", {}).values()]:
        if where is not None:
            assert not Path(where).is_absolute() and (ROOT / where).parent.is_relative_to(path.parent)
    if "EntryPoint" in local:
        assert (ROOT / local["EntryPoint"]).is_file()
    else:  # the built-in algorithm's stand-in, on the data of every channel
        assert builtin is not None and set(local["Channels"]) == {c["ChannelName"]
                                                                   for c in definition["InputDataConfig"]}


@pytest.mark.parametrize("path", REQUESTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_request_passes_the_request_parser(path: Path, xgboost_root: Path) -> None:
    request_module = pytest.importorskip("byohpo.request")
    parsed = request_module.parse_request(load(path))  # also builds the strategy with its options
    assert parsed.entry_point == load(path)["TrainingJobDefinition"]["Local"].get("EntryPoint")
    base = xgboost_root if parsed.local_channels else ROOT  # where the generated data is
    assert request_module.check_local(parsed, base).is_file()


def test_digits_requests_follow_the_blog() -> None:
    for name in DIGITS_REQUESTS:
        request = load(EXAMPLES / "digits" / name)
        ranges = request["HyperParameterTuningJobConfig"]["ParameterRanges"]
        (lr,) = ranges["ContinuousParameterRanges"]
        (epochs,) = ranges["IntegerParameterRanges"]
        assert (lr["Name"], float(lr["MinValue"]), float(lr["MaxValue"])) == ("learning_rate", 0.01, 0.2)
        assert (epochs["Name"], int(epochs["MinValue"]), int(epochs["MaxValue"])) == ("num_epoch", 10, 50)
        assert request["TrainingJobDefinition"]["StaticHyperParameters"]["batch_size"] == "100"
        assert {"Name": "validation:accuracy", "Regex": "Validation-accuracy=([0-9\\.]+)"} in \
            metric_definitions(request)
    pso = load(EXAMPLES / "digits" / "pso.json")["HyperParameterTuningJobConfig"]
    assert pso["StrategyConfig"]["NeighborhoodSize"] == 5
    paes = load(EXAMPLES / "digits" / "paes.json")["HyperParameterTuningJobConfig"]
    assert paes["StrategyConfig"]["MaxArchiveSize"] == 100 and paes["StrategyConfig"]["NumGridDivisions"] == 4
    assert [(o["MetricName"], o["Type"]) for o in paes["Objectives"]] == [
        ("validation:accuracy", "Maximize"), ("train:seconds", "Minimize")]


def test_xgboost_request_has_the_blog_table() -> None:
    ranges = load(EXAMPLES / "xgboost" / "request.json")["HyperParameterTuningJobConfig"]["ParameterRanges"]
    found = {r["Name"]: ("Continuous", float(r["MinValue"]), float(r["MaxValue"]))
             for r in ranges["ContinuousParameterRanges"]}
    found |= {r["Name"]: ("Integer", int(r["MinValue"]), int(r["MaxValue"]))
              for r in ranges["IntegerParameterRanges"]}
    assert found == XGBOOST_TABLE
    assert ranges.get("CategoricalParameterRanges", []) == []


def test_digits_trains_to_95_percent_through_the_runner(tmp_path: Path) -> None:
    request = load(EXAMPLES / "digits" / "ga.json")
    static = request["TrainingJobDefinition"]["StaticHyperParameters"]
    result = run_local_training(EXAMPLES / "digits" / "train.py",
                                {**static, "learning_rate": "0.1", "num_epoch": "20"}, tmp_path,
                                metric_definitions=metric_definitions(request), max_runtime_seconds=120)
    assert result.status == "Completed", result.failure_reason
    assert result.values["validation:accuracy"] >= 0.95
    assert 0 < result.values["train:seconds"] < result.duration_seconds < 60
    log = result.log_path.read_text()
    assert "Epoch[19] " in log and "sagemaker_program" not in log  # framework parameters are not args
    assert (tmp_path / "model" / "model.joblib").stat().st_size > 0


def test_digits_bad_hyperparameters_score_lower_but_complete(tmp_path: Path) -> None:
    result = run_local_training(EXAMPLES / "digits" / "train.py",
                                {"learning_rate": "0.01", "num_epoch": "10", "batch_size": "100"}, tmp_path,
                                metric_definitions=metric_definitions(load(EXAMPLES / "digits" / "ga.json")))
    assert result.status == "Completed"
    assert 0.5 < result.values["validation:accuracy"] < 0.95  # the landscape has something to tune


def xgboost_trial(root: Path, trial: Path, tuned: dict[str, str], **options: Any) -> Any:
    """One trial of the XGBoost example, as byohpo run starts it: the stand-in, the example's channels."""
    request = load(EXAMPLES / "xgboost" / "request.json")
    definition = request["TrainingJobDefinition"]
    channels = {name: root / where for name, where in definition["Local"]["Channels"].items()}
    config = {c["ChannelName"]: {"ContentType": c["ContentType"]} for c in definition["InputDataConfig"]}
    static = {**definition["StaticHyperParameters"], "_tuning_objective_metric": "validation:auc"}
    return run_local_training(standins.entry_point("xgboost"), {**static, **tuned}, trial, channels=channels,
                              input_data_config=config,
                              metric_definitions=algorithms.XGBOOST.metric_definitions(),
                              required_metrics=["validation:auc"], max_runtime_seconds=300, **options)


@pytest.mark.skipif(importlib.util.find_spec("xgboost") is None, reason="xgboost is not installed")
def test_the_xgboost_example_has_something_to_tune(xgboost_root: Path, tmp_path: Path) -> None:
    """Good settings of the blog's table and ones at the top of its ranges end far apart."""
    good = {"alpha": "5", "colsample_bylevel": "0.8", "colsample_bytree": "0.8", "eta": "0.2", "gamma": "0.5",
            "lambda": "5", "max_delta_step": "0", "max_depth": "6", "min_child_weight": "5",
            "num_round": "150", "subsample": "0.8"}
    bad = {**good, "alpha": "900", "min_child_weight": "110"}
    best = xgboost_trial(xgboost_root, tmp_path / "good", good)
    worst = xgboost_trial(xgboost_root, tmp_path / "bad", bad)
    assert best.status == worst.status == "Completed", (best.failure_reason, worst.failure_reason)
    assert best.values["validation:auc"] > 0.85 and worst.values["validation:auc"] == 0.5
    assert "[149]#011train-auc:" in best.log_path.read_text()
    assert (tmp_path / "good" / "model" / "xgboost-model").is_file()


def test_xgboost_missing_fails_with_a_clear_reason(xgboost_root: Path, tmp_path: Path) -> None:
    shadow = tmp_path / "shadow" / "xgboost"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named xgboost')\n")
    result = xgboost_trial(xgboost_root, tmp_path / "trial", {"num_round": "5"},
                           env={"PYTHONPATH": str(shadow.parent)})
    assert result.status == "Failed" and result.exit_code == 1
    assert "the xgboost module is not installed: pip install 'byohpo[local]'" in str(result.failure_reason)


def test_the_early_stopping_examples_requests_differ_only_in_early_stopping() -> None:
    """``request-off.json`` is the baseline ``replay.py`` measures the saving on: the same request."""
    auto, off = (load(EXAMPLES / "early_stopping" / name) for name in ("request.json", "request-off.json"))
    assert auto["HyperParameterTuningJobConfig"].pop("TrainingJobEarlyStoppingType") == "Auto"
    assert off["HyperParameterTuningJobConfig"].pop("TrainingJobEarlyStoppingType") == "Off"
    assert (auto.pop("HyperParameterTuningJobName"), off.pop("HyperParameterTuningJobName")) == (
        "digits-early-stopping", "digits-no-early-stopping")
    assert auto == off
