"""One trial's training job: the Map iteration that runs ``CreateTrainingJob.sync`` and hands back a
small result.

A JSONPath ``"X.$"`` parameter fails its state when the path is absent, so the task can name only
fields that are always there. Propose's ``training`` always has :data:`ALWAYS_PRESENT_TRAINING_FIELDS`
(CreateTrainingJob's required fields, the static ``HyperParameters``, and the booleans,
``Environment`` and ``Tags`` it fills in); the four fields with no neutral value
(:data:`OPTIONAL_TRAINING_FIELDS`) are passed when present, by one task per combination picked with
``IsPresent`` (16 tasks, one Choice). Together (:data:`SUPPORTED_TRAINING_FIELDS`) they are every
field of SageMaker's ``HyperParameterTrainingJobDefinition`` that CreateTrainingJob takes, and the
request schema refuses any other (``tests/test_state_machine.py`` checks both against botocore).

The result (at most a few hundred bytes, so a generation of many trials stays far below the 256 KiB a
state's output may hold) is one of::

    {"trial_id", "TrainingJobName", "TrainingJobStatus", "FinalMetricDataList"}  # completed
    {"trial_id", "TrainingJobName", "TrainingJobStatus"}                         # completed, no metrics
    {"trial_id", "TrainingJobName", "Error", "Cause"}                            # an API error, say
    {"trial_id", "TrainingJobName", "Error"}                                     # the job failed or stopped

A ``.sync`` task whose job failed or stopped fails with the job's whole description as its ``Cause``
(several KB); that description is dropped, and Evaluate describes the job instead. Other causes (an API
error's message) are kept.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

TRAINING_RESOURCE = "arn:aws:states:::sagemaker:createTrainingJob.sync"

#: Fields Propose's ``training`` always has, each passed as ``"<Field>.$": "$.training.<Field>"``;
#: but ``RoleArn`` as the builder is told (this path, or a fixed role), and ``HyperParameters`` (the
#: static ones) merged with the trial's tuned ones, which win.
ALWAYS_PRESENT_TRAINING_FIELDS = (
    "AlgorithmSpecification", "RoleArn", "OutputDataConfig", "ResourceConfig", "StoppingCondition",
    "HyperParameters", "EnableNetworkIsolation", "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining", "Environment", "Tags",
)
#: Fields passed only when ``training`` has them: they have no value meaning "not set"
#: (``InputDataConfig`` needs a channel, ``RetryStrategy`` at least one retry).
OPTIONAL_TRAINING_FIELDS = ("InputDataConfig", "VpcConfig", "CheckpointConfig", "RetryStrategy")
#: Every field of ``training`` the state machine sends; any other would be dropped.
SUPPORTED_TRAINING_FIELDS = ALWAYS_PRESENT_TRAINING_FIELDS + OPTIONAL_TRAINING_FIELDS
#: Set per trial from Propose's ``trials`` items (and ``HyperParameters``, merged).
PER_TRIAL_FIELDS = ("TrainingJobName",)
HYPERPARAMETERS = "States.JsonMerge($.training.HyperParameters, $.trial.hyperparameters, false)"

TRAINING_ROLE_PATH = "$.training.RoleArn"

#: Errors raised before a job exists, the only ones worth retrying: a retried create of a job that
#: exists collides with it. The optimized integration names SageMaker's unmodelled errors, throttling
#: among them, ``SageMaker.AmazonSageMakerException``; newer ones name the code. A validation error
#: is an AmazonSageMakerException too: it is retried a few times in vain, then caught.
THROTTLING_ERRORS = ("SageMaker.ThrottlingException", "SageMaker.AmazonSageMakerException")
#: The account's instance quota is used up (by this run's other jobs, or others'): wait longer.
CAPACITY_ERRORS = ("SageMaker.ResourceLimitExceededException", "SageMaker.ResourceLimitExceeded")

TRAINING_RETRY = [
    {"ErrorEquals": list(THROTTLING_ERRORS), "IntervalSeconds": 5, "MaxAttempts": 8, "BackoffRate": 2.0,
     "MaxDelaySeconds": 120, "JitterStrategy": "FULL"},
    {"ErrorEquals": list(CAPACITY_ERRORS), "IntervalSeconds": 60, "MaxAttempts": 10, "BackoffRate": 2.0,
     "MaxDelaySeconds": 600, "JitterStrategy": "FULL"},
]

#: A ``Cause`` that is a training job's description (``.sync`` saw the job end Failed or Stopped).
JOB_DESCRIPTION_PATTERN = '*"TrainingJobStatus"*'

CHOOSE_FIELDS = "Which training fields?"
METRICS_REPORTED = "Metrics reported?"
TRAINED = "Trained"
TRAINED_WITHOUT_METRICS = "Trained without metrics"
FAILED_WHY = "Why did it fail?"
JOB_FAILED = "Training job failed"
TRIAL_ERROR = "Failed before training"


def train_state_name(fields: tuple[str, ...]) -> str:
    """``Train`` or ``Train with InputDataConfig + VpcConfig``: at most 71 characters (80 allowed)."""
    return "Train" + (" with " + " + ".join(fields) if fields else "")


def field_variants() -> list[tuple[str, ...]]:
    """Every subset of :data:`OPTIONAL_TRAINING_FIELDS`, in their order, the empty one first."""
    return [c for k in range(len(OPTIONAL_TRAINING_FIELDS) + 1)
            for c in combinations(OPTIONAL_TRAINING_FIELDS, k)]


def training_parameters(fields: tuple[str, ...], role: str) -> dict[str, Any]:
    """CreateTrainingJob parameters of the task that sends the optional ``fields``."""
    params: dict[str, Any] = {"TrainingJobName.$": "$.trial.job_name"}
    for name in ALWAYS_PRESENT_TRAINING_FIELDS + fields:
        if name == "RoleArn":
            params.update({"RoleArn.$": role} if role.startswith("$") else {"RoleArn": role})
        elif name == "HyperParameters":
            params["HyperParameters.$"] = HYPERPARAMETERS
        else:
            params[f"{name}.$"] = f"$.training.{name}"
    return params


def item_processor(*, role: str, mode: str) -> dict[str, Any]:
    """The Map's ItemProcessor. Its input is ``{"trial": <one of Propose's trials>, "training":
    <Propose's training>}``."""
    variants = field_variants()
    states: dict[str, Any] = {
        CHOOSE_FIELDS: {
            "Type": "Choice",
            "Comment": "A task per combination of the optional fields present in training",
            "Choices": [
                {"And": [{"Variable": f"$.training.{name}", "IsPresent": name in fields}
                         for name in OPTIONAL_TRAINING_FIELDS],
                 "Next": train_state_name(fields)}
                for fields in variants if fields],
            "Default": train_state_name(()),
        },
    }
    for fields in variants:
        states[train_state_name(fields)] = {
            "Type": "Task",
            "Resource": TRAINING_RESOURCE,
            "Parameters": training_parameters(fields, role),
            "ResultPath": "$.job",
            "Retry": [dict(r) for r in TRAINING_RETRY],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": FAILED_WHY}],
            "Next": METRICS_REPORTED,
        }
    completed = {"trial_id.$": "$.trial.trial_id", "TrainingJobName.$": "$.job.TrainingJobName",
                 "TrainingJobStatus.$": "$.job.TrainingJobStatus"}
    failed = {"trial_id.$": "$.trial.trial_id", "TrainingJobName.$": "$.trial.job_name",
              "Error.$": "$.error.Error"}
    states.update({
        METRICS_REPORTED: {
            "Type": "Choice",
            "Choices": [{"Variable": "$.job.FinalMetricDataList", "IsPresent": True, "Next": TRAINED}],
            "Default": TRAINED_WITHOUT_METRICS,
        },
        TRAINED: {"Type": "Pass", "Parameters": {
            **completed, "FinalMetricDataList.$": "$.job.FinalMetricDataList"}, "End": True},
        TRAINED_WITHOUT_METRICS: {"Type": "Pass", "Parameters": completed, "End": True},
        FAILED_WHY: {
            "Type": "Choice",
            "Choices": [{"And": [{"Variable": "$.error.Cause", "IsPresent": True},
                                 {"Not": {"Variable": "$.error.Cause",
                                          "StringMatches": JOB_DESCRIPTION_PATTERN}}],
                         "Next": TRIAL_ERROR}],
            "Default": JOB_FAILED,
        },
        TRIAL_ERROR: {"Type": "Pass", "Parameters": {**failed, "Cause.$": "$.error.Cause"}, "End": True},
        JOB_FAILED: {"Type": "Pass", "Comment": "The Cause is the job's description: Evaluate describes "
                                                "the job instead of carrying it",
                     "Parameters": failed, "End": True},
    })
    config = ({"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"} if mode == "DISTRIBUTED"
              else {"Mode": "INLINE"})
    return {"ProcessorConfig": config, "StartAt": CHOOSE_FIELDS, "States": states}
