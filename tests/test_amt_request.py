"""The ``amt-*`` strategies (SageMaker's own tuner) before anything runs: refused on this machine naming
``Strategy``, what SageMaker's CreateHyperParameterTuningJob refuses refused by field, and the tuning
job's name within SageMaker's 32 characters. The runs themselves: ``test_amt_state_machine.py``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_fixtures import digits_request

from byohpo.aws import amt
from byohpo.cli import main
from byohpo.errors import ValidationError
from byohpo.request import check_local, parse_request

STRATEGIES = ("amt-bayesian", "amt-random", "amt-grid", "amt-hyperband")


def amt_raw(strategy: str, name: str = "digits-amt", **config: Any) -> dict[str, Any]:
    """The digits request with ``strategy`` as an AMT user writes it (RandomSeed, no StrategyConfig)."""
    raw = digits_request(name, Strategy=strategy, RandomSeed=7, **config)
    cfg = raw["HyperParameterTuningJobConfig"]
    del cfg["StrategyConfig"]
    cfg.pop("TuningJobCompletionCriteria", None)
    if strategy == "amt-grid":  # categorical ranges only, every combination once
        cfg["ParameterRanges"] = {"CategoricalParameterRanges": [
            {"Name": "activation", "Values": ["relu", "tanh"]},
            {"Name": "learning_rate", "Values": ["0.01", "0.05", "0.1"]}]}
        cfg["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 6
    if strategy == "amt-hyperband":
        cfg["StrategyConfig"] = {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 50}}
    return raw


def write(tmp_path: Path, raw: dict[str, Any]) -> Path:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(raw))
    return path


# -- this machine cannot run them ----------------------------------------------------------------

@pytest.mark.parametrize("strategy", STRATEGIES)
def test_byohpo_run_refuses_an_amt_strategy_naming_the_field(strategy: str, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "train.py").write_text("print('training')\n")
    (tmp_path / "data" / "train").mkdir(parents=True)
    path = write(tmp_path, amt_raw(strategy))
    store = tmp_path / "runs.db"
    assert main(["run", str(path), "--store", str(store), "--base-dir", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"HyperParameterTuningJobConfig.Strategy: {strategy!r} runs SageMaker's own tuner" in err
    assert "needs AWS" in err and "byohpo start" in err
    assert not store.exists()  # refused before anything was written
    assert main(["validate", str(path), "--local", "--base-dir", str(tmp_path)]) == 2
    assert "HyperParameterTuningJobConfig.Strategy:" in capsys.readouterr().err


def test_the_local_engine_refuses_them_too(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print('training')\n")
    (tmp_path / "data" / "train").mkdir(parents=True)
    with pytest.raises(ValidationError) as refused:
        check_local(parse_request(amt_raw("amt-bayesian")), tmp_path)
    (error,) = refused.value.errors
    assert error.path == "HyperParameterTuningJobConfig.Strategy"
    assert "'bayesian' is byohpo's own" in error.message


def test_validate_without_local_checks_an_amt_request_for_aws(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A request may keep ``Local`` (for byohpo's own strategies): plain validate says what it does on
    AWS instead of refusing it."""
    path = write(tmp_path, amt_raw("amt-random"))
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "strategy    amt-random" in out
    assert ("ready for byohpo start: one SageMaker tuning job (Strategy Random); not runnable with "
            "byohpo run") in out


# -- what SageMaker's tuner refuses, refused by field ----------------------------------------------

def test_hyperband_with_automatic_early_stopping_is_refused_as_sagemaker_refuses_it() -> None:
    raw = amt_raw("amt-hyperband", TrainingJobEarlyStoppingType="Auto")
    with pytest.raises(ValidationError) as refused:
        parse_request(raw)
    (error,) = refused.value.errors
    assert error.path == "HyperParameterTuningJobConfig.TrainingJobEarlyStoppingType"
    assert "must be Off with amt-hyperband" in error.message
    raw["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] = "Off"
    assert parse_request(raw).sagemaker_strategy == "Hyperband"
    # Auto is AMT's own median rule with the other strategies, passed on as given
    bayesian = parse_request(amt_raw("amt-bayesian", TrainingJobEarlyStoppingType="Auto"))
    params = amt.tuning_job_params(bayesian, name="x")
    assert params["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] == "Auto"


def test_grid_takes_categorical_ranges_and_as_many_jobs_as_combinations() -> None:
    raw = amt_raw("amt-grid")
    assert parse_request(raw).sagemaker_strategy == "Grid"
    raw["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 5
    with pytest.raises(ValidationError, match=r"ResourceLimits.MaxNumberOfTrainingJobs: must be 6"):
        parse_request(raw)
    numeric = amt_raw("amt-grid")
    numeric["HyperParameterTuningJobConfig"]["ParameterRanges"]["IntegerParameterRanges"] = [
        {"Name": "num_epoch", "MinValue": "10", "MaxValue": "50"}]
    with pytest.raises(ValidationError, match=r"ParameterRanges.IntegerParameterRanges\[0\]: amt-grid takes "
                                              "categorical ranges only"):
        parse_request(numeric)


def test_hyperband_config_is_passed_as_sagemakers_own() -> None:
    request = parse_request(amt_raw("amt-hyperband"))
    config = amt.tuning_job_params(request, name="x")["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Hyperband"
    assert config["StrategyConfig"] == {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 50}}
    bad = amt_raw("amt-hyperband")
    bad["HyperParameterTuningJobConfig"]["StrategyConfig"] = {"HyperbandStrategyConfig": {"MinResource": 9,
                                                                                          "MaxResource": 5}}
    with pytest.raises(ValidationError, match=r"HyperbandStrategyConfig\.MinResource: must not exceed "
                                              "MaxResource"):
        parse_request(bad)


def test_sagemakers_limits_are_refused_before_anything_starts() -> None:
    """"Resource Limits for Automatic Model Tuning": 30 hyperparameters, 100 parallel training jobs, 750
    training jobs (Random: 10,000 once raised, which byohpo's one-call import does not take)."""
    raw = amt_raw("amt-random",
                  ResourceLimits={"MaxNumberOfTrainingJobs": 751, "MaxParallelTrainingJobs": 101})
    ranges = raw["HyperParameterTuningJobConfig"]["ParameterRanges"]
    ranges["CategoricalParameterRanges"] += [{"Name": f"c{i}", "Values": ["a", "b"]} for i in range(28)]
    with pytest.raises(ValidationError) as refused:
        amt.check_tuning_job(parse_request(raw))
    messages = {e.path: e.message for e in refused.value.errors}
    ranges_error = messages["HyperParameterTuningJobConfig.ParameterRanges"]
    assert "searches at most 30 hyperparameters, not 31" in ranges_error
    limits = "HyperParameterTuningJobConfig.ResourceLimits"
    assert messages[f"{limits}.MaxParallelTrainingJobs"].startswith("must be at most 100")
    assert "in one Lambda call" in messages[f"{limits}.MaxNumberOfTrainingJobs"]
    raw["HyperParameterTuningJobConfig"]["Strategy"] = "amt-bayesian"
    with pytest.raises(ValidationError, match="must be at most 750 for SageMaker's Bayesian tuner, not 751"):
        amt.check_tuning_job(parse_request(raw))


def test_a_seed_belongs_in_random_seed() -> None:
    raw = amt_raw("amt-random")
    raw["HyperParameterTuningJobConfig"]["StrategyConfig"] = {"Seed": 3}
    with pytest.raises(ValidationError, match=r"StrategyConfig.Seed: SageMaker's tuner takes no seed"):
        parse_request(raw)


# -- the tuning job's name -----------------------------------------------------------------------------

def test_the_tuning_job_name_is_the_run_and_its_token_within_32_characters() -> None:
    """CreateHyperParameterTuningJob: HyperParameterTuningJobName "Length Constraints: Minimum length of 1.
    Maximum length of 32. Pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}"
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateHyperParameterTuningJob.html)."""
    pattern = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}")
    assert amt.tuning_job_name("digits-amt", "a1b2c3") == "digits-amt-a1b2c3"
    long = "xgboost-blog-11-params-bayesian1"  # a request's name may use all 32 characters itself
    name = amt.tuning_job_name(long, "a1b2c3")
    assert name == "xgboost-blog-11-params-ba-a1b2c3" and len(name) == 32 and pattern.fullmatch(name)
    # a cut that would end in a hyphen drops it: "--" is within the pattern, a trailing "-" before the
    # token's is not SageMaker's problem but reads badly
    assert amt.tuning_job_name("abcdefghijklmnopqrstuvwxy-zzzz",
                               "a1b2c3") == "abcdefghijklmnopqrstuvwxy-a1b2c3"
    # the model itself says 32: what the emulator and check_tuning_job enforce
    assert amt._create_shape().members["HyperParameterTuningJobName"].metadata["max"] == amt.MAX_NAME == 32


def test_check_tuning_job_refuses_what_create_would_naming_the_request_field() -> None:
    """A maximum botocore's ParamValidator leaves to the service: a static hyperparameter's value is at
    most 2,500 characters in CreateHyperParameterTuningJob's model."""
    raw = amt_raw("amt-bayesian")
    raw["TrainingJobDefinition"]["StaticHyperParameters"]["batch_size"] = "1" * 2501
    with pytest.raises(ValidationError) as refused:
        amt.check_tuning_job(parse_request(raw), stack="Byohpo")
    (error,) = refused.value.errors
    assert error.path == "TrainingJobDefinition.StaticHyperParameters.batch_size"
    assert "2500" in error.message


# -- how a tuning job's ending reads as the run's ----------------------------------------------------

def described(status: str = "Completed", *, jobs: int = 6, best: float | None = 0.96,
              failure: str | None = None, criteria: dict[str, Any] | None = None,
              details: dict[str, Any] | None = None, runtime: int = 600,
              strategy: str = "Bayesian") -> dict[str, Any]:
    """A DescribeHyperParameterTuningJob answer, the fields tuning_outcome reads (API reference)."""
    desc: dict[str, Any] = {
        "HyperParameterTuningJobName": "digits-amt-a1b2c3", "HyperParameterTuningJobStatus": status,
        "HyperParameterTuningJobConfig": {
            "Strategy": strategy,
            "ResourceLimits": {"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": 2,
                               "MaxRuntimeInSeconds": 3600},
            "TuningJobCompletionCriteria": criteria or {}},
        "TuningJobCompletionDetails": details or {}, "ConsumedResources": {"RuntimeInSeconds": runtime}}
    if best is not None:
        desc["BestTrainingJob"] = {"FinalHyperParameterTuningJobObjectiveMetric": {
            "Type": "Maximize", "MetricName": "validation:accuracy", "Value": best}}
    if failure:
        desc["FailureReason"] = failure
    return desc


@pytest.mark.parametrize(("desc", "ran", "code", "status"), [
    (described(criteria={"TargetObjectiveMetricValue": 0.95}), 3, "TargetObjectiveMetricValue", None),
    (described(details={"ConvergenceDetectedTime": "2026-12-03T10:00:00Z"}), 4, "ConvergenceDetected", None),
    (described(criteria={"BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 3}},
               details={"NumberOfTrainingJobsObjectiveNotImproving": 3}), 5, "BestObjectiveNotImproving",
     None),
    (described(), 6, "MaxNumberOfTrainingJobs", None),
    (described(strategy="Grid", jobs=6), 4, "StrategyExhausted", None),
    (described("Stopped", runtime=3600), 2, "MaxRuntimeInSeconds", None),
    (described("Stopped"), 2, "StoppedByUser", "Stopped"),
])
def test_a_tuning_jobs_ending_maps_to_byohpos_stop_codes(desc: dict[str, Any], ran: int, code: str,
                                                         status: str | None) -> None:
    from byohpo.store.records import TrialRecord

    request = parse_request(amt_raw("amt-bayesian"))
    trials = [TrialRecord.new("digits-amt", 0, i, {}) for i in range(ran)]
    outcome = amt.tuning_outcome(request, desc, trials)
    assert outcome.action == "finish" and outcome.stop["code"] == code
    assert outcome.stop.get("status") == status and "digits-amt-a1b2c3" in outcome.stop["message"]


def test_a_failed_tuning_job_fails_the_run_with_its_reason() -> None:
    request = parse_request(amt_raw("amt-bayesian"))
    outcome = amt.tuning_outcome(request, described("Failed", failure="ClientError: no data"), [])
    assert outcome.action == "fail" and outcome.error["Error"] == "TuningJobFailed"
    assert outcome.error["Cause"].endswith("after 0 training jobs: ClientError: no data")
