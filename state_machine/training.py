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

Early stopping (``TrainingJobEarlyStoppingType: "Auto"``, Distributed Map only): Propose sets the
item's ``watch`` (``{"run": <name>}``, else null) and a Choice at the iteration's start sends a watched
trial to a Parallel state (:func:`watched_states`) of two branches. The first is the iteration above,
its states renamed (state names are unique in a whole state machine): the ``.sync`` task with its
Catch inside the branch, so that it always comes to a result. That result is recorded with one more
call of the Watch Lambda (the job's last log lines and its end), then carried out of the Parallel as
the ``Cause`` of a Fail state (``byohpo.Trained``): a Parallel ends only when all its branches have, and
a failing branch is the one way to stop the others ("If any branch fails, [...] the entire Parallel
state is considered to have failed and all its branches are stopped",
https://docs.aws.amazon.com/step-functions/latest/dg/state-parallel.html). The second branch is the
watch: Wait, then the Watch Lambda (the job's new log lines, its learning curve stored, the median
rule asked, StopTrainingJob when it says so), until the Lambda says there is nothing more to watch.
The Parallel's Catch turns the ``Cause`` back into the result, so a watched iteration ends with the
same result as any other, as soon as its job has ended. Nothing in the watch branch can fail it (every
error of the Watch Lambda is caught there and ends the watch), nor keep it waiting once the job has
ended or was never created.

Every poll writes 9 events into the child execution's history (Wait: entered, exited; the Lambda
task: entered, scheduled, started, succeeded, exited; the Choice: entered, exited), which holds 25,000
(https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html, "Maximum execution history
size"); SageMaker lets a job run 28 days (``MaxRuntimeInSeconds`` up to 2,419,200). The Watch Lambda
lengthens the wait as the job grows old and stops watching after ``byohpo.aws.watch.MAX_POLLS``
polls, long before either limit: see that module. An INLINE Map's iterations write into the parent's
history, so Start refuses ``Auto`` for a definition built with ``map_mode="INLINE"``.

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
from collections.abc import Mapping
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


#: The states that end the iteration with its result (each a Pass of :data:`RESULT_FIELDS`).
RESULT_STATES = (TRAINED, TRAINED_WITHOUT_TIMES, TRIAL_ERROR, JOB_FAILED)


def training_states(role: str, *, name: Any = None, finish: str | None = None) -> dict[str, Any]:
    """The iteration's training states: a task per combination of optional fields, the throttling
    loop, and the result Pass states (:data:`RESULT_STATES`), which end the iteration.

    Args:
        role: the training jobs' role (a JSONPath or an ARN).
        name: renames every state (``name(state) -> str``): the watched branch's copy.
        finish: instead of ending, the result states write the result to ``$.result`` and go here.
    """
    rename = name or (lambda state: state)
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
    if finish is not None:
        for result in RESULT_STATES:
            del states[result]["End"]
            states[result].update(ResultPath="$.result", Next=finish)
    if name is None:
        return states
    return {rename(key): _renamed(state, rename) for key, state in states.items()}


def _renamed(state: Mapping[str, Any], rename: Any) -> dict[str, Any]:
    """``state`` with every transition (Next, Default, a Choice's or a Catch's Next) renamed."""
    out = copy.deepcopy(dict(state))
    if "Next" in out and out["Next"] in _KNOWN:
        out["Next"] = rename(out["Next"])
    if "Default" in out:
        out["Default"] = rename(out["Default"])
    for rule in out.get("Choices", ()):
        rule["Next"] = rename(rule["Next"])
    for catcher in out.get("Catch", ()):
        catcher["Next"] = rename(catcher["Next"])
    return out


_KNOWN = {CHOOSE_FIELDS, TIMES_REPORTED, TRAINED, TRAINED_WITHOUT_TIMES, FAILED_WHY, BACK_OFF,
          WAIT_THROTTLED, JOB_FAILED, TRIAL_ERROR, *(train_state_name(f) for f in field_variants())}


def item_processor(*, role: str, mode: str, watch: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The Map's ItemProcessor, its input :data:`ITEM_SELECTOR` (and ``watch`` in Distributed mode).

    ``watch`` (Distributed mode only): ``{"function": <Watch Lambda ARN>, "seconds": <first wait>}``,
    to add the watched path for early stopping (:func:`watched_states`) behind a Choice at the start.
    """
    states = training_states(role)
    start = CHOOSE_FIELDS
    if watch is not None:
        if mode != "DISTRIBUTED":
            raise ValueError("early stopping watches jobs from a Distributed Map only: an inline Map's "
                             "iterations write every poll into the execution's own history")
        states.update(watched_states(role, watch["function"], watch["seconds"]))
        start = WATCH_OR_NOT
    config = ({"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"} if mode == "DISTRIBUTED"
              else {"Mode": "INLINE"})
    return {"ProcessorConfig": config, "StartAt": start, "States": states}


# -- early stopping: the watched iteration ---------------------------------------------------------

WATCH_OR_NOT = "Watch for early stopping?"
TRAIN_AND_WATCH = "Train and watch"
WATCHED_RESULT = "Result of the watched job"
RECORD_END = "Record the job's end"
TRAINED_FAIL = "Trained: stop watching"
START_WATCHING = "Start watching"
WAIT_TO_WATCH = "Wait to watch"
WATCH = "Watch the job"
KEEP_WATCHING = "Keep watching?"
STOP_WATCHING = "Stop watching"
#: The error that carries the training branch's result out of the Parallel, as its Cause.
TRAINED_ERROR = "byohpo.Trained"
LAMBDA_RESOURCE = "arn:aws:states:::lambda:invoke"
#: The Watch Lambda's transient errors, retried as the loop's other Lambdas' are.
WATCH_RETRY = [{"ErrorEquals": ["Lambda.ServiceException", "Lambda.AWSLambdaException",
                                "Lambda.SdkClientException", "Lambda.ClientExecutionTimeoutException",
                                "Lambda.TooManyRequestsException"],
                "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2.0, "MaxDelaySeconds": 30,
                "JitterStrategy": "FULL"}]


def watched_name(state: str) -> str:
    """A training state's name in the watched branch: ``Train watched: InputDataConfig + ...`` for a
    task (at most 77 characters of the 80 allowed), ``<name> (watched)`` for the others."""
    if state == train_state_name(()):
        return "Train watched"
    if state.startswith("Train with "):
        return "Train watched: " + state.removeprefix("Train with ")
    return f"{state} (watched)"


def _watch_payload(final: bool) -> dict[str, Any]:
    payload: dict[str, Any] = {"run.$": "$.watch.run", "trial_id.$": "$.trial.trial_id",
                               "job_name.$": "$.trial.job_name"}
    if final:
        payload["final"] = True
    else:
        payload["poll.$"] = "$.poll"
    return payload


def watched_states(role: str, function: str, seconds: int) -> dict[str, Any]:
    """The Choice that starts every Distributed Map iteration, and the watched path it leads to when
    Propose set the item's ``watch`` (see the module docstring)."""
    training = training_states(role, name=watched_name, finish=RECORD_END)
    training[RECORD_END] = {
        "Type": "Task", "Resource": LAMBDA_RESOURCE,
        "Comment": "The job's last log lines and its end, for the rule of the jobs still running",
        "Parameters": {"FunctionName": function, "Payload": _watch_payload(final=True)},
        "ResultPath": None, "Retry": copy.deepcopy(WATCH_RETRY),
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": TRAINED_FAIL}],
        "Next": TRAINED_FAIL}
    training[TRAINED_FAIL] = {
        "Type": "Fail", "Error": TRAINED_ERROR, "CausePath": "States.JsonToString($.result)",
        "Comment": "Not a failure: the one way to stop the watch branch and carry the result out"}
    watch = {
        START_WATCHING: {"Type": "Pass",
                         "Result": {"base": seconds, "seconds": seconds, "count": 0, "waited": 0},
                         "ResultPath": "$.poll", "Next": WAIT_TO_WATCH},
        WAIT_TO_WATCH: {"Type": "Wait", "SecondsPath": "$.poll.seconds", "Next": WATCH},
        WATCH: {
            "Type": "Task", "Resource": LAMBDA_RESOURCE,
            "Parameters": {"FunctionName": function, "Payload": _watch_payload(final=False)},
            "ResultSelector": {"base.$": "$.Payload.base", "seconds.$": "$.Payload.seconds",
                               "count.$": "$.Payload.count", "waited.$": "$.Payload.waited",
                               "done.$": "$.Payload.done"},
            "ResultPath": "$.poll", "Retry": copy.deepcopy(WATCH_RETRY),
            # An error of the watch never touches training: the job runs on, unwatched.
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.watch_error", "Next": STOP_WATCHING}],
            "Next": KEEP_WATCHING},
        KEEP_WATCHING: {
            "Type": "Choice",
            "Choices": [{"And": [{"Variable": "$.poll.done", "IsBoolean": True},
                                 {"Variable": "$.poll.done", "BooleanEquals": False},
                                 {"Variable": "$.poll.seconds", "IsNumeric": True}],
                         "Next": WAIT_TO_WATCH}],
            "Default": STOP_WATCHING},
        STOP_WATCHING: {"Type": "Succeed"},
    }
    return {
        WATCH_OR_NOT: {
            "Type": "Choice",
            "Comment": "TrainingJobEarlyStoppingType Auto: Propose set the item's watch",
            "Choices": [{"And": [{"Variable": "$.watch", "IsPresent": True},
                                 {"Variable": "$.watch", "IsNull": False}],
                         "Next": TRAIN_AND_WATCH}],
            "Default": CHOOSE_FIELDS},
        TRAIN_AND_WATCH: {
            "Type": "Parallel",
            "Comment": "The training job, and a watch of its log that stops it when the early-stopping "
                       "rule says so; the training branch's result comes out as its Fail's Cause",
            "Branches": [{"StartAt": watched_name(CHOOSE_FIELDS), "States": training},
                         {"StartAt": START_WATCHING, "States": watch}],
            "Catch": [{"ErrorEquals": [TRAINED_ERROR], "ResultPath": "$.trained", "Next": WATCHED_RESULT},
                      {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": JOB_FAILED}],
            # Never taken: the training branch always ends in its Fail state.
            "Next": JOB_FAILED},
        WATCHED_RESULT: {"Type": "Pass", "Parameters": {"result.$": "States.StringToJson($.trained.Cause)"},
                         "OutputPath": "$.result", "End": True},
    }
