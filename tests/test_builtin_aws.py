"""The Lambdas' path for built-in algorithms under moto: Start, Propose, the Map (jobs created in moto),
Evaluate. Metrics come from ``FinalMetricDataList``, which SageMaker fills for these algorithms; when it
lacks the objective, from the job's CloudWatch Logs, read with the algorithm's own regexes.

moto's DescribeTrainingJob answers every job with one metric definition of SageMaker's linear learner
(``test:dcg``, ``#quality_metric: host=\\S+, test dcg <score>=(\\S+)``) and a ``FinalMetricDataList`` of
``train:progress`` only, which makes it a fair stand-in for a built-in algorithm's job; it has no
DescribeAlgorithm, so that one call is answered through botocore's Stubber (the response checked
against the service model).
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aws_fixtures import ACCOUNT, REGION, AwsEnv, execution_arn, moto_aws, run_map
from botocore.stub import Stubber

from byohpo import aws
from byohpo.aws.logs import LOG_GROUP
from byohpo.handlers import evaluate, propose, start

DATA = Path(__file__).parent / "data"
LIMITS = {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 3}


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsEnv]:
    with moto_aws(monkeypatch) as env:
        yield env


def request(name: str, **config: Any) -> dict[str, Any]:
    raw = json.loads((DATA / f"request-valid-{name}.json").read_text())
    raw["HyperParameterTuningJobConfig"]["ResourceLimits"] = dict(LIMITS)
    raw["HyperParameterTuningJobConfig"].update(config)
    return raw


def value_of(hyperparameters: Mapping[str, str]) -> float:
    """A metric that is a known function of the trial's hyperparameters."""
    tuned = sum(float(v) for k, v in hyperparameters.items() if k in ("eta", "alpha", "k"))
    return round(0.5 + 0.4 * (tuned % 1.0), 5)


def first_generation(env: AwsEnv, raw: dict[str, Any]) -> dict[str, Any]:
    ctx = start.handler({"input": raw, "execution": execution_arn("exec-1")}, None)["run"]
    return propose.handler({"run": ctx}, None)


def silent(item: Mapping[str, Any]) -> str:
    """A job whose FinalMetricDataList lacks the objective (``run_map``'s fate): its log must tell."""
    return "silent"


def reports_metric_definitions(env: AwsEnv, job_name: str, definitions: list[dict[str, str]]) -> None:
    """What SageMaker does for a built-in algorithm's job: DescribeTrainingJob lists the algorithm's own
    MetricDefinitions, which the request did not carry (the emulator describes the job as created)."""
    from moto.sagemaker.models import sagemaker_backends

    job = sagemaker_backends[ACCOUNT][REGION].training_jobs[job_name]
    job.algorithm_specification = {**job.algorithm_specification, "MetricDefinitions": definitions}


def write_log(env: AwsEnv, job_name: str, lines: list[str]) -> None:
    stream = f"{job_name}/algo-1-1700000000"
    env.logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
    base = int(time.time() * 1000) - 60_000
    env.logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream,
                            logEvents=[{"timestamp": base + i, "message": m} for i, m in enumerate(lines)])


def trials_of(env: AwsEnv, name: str) -> list[Any]:
    return sorted(env.store.get_trials(name), key=lambda t: t.trial_id)


# -- XGBoost ---------------------------------------------------------------------------------------

def test_built_in_xgboost_metrics_come_from_the_final_metric_data_list(aws_env):
    raw = request("aws-docs-xgboost")
    proposed = first_generation(aws_env, raw)
    # What each CreateTrainingJob sends: no MetricDefinitions, the objective for the algorithm.
    assert "MetricDefinitions" not in proposed["jobs"]["training"]["AlgorithmSpecification"]
    assert proposed["jobs"]["training"]["HyperParameters"]["_tuning_objective_metric"] == "validation:auc"
    results = run_map(aws_env, proposed, metric=value_of, objective="validation:auc")
    job = aws_env.sagemaker.describe_training_job(TrainingJobName=results[0]["TrainingJobName"])
    assert job["HyperParameters"]["_tuning_objective_metric"] == "validation:auc"
    answer = evaluate.handler({"run": proposed["run"], "generation": 0, "results": results}, None)
    assert answer["action"] == "finish"
    for trial in trials_of(aws_env, "MyTuningJob"):
        assert trial.status == "Completed" and trial.failure_reason is None
        assert trial.values == {"validation:auc": value_of(trial.hyperparameters)}


def test_built_in_xgboost_metrics_come_from_its_log_when_the_list_lacks_them(aws_env):
    raw = request("aws-docs-xgboost")
    proposed = first_generation(aws_env, raw)
    results = run_map(aws_env, proposed, fate=silent)
    for item, result in zip(proposed["jobs"]["trials"], results, strict=True):
        auc = value_of(item["hyperparameters"])
        # The job's log as CloudWatch Logs holds it: XGBoost's evaluation lines, the tab as #011.
        write_log(aws_env, result["TrainingJobName"], [
            "[2024-06-03:10:11:12:INFO] Single node training.",
            "[0]#011train-auc:0.61000#011validation-auc:0.55000",
            f"[99]#011train-auc:0.99000#011validation-auc:{auc:.5f}"])
    evaluate.handler({"run": proposed["run"], "generation": 0, "results": results}, None)
    for trial in trials_of(aws_env, "MyTuningJob"):
        assert trial.status == "Completed" and trial.failure_reason is None
        assert trial.values["validation:auc"] == value_of(trial.hyperparameters)
        assert trial.values["train:auc"] == 0.99


def test_a_built_in_job_without_its_objective_anywhere_says_which_regex_found_nothing(aws_env):
    proposed = first_generation(aws_env, request("aws-docs-xgboost"))
    results = run_map(aws_env, proposed, fate=silent)
    evaluate.handler({"run": proposed["run"], "generation": 0, "results": results}, None)
    trial = trials_of(aws_env, "MyTuningJob")[0]
    assert trial.status == "Completed" and "validation:auc" not in (trial.values or {})
    assert trial.failure_reason.startswith("no value for metric validation:auc matched Regex "
                                           "`.*\\[[0-9]+\\].*#011validation-auc:")


# -- the job's own definitions: DescribeTrainingJob --------------------------------------------------

LINEAR_LEARNER = "644912444149.dkr.ecr.eu-west-2.amazonaws.com/linear-learner:1"
#: Two of the definitions DescribeTrainingJob lists for a linear learner job (as moto's own fake does).
LINEAR_LEARNER_METRICS = [
    {"Name": "train:objective_loss",
     "Regex": "#quality_metric: host=\\S+, epoch=\\S+, train \\S+_objective <loss>=(\\S+)"},
    {"Name": "test:dcg", "Regex": "#quality_metric: host=\\S+, test dcg <score>=(\\S+)"}]


def test_a_built_in_algorithms_log_is_read_with_the_regexes_describe_training_job_lists(aws_env):
    """The catalog keeps no regex for the linear learner: only the job's own definitions can read it."""
    raw = request("knn-airflow")
    raw["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"] = LINEAR_LEARNER
    raw["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"] = {"MetricName": "test:dcg",
                                                                              "Type": "Maximize"}
    proposed = first_generation(aws_env, raw)
    results = run_map(aws_env, proposed, fate=silent)
    for item, result in zip(proposed["jobs"]["trials"], results, strict=True):
        reports_metric_definitions(aws_env, result["TrainingJobName"], LINEAR_LEARNER_METRICS)
        write_log(aws_env, result["TrainingJobName"], [
            "#quality_metric: host=algo-1, epoch=0, train binary_classification_cross_entropy_objective "
            "<loss>=0.6",
            f"#quality_metric: host=algo-1, test dcg <score>={value_of(item['hyperparameters'])}"])
    evaluate.handler({"run": proposed["run"], "generation": 0, "results": results}, None)
    for trial in trials_of(aws_env, "knn-tuning-2024-02-01"):
        assert trial.status == "Completed" and trial.values["test:dcg"] == value_of(trial.hyperparameters)


# -- an AlgorithmName: DescribeAlgorithm -----------------------------------------------------------

ALGORITHM = "arn:aws:sagemaker:us-east-1:111122223333:algorithm/xgboost-regression-2024"


class WithAlgorithms:
    """moto's SageMaker client, with DescribeAlgorithm (which moto lacks) answered by a stubbed client."""

    def __init__(self, moto_client: Any, stubbed: Any) -> None:
        self.moto_client = moto_client
        self.stubbed = stubbed
        self.calls = 0

    def describe_algorithm(self, **kwargs: Any) -> Any:
        self.calls += 1
        return self.stubbed.describe_algorithm(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.moto_client, name)


def describe_algorithm_response() -> dict[str, Any]:
    return {
        "AlgorithmName": "xgboost-regression-2024", "AlgorithmArn": ALGORITHM,
        "CreationTime": datetime(2024, 1, 2, tzinfo=UTC), "AlgorithmStatus": "Completed",
        "AlgorithmStatusDetails": {},
        "TrainingSpecification": {
            "TrainingImage": "111122223333.dkr.ecr.us-east-1.amazonaws.com/xgb-regression:1",
            "SupportedTrainingInstanceTypes": ["ml.m5.xlarge"],
            "TrainingChannels": [{"Name": "train", "SupportedContentTypes": ["text/libsvm"],
                                  "SupportedInputModes": ["File"]}],
            "MetricDefinitions": [{"Name": "validation:rmse", "Regex": r"validation-rmse=(\S+)"}],
            "SupportedTuningJobObjectiveMetrics": [{"Type": "Minimize", "MetricName": "validation:rmse"}],
        },
    }


def test_an_algorithm_names_log_is_read_with_the_regexes_describe_algorithm_lists(aws_env):
    raw = request("algorithm-name-console")
    proposed = first_generation(aws_env, raw)
    assert proposed["jobs"]["training"]["AlgorithmSpecification"]["AlgorithmName"] == ALGORITHM
    results = run_map(aws_env, proposed, fate=silent)
    for item, result in zip(proposed["jobs"]["trials"], results, strict=True):
        rmse = value_of(item["hyperparameters"])
        write_log(aws_env, result["TrainingJobName"], [f"validation-rmse={rmse}"])
    stubbed = aws_env.session.create_client("sagemaker", region_name="us-east-1")
    sagemaker = WithAlgorithms(aws_env.sagemaker, stubbed)
    with Stubber(stubbed) as stubber:
        # One call for the whole generation: an algorithm's definitions do not change.
        stubber.add_response("describe_algorithm", describe_algorithm_response(),
                             {"AlgorithmName": ALGORITHM})
        evaluate.evaluate({"run": proposed["run"], "generation": 0, "results": copy.deepcopy(results)},
                          store=aws_env.store, sagemaker=sagemaker, logs=aws_env.logs)
        stubber.assert_no_pending_responses()
    assert sagemaker.calls == 1
    for trial in trials_of(aws_env, "marketplace-xgb-1"):
        assert trial.status == "Completed"
        assert trial.values["validation:rmse"] == value_of(trial.hyperparameters)


class _ClientsWithAlgorithms(aws.Clients):
    """The handlers' clients, with DescribeAlgorithm answered as in :class:`WithAlgorithms`."""

    def __init__(self, env: AwsEnv, sagemaker: WithAlgorithms) -> None:
        super().__init__(store=env.store, session=env.session)
        self._with_algorithms = sagemaker

    @property
    def sagemaker(self) -> Any:
        return self._with_algorithms


def test_a_start_taking_over_an_algorithm_names_run_reads_its_jobs_log_with_describe_algorithm(aws_env):
    """The holder execution ended after its job completed but before Evaluate: the new Start adopts the
    job, and reads the objective the job did not report from its log, with the algorithm's regexes."""
    sfn = aws_env.clients.stepfunctions
    machine = sfn.create_state_machine(
        name="byohpo-tuning", roleArn="arn:aws:iam::123456789012:role/sfn",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}))
    dead = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="dead")["executionArn"]
    raw = request("algorithm-name-console")
    ctx = start.handler({"input": raw, "execution": dead}, None)["run"]
    proposed = propose.handler({"run": ctx}, None)
    first = proposed["jobs"]["trials"][0]
    run_map(aws_env, {**proposed, "jobs": {**proposed["jobs"], "trials": [first]}}, fate=silent)
    rmse = value_of(first["hyperparameters"])
    write_log(aws_env, first["job_name"], [f"validation-rmse={rmse}"])
    sfn.stop_execution(executionArn=dead)

    stubbed = aws_env.session.create_client("sagemaker", region_name="us-east-1")
    sagemaker = WithAlgorithms(aws_env.sagemaker, stubbed)
    with Stubber(stubbed) as stubber:
        stubber.add_response("describe_algorithm", describe_algorithm_response(),
                             {"AlgorithmName": ALGORITHM})
        start.start({"input": raw, "execution": execution_arn("other")}, store=aws_env.store,
                    clients=_ClientsWithAlgorithms(aws_env, sagemaker))
        stubber.assert_no_pending_responses()
    (trial,) = [t for t in trials_of(aws_env, "marketplace-xgb-1") if t.trial_id == first["trial_id"]]
    assert trial.status == "Completed" and trial.values["validation:rmse"] == rmse
