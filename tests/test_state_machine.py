"""The state machine: its definition checked state by state, then executed by moto's Step Functions
interpreter with the real Lambda handlers in process and SageMaker played by
:class:`sfn_harness.SageMakerEmulator` (a job's metric is a known function of its hyperparameters).
"""

from __future__ import annotations

import itertools
import json
import math
import re
import time
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

import botocore.session
import pytest
from aws_fixtures import EXAMPLES, OBJECTIVE, accuracy, digits_request, xgboost_request
from map_iteration import choose
from sfn_harness import (
    FUNCTIONS,
    JobFate,
    Loop,
    SageMakerEmulator,
    byohpo_loop,
    function_name,
    map_bodies,
    prepare_definition,
)

import state_machine  # importable once sfn_harness has put the repository on sys.path
from byohpo import aws
from byohpo.aws.training import ALWAYS_PRESENT, iso_timestamp
from byohpo.handlers import FINISH_EVENTS
from state_machine import definition as sm_definition
from state_machine import training as sm_training

PLACEHOLDERS = {f"{name.lower()}_fn": "${" + name + "FunctionArn}" for name in FUNCTIONS}
DISTRIBUTED, INLINE = "DISTRIBUTED", "INLINE"


def build(**options: Any) -> dict[str, Any]:
    return state_machine.build_definition(**PLACEHOLDERS, **options)


def all_states(states: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state, those inside Map ItemProcessors and Parallel branches too."""
    for name, state in states.items():
        yield name, state
        if state["Type"] == "Map":
            yield from all_states(state["ItemProcessor"]["States"])
        for branch in state.get("Branches", ()):
            yield from all_states(branch["States"])


def all_strings(value: Any) -> Iterator[tuple[str, str]]:
    """Every (key, string value) pair in the definition."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            if isinstance(v, str):
                yield k, v
            yield from all_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from all_strings(v)


def targets(state: Mapping[str, Any]) -> list[str]:
    out = [state["Next"]] if "Next" in state else []
    out += [c["Next"] for c in state.get("Catch", [])]
    out += [c["Next"] for c in state.get("Choices", [])]
    out += [state["Default"]] if "Default" in state else []
    return out


# -- the definition --------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", [DISTRIBUTED, INLINE])
def test_every_state_is_reachable_and_every_transition_exists(mode: str) -> None:
    definition = json.loads(json.dumps(build(map_mode=mode)))
    assert len(json.dumps(definition)) < 1_048_576  # Step Functions' definition limit

    def check(block: Mapping[str, Any]) -> None:
        states = block["States"]
        seen, todo = set(), [block["StartAt"]]
        while todo:
            name = todo.pop()
            if name not in seen:
                assert name in states, f"transition to a missing state {name!r}"
                assert len(name) <= 80
                seen.add(name)
                todo += targets(states[name])
        assert seen == set(states), f"unreachable: {set(states) - seen}"
        for state in states.values():
            if state["Type"] == "Map":
                check(state["ItemProcessor"])
            for branch in state.get("Branches", ()):
                check(branch)

    check(definition)
    # State names are unique in the whole state machine, branches and ItemProcessors included.
    names = [name for name, _ in all_states(definition["States"])]
    assert len(names) == len(set(names))


def test_jsonpath_only_and_every_path_is_a_path() -> None:
    definition = build()
    text = json.dumps(definition)
    assert "JSONata" not in text and "{%" not in text
    for key, value in all_strings(definition):
        if key.endswith(".$") or key.endswith("Path"):
            assert value.startswith(("$", "States.")), (key, value)


def test_lambda_tasks_retry_transient_lambda_errors_only() -> None:
    states = build()["States"]
    lambdas = {n: s for n, s in all_states(states) if s.get("Resource") == sm_definition.LAMBDA_RESOURCE}
    assert {s["Parameters"]["FunctionName"] for s in lambdas.values()} == set(PLACEHOLDERS.values())
    for name, state in lambdas.items():
        (retry,) = state["Retry"]
        assert "Lambda.TooManyRequestsException" in retry["ErrorEquals"], name
        assert "States.ALL" not in retry["ErrorEquals"] and "States.TaskFailed" not in retry["ErrorEquals"]
        assert retry["JitterStrategy"] == "FULL" and retry["BackoffRate"] > 1 and retry["MaxDelaySeconds"]
    # Start refuses a request by failing (nothing to finalize); Finalize's own failure ends the execution.
    assert "Catch" not in lambdas["Start"] and "Catch" not in lambdas["Finalize"]
    for name in ("Propose", "Evaluate"):
        first, rest = lambdas[name]["Catch"]
        assert first["ErrorEquals"] == ["RunClaimedError"] and states[first["Next"]]["Type"] == "Fail"
        assert rest["ErrorEquals"] == ["States.ALL"] and rest["Next"] == "Finalize after error"


@pytest.mark.parametrize("role", [state_machine.TRAINING_ROLE_PATH, "arn:aws:iam::111122223333:role/fixed"])
def test_training_tasks_send_every_field_and_retry_only_before_a_job_exists(role: str) -> None:
    states = build(sagemaker_role_arn_path_or_value=role)["States"]
    processor = states["Train the generation"]["ItemProcessor"]
    tasks = {n: s for n, s in processor["States"].items() if s["Type"] == "Task"}
    assert len(tasks) == 2 ** len(state_machine.OPTIONAL_TRAINING_FIELDS)
    chooser = processor["States"][sm_training.CHOOSE_FIELDS]
    # Distributed mode: the watched branch of early stopping holds the same tasks, renamed.
    (parallel,) = [s for s in processor["States"].values() if s["Type"] == "Parallel"]
    watched = {n: s for n, s in parallel["Branches"][0]["States"].items() if s["Type"] == "Task"
               and s["Resource"].startswith("arn:aws:states:::sagemaker:")}
    assert {sm_training.watched_name(n): s["Parameters"] for n, s in tasks.items()} == {
        n: s["Parameters"] for n, s in watched.items()}
    for subset in sm_training.field_variants():
        training = {f: {} for f in state_machine.ALWAYS_PRESENT_TRAINING_FIELDS + subset}
        task = tasks[choose(chooser, {"training": training})]
        params = task["Parameters"]
        sent = {k.removesuffix(".$") for k in params}
        assert sent == set(state_machine.PER_TRIAL_FIELDS + state_machine.ALWAYS_PRESENT_TRAINING_FIELDS
                           + subset), subset
        # moto drops "RoleArn.$"; the definition must still carry it (or the fixed role)
        assert params.get("RoleArn.$" if role.startswith("$") else "RoleArn") == role
        # the static hyperparameters, and the trial's tuned ones over them
        assert params["HyperParameters.$"] == ("States.JsonMerge($.training.HyperParameters, "
                                               "$.trial.hyperparameters, false)")
        assert task["Resource"] == "arn:aws:states:::sagemaker:createTrainingJob.sync"
        # Only what a later create can get past: never SageMaker's unmodelled error, which validation
        # and access errors share with throttling (told apart by its Cause, see below).
        retried = {e for r in task["Retry"] for e in r["ErrorEquals"]}
        assert retried == set(state_machine.THROTTLING_ERRORS + state_machine.CAPACITY_ERRORS)
        assert "SageMaker.AmazonSageMakerException" not in retried and "States.ALL" not in retried
        assert all(r["JitterStrategy"] == "FULL" and r["MaxDelaySeconds"] for r in task["Retry"])
        assert task["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                                  "Next": sm_training.FAILED_WHY}]


def test_training_fields_match_what_propose_sends() -> None:
    model = botocore.session.get_session().get_service_model("sagemaker")
    create = set(model.operation_model("CreateTrainingJob").input_shape.members)
    definition = set(model.shape_for("HyperParameterTrainingJobDefinition").members)
    assert set(state_machine.SUPPORTED_TRAINING_FIELDS) <= create
    assert set(ALWAYS_PRESENT) == set(state_machine.ALWAYS_PRESENT_TRAINING_FIELDS)
    # Every field a request's training definition can carry reaches the job, or is byohpo's own.
    handled = {"DefinitionName", "TuningObjective", "HyperParameterRanges", "StaticHyperParameters",
               "HyperParameterTuningResourceConfig"}  # the last becomes ResourceConfig
    assert definition - handled <= set(state_machine.SUPPORTED_TRAINING_FIELDS)


@pytest.mark.parametrize("mode", [DISTRIBUTED, INLINE])
def test_the_map_runs_every_trial_at_the_requests_parallelism(mode: str) -> None:
    train = build(map_mode=mode)["States"]["Train the generation"]
    assert train["MaxConcurrencyPath"] == "$.max_parallel" and "MaxConcurrency" not in train
    # The results take the place of the jobs Propose handed out: the Map's output never holds both.
    assert train["ItemsPath"] == "$.jobs.trials" and train["ResultPath"] == "$.jobs"
    assert train["ItemSelector"] == {"trial.$": "$$.Map.Item.Value", "training.$": "$.jobs.training",
                                     "index.$": "$$.Map.Item.Index", "causes_kept.$": "$.causes_kept",
                                     "retries": {"throttled": 0},
                                     # early stopping's watch (Propose: {"run"} for Auto, else null)
                                     **({"watch.$": "$.jobs.watch"} if mode == DISTRIBUTED else {})}
    assert build(map_mode=mode)["States"]["Evaluate"]["Parameters"]["Payload"]["results.$"] == "$.jobs"
    assert train["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                               "Next": "Finalize after error"}]
    config = train["ItemProcessor"]["ProcessorConfig"]
    if mode == DISTRIBUTED:
        assert config == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
        assert train["ToleratedFailurePercentage"] == 100 and train["Label"] == state_machine.MAP_LABEL
    else:
        assert config == {"Mode": "INLINE"} and "ToleratedFailurePercentage" not in train


def test_a_throttled_create_named_as_an_unmodelled_error_is_told_apart_by_its_cause() -> None:
    processor = build()["States"]["Train the generation"]["ItemProcessor"]
    states = processor["States"]
    why = states[sm_training.FAILED_WHY]

    def after(error: str, cause: str | None, throttled: int = 0, index: int = 0, kept: int = 1) -> str:
        data = {"error": {"Error": error, **({"Cause": cause} if cause is not None else {})},
                "retries": {"throttled": throttled}, "index": index, "causes_kept": kept}
        return choose(why, data)

    rate = "Rate exceeded (Service: AmazonSageMaker; Status Code: 400; Error Code: ThrottlingException)"
    denied = ("User: arn:aws:sts::1:assumed-role/x is not authorized to perform: iam:PassRole (Service: "
              "AmazonSageMaker; Status Code: 400; Error Code: AccessDeniedException)")
    assert after("SageMaker.AmazonSageMakerException", rate) == sm_training.BACK_OFF
    assert after("SageMaker.AmazonSageMakerException", rate, throttled=sm_training.MAX_THROTTLED) \
        == sm_training.TRIAL_ERROR  # gave up: the cause is kept, Evaluate retries the trial later
    assert after("SageMaker.AmazonSageMakerException", denied) == sm_training.TRIAL_ERROR
    assert after("SageMaker.AmazonSageMakerException", denied, index=1) == sm_training.JOB_FAILED
    assert after("States.TaskFailed", '{"TrainingJobStatus": "Failed"}') == sm_training.JOB_FAILED
    assert after("States.Timeout", None) == sm_training.JOB_FAILED
    back_off = states[sm_training.BACK_OFF]
    assert back_off["ResultPath"] == "$.retries" and back_off["Next"] == sm_training.WAIT_THROTTLED
    assert states[sm_training.WAIT_THROTTLED] == {"Type": "Wait", "SecondsPath": "$.retries.seconds",
                                                 "Next": sm_training.CHOOSE_FIELDS}


def test_map_results_are_bounded_whatever_the_jobs_report() -> None:
    """Each result Pass state, fed the largest values its fields can hold (names of 63 characters,
    error names of 256, Step Functions' limit), fits Propose's budget per result; only a kept Cause
    is larger, bounded by its own budget."""
    from byohpo.handlers import CAUSE_BYTES, MAP_RESULT_BYTES

    processor = build()["States"]["Train the generation"]["ItemProcessor"]
    largest = {"trial": {"trial_id": "g9999-t9999", "job_name": "j" * 63},
               "job": {"TrainingJobName": "j" * 63, "TrainingJobStatus": "Completed",
                       "TrainingStartTime": 1.7123456789012e12, "TrainingEndTime": 1.7123456789012e12,
                       "FinalMetricDataList": [{"MetricName": "m" * 255, "Value": 1.0}] * 40,
                       "HyperParameters": {"x": "y" * 2500}},
               "error": {"Error": "E" * 256, "Cause": "c" * 32_768}}
    # (The watched iteration's result is one of these, carried out of its Parallel unchanged.)
    passes = {n: s for n, s in processor["States"].items() if s["Type"] == "Pass" and s.get("End")
              and n != sm_training.WATCHED_RESULT}
    assert set(passes) == {sm_training.TRAINED, sm_training.TRAINED_WITHOUT_TIMES, sm_training.TRIAL_ERROR,
                           sm_training.JOB_FAILED}
    for name, state in passes.items():
        result = {k.removesuffix(".$"): resolve_path(largest, v) for k, v in state["Parameters"].items()}
        assert set(result) <= set(sm_training.RESULT_FIELDS), name
        cause = len(json.dumps(result.pop("Cause", ""))) + len('"Cause": , ')
        assert len(json.dumps(result)) <= MAP_RESULT_BYTES, name
        assert cause <= CAUSE_BYTES, name


def resolve_path(data: Mapping[str, Any], path: str) -> Any:
    node: Any = data
    for key in path.removeprefix("$.").split("."):
        node = node[key]
    return node


def test_evaluate_knows_the_errors_the_definition_retries() -> None:
    from byohpo.aws import training as aws_training

    assert aws_training.THROTTLING_ERRORS == state_machine.THROTTLING_ERRORS
    assert aws_training.CAPACITY_ERRORS == state_machine.CAPACITY_ERRORS
    assert aws_training.UNMODELLED_ERROR == sm_training.UNMODELLED_ERROR


#: The history events each state type writes, from the HistoryEvent reference
#: (https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html): a state's
#: ``<type>StateEntered`` and ``<type>StateExited`` (each entered state exits unless the execution
#: fails there: https://docs.aws.amazon.com/step-functions/latest/dg/redrive-map-run.html), a task's
#: TaskScheduled, TaskStarted and TaskSucceeded or TaskFailed, and TaskSubmitted when it runs a job
#: (``.sync``, TaskSubmittedEventDetails: "a task submitted to a resource"); a Map's MapStateStarted
#: and MapStateSucceeded, with MapRunStarted/MapRunSucceeded in Distributed mode or
#: MapIterationStarted/MapIterationSucceeded per inline iteration; ExecutionStarted/Succeeded.
DOCUMENTED_EVENTS = {
    "Task": ("TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited"),
    "Task.sync": ("TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded",
                  "TaskStateExited"),
    "Choice": ("ChoiceStateEntered", "ChoiceStateExited"),
    "Pass": ("PassStateEntered", "PassStateExited"),
    "Wait": ("WaitStateEntered", "WaitStateExited"),
    "Succeed": ("SucceedStateEntered", "SucceedStateExited"),
    "Map.INLINE": ("MapStateEntered", "MapStateStarted", "MapStateSucceeded", "MapStateExited"),
    "Map.DISTRIBUTED": ("MapStateEntered", "MapStateStarted", "MapRunStarted", "MapRunSucceeded",
                        "MapStateSucceeded", "MapStateExited"),
    "Iteration": ("MapIterationStarted", "MapIterationSucceeded"),
    "Execution": ("ExecutionStarted", "ExecutionSucceeded"),
}


def documented(states: Mapping[str, Any], names: list[str], mode: str) -> int:
    """The events the states ``names`` write, one pass each, by their type."""
    total = 0
    for name in names:
        state = states[name]
        kind = state["Type"]
        if kind == "Task":
            kind += ".sync" if state["Resource"].endswith(".sync") else ""
        elif kind == "Map":
            kind += f".{mode}"
        total += len(DOCUMENTED_EVENTS[kind])
    return total


@pytest.mark.parametrize("mode", [DISTRIBUTED, INLINE])
def test_event_costs_are_the_documented_events_of_the_states_each_step_passes(mode: str) -> None:
    """EVENT_COSTS derived from the definition and the events AWS documents per state type, not from
    moto's histories (which the executions below compare with them as well)."""
    states = build(map_mode=mode)["States"]

    def path(start: str, stop: str, choose_next: Mapping[str, str] | None = None) -> list[str]:
        """The states from ``start`` to ``stop`` (included), following Next, Choice Defaults or
        ``choose_next``."""
        names, name = [], start
        while True:
            names.append(name)
            if name == stop:
                return names
            state = states[name]
            name = (choose_next or {}).get(name) or state.get("Next") or state.get("Default")

    generation = path("Propose", "What next?")
    assert [states[n]["Type"] for n in generation] == ["Task", "Choice", "Map", "Task", "Choice"]
    processor = states["Train the generation"]["ItemProcessor"]["States"]
    completed = [sm_training.CHOOSE_FIELDS, "Train", sm_training.TIMES_REPORTED, sm_training.TRAINED]
    failed = [sm_training.CHOOSE_FIELDS, "Train", sm_training.FAILED_WHY, sm_training.JOB_FAILED]
    assert [processor[n]["Type"] for n in completed] == ["Choice", "Task", "Choice", "Pass"]
    iteration = len(DOCUMENTED_EVENTS["Iteration"]) if mode == INLINE else 0
    expected = {
        "start": 1 + documented(states, ["Start", "Which tuner?"], mode),  # and ExecutionStarted
        "generation": documented(states, generation, mode),
        "succeeded_job": iteration and iteration + documented(processor, completed, mode),
        "failed_job": iteration and iteration + documented(processor, failed, mode),
        "wait": documented(states, ["Wait for running jobs", "Evaluate", "What next?"], mode),
        "finish": documented(states, ["Finalize", "Done"], mode) + 1,  # and ExecutionSucceeded
    }
    assert state_machine.EVENT_COSTS[mode] == expected


def test_continue_as_new_starts_the_same_state_machine() -> None:
    states = build()["States"]
    task = states["Continue as new execution"]
    assert task["Resource"] == "arn:aws:states:::states:startExecution"  # no .sync: fire and forget
    assert task["Parameters"]["StateMachineArn.$"] == "$$.StateMachine.Id"
    assert task["Parameters"]["Input"] == {"ContinueRun.$": "$.run.name",
                                           "PreviousExecution.$": "$$.Execution.Id"}
    assert states[task["Next"]]["Type"] == "Succeed"
    assert task["Catch"][0]["Next"] == "Finalize after error" and task["Retry"]
    name = task["Parameters"]["Name.$"]  # unique per execution, the same on a retry
    assert "$$.Execution.Id" in name and "$.run.name" in name and "UUID" not in name
    actions = {c["StringEquals"]: c["Next"] for c in states["What next?"]["Choices"]}
    assert actions == {"next": "Propose", "wait": "Wait for running jobs", "finish": "Finalize",
                       "continue_as_new": "Continue as new execution"}


def test_build_definition_refuses_bad_options() -> None:
    with pytest.raises(ValueError, match="map_mode"):
        build(map_mode="EXPRESS")
    with pytest.raises(ValueError, match="wait_seconds"):
        build(wait_seconds=0)
    with pytest.raises(ValueError, match="role"):
        build(sagemaker_role_arn_path_or_value="")


def test_prepare_definition_substitutes_and_works_around_moto() -> None:
    text = json.dumps(build())
    with pytest.raises(ValueError, match="StartFunctionArn"):
        prepare_definition(text, {})
    prepared = prepare_definition(text, {f"{n}FunctionArn": f"arn:{n}" for n in FUNCTIONS})
    assert '"RoleArn.$"' not in prepared and '"ToleratedFailurePercentage": 100.0' in prepared
    assert json.loads(prepared)["States"]["Start"]["Parameters"]["FunctionName"] == "arn:Start"


# -- executions ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def loop() -> Iterator[Loop]:
    definitions = {mode: json.dumps(build(map_mode=mode)) for mode in (DISTRIBUTED, INLINE)}
    with byohpo_loop(definitions) as running:
        yield running


def known_metric(params: Mapping[str, Any]) -> JobFate:
    return JobFate(metrics={OBJECTIVE: accuracy(params["HyperParameters"])}, polls=2)


def limits(jobs: int, parallel: int) -> dict[str, Any]:
    return {"ResourceLimits": {"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": parallel}}


def parent_events(mode: str, generations: int, succeeded: int, failed: int) -> int:
    costs = state_machine.EVENT_COSTS[mode]
    return (costs["start"] + generations * costs["generation"] + succeeded * costs["succeeded_job"]
            + failed * costs["failed_job"] + costs["finish"])


@pytest.mark.parametrize("mode", [DISTRIBUTED, INLINE])
def test_three_generations_find_the_best_trial(loop: Loop, mode: str) -> None:
    # Jobs stay in progress until three run at once: that many do, whatever the machine's load.
    emulator = loop.fresh(SageMakerEmulator(known_metric, gate=3))
    request = digits_request(f"sm-best-{mode.lower()}", **limits(9, 3))
    (execution,) = loop.run(request, mode)
    assert execution["status"] == "SUCCEEDED", execution
    out = json.loads(execution["output"])
    trials = loop.trials(request["HyperParameterTuningJobName"])
    assert len(trials) == 9 and {t.generation for t in trials} == {0, 1, 2}
    assert all(t.status == "Completed" for t in trials)
    best = max(trials, key=lambda t: t.values[OBJECTIVE])
    assert out["status"] == "Completed" and out["best"]["trial_id"] == best.trial_id
    assert math.isclose(best.values[OBJECTIVE], max(accuracy(t.hyperparameters) for t in trials))
    # Each job was created as the request says: its role (via "RoleArn.$"), channels, hyperparameters.
    definition = request["TrainingJobDefinition"]
    for trial in trials:
        job = loop.harness.client("sagemaker").describe_training_job(TrainingJobName=trial.job_name)
        assert job["RoleArn"] == definition["RoleArn"]
        assert job["InputDataConfig"][0]["ChannelName"] == "train"
        assert job["HyperParameters"] == trial.hyperparameters
    assert emulator.max_in_flight == 3  # MaxParallelTrainingJobs, through MaxConcurrencyPath
    events = loop.events(execution)
    assert len(events) == parent_events(mode, 3, 9, 0)
    if mode == INLINE:
        assert map_bodies(events) == [3 * state_machine.EVENT_COSTS[INLINE]["succeeded_job"]] * 3


@pytest.mark.parametrize("mode", [DISTRIBUTED, INLINE])
def test_evaluates_estimate_never_falls_short_of_the_history(loop: Loop, mode: str) -> None:
    loop.fresh(SageMakerEmulator(known_metric))
    (execution,) = loop.run(digits_request(f"sm-estimate-{mode.lower()}", **limits(6, 3)), mode)
    assert execution["status"] == "SUCCEEDED", execution
    (event,) = loop.evaluate_events()[-1:]
    assert event["event_costs"] == state_machine.EVENT_COSTS[mode]
    (answer,) = [i.result for i in loop.harness.invocations if i.function == "byohpo-evaluate"][-1:]
    assert answer["run"]["events"] + FINISH_EVENTS >= len(loop.events(execution))


def test_optional_training_fields_reach_the_job(loop: Loop) -> None:
    emulator = loop.fresh(SageMakerEmulator(known_metric))
    run = "sm-optional"
    request = digits_request(run, **limits(2, 2))
    optional = {"VpcConfig": {"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0123abcd"]},
                "CheckpointConfig": {"S3Uri": "s3://example-ml-data/checkpoints/"},
                "RetryStrategy": {"MaximumRetryAttempts": 2}}
    request["TrainingJobDefinition"].update(optional)
    (execution,) = loop.run(request)
    assert execution["status"] == "SUCCEEDED", execution
    trials = loop.trials(run)
    assert len(trials) == 2 and all(t.status == "Completed" for t in trials)
    for trial in trials:
        sent = emulator.jobs[trial.job_name].params
        assert {k: sent[k] for k in optional} == optional
        assert sent["InputDataConfig"] == request["TrainingJobDefinition"]["InputDataConfig"]
        assert sent["HyperParameters"] == trial.hyperparameters  # static batch_size and the tuned ones
        assert sent["Tags"] == [{"Key": "byohpo:run", "Value": run},
                                {"Key": "byohpo:stack", "Value": "byohpo-sfn-stack"}]


@pytest.mark.parametrize("mode", [DISTRIBUTED, INLINE])
def test_a_failed_job_is_recorded_and_the_run_goes_on(loop: Loop, mode: str) -> None:
    def fate(params: Mapping[str, Any]) -> JobFate:
        name, value = params["TrainingJobName"], accuracy(params["HyperParameters"])
        if name.endswith("-g0-t1"):
            return JobFate(status="Failed", failure_reason="AlgorithmError: out of memory", polls=1)
        if name.endswith("-g1-t0"):  # no FinalMetricDataList: Evaluate reads the job's log
            return JobFate(metrics=None, log_lines=("epoch 1: Validation-accuracy=0.5",
                                                    f"epoch 2: Validation-accuracy={value!r}"))
        return known_metric(params)

    loop.fresh(SageMakerEmulator(fate))
    run = f"sm-fail-{mode.lower()}"
    (execution,) = loop.run(digits_request(run, **limits(9, 3)), mode)
    assert execution["status"] == "SUCCEEDED", execution
    trials = {t.trial_id: t for t in loop.trials(run)}
    assert len(trials) == 9 and {t.generation for t in trials.values()} == {0, 1, 2}
    failed = trials["g0000-t0001"]
    assert failed.status == "Failed" and "out of memory" in failed.failure_reason
    from_logs = trials["g0001-t0000"]
    assert from_logs.status == "Completed"
    assert math.isclose(from_logs.values[OBJECTIVE], accuracy(from_logs.hyperparameters))
    assert sum(t.status == "Completed" for t in trials.values()) == 8
    # What the Map handed Evaluate: small, no metrics, the failed job's description dropped.
    results = {r["trial_id"]: r for e in loop.evaluate_events() for r in e["results"]}
    assert set(results["g0000-t0001"]) == {"trial_id", "TrainingJobName", "Error"}
    assert results["g0000-t0001"]["Error"] == "States.TaskFailed"
    assert {frozenset(r) for tid, r in results.items() if tid != "g0000-t0001"} == {frozenset(
        {"trial_id", "TrainingJobName", "TrainingJobStatus", "TrainingStartTime", "TrainingEndTime"})}
    # Trial times are SageMaker's, through the real iteration.
    sagemaker = loop.harness.client("sagemaker")
    for trial in trials.values():
        job = sagemaker.describe_training_job(TrainingJobName=trial.job_name)
        assert trial.started_at == iso_timestamp(job["TrainingStartTime"])
        assert trial.ended_at == iso_timestamp(job["TrainingEndTime"])
    events = loop.events(execution)
    assert len(events) == parent_events(mode, 3, 8, 1)
    if mode == INLINE:
        costs = state_machine.EVENT_COSTS[INLINE]
        assert map_bodies(events) == [2 * costs["succeeded_job"] + costs["failed_job"]] + [
            3 * costs["succeeded_job"]] * 2


THROTTLED = ("SageMaker.AmazonSageMakerException",
             "Rate exceeded (Service: AmazonSageMaker; Status Code: 400; Error Code: ThrottlingException)")
REFUSED = ("SageMaker.AmazonSageMakerException",
           "Could not assume role arn:aws:iam::123456789012:role/gone. Please ensure that the role exists "
           "and allows principal 'sagemaker.amazonaws.com' to assume the role. (Service: AmazonSageMaker; "
           "Status Code: 400; Error Code: ValidationException)")
CAPACITY = ("SageMaker.ResourceLimitExceededException",
            "The account-level service limit 'ml.m5.large for training job usage' is 2 Instances")


def test_only_errors_a_later_create_can_get_past_are_retried(loop: Loop) -> None:
    emulator = loop.fresh(SageMakerEmulator(known_metric))
    emulator.fail_creates(("SageMaker.ThrottlingException", "Rate exceeded"), THROTTLED, CAPACITY, None,
                          REFUSED)
    loop.harness.fail_invokes("byohpo-propose", "TooManyRequestsException")
    run = "sm-throttled"
    (execution,) = loop.run(digits_request(run, **limits(2, 1)))
    assert execution["status"] == "SUCCEEDED", execution
    first, second = loop.trials(run)
    # Throttled (by name, then by cause), out of instances: retried, then created.
    assert first.status == "Completed" and first.attempt == 0
    # A validation error: caught at once, its cause kept; no retry.
    assert second.status == "Failed" and second.failure_reason == f"{REFUSED[0]}: {REFUSED[1]}"
    assert [(name, error) for name, error in emulator.create_calls] == [
        (first.job_name, "SageMaker.ThrottlingException"), (first.job_name, THROTTLED[0]),
        (first.job_name, CAPACITY[0]), (first.job_name, None), (second.job_name, REFUSED[0])]
    # Backoff with full jitter, below each retrier's interval: Lambda 2 s; throttling 5 s; capacity
    # 60 s; the throttling told by its cause, a Wait of at most 5 s.
    sleeps = loop.harness.retry_sleeps
    assert len(sleeps) == 3 and 0 <= sleeps[0] <= 2 and 0 <= sleeps[1] <= 5 and 0 <= sleeps[2] <= 60
    assert len(loop.harness.wait_sleeps) == 1 and 1 <= loop.harness.wait_sleeps[0] <= 5
    calls = [(i.function, i.error) for i in loop.harness.invocations if i.function == "byohpo-propose"]
    assert calls[:2] == [("byohpo-propose", "Lambda.TooManyRequestsException"), ("byohpo-propose", None)]


def test_a_trial_sagemaker_has_no_instances_for_waits_for_a_later_attempt(loop: Loop) -> None:
    """The capacity retrier gives up (11 refusals): the trial is neither failed nor counted by the
    failure rule; it runs again under a new name, in the next round."""
    emulator = loop.fresh(SageMakerEmulator(known_metric))
    emulator.fail_creates(*[CAPACITY] * 11)
    run = "sm-capacity"
    request = digits_request(run, **limits(3, 1))
    request["HyperParameterTuningJobConfig"]["TuningJobCompletionCriteria"] = {"MaxFailedTrainingJobs": 1}
    (execution,) = loop.run(request)
    assert execution["status"] == "SUCCEEDED", execution
    trials = loop.trials(run)
    assert [t.status for t in trials] == ["Completed"] * 3
    waited = [t for t in trials if t.attempt == 1]
    assert len(waited) == 1 and waited[0].job_name.endswith("-a1") and waited[0].failure_reason is None
    assert json.loads(execution["output"])["stop_code"] == "MaxNumberOfTrainingJobs"
    refused = {name for name, error in emulator.create_calls if error == CAPACITY[0]}
    assert refused == {waited[0].job_name.removesuffix("-a1")}


def test_a_small_event_budget_continues_as_new_executions(loop: Loop,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # A Distributed Map generation costs the parent 20 events: 50 leaves room for one per execution.
    monkeypatch.setenv("BYOHPO_EVENT_BUDGET", "50")
    emulator = loop.fresh(SageMakerEmulator(known_metric))
    run = "sm-continued"
    chain = loop.run(digits_request(run, **limits(12, 3)))
    assert [d["status"] for d in chain] == ["SUCCEEDED"] * len(chain) and len(chain) >= 3
    for before, after in itertools.pairwise(chain):
        assert json.loads(after["input"]) == {"ContinueRun": run, "PreviousExecution": before["executionArn"]}
        assert re.fullmatch(rf"{run}-g\d+-[0-9a-f]{{32}}", after["name"])
    assert json.loads(chain[-1]["output"])["status"] == "Completed"
    trials = loop.trials(run)
    # No trial lost or duplicated: 12 trials, 4 generations, each job created once.
    assert sorted(t.trial_id for t in trials) == [f"g{g:04d}-t{i:04d}" for g in range(4) for i in range(3)]
    assert all(t.status == "Completed" and t.attempt == 0 for t in trials)
    assert sorted(name for name, _ in emulator.create_calls) == sorted(t.job_name for t in trials)
    for desc in chain:
        events = loop.events(desc)
        generations = sum(e["type"] == "MapStateEntered" for e in events)
        assert len(events) == parent_events(DISTRIBUTED, generations, 0, 0) <= 50


@pytest.mark.parametrize(("mode", "at_once"), [(DISTRIBUTED, 60), (INLINE, 40)])
def test_sixty_jobs_run_at_once_in_a_distributed_map_forty_in_an_inline_one(loop: Loop, mode: str,
                                                                            at_once: int) -> None:
    """An inline Map runs at most 40 iterations at once whatever MaxConcurrency says (the harness
    enforces it, as Step Functions does); a Distributed Map runs all 60."""
    emulator = loop.fresh(SageMakerEmulator(known_metric, gate=at_once))
    run = f"sm-sixty-{mode.lower()}"
    (execution,) = loop.run(digits_request(run, **limits(60, 60)), mode)
    assert execution["status"] == "SUCCEEDED", execution
    assert emulator.max_in_flight == at_once
    trials = loop.trials(run)
    assert len(trials) == 60 and all(t.status == "Completed" for t in trials)
    (event,) = loop.evaluate_events()
    assert len(json.dumps(event)) < 32 * 1024  # the Map's results, far below 256 KiB
    assert len(loop.events(execution)) == parent_events(mode, 1, 60, 0)


def test_an_interrupted_run_is_taken_over_and_its_running_jobs_waited_for(loop: Loop) -> None:
    def fate(params: Mapping[str, Any]) -> JobFate:
        hangs = "-g0-" in params["TrainingJobName"]  # until the test ends it
        return JobFate(metrics={OBJECTIVE: accuracy(params["HyperParameters"])}, polls=10**9 if hangs else 1)

    emulator = loop.fresh(SageMakerEmulator(fate))
    h, machine, run = loop.harness, loop.machines[DISTRIBUTED], "sm-takeover"
    request = digits_request(run, **limits(6, 3))
    first = h.start(machine, request, f"{run}-1")
    until(lambda: len(emulator.jobs) == 3)
    h.client("stepfunctions").stop_execution(executionArn=first)
    assert h.wait(first)["status"] == "ABORTED"
    second = h.start(machine, request, f"{run}-2")
    until(lambda: any(i.result and i.result.get("action") == "wait" for i in list(h.invocations)))
    for name in list(emulator.jobs):
        emulator.end(name, h.client("sagemaker"), h.client("logs"))
    chain = h.follow(second)
    assert [d["status"] for d in chain] == ["SUCCEEDED"] * len(chain)
    trials = loop.trials(run)
    # The three jobs of the interrupted generation adopted, not created again; the next generation ran.
    assert len(trials) == 6 and all(t.status == "Completed" and t.attempt == 0 for t in trials)
    assert sorted(name for name, _ in emulator.create_calls) == sorted(t.job_name for t in trials)
    waits = [e for e in loop.events(chain[0]) if e["type"] == "WaitStateEntered"]
    assert waits and h.wait_sleeps and set(h.wait_sleeps) == {60}


def until(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_an_error_the_loop_cannot_handle_ends_the_run_failed(loop: Loop) -> None:
    loop.fresh(SageMakerEmulator(known_metric))
    loop.harness.fail_invokes("byohpo-evaluate", "ResourceNotFoundException")  # not a transient error
    run = "sm-broken"
    (execution,) = loop.run(digits_request(run, **limits(3, 3)))
    assert execution["status"] == "FAILED" and execution["error"] == "RunFailed"
    assert "Lambda.ResourceNotFoundException" in execution["cause"]
    stored = aws.clients().store.get_run(run)
    assert stored.status == "Failed" and "Lambda.ResourceNotFoundException" in stored.reason


# -- the definition the CDK stack synthesizes ----------------------------------------------------

@pytest.fixture(scope="module")
def synthesized(loop: Loop) -> str:
    """A state machine of the definition exactly as ``infra/`` deploys it (DefinitionString and
    DefinitionSubstitutions), each Lambda placeholder routed to the handler the stack gives that
    function."""
    stack_fixture = pytest.importorskip("stack_fixture", reason="aws-cdk-lib (and node) to synthesize")
    definition = stack_fixture.state_machine_definition()
    template = stack_fixture.synthesized().template
    values = {}
    for placeholder, value in definition.substitutions.items():
        handler = definition.handlers.get(placeholder)  # "byohpo.handlers.<module>.handler"
        values[placeholder] = (loop.harness.function_arn(function_name(handler.split(".")[-2])) if handler
                               else stack_fixture.resolve(value, template))
    return loop.harness.create_state_machine(definition.text, values, name="byohpo-synthesized")


def test_the_synthesized_definition_runs(loop: Loop, synthesized: str) -> None:
    loop.fresh(SageMakerEmulator(known_metric))
    run = "sm-synthesized"
    (execution,) = loop.harness.run(synthesized, digits_request(run, **limits(4, 2)), name=f"{run}-1")
    assert execution["status"] == "SUCCEEDED", execution
    trials = loop.trials(run)
    assert len(trials) == 4 and all(t.status == "Completed" for t in trials)


def test_the_synthesized_definition_stops_a_job_early(loop: Loop, synthesized: str) -> None:
    """``TrainingJobEarlyStoppingType: "Auto"`` on the stack's own definition (its Watch function, its
    poll): the second job, worse at its first epoch than the first job's, is stopped there
    (``tests/test_early_stopping_aws.py`` has the cases)."""
    def fate(params: Mapping[str, Any]) -> JobFate:
        values = (0.1, 0.2, 0.3) if params["TrainingJobName"].endswith("-g1-t0") else (0.5, 0.6, 0.7)
        return JobFate(metrics=None, epochs=[f"Validation-accuracy={v}" for v in values])

    emulator = loop.fresh(SageMakerEmulator(fate))
    run = "sm-synthesized-auto"
    request = digits_request(run, TrainingJobEarlyStoppingType="Auto", **limits(2, 1))
    (execution,) = loop.harness.run(synthesized, request, name=f"{run}-1")
    assert execution["status"] == "SUCCEEDED", execution
    first, second = loop.trials(run)
    assert (first.status, first.values[OBJECTIVE]) == ("Completed", 0.7)
    assert (second.status, second.values[OBJECTIVE]) == ("Stopped", 0.1)
    assert second.failure_reason.startswith("EarlyStopped")
    assert emulator.stop_calls == [(second.job_name, None)]
    # The stack's poll (60 s), scaled down by the harness like every Wait.
    assert {i.event["poll"]["base"] for i in loop.harness.invocations
            if i.function == function_name("Watch") and "poll" in i.event} == {60}


def xgboost_auc(params: Mapping[str, Any]) -> JobFate:
    hp = params["HyperParameters"]
    value = 0.9 - (float(hp["eta"]) - 0.3) ** 2 - 0.001 * abs(int(hp["max_depth"]) - 6)
    return JobFate(metrics={"validation:auc": value})


def test_a_generation_of_500_trials_of_11_hyperparameters_keeps_every_state_under_256_kib(
        loop: Loop, synthesized: str, capsys: pytest.CaptureFixture[str]) -> None:
    """One generation of 500 trials of the blog's 11 XGBoost hyperparameters through the synthesized
    definition: the harness fails the execution with States.DataLimitExceeded if any state's input,
    Parameters, result or output passes 262,144 bytes; this prints the largest."""
    loop.fresh(SageMakerEmulator(xgboost_auc))
    run = "sm-five-hundred"
    request = xgboost_request(run, Strategy="random", StrategyConfig={"Seed": 11, "BatchSize": 500},
                              **limits(500, 100))
    (execution,) = loop.harness.run(synthesized, request, name=f"{run}-1", timeout=600)
    assert execution["status"] == "SUCCEEDED", execution
    (proposed,) = [i.result for i in loop.harness.invocations if i.function == "byohpo-propose"][:1]
    assert len(proposed["jobs"]["trials"]) == 500
    assert len(proposed["jobs"]["trials"][0]["hyperparameters"]) == 11
    trials = loop.trials(run)
    assert len(trials) == 500 and all(t.status == "Completed" and t.values for t in trials)
    sizes = loop.harness.payload_sizes.largest
    where, largest = loop.harness.payload_sizes.top()
    with capsys.disabled():
        print(f"\n  largest state payload of 500 trials x 11 hyperparameters: {largest:,} bytes "
              f"({largest / 262_144:.1%} of 256 KiB), {where}")
        for key in ("Propose: output", "Train the generation: output", "Evaluate: parameters"):
            print(f"    {key:32s} {sizes[key]:9,d} bytes")
    assert largest <= 262_144
    assert sizes["Train the generation: output"] < sizes["Propose: output"]  # the jobs replaced


def test_the_same_request_against_an_empty_table_trains_its_own_jobs_and_adopts_none(
        loop: Loop, synthesized: str) -> None:
    """cdk destroy + deploy (or a second stack) with the same request: the table is new, SageMaker
    still has the first run's jobs. The second run trains jobs of its own, under names of its own."""
    run = "sm-again"
    request = digits_request(run, **limits(6, 3))
    first = loop.fresh(SageMakerEmulator(known_metric))
    (execution,) = loop.harness.run(synthesized, request, name=f"{run}-1")
    assert execution["status"] == "SUCCEEDED", execution
    before = {t.job_name: t for t in loop.trials(run)}

    loop.empty_table()
    second = loop.fresh(SageMakerEmulator(lambda params: JobFate(metrics={OBJECTIVE: 0.5})))
    (execution,) = loop.harness.run(synthesized, request, name=f"{run}-2")
    assert execution["status"] == "SUCCEEDED", execution
    after = loop.trials(run)
    assert len(after) == 6 and all(t.status == "Completed" for t in after)
    # Every job of the second run was created by it, none refused, none of the first run's names.
    assert [error for _, error in second.create_calls] == [None] * 6
    assert {t.job_name for t in after} == set(second.jobs) and not set(second.jobs) & set(before)
    assert all(t.values == {OBJECTIVE: 0.5} for t in after)  # its own jobs' metric, no first-run value
    assert set(first.jobs) == set(before)


def test_a_job_of_the_same_name_from_before_the_run_is_never_adopted(loop: Loop, synthesized: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Were the names to collide anyway (the same token drawn, or runs made before tokens), the jobs
    SageMaker has under them are not this run's: created before it. Each trial trains again under
    its next attempt's name, and records its own job's metric."""
    from byohpo.handlers import start

    monkeypatch.setattr(start, "new_run_token", lambda: "same01")
    run = "sm-collide"
    request = digits_request(run, **limits(3, 3))
    loop.fresh(SageMakerEmulator(known_metric))
    (execution,) = loop.harness.run(synthesized, request, name=f"{run}-1")
    assert execution["status"] == "SUCCEEDED", execution
    old = {t.job_name for t in loop.trials(run)}
    assert all("-same01-g0-" in name for name in old)
    from moto.sagemaker.models import sagemaker_backends

    for name in old:  # SageMaker's record: those jobs are an hour old by the time the table is new
        job = sagemaker_backends["123456789012"]["us-east-1"].training_jobs[name]
        job.creation_time -= timedelta(hours=1)

    loop.empty_table()
    emulator = loop.fresh(SageMakerEmulator(lambda params: JobFate(metrics={OBJECTIVE: 0.25})))
    (execution,) = loop.harness.run(synthesized, request, name=f"{run}-2")
    assert execution["status"] == "SUCCEEDED", execution
    trials = loop.trials(run)
    assert [(t.status, t.attempt, t.values) for t in trials] == [("Completed", 1, {OBJECTIVE: 0.25})] * 3
    assert {t.job_name for t in trials} == {f"{name}-a1" for name in old}
    assert sorted((str(e) for _, e in emulator.create_calls)) == ["None"] * 3 + ["ResourceInUse"] * 3


def test_a_failed_distributed_map_child_does_not_fail_the_run(loop: Loop) -> None:
    """A child execution that fails on what no Catch handles (here its job's description passes the
    payload quota) returns no trial_id; Evaluate settles that trial from SageMaker."""
    def fate(params: Mapping[str, Any]) -> JobFate:
        value = accuracy(params["HyperParameters"])
        if params["TrainingJobName"].endswith("-g0-t1"):
            noise = {f"debug:{i:04d}" + "x" * 60: 0.5 for i in range(3000)}
            return JobFate(metrics={OBJECTIVE: value, **noise})
        return JobFate(metrics={OBJECTIVE: value})

    loop.fresh(SageMakerEmulator(fate))
    run = "sm-child"
    (execution,) = loop.run(digits_request(run, **limits(6, 3)), DISTRIBUTED)
    assert execution["status"] == "SUCCEEDED", execution
    first = loop.evaluate_events()[0]["results"]
    assert sum(1 for r in first if not (isinstance(r, dict) and "trial_id" in r)) == 1
    trials = {t.trial_id: t for t in loop.trials(run)}
    assert len(trials) == 6 and all(t.status == "Completed" for t in trials.values())
    child = trials["g0000-t0001"]
    assert child.values[OBJECTIVE] == pytest.approx(accuracy(child.hyperparameters))


def test_the_ga_example_runs_at_most_max_parallel_jobs_at_once(loop: Loop) -> None:
    """The GA example proposes generations of 6 and runs 2 at a time (MaxParallelTrainingJobs)."""
    request = json.loads((EXAMPLES / "digits" / "ga.json").read_text())
    request["HyperParameterTuningJobName"] = "sm-ga-example"
    request["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 12
    # Jobs stay in progress until all six of a generation run at once, or 3 s have passed: with
    # MaxConcurrency at 2, two do; handed 6, six would.
    emulator = loop.fresh(SageMakerEmulator(lambda params: JobFate(
        metrics={OBJECTIVE: accuracy({"activation": "relu", **params["HyperParameters"]})}, polls=1),
        gate=6, gate_seconds=3.0))
    (execution,) = loop.run(request)
    assert execution["status"] == "SUCCEEDED", execution
    proposed = [i.result for i in loop.harness.invocations if i.function == "byohpo-propose" and i.result]
    assert len(proposed[0]["jobs"]["trials"]) == 6 and proposed[0]["max_parallel"] == 2
    assert emulator.max_in_flight == 2


def test_every_job_carries_its_run_and_stack_tags_within_sagemakers_fifty(loop: Loop) -> None:
    emulator = loop.fresh(SageMakerEmulator(known_metric))
    run = "sm-tags"
    request = digits_request(run, **limits(2, 2))
    request["Tags"] = [{"Key": f"team:{i}", "Value": "ml"} for i in range(48)]
    (execution,) = loop.run(request)
    assert execution["status"] == "SUCCEEDED", execution
    sagemaker = loop.harness.client("sagemaker")
    for trial in loop.trials(run):
        arn = sagemaker.describe_training_job(TrainingJobName=trial.job_name)["TrainingJobArn"]
        tags = sagemaker.list_tags(ResourceArn=arn)["Tags"]
        assert len(tags) == 50 and tags[-2:] == [{"Key": "byohpo:run", "Value": run},
                                                 {"Key": "byohpo:stack", "Value": "byohpo-sfn-stack"}]
    assert [e for _, e in emulator.create_calls] == [None, None]
