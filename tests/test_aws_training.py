"""A trial's CreateTrainingJob parameters from the request's training definition, checked against
botocore's input shape; what a Map result, a caught error or DescribeTrainingJob says of a job."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

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
    MapResult,
    check_training,
    create_training_job_params,
    describe_job,
    iso_timestamp,
    owned_by,
    shape_limits,
    shared_training_fields,
)
from byohpo.errors import ValidationError
from byohpo.request import parse_request
from byohpo.store.records import RunRecord, TrialRecord

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
    done = MapResult.parse({"trial_id": "g0000-t0000", "TrainingJobName": "r-g0-t0",
                            "TrainingJobStatus": "Completed", "TrainingStartTime": 1_700_000_000_000,
                            "TrainingEndTime": "2023-11-14T22:15:00Z"})
    assert done == MapResult("g0000-t0000", "Completed", None, None, "2023-11-14T22:13:20.000Z",
                             "2023-11-14T22:15:00.000Z")
    assert not done.caught and not done.retry_later
    caught = MapResult.parse({"trial_id": "g0000-t0001", "Error": "States.Timeout", "Cause": "x" * 5000})
    assert caught.caught and not caught.retry_later
    assert caught.reason().startswith("States.Timeout: xxx") and len(caught.reason()) == 1024
    # An older definition's result: the job's description as the Cause of a failed .sync task.
    cause = json.dumps({"TrainingJobName": "r-g0-t2", "TrainingJobStatus": "Stopped",
                        "FailureReason": "MaxRuntimeInSeconds reached"})
    old = MapResult.parse({"trial_id": "g0000-t0002", "Error": "States.TaskFailed", "Cause": cause})
    assert old.reason() == "States.TaskFailed: MaxRuntimeInSeconds reached"
    # What SageMaker could not take now, and what it never will.
    throttled = "Rate exceeded (Service: AmazonSageMaker; Status Code: 400; Error Code: ThrottlingException)"
    assert MapResult.parse({"trial_id": "g0000-t0000", "Error": "SageMaker.AmazonSageMakerException",
                            "Cause": throttled}).retry_later
    assert MapResult.parse({"trial_id": "g0000-t0000",
                            "Error": "SageMaker.ResourceLimitExceededException"}).retry_later
    denied = "User is not authorized (Error Code: AccessDeniedException)"
    assert not MapResult.parse({"trial_id": "g0000-t0000", "Error": "SageMaker.AmazonSageMakerException",
                                "Cause": denied}).retry_later
    # No trial (a failed Distributed Map child), and malformed fields dropped, never raised.
    for child in ({"Error": "States.Runtime", "Cause": "boom"}, None, "text", {"trial_id": "x"},
                  {"trial_id": 7}):
        assert MapResult.parse(child) is None
    odd = MapResult.parse({"trial_id": "g0001-t0003", "TrainingJobStatus": ["Completed"],
                           "TrainingEndTime": 1e20, "TrainingStartTime": True, "Error": 5, "Cause": {}})
    assert odd == MapResult("g0001-t0003")


def test_a_job_is_this_trials_only_when_created_after_its_run_with_its_hyperparameters() -> None:
    run = RunRecord("r", {}, "fp", created_at="2024-05-01T12:00:00.000Z", token="abc123")
    trial = TrialRecord.new("r", 0, 0, {"x": 1}, hyperparameters={"x": "1", "batch_size": "100"},
                            job_name="r-abc123-g0-t0")
    desc = {"TrainingJobName": "r-abc123-g0-t0", "HyperParameters": {"x": "1", "batch_size": "100"},
            "CreationTime": datetime(2024, 5, 1, 12, 0, 5, tzinfo=UTC)}
    assert owned_by(desc, trial, run) is None
    # Within the clock skew allowed, and a naive datetime read as UTC: still the trial's.
    assert owned_by({**desc, "CreationTime": datetime(2024, 5, 1, 11, 59, 30)}, trial, run) is None
    earlier = owned_by({**desc, "CreationTime": datetime(2024, 5, 1, 11, 0, tzinfo=UTC)}, trial, run)
    assert earlier.startswith("it was created at 2024-05-01T11:00:00.000Z, before this run")
    other = owned_by({**desc, "HyperParameters": {"x": "2", "batch_size": "100"}}, trial, run)
    assert other == "its hyperparameters are not this trial's"


def test_createtrainingjob_maxima_and_patterns_botocore_leaves_out() -> None:
    params = create_training_job_params(check_training(parse_request(full_definition())), "j-1",
                                        {"learning_rate": "0.1", "num_epoch": "11", "activation": "tanh"})
    assert shape_limits(params, CREATE) == []
    params["Tags"] = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    params["HyperParameters"]["long"] = "x" * 2501
    params["TrainingJobName"] = "bad_name"
    assert not ParamValidator().validate(params, CREATE).has_errors()  # what botocore lets through
    assert sorted(path for path, _ in shape_limits(params, CREATE)) == [
        "HyperParameters.long", "Tags", "TrainingJobName"]


def test_timestamps_in_every_form_they_arrive_in() -> None:
    moment = "2024-05-01T12:00:00.123Z"
    assert iso_timestamp(datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)) == moment
    assert iso_timestamp(1714564800.123) == moment
    assert iso_timestamp(1714564800123) == moment
    assert iso_timestamp("2024-05-01T14:00:00.123+02:00") == moment
    assert iso_timestamp("yesterday") is None and iso_timestamp(None) is None
    # What no SageMaker job has: never an error, nothing recorded.
    assert iso_timestamp(1e20) is None and iso_timestamp(float("inf")) is None
    assert iso_timestamp(-1e15) is None
    assert iso_timestamp("0001-01-01T00:00:00Z") is None and iso_timestamp(True) is None


def test_validate_and_start_refuse_more_tags_than_a_job_takes_beside_byohpos(
        tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """``byohpo validate`` (and ``byohpo start``, which validates the same way first) name ``Tags`` with
    the number allowed: SageMaker's 50 less byohpo's two."""
    from byohpo.cli import main

    raw = digits_request()
    del raw["TrainingJobDefinition"]["Local"]  # a request for AWS: validate checks no local script
    raw["Tags"] = [{"Key": f"team:{i}", "Value": "ml"} for i in range(49)]
    path = tmp_path / "tags.json"
    path.write_text(json.dumps(raw))
    for command in ("validate", "start"):
        assert main([command, str(path)]) == 2
        err = capsys.readouterr().err
        assert "Tags: at most 48 tags, not 49: byohpo adds byohpo:run and byohpo:stack" in err
    raw["Tags"] = raw["Tags"][:48]
    path.write_text(json.dumps(raw))
    assert main(["validate", str(path)]) == 0
