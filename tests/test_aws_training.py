"""A trial's CreateTrainingJob parameters from the request's training definition, checked against
botocore's input shape; what a Map result, a caught error or DescribeTrainingJob says of a job."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import botocore.session
import pytest
from aws_fixtures import (
    DATA,
    AwsEnv,
    digits_request,
    moto_aws,
    xgboost_request,
)
from botocore.validate import ParamValidator

from byohpo.aws.training import (
    ALWAYS_PRESENT,
    RUN_TAG,
    JobOutcome,
    check_training,
    create_training_job_params,
    describe_job,
    iso_timestamp,
    outcome_of_result,
    shared_training_fields,
)
from byohpo.errors import ValidationError
from byohpo.request import parse_request

CREATE = botocore.session.get_session().get_service_model("sagemaker").operation_model(
    "CreateTrainingJob").input_shape

@pytest.fixture
def aws_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsEnv]:
    with moto_aws(monkeypatch, getattr(request, "param", "dynamodb")) as env:
        yield env



def full_definition() -> dict:
    """A definition with every field HyperParameterTrainingJobDefinition has that CreateTrainingJob
    takes too."""
    raw = digits_request()
    definition = raw["TrainingJobDefinition"]
    definition.update(
        VpcConfig={"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0123456789abcdef0"]},
        EnableNetworkIsolation=True, EnableInterContainerTrafficEncryption=True,
        EnableManagedSpotTraining=True, CheckpointConfig={"S3Uri": "s3://example-ml-data/checkpoints/"},
        RetryStrategy={"MaximumRetryAttempts": 2}, Environment={"OMP_NUM_THREADS": "2"})
    definition["StoppingCondition"]["MaxWaitTimeInSeconds"] = 7200
    raw["Tags"] = [{"Key": "team", "Value": "ml"}]
    return raw


def test_every_field_createtrainingjob_takes_is_passed_on() -> None:
    raw = full_definition()
    request = parse_request(raw)
    shared = shared_training_fields(request)
    definition = raw["TrainingJobDefinition"]
    sent = {k: v for k, v in definition.items() if k not in ("StaticHyperParameters", "Local")}
    assert {k: shared[k] for k in sent} == sent
    assert shared["HyperParameters"] == {"batch_size": "100"}
    assert shared["Tags"] == [{"Key": "team", "Value": "ml"}, {"Key": RUN_TAG, "Value": "digits-handlers"}]
    assert "Local" not in shared and "TrainingJobName" not in shared
    params = create_training_job_params(shared, "digits-handlers-g0-t0", {"learning_rate": "0.05",
                                                                          "num_epoch": "20",
                                                                          "activation": "relu"})
    assert params["HyperParameters"] == {"batch_size": "100", "learning_rate": "0.05", "num_epoch": "20",
                                         "activation": "relu"}
    assert not ParamValidator().validate(params, CREATE).has_errors()
    assert check_training(request) == shared


def test_the_shared_fields_always_have_the_same_keys_for_jsonpath() -> None:
    for raw in (digits_request(), xgboost_request(), full_definition()):
        assert set(ALWAYS_PRESENT) <= set(shared_training_fields(parse_request(raw)))
    minimal = digits_request()
    del minimal["TrainingJobDefinition"]["InputDataConfig"]
    shared = shared_training_fields(parse_request(minimal))
    assert set(shared) == set(ALWAYS_PRESENT)
    assert shared["Environment"] == {} and shared["EnableManagedSpotTraining"] is False


def test_the_console_request_with_training_job_definitions_works() -> None:
    raw = json.loads((DATA / "request-valid-amt-console.json").read_text())
    request = parse_request(raw)
    shared = check_training(request)
    for key in ("DefinitionName", "TuningObjective", "HyperParameterRanges", "StaticHyperParameters"):
        assert key not in shared
    assert shared["RoleArn"] == raw["TrainingJobDefinitions"][0]["RoleArn"]


def test_a_tuning_resource_config_of_one_instance_type_becomes_the_resource_config() -> None:
    raw = digits_request()
    definition = raw["TrainingJobDefinition"]
    del definition["ResourceConfig"]
    definition["HyperParameterTuningResourceConfig"] = {
        "InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30,
        "AllocationStrategy": "Prioritized"}
    shared = check_training(parse_request(raw))
    assert shared["ResourceConfig"] == {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1,
                                        "VolumeSizeInGB": 30}
    definition["HyperParameterTuningResourceConfig"]["InstanceConfigs"] = [
        {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        {"InstanceType": "ml.c5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30}]
    with pytest.raises(ValidationError) as caught:
        check_training(parse_request(raw))
    assert [e.path for e in caught.value.errors] == [
        "TrainingJobDefinition.HyperParameterTuningResourceConfig.InstanceConfigs"]


def test_botocore_problems_are_named_by_the_request_field() -> None:
    """What the request's schema pass lets through but CreateTrainingJob would refuse (here, values
    planted past the parser) is reported at the request's own field."""
    request = parse_request(digits_request())
    training = copy.deepcopy(request.training)
    training["ResourceConfig"]["InstanceCount"] = "2"
    training["OutputDataConfig"] = {}
    training["Environment"] = {"A": 1}
    bad = dataclasses.replace(request, training=training)
    with pytest.raises(ValidationError) as caught:
        check_training(bad)
    messages = {e.path: e.message for e in caught.value.errors}
    assert set(messages) == {"TrainingJobDefinition.ResourceConfig.InstanceCount",
                             "TrainingJobDefinition.OutputDataConfig.S3OutputPath",
                             "TrainingJobDefinition.Environment.A"}
    assert "CreateTrainingJob" in messages["TrainingJobDefinition.OutputDataConfig.S3OutputPath"]


def test_parameters_from_the_shared_fields_create_a_job_in_sagemaker(aws_env: AwsEnv) -> None:
    shared = check_training(parse_request(full_definition()))
    aws_env.sagemaker.create_training_job(**create_training_job_params(shared, "j-1", {"learning_rate": "0.1",
                                                                                     "num_epoch": "11",
                                                                                     "activation": "tanh"}))
    outcome = describe_job(aws_env.sagemaker, "j-1")
    assert (outcome.status, outcome.job_name, outcome.finished) == ("Completed", "j-1", True)
    assert outcome.values == {"train:progress": 100.0}  # moto's fake FinalMetricDataList
    assert describe_job(aws_env.sagemaker, "never-created") == JobOutcome("Missing", "never-created")


def test_what_a_map_result_says() -> None:
    done = outcome_of_result({"trial_id": "g0000-t0000", "TrainingJobName": "r-g0-t0",
                              "TrainingJobStatus": "Completed", "TrainingStartTime": 1_700_000_000_000,
                              "TrainingEndTime": "2023-11-14T22:15:00Z",
                              "FinalMetricDataList": [{"MetricName": "acc", "Value": 0.9, "Timestamp": 1},
                                                      {"MetricName": "loss", "Value": "NaN"}]})
    assert done == JobOutcome("Completed", "r-g0-t0", {"acc": 0.9}, None, "2023-11-14T22:13:20.000Z",
                              "2023-11-14T22:15:00.000Z")
    failed = outcome_of_result({"trial_id": "x", "TrainingJobName": "r-g0-t1", "TrainingJobStatus": "Failed",
                                "FailureReason": "AlgorithmError: boom"})
    assert (failed.status, failed.failure_reason, failed.finished) == ("Failed", "AlgorithmError: boom", True)
    cause = json.dumps({"TrainingJobName": "r-g0-t2", "TrainingJobStatus": "Stopped",
                        "FailureReason": "MaxRuntimeInSeconds reached",
                        "FinalMetricDataList": [{"MetricName": "acc", "Value": 0.5}]})
    stopped = outcome_of_result({"trial_id": "x", "Error": "States.TaskFailed", "Cause": cause})
    assert (stopped.status, stopped.job_name, stopped.values) == ("Stopped", "r-g0-t2", {"acc": 0.5})
    caught = outcome_of_result({"trial_id": "x", "Error": "States.Timeout", "Cause": "x" * 5000})
    assert caught.status == "Error" and not caught.finished
    assert caught.failure_reason.startswith("States.Timeout: xxx") and len(caught.failure_reason) == 1024


def test_timestamps_in_every_form_they_arrive_in() -> None:
    moment = "2024-05-01T12:00:00.123Z"
    assert iso_timestamp(datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)) == moment
    assert iso_timestamp(1714564800.123) == moment
    assert iso_timestamp(1714564800123) == moment
    assert iso_timestamp("2024-05-01T14:00:00.123+02:00") == moment
    assert iso_timestamp("yesterday") is None and iso_timestamp(None) is None
