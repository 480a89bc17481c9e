"""One trial's training job: the Map iteration that runs ``CreateTrainingJob.sync`` and hands back a
small result.

A JSONPath ``"X.$"`` parameter fails its state when the path is absent, with ``States.Runtime``, which
no Catch handles (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html),
so the task names only fields that are always there, and every optional field is read after a
``Choice`` with ``IsPresent``. Propose's ``training`` always has :data:`ALWAYS_PRESENT_TRAINING_FIELDS`
(CreateTrainingJob's required fields, the static ``HyperParameters``, and the booleans,
``Environment`` and ``Tags`` it fills in); the four fields with no neutral value
(:data:`OPTIONAL_TRAINING_FIELDS`) are passed when present, by one task per combination picked with
``IsPresent`` (16 tasks, one Choice). Together (:data:`SUPPORTED_TRAINING_FIELDS`) they are every
field of SageMaker's ``HyperParameterTrainingJobDefinition`` that CreateTrainingJob takes, and the
request schema refuses any other (``tests/test_state_machine.py`` checks both against botocore).

The iteration's input (the Map's ItemSelector) is ``{"trial", "training", "index", "causes_kept",
"retries": {"throttled": 0}}``. Its result is one of (:data:`RESULT_FIELDS`)::

    {"trial_id", "TrainingJobName", "TrainingJobStatus", "TrainingStartTime", "TrainingEndTime"}
    {"trial_id", "TrainingJobName", "TrainingJobStatus"}  # completed, without its times
    {"trial_id", "TrainingJobName", "Error", "Cause"}     # an API error, say
    {"trial_id", "TrainingJobName", "Error"}              # the job failed or stopped, or a cause not kept

Every field has a bounded size (a name, a status, two timestamps, an error name of at most 256
characters), so a generation's results fit in a state's 256 KiB whatever the jobs report: metrics,
failure reasons and descriptions are read by Evaluate from SageMaker, never carried. A caught error's
``Cause`` (at most 32,768 characters) is kept only by the iterations whose item index is below
``causes_kept``, the number Propose computed to fit. A ``.sync`` task whose job failed or stopped fails
with the job's whole description as its ``Cause`` (several KB): always dropped.

Retries: a create that SageMaker throttles or refuses for want of instances is retried with backoff
and full jitter (:data:`TRAINING_RETRY`); nothing else is, because every other error of
CreateTrainingJob (validation, access, a name in use) fails the same way again. The optimized
integration reports SageMaker's unmodelled errors, throttling among them, as
``SageMaker.AmazonSageMakerException``, with the real code in the ``Cause`` ("... Error Code:
ThrottlingException ..."), and validation errors under the same name: ``Retry`` matches names only,
so those are told apart by their ``Cause`` in a ``Choice`` and throttling is retried by a loop of its
own (at most :data:`MAX_THROTTLED` more creates, a jittered Wait before each).
"""

from __future__ import annotations

import copy
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

#: Errors of CreateTrainingJob that a later attempt can get past, so the only ones retried (a retried
#: create of a job that exists collides with it): the request rate, under the names the optimized
#: integration gives them...
THROTTLING_ERRORS = ("SageMaker.ThrottlingException",)
#: ...the account's instance quota, used up by this run's other jobs or others' (wait longer)...
CAPACITY_ERRORS = ("SageMaker.ResourceLimitExceededException", "SageMaker.ResourceLimitExceeded")
#: ...and throttling reported as SageMaker's unmodelled error, told apart from a validation error of the
#: same name by its Cause (matched with these patterns).
UNMODELLED_ERROR = "SageMaker.AmazonSageMakerException"
THROTTLED_CAUSES = ("*Error Code: ThrottlingException*", "*Rate exceeded*")
#: The creates a throttled trial makes after its first, and the ceilings of their jittered waits.
MAX_THROTTLED = 6
THROTTLED_WAITS = (5, 10, 20, 40, 80, 120)

TRAINING_RETRY = [
    {"ErrorEquals": list(THROTTLING_ERRORS), "IntervalSeconds": 5, "MaxAttempts": 8, "BackoffRate": 2.0,
     "MaxDelaySeconds": 120, "JitterStrategy": "FULL"},
    {"ErrorEquals": list(CAPACITY_ERRORS), "IntervalSeconds": 60, "MaxAttempts": 10, "BackoffRate": 2.0,
     "MaxDelaySeconds": 600, "JitterStrategy": "FULL"},
]

#: A ``Cause`` that is a training job's description (``.sync`` saw the job end Failed or Stopped).
JOB_DESCRIPTION_PATTERN = '*"TrainingJobStatus"*'

#: The iteration's input, from the Map's ItemSelector (``$`` is the Map's input, Propose's output).
ITEM_SELECTOR = {"trial.$": "$$.Map.Item.Value", "training.$": "$.jobs.training",
                 "index.$": "$$.Map.Item.Index", "causes_kept.$": "$.causes_kept",
                 "retries": {"throttled": 0}}

CHOOSE_FIELDS = "Which training fields?"
TIMES_REPORTED = "Times reported?"
TRAINED = "Trained"
TRAINED_WITHOUT_TIMES = "Trained, times not reported"
FAILED_WHY = "Why did it fail?"
BACK_OFF = "Throttled: back off"
WAIT_THROTTLED = "Wait before creating again"
JOB_FAILED = "Failed, no cause kept"
TRIAL_ERROR = "Failed before training"

_COMPLETED = {"trial_id.$": "$.trial.trial_id", "TrainingJobName.$": "$.job.TrainingJobName",
              "TrainingJobStatus.$": "$.job.TrainingJobStatus"}
_FAILED = {"trial_id.$": "$.trial.trial_id", "TrainingJobName.$": "$.trial.job_name",
           "Error.$": "$.error.Error"}
#: Every key a result can have (the Pass states' Parameters), for Evaluate and the size bound.
RESULT_FIELDS = ("trial_id", "TrainingJobName", "TrainingJobStatus", "TrainingStartTime", "TrainingEndTime",
                 "Error", "Cause")


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


def _throttled() -> dict[str, Any]:
    """The Choice rule: an unmodelled error whose Cause says throttling, with creates left."""
    return {"And": [{"Variable": "$.error.Error", "StringEquals": UNMODELLED_ERROR},
                    {"Variable": "$.error.Cause", "IsPresent": True},
                    {"Or": [{"Variable": "$.error.Cause", "StringMatches": p} for p in THROTTLED_CAUSES]},
                    {"Variable": "$.retries.throttled", "NumericLessThan": MAX_THROTTLED}],
            "Next": BACK_OFF}


def _keeps_cause() -> dict[str, Any]:
    """The Choice rule: an error with a Cause that is not a job description, and this item may keep it."""
    return {"And": [{"Variable": "$.error.Cause", "IsPresent": True},
                    {"Not": {"Variable": "$.error.Cause", "StringMatches": JOB_DESCRIPTION_PATTERN}},
                    {"Variable": "$.index", "NumericLessThanPath": "$.causes_kept"}],
            "Next": TRIAL_ERROR}


def item_processor(*, role: str, mode: str) -> dict[str, Any]:
    """The Map's ItemProcessor, its input :data:`ITEM_SELECTOR`."""
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
            "Retry": copy.deepcopy(TRAINING_RETRY),
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": FAILED_WHY}],
            "Next": TIMES_REPORTED,
        }
    ceilings = ", ".join(str(s) for s in THROTTLED_WAITS)
    states.update({
        TIMES_REPORTED: {
            "Type": "Choice",
            "Choices": [{"And": [{"Variable": "$.job.TrainingStartTime", "IsPresent": True},
                                 {"Variable": "$.job.TrainingEndTime", "IsPresent": True}],
                         "Next": TRAINED}],
            "Default": TRAINED_WITHOUT_TIMES,
        },
        TRAINED: {"Type": "Pass", "Parameters": {
            **_COMPLETED, "TrainingStartTime.$": "$.job.TrainingStartTime",
            "TrainingEndTime.$": "$.job.TrainingEndTime"}, "End": True},
        TRAINED_WITHOUT_TIMES: {"Type": "Pass", "Parameters": dict(_COMPLETED), "End": True},
        FAILED_WHY: {
            "Type": "Choice",
            "Choices": [_throttled(), _keeps_cause()],
            "Default": JOB_FAILED,
        },
        BACK_OFF: {
            "Type": "Pass",
            "Comment": "Throttling reported as an unmodelled error: count it, and draw a jittered wait",
            "Parameters": {
                "throttled.$": "States.MathAdd($.retries.throttled, 1)",
                "seconds.$": f"States.MathRandom(1, States.ArrayGetItem(States.Array({ceilings}), "
                             "$.retries.throttled))"},
            "ResultPath": "$.retries",
            "Next": WAIT_THROTTLED,
        },
        WAIT_THROTTLED: {"Type": "Wait", "SecondsPath": "$.retries.seconds", "Next": CHOOSE_FIELDS},
        TRIAL_ERROR: {"Type": "Pass", "Parameters": {**_FAILED, "Cause.$": "$.error.Cause"}, "End": True},
        JOB_FAILED: {"Type": "Pass", "Comment": "A Cause that is the job's description (Evaluate describes "
                                                "the job instead of carrying it), or one beyond the "
                                                "generation's causes_kept",
                     "Parameters": dict(_FAILED), "End": True},
    })
    config = ({"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"} if mode == "DISTRIBUTED"
              else {"Mode": "INLINE"})
    return {"ProcessorConfig": config, "StartAt": CHOOSE_FIELDS, "States": states}
