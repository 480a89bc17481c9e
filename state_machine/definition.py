"""The tuning loop as an Amazon States Language definition (JSONPath only: moto has no JSONata)::

    Start ─► Propose ─► Anything to train? ─► Train the generation (Map) ─► Evaluate ─► What next?
                ▲              └ no ─► Finalize ─► Done                       ├ next ─────────────┘
                │                                                             ├ wait ─► Wait ─► Evaluate
                │                                                             ├ finish ─► Finalize
                │                                                             └ continue_as_new ─►
                │                                                               Continue as new execution
    Propose, the Map, Evaluate and the continuation catch any error ─► Finalize after error ─► Run failed
    (Propose and Evaluate: ``RunClaimedError`` ─► Claimed by another execution, which drives the run now)

Between Start and Propose, ``Which tuner?`` sends a run of SageMaker's own tuner (``amt-*`` strategies:
Start's output has ``tuning``) down a branch of its own (:func:`tuning_states`)::

    Which tuner? ─► Tune with SageMaker (createHyperParameterTuningJob.sync) ─► Import ─► Tuning job over?
        └ other   └ Catch States.ALL ─► Import after a tuning error ───────┘     ├ finish ─► Finalize
          runs:                                                                ├ fail ─► Finalize after error
          Propose                  Wait for the tuning job ─► Import ◄── wait ─┤
                                                                               └ continue_as_new ─►

The Lambdas' events are the contract in ``byohpo.handlers``; the Map's iteration is in
:mod:`state_machine.training`.
"""

from __future__ import annotations

import copy
from typing import Any

from state_machine.training import ITEM_SELECTOR, TRAINING_RETRY, TRAINING_ROLE_PATH, item_processor

LAMBDA_RESOURCE = "arn:aws:states:::lambda:invoke"
START_EXECUTION_RESOURCE = "arn:aws:states:::states:startExecution"

#: Lambda's transient errors (the service's, and throttling of the invoke); a handler's own errors
#: are never retried: they are deterministic.
LAMBDA_ERRORS = ("Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                 "Lambda.ClientExecutionTimeoutException", "Lambda.TooManyRequestsException")
LAMBDA_RETRY = [{"ErrorEquals": list(LAMBDA_ERRORS), "IntervalSeconds": 2, "MaxAttempts": 6,
                 "BackoffRate": 2.0, "MaxDelaySeconds": 30, "JitterStrategy": "FULL"}]
START_EXECUTION_ERRORS = ("StepFunctions.AWSStepFunctionsException", "StepFunctions.SdkClientException",
                          "StepFunctions.ExecutionLimitExceededException")
START_EXECUTION_RETRY = [{"ErrorEquals": list(START_EXECUTION_ERRORS), "IntervalSeconds": 2,
                          "MaxAttempts": 6, "BackoffRate": 2.0, "MaxDelaySeconds": 60,
                          "JitterStrategy": "FULL"}]

#: Raised by a Lambda when another execution drives the run: this one stops without Finalize.
RUN_CLAIMED_ERROR = "RunClaimedError"
#: The error of an execution whose run ended Failed on an error it caught.
RUN_FAILED_ERROR = "RunFailed"

MAP_MODES = ("DISTRIBUTED", "INLINE")
#: Early stopping: the default first wait before each look at a watched job's log, and its bounds (a
#: Wait state takes up to 99999999 s; a watch of more than an hour between looks judges too late).
WATCH_SECONDS = 60
MIN_WATCH_SECONDS, MAX_WATCH_SECONDS = 1, 3600
#: The Map's label: Distributed Map child executions are named ``<state machine>/<label>:<id>``.
MAP_LABEL = "Trials"

START, PROPOSE, ANYTHING_TO_TRAIN, TRAIN = "Start", "Propose", "Anything to train?", "Train the generation"
EVALUATE, WHAT_NEXT, WAIT = "Evaluate", "What next?", "Wait for running jobs"
CONTINUE, CONTINUED = "Continue as new execution", "Continued as new execution"
FINALIZE, DONE = "Finalize", "Done"
FINALIZE_ERROR, RUN_FAILED, CLAIMED = "Finalize after error", "Run failed", "Claimed by another execution"

#: History events of the parent execution, by map mode: a generation (Propose, its Choice, the Map,
#: Evaluate, its Choice), each trial's Map iteration (0 in a Distributed Map: its child execution has
#: its own history), a ``wait`` round, Start with ExecutionStarted, and the end (Finalize or
#: StartExecution, Succeed, ExecutionSucceeded). Each state type writes the events the HistoryEvent
#: reference lists for it (https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html):
#: a Task ``<type>StateEntered``, TaskScheduled, TaskStarted, (TaskSubmitted for ``.sync``),
#: TaskSucceeded or TaskFailed, ``StateExited``; a Choice, Pass or Wait its Entered and Exited; a Map
#: MapStateEntered, MapStateStarted, MapStateSucceeded, MapStateExited, and MapRunStarted/Succeeded
#: in Distributed mode or MapIterationStarted/Succeeded per inline iteration. So a generation is
#: 5 + 2 + 4 (6) + 5 + 2, an inline iteration 2 + 2 + 6 + 2 + 2 (completed: Choice, Task, Choice,
#: Pass; failed, the same states), ``tests/test_state_machine.py`` derives them from the definition
#: and the documented events, and moto's histories agree. Every Lambda or SageMaker retry adds 3 more
#: (TaskScheduled, TaskStarted, TaskFailed), a throttled create's round 13 in an inline Map.
EVENT_COSTS: dict[str, dict[str, int]] = {
    "DISTRIBUTED": {"start": 8, "generation": 20, "succeeded_job": 0, "failed_job": 0, "wait": 9,
                    "finish": 8},
    "INLINE": {"start": 8, "generation": 18, "succeeded_job": 14, "failed_job": 14, "wait": 9,
               "finish": 8},
}


def lambda_task(function: str, payload: dict[str, Any], next_state: str, *,
                catch: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A Lambda invoke whose output is the handler's return value."""
    state: dict[str, Any] = {
        "Type": "Task", "Resource": LAMBDA_RESOURCE,
        "Parameters": {"FunctionName": function, "Payload": payload},
        "OutputPath": "$.Payload",
        "Retry": copy.deepcopy(LAMBDA_RETRY),
        "Next": next_state,
    }
    if catch:
        state["Catch"] = catch
    return state


def _keep_error(state: dict[str, Any]) -> dict[str, Any]:
    """Keep the state's input (with ``$.error``, for the Fail state) and Finalize's answer beside it."""
    del state["OutputPath"]
    return {**state, "ResultSelector": {"Payload.$": "$.Payload"}, "ResultPath": "$.finalized"}


def _catch_errors() -> list[dict[str, Any]]:
    """Propose and Evaluate: a lost claim stops quietly, anything else ends the run Failed (the state
    input has ``$.run``)."""
    return [{"ErrorEquals": [RUN_CLAIMED_ERROR], "ResultPath": "$.error", "Next": CLAIMED},
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": FINALIZE_ERROR}]


def build_definition(*, start_fn: str, propose_fn: str, evaluate_fn: str, finalize_fn: str, import_fn: str,
                     sagemaker_role_arn_path_or_value: str = TRAINING_ROLE_PATH,
                     map_mode: str = "DISTRIBUTED", wait_seconds: int = 60, watch_fn: str | None = None,
                     watch_seconds: int = WATCH_SECONDS) -> dict[str, Any]:
    """The state machine definition, a plain dict (``json.dumps`` it).

    Args:
        start_fn, propose_fn, evaluate_fn, finalize_fn, import_fn: the Lambdas' ARNs, as the caller will
            resolve them: CDK tokens, or ``${StartFunctionArn}``-style placeholders for
            ``DefinitionSubstitutions`` (Import settles ``amt-*`` runs: :func:`tuning_states`).
        watch_fn: the Watch Lambda's ARN (``byohpo.handlers.watch``), for early stopping
            (``TrainingJobEarlyStoppingType: "Auto"``): each Map iteration of such a run watches its job
            (:func:`state_machine.training.watched_states`). Distributed Map only. Without it, or in
            INLINE mode, Start refuses a request that asks for early stopping.
        watch_seconds: the first wait of a watched job before each look at its log (the Watch Lambda
            lengthens it as the job grows old; see ``byohpo.aws.watch``).
        sagemaker_role_arn_path_or_value: the training jobs' role: a JSONPath into the iteration's
            input (default ``$.training.RoleArn``, the request's ``RoleArn``, which Start checks against
            the roles the stack may pass, ``BYOHPO_PASSABLE_ROLES``), or a role ARN that every job gets
            whatever the request says. A fixed role is handed to Start as ``training_role``: Start then
            checks and reports that role, and the request's own ``RoleArn`` is not used.
        map_mode: ``DISTRIBUTED`` (default: any number of jobs at once, each trial a child execution
            with its own history, none of its events in the parent's) or ``INLINE`` (at most 40 at
            once; every iteration's 14 events go into the parent's history, so Evaluate's estimate must
            use the ``event_costs`` this definition passes it, :data:`EVENT_COSTS`).
        wait_seconds: the pause before Evaluate looks again at jobs adopted from an interrupted
            execution (Evaluate's ``wait``).
    """
    if map_mode not in MAP_MODES:
        raise ValueError(f"map_mode must be one of {', '.join(MAP_MODES)}, not {map_mode!r}")
    if isinstance(wait_seconds, bool) or not isinstance(wait_seconds, int) or wait_seconds < 1:
        raise ValueError(f"wait_seconds must be a positive integer, not {wait_seconds!r}")
    role = sagemaker_role_arn_path_or_value
    if not isinstance(role, str) or not role:
        raise ValueError("sagemaker_role_arn_path_or_value must be a JSONPath or a role ARN")
    if isinstance(watch_seconds, bool) or not isinstance(watch_seconds, int) \
            or not MIN_WATCH_SECONDS <= watch_seconds <= MAX_WATCH_SECONDS:
        raise ValueError(f"watch_seconds must be an integer from {MIN_WATCH_SECONDS} to {MAX_WATCH_SECONDS}, "
                         f"not {watch_seconds!r}")
    watching = watch_fn is not None and map_mode == "DISTRIBUTED"
    item_selector = copy.deepcopy(ITEM_SELECTOR)
    if watching:
        item_selector["watch.$"] = "$.jobs.watch"  # Propose: {"run": <name>} for Auto, else null

    train: dict[str, Any] = {
        "Type": "Map",
        "Comment": "One training job per trial, at most MaxParallelTrainingJobs at once; the results "
                   "replace the jobs Propose handed out, so the output never holds both (256 KiB)",
        "ItemsPath": "$.jobs.trials",
        "ItemSelector": item_selector,
        "MaxConcurrencyPath": "$.max_parallel",
        "ItemProcessor": item_processor(role=role, mode=map_mode, watch={
            "function": watch_fn, "seconds": watch_seconds} if watching else None),
        "ResultPath": "$.jobs",
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": FINALIZE_ERROR}],
        "Next": EVALUATE,
    }
    if map_mode == "DISTRIBUTED":
        # Each iteration catches every error it can, so a child execution fails only on what no Catch
        # handles (States.Runtime, a payload over its quota, a stop by hand); the generation goes on and
        # Evaluate settles that trial from SageMaker.
        train.update(Label=MAP_LABEL, ToleratedFailurePercentage=100)

    # $.jobs: the Map's results, or [] in Evaluate's own output when a Wait loops back to it.
    start_payload: dict[str, Any] = {"input.$": "$", "execution.$": "$$.Execution.Id"}
    if not role.startswith("$"):
        start_payload["training_role"] = role
    if watching:
        start_payload["early_stopping"] = {"watch_seconds": watch_seconds}
    evaluate_payload = {"run.$": "$.run", "generation.$": "$.generation", "results.$": "$.jobs",
                        "event_costs": dict(EVENT_COSTS[map_mode])}
    states: dict[str, Any] = {
        START: lambda_task(start_fn, start_payload, WHICH_TUNER),
        **tuning_states(import_fn, event_costs=EVENT_COSTS[map_mode], wait_seconds=wait_seconds),
        PROPOSE: lambda_task(propose_fn, {"run.$": "$.run"}, ANYTHING_TO_TRAIN, catch=_catch_errors()),
        ANYTHING_TO_TRAIN: {
            "Type": "Choice",
            "Choices": [{"Variable": "$.stop", "IsNull": False, "Next": FINALIZE}],
            "Default": TRAIN,
        },
        TRAIN: train,
        EVALUATE: lambda_task(evaluate_fn, evaluate_payload, WHAT_NEXT, catch=_catch_errors()),
        WHAT_NEXT: {
            "Type": "Choice",
            # No Default: an action this definition does not know fails the execution loudly.
            "Choices": [
                {"Variable": "$.action", "StringEquals": "next", "Next": PROPOSE},
                {"Variable": "$.action", "StringEquals": "wait", "Next": WAIT},
                {"Variable": "$.action", "StringEquals": "finish", "Next": FINALIZE},
                {"Variable": "$.action", "StringEquals": "continue_as_new", "Next": CONTINUE},
            ],
        },
        WAIT: {"Type": "Wait", "Seconds": wait_seconds, "Next": EVALUATE},
        CONTINUE: {
            "Type": "Task",
            "Comment": "Before the 25,000-event history limit: the same run, in a new execution",
            "Resource": START_EXECUTION_RESOURCE,
            "Parameters": {
                "StateMachineArn.$": "$$.StateMachine.Id",
                # Deterministic, so a retried StartExecution is idempotent; unique per execution, as
                # an execution may continue at the same generation as its predecessor did.
                "Name.$": "States.Format('{}-g{}-{}', $.run.name, $.generation, "
                          "States.Hash($$.Execution.Id, 'MD5'))",
                "Input": {"ContinueRun.$": "$.run.name", "PreviousExecution.$": "$$.Execution.Id"},
            },
            "ResultSelector": {"ExecutionArn.$": "$.ExecutionArn"},
            "ResultPath": "$.continued_as",
            "Retry": copy.deepcopy(START_EXECUTION_RETRY),
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": FINALIZE_ERROR}],
            "Next": CONTINUED,
        },
        CONTINUED: {"Type": "Succeed"},
        FINALIZE: lambda_task(finalize_fn, {"run.$": "$.run", "stop.$": "$.stop"}, DONE),
        DONE: {"Type": "Succeed"},
        FINALIZE_ERROR: _keep_error(lambda_task(finalize_fn, {"run.$": "$.run", "error.$": "$.error"},
                                                RUN_FAILED)),
        # A fixed error name: the caught one may be a reserved States.* name. The reason is
        # Finalize's: "<error>: <cause>", clipped.
        RUN_FAILED: {"Type": "Fail", "Error": RUN_FAILED_ERROR, "CausePath": "$.finalized.Payload.reason"},
        CLAIMED: {"Type": "Fail", "Error": RUN_CLAIMED_ERROR,
                  "Cause": "another execution drives this run now; this one stops without finalizing it"},
    }
    return {
        "Comment": "byohpo: propose a generation of trials, train them on SageMaker, evaluate, repeat",
        "StartAt": START,
        "States": states,
    }


# -- SageMaker's own tuner (amt-* strategies) -----------------------------------------------------

TUNING_RESOURCE = "arn:aws:states:::sagemaker:createHyperParameterTuningJob.sync"
WHICH_TUNER, TUNE = "Which tuner?", "Tune with SageMaker"
TUNE_WARM_STARTED = "Tune with SageMaker, warm-started"
IMPORT, IMPORT_AFTER_ERROR = "Import the tuning job", "Import after a tuning error"
TUNING_OVER, WAIT_TUNING = "Tuning job over?", "Wait for the tuning job"
#: The CreateHyperParameterTuningJob parameters Start's ``tuning`` always has (``byohpo.aws.amt``),
#: each passed as ``"<Field>.$": "$.tuning.<Field>"``; ``WarmStartConfig`` has no neutral value, so a
#: second task sends it, picked by ``Which tuner?`` with IsPresent (a JSONPath that finds nothing fails
#: the state with States.Runtime, which no Catch handles).
TUNING_FIELDS = ("HyperParameterTuningJobName", "HyperParameterTuningJobConfig", "TrainingJobDefinition",
                 "Tags")
OPTIONAL_TUNING_FIELDS = ("WarmStartConfig",)


def tuning_task(fields: tuple[str, ...]) -> dict[str, Any]:
    """CreateHyperParameterTuningJob.sync with ``fields`` from Start's ``tuning``. Its result (the tuning
    job's whole description) is cut to its status; any error, the job failing or being stopped included
    (``.sync`` fails the task then), goes to Import, which describes the job itself. Retried as a
    training job's create is, only when SageMaker throttles or lacks capacity: a retried create of a
    tuning job that exists collides (ResourceInUse), and Import then adopts the run's own."""
    return {
        "Type": "Task",
        "Resource": TUNING_RESOURCE,
        "Parameters": {f"{name}.$": f"$.tuning.{name}" for name in fields},
        "ResultSelector": {"HyperParameterTuningJobStatus.$": "$.HyperParameterTuningJobStatus"},
        "ResultPath": "$.tuned",
        "Retry": copy.deepcopy(TRAINING_RETRY),
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": IMPORT_AFTER_ERROR}],
        "Next": IMPORT,
    }


def tuning_states(import_fn: str, *, event_costs: dict[str, int], wait_seconds: int) -> dict[str, Any]:
    """The branch of an ``amt-*`` run, from ``Which tuner?`` (Start's output has ``tuning``: the
    tuning job's parameters) to Finalize; any other run goes on to Propose.

    Import (``byohpo.handlers.import_tuning``) answers ``finish`` (Finalize with ``stop``), ``fail``
    (Finalize after error with ``error``), ``wait`` (a tuning job adopted from an execution that ended
    still runs: Wait, then Import again) or ``continue_as_new`` (the waiting would outgrow the history).
    Each Import counts a generation's events (``event_costs``), more than a wait round uses."""
    payload = {"run.$": "$.run", "event_costs": dict(event_costs)}
    return {
        WHICH_TUNER: {
            "Type": "Choice",
            "Comment": "SageMaker's own tuner (amt-*): one tuning job; byohpo's strategies: the loop",
            "Choices": [
                {"Variable": "$.tuning.WarmStartConfig", "IsPresent": True, "Next": TUNE_WARM_STARTED},
                {"Variable": "$.tuning", "IsPresent": True, "Next": TUNE},
            ],
            "Default": PROPOSE,
        },
        TUNE: tuning_task(TUNING_FIELDS),
        TUNE_WARM_STARTED: tuning_task(TUNING_FIELDS + OPTIONAL_TUNING_FIELDS),
        IMPORT: lambda_task(import_fn, payload, TUNING_OVER, catch=_catch_errors()),
        IMPORT_AFTER_ERROR: lambda_task(import_fn, {**payload, "error.$": "$.error"}, TUNING_OVER,
                                        catch=_catch_errors()),
        TUNING_OVER: {
            "Type": "Choice",
            # No Default: an action this definition does not know fails the execution loudly.
            "Choices": [
                {"Variable": "$.action", "StringEquals": "finish", "Next": FINALIZE},
                {"Variable": "$.action", "StringEquals": "fail", "Next": FINALIZE_ERROR},
                {"Variable": "$.action", "StringEquals": "wait", "Next": WAIT_TUNING},
                {"Variable": "$.action", "StringEquals": "continue_as_new", "Next": CONTINUE},
            ],
        },
        WAIT_TUNING: {"Type": "Wait", "Seconds": wait_seconds, "Next": IMPORT},
    }
