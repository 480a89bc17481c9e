"""The emulator is as strict as AWS where byohpo depends on it: these small definitions pass in moto
alone and fail on AWS, and must fail in ``tests/sfn_harness.py`` the way AWS fails them."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from sfn_harness import (
    DATA_LIMIT_EXCEEDED,
    INLINE_MAP_CONCURRENCY,
    PAYLOAD_LIMIT,
    JobFate,
    SageMakerEmulator,
    SfnHarness,
    refuse_create,
)

BIG = "x" * (PAYLOAD_LIMIT + 1)


def big(event: Any, context: Any) -> dict[str, Any]:
    return {"blob": BIG}


def small(event: Any, context: Any) -> dict[str, Any]:
    return {"ok": True}


@pytest.fixture(scope="module")
def harness() -> Iterator[SfnHarness]:
    with SfnHarness(handlers={"big": big, "small": small}) as running:
        yield running


def run(harness: SfnHarness, definition: Mapping[str, Any], name: str, execution_input: Any = None
        ) -> dict[str, Any]:
    arn = harness.create_state_machine(definition, name=name)
    (desc,) = harness.run(arn, execution_input if execution_input is not None else {}, name=f"{name}-1")
    return desc


def invoke(function: str, **state: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": SfnHarness.function_arn(function), "Payload.$": "$"},
            "OutputPath": "$.Payload", **state}


CAUGHT = {"Type": "Pass", "Result": "caught", "End": True}


def test_a_task_result_over_the_quota_fails_the_execution_whatever_catches_it(harness: SfnHarness) -> None:
    """States.DataLimitExceeded "is a terminal error that cannot be caught by the States.ALL error
    type" (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html)."""
    definition = {"StartAt": "Big", "States": {
        "Big": invoke("big", Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], End=True),
        "Caught": CAUGHT}}
    desc = run(harness, definition, "harness-big-result")
    assert (desc["status"], desc["error"]) == ("FAILED", DATA_LIMIT_EXCEEDED)
    assert harness.payload_sizes.largest["Big: result"] > PAYLOAD_LIMIT


def test_a_map_whose_output_passes_the_quota_fails_the_execution(harness: SfnHarness) -> None:
    """Each iteration's result is small; the Map's output is its input and every result
    (ResultPath), over 256 KiB: terminal, though the Map catches States.ALL."""
    items = [{"payload": "y" * 1000} for _ in range(200)]
    definition = {"StartAt": "Map", "States": {
        "Map": {"Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.results",
                "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Echo",
                                  "States": {"Echo": {"Type": "Pass", "End": True}}},
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": True},
        "Caught": CAUGHT}}
    desc = run(harness, definition, "harness-big-map", {"items": items})
    assert (desc["status"], desc["error"]) == ("FAILED", DATA_LIMIT_EXCEEDED)
    assert "'Map'" in desc["cause"]


def test_parameters_over_the_quota_fail_before_the_task_runs(harness: SfnHarness) -> None:
    """"When, after Parameters processing, the input of a state is larger than the payload size
    quota": the Lambda is never invoked."""
    harness.invocations.clear()
    definition = {"StartAt": "Merge", "States": {
        "Merge": {**invoke("small"), "Parameters": {"FunctionName": SfnHarness.function_arn("small"),
                                                    "Payload": {"a.$": "$.half", "b.$": "$.half"}},
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": True},
        "Caught": CAUGHT}}
    desc = run(harness, definition, "harness-big-parameters", {"half": "z" * (PAYLOAD_LIMIT // 2 + 10)})
    assert (desc["status"], desc["error"]) == ("FAILED", DATA_LIMIT_EXCEEDED)
    assert harness.invocations == []


def test_states_runtime_is_not_caught_by_states_all(harness: SfnHarness) -> None:
    definition = {"StartAt": "Missing", "States": {
        "Missing": {**invoke("small"), "Parameters": {"FunctionName": SfnHarness.function_arn("small"),
                                                      "Payload": {"x.$": "$.nowhere"}},
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": True},
        "Caught": CAUGHT}}
    desc = run(harness, definition, "harness-runtime")
    assert (desc["status"], desc["error"]) == ("FAILED", "States.Runtime")


def test_an_inline_map_runs_at_most_40_iterations_at_once(harness: SfnHarness) -> None:
    """"In this mode, the Map state supports up to 40 concurrent iterations"
    (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-asl-use-map-state-inline.html):
    MaxConcurrency 0 (no limit) and 60 both run 40 at a time."""
    # Jobs stay in progress until 40 run at once: 40 do; were there no cap, the other 20 would join.
    harness.sagemaker = emulator = SageMakerEmulator(lambda params: JobFate(polls=2), gate=40)
    train = {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
             "Parameters": {"TrainingJobName.$": "States.Format('harness-inline-{}', $.i)",
                            "RoleArn": "arn:aws:iam::123456789012:role/r",
                            "AlgorithmSpecification": {"TrainingImage": "i", "TrainingInputMode": "File"},
                            "OutputDataConfig": {"S3OutputPath": "s3://b/o"},
                            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                                               "VolumeSizeInGB": 1},
                            "StoppingCondition": {"MaxRuntimeInSeconds": 60}},
             "ResultSelector": {"name.$": "$.TrainingJobName"}, "End": True}
    definition = {"StartAt": "Map", "States": {"Map": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 60,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Train",
                          "States": {"Train": train}},
        "End": True}}}
    desc = run(harness, definition, "harness-inline", {"items": [{"i": i} for i in range(60)]})
    assert desc["status"] == "SUCCEEDED", desc
    assert len(json.loads(desc["output"])) == 60
    assert emulator.max_in_flight == INLINE_MAP_CONCURRENCY


def test_sagemaker_refuses_a_name_in_use_and_what_its_model_caps(harness: SfnHarness) -> None:
    """moto overwrites a training job of the same name and takes 51 tags; SageMaker does neither."""
    params = {"TrainingJobName": "harness-taken", "RoleArn": "arn:aws:iam::123456789012:role/r",
              "AlgorithmSpecification": {"TrainingImage": "i", "TrainingInputMode": "File"},
              "OutputDataConfig": {"S3OutputPath": "s3://b/o"},
              "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
              "StoppingCondition": {"MaxRuntimeInSeconds": 60}}
    assert refuse_create(params) is None
    harness.client("sagemaker").create_training_job(**params)
    taken = refuse_create(params)
    assert taken.response["Error"]["Code"] == "ResourceInUse"
    assert "names must be unique within an AWS account and region" in taken.response["Error"]["Message"]
    many = refuse_create({**params, "TrainingJobName": "harness-tags",
                          "Tags": [{"Key": f"k{i}", "Value": "v"} for i in range(51)]})
    assert many.response["Error"]["Code"] == "ValidationException"
    assert "at 'Tags' failed to satisfy constraint: Member must have length less than or equal to 50" \
        in many.response["Error"]["Message"]


def test_sagemaker_stops_only_a_running_job(harness: SfnHarness) -> None:
    """moto has no StopTrainingJob; the emulator answers as SageMaker does: a running job is
    ``Stopping``, then ``Stopped`` (https://docs.aws.amazon.com/sagemaker/latest/APIReference/
    API_StopTrainingJob.html); a job not running is refused with ValidationException "The request was
    rejected because the training job is in status <status>." (SageMaker's answer, quoted in
    https://github.com/awslabs/benchmark-ai/issues/928); a job that does not exist, ResourceNotFound."""
    from botocore.exceptions import ClientError

    emulator = harness.sagemaker = SageMakerEmulator(lambda params: JobFate(polls=5))
    sagemaker, logs = harness.client("sagemaker"), harness.client("logs")
    params = {"RoleArn": "arn:aws:iam::123456789012:role/r",
              "AlgorithmSpecification": {"TrainingImage": "i", "TrainingInputMode": "File"},
              "OutputDataConfig": {"S3OutputPath": "s3://b/o"},
              "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
              "StoppingCondition": {"MaxRuntimeInSeconds": 60}}
    for name in ("harness-running", "harness-done"):
        emulator._create(sagemaker, {**params, "TrainingJobName": name})

    def status(name: str) -> str:
        return sagemaker.describe_training_job(TrainingJobName=name)["TrainingJobStatus"]

    def refused(name: str) -> str:
        with pytest.raises(ClientError) as caught:
            sagemaker.stop_training_job(TrainingJobName=name)
        return f"{caught.value.response['Error']['Code']}: {caught.value.response['Error']['Message']}"

    assert status("harness-running") == "InProgress"
    sagemaker.stop_training_job(TrainingJobName="harness-running")
    assert status("harness-running") == "Stopping"
    assert refused("harness-running") == (
        "ValidationException: The request was rejected because the training job is in status Stopping.")
    polls = [emulator._poll(sagemaker, logs, "harness-running") for _ in range(2)]  # the .sync task's
    assert polls[0] is None and polls[1]["TrainingJobStatus"] == "Stopped"
    assert status("harness-running") == "Stopped"
    emulator.end("harness-done", sagemaker, logs)
    assert status("harness-done") == "Completed"
    assert refused("harness-done") == (
        "ValidationException: The request was rejected because the training job is in status Completed.")
    assert refused("harness-never").startswith("ResourceNotFound: ")
    assert [code for _, code in emulator.stop_calls] == [None, "ValidationException", "ValidationException",
                                                         "ResourceNotFound"]
