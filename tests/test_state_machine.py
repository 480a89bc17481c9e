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
from typing import Any

import botocore.session
import pytest
from aws_fixtures import OBJECTIVE, accuracy, digits_request
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
from byohpo.aws.training import ALWAYS_PRESENT
from byohpo.handlers import FINISH_EVENTS
from state_machine import definition as sm_definition
from state_machine import training as sm_training

PLACEHOLDERS = {f"{name.lower()}_fn": "${" + name + "FunctionArn}" for name in FUNCTIONS}
DISTRIBUTED, INLINE = "DISTRIBUTED", "INLINE"


def build(**options: Any) -> dict[str, Any]:
    return state_machine.build_definition(**PLACEHOLDERS, **options)


def all_states(states: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state, those inside Map ItemProcessors too."""
    for name, state in states.items():
        yield name, state
        if state["Type"] == "Map":
            yield from all_states(state["ItemProcessor"]["States"])


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


def choose(choice: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    """The Next of an IsPresent/And/Not Choice over ``data`` (the subset of ASL the definition uses)."""
    def present(path: str) -> bool:
        node: Any = data
        for key in path.removeprefix("$.").split("."):
            if not isinstance(node, Mapping) or key not in node:
                return False
            node = node[key]
        return True

    def holds(rule: Mapping[str, Any]) -> bool:
        if "And" in rule:
            return all(holds(r) for r in rule["And"])
        if "Not" in rule:
            return not holds(rule["Not"])
        return present(rule["Variable"]) == rule["IsPresent"]

    return next((r["Next"] for r in choice["Choices"] if holds(r)), choice["Default"])


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

    check(definition)


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
    chooser = processor["States"][processor["StartAt"]]
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
        retried = {e for r in task["Retry"] for e in r["ErrorEquals"]}
        assert retried == set(state_machine.THROTTLING_ERRORS + state_machine.CAPACITY_ERRORS)
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
    assert train["ItemsPath"] == "$.trials" and train["ResultPath"] == "$.results"
    assert train["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                               "Next": "Finalize after error"}]
    config = train["ItemProcessor"]["ProcessorConfig"]
    if mode == DISTRIBUTED:
        assert config == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
        assert train["ToleratedFailurePercentage"] == 100 and train["Label"] == state_machine.MAP_LABEL
    else:
        assert config == {"Mode": "INLINE"} and "ToleratedFailurePercentage" not in train


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
    emulator = loop.fresh(SageMakerEmulator(known_metric))
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
        assert sent["Tags"] == [{"Key": "byohpo:run", "Value": run}]


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
    # What the Map handed Evaluate: small, the failed job's description dropped from its Cause.
    results = {r["trial_id"]: r for e in loop.evaluate_events() for r in e["results"]}
    assert set(results["g0000-t0001"]) == {"trial_id", "TrainingJobName", "Error"}
    assert results["g0000-t0001"]["Error"] == "States.TaskFailed"
    assert set(results["g0001-t0000"]) == {"trial_id", "TrainingJobName", "TrainingJobStatus"}
    assert set(results["g0000-t0000"]) == {"trial_id", "TrainingJobName", "TrainingJobStatus",
                                           "FinalMetricDataList"}
    events = loop.events(execution)
    assert len(events) == parent_events(mode, 3, 8, 1)
    if mode == INLINE:
        costs = state_machine.EVENT_COSTS[INLINE]
        assert map_bodies(events) == [2 * costs["succeeded_job"] + costs["failed_job"]] + [
            3 * costs["succeeded_job"]] * 2


def test_throttled_creates_are_retried_and_other_errors_caught(loop: Loop) -> None:
    emulator = loop.fresh(SageMakerEmulator(known_metric))
    emulator.fail_creates(
        ("SageMaker.ThrottlingException", "Rate exceeded"),
        ("SageMaker.AmazonSageMakerException", "Rate exceeded (Service: AmazonSageMaker; Status Code: "
                                               "400; Error Code: ThrottlingException)"),
        ("SageMaker.ResourceLimitExceededException", "The account-level service limit 'ml.m5.large for "
                                                     "training job usage' is 2 Instances"),
        # Not retried: a create that fails for good is caught, and the trial fails with its cause.
        ("SageMaker.ResourceInUseException", "Training job names must be unique within an account"))
    loop.harness.fail_invokes("byohpo-propose", "TooManyRequestsException")
    run = "sm-throttled"
    (execution,) = loop.run(digits_request(run, **limits(3, 1)))
    assert execution["status"] == "SUCCEEDED", execution
    trials = {t.trial_id: t for t in loop.trials(run)}
    first = trials["g0000-t0000"]
    assert first.status == "Failed" and "must be unique" in first.failure_reason
    later = [trials[f"g000{g}-t0000"] for g in (1, 2)]  # one trial per generation at parallelism 1
    assert [t.status for t in later] == ["Completed", "Completed"]
    assert [error for _, error in emulator.create_calls] == [
        "SageMaker.ThrottlingException", "SageMaker.AmazonSageMakerException",
        "SageMaker.ResourceLimitExceededException", "SageMaker.ResourceInUseException", None, None]
    assert {name for name, _ in emulator.create_calls[:4]} == {first.job_name}
    assert set(emulator.jobs) == {t.job_name for t in later}
    # Backoff with full jitter, below each retrier's interval: Lambda 2 s; throttling 5 s, then 10 s;
    # capacity 60 s.
    sleeps = loop.harness.retry_sleeps
    assert len(sleeps) == 4
    assert 0 <= sleeps[0] <= 2 and 0 <= sleeps[1] <= 5 and 0 <= sleeps[2] <= 10 and 0 <= sleeps[3] <= 60
    calls = [(i.function, i.error) for i in loop.harness.invocations if i.function == "byohpo-propose"]
    assert calls[:2] == [("byohpo-propose", "Lambda.TooManyRequestsException"), ("byohpo-propose", None)]


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


def test_sixty_jobs_run_at_once(loop: Loop) -> None:
    emulator = loop.fresh(SageMakerEmulator(known_metric, gate=60))
    run = "sm-sixty"
    (execution,) = loop.run(digits_request(run, **limits(60, 60)))
    assert execution["status"] == "SUCCEEDED", execution
    assert emulator.max_in_flight == 60  # beyond an inline Map's 40
    trials = loop.trials(run)
    assert len(trials) == 60 and all(t.status == "Completed" for t in trials)
    (event,) = loop.evaluate_events()
    assert len(json.dumps(event)) < 32 * 1024  # the Map's results, far below 256 KiB
    assert len(loop.events(execution)) == parent_events(DISTRIBUTED, 1, 60, 0)


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

def test_the_synthesized_definition_runs(loop: Loop) -> None:
    """The definition exactly as ``infra/`` deploys it (DefinitionString and DefinitionSubstitutions),
    each Lambda placeholder routed to the handler the stack gives that function."""
    stack_fixture = pytest.importorskip("stack_fixture", reason="aws-cdk-lib (and node) to synthesize")
    definition = stack_fixture.state_machine_definition()
    if "INTERIM" in definition.text:
        pytest.skip("the stack still builds infra/_interim_definition.py, not state_machine's")
    template = stack_fixture.synthesized().template
    values = {}
    for placeholder, value in definition.substitutions.items():
        handler = definition.handlers.get(placeholder)  # "byohpo.handlers.<module>.handler"
        values[placeholder] = (loop.harness.function_arn(function_name(handler.split(".")[-2])) if handler
                               else stack_fixture.resolve(value, template))
    machine = loop.harness.create_state_machine(definition.text, values, name="byohpo-synthesized")
    loop.fresh(SageMakerEmulator(known_metric))
    run = "sm-synthesized"
    (execution,) = loop.harness.run(machine, digits_request(run, **limits(4, 2)), name=f"{run}-1")
    assert execution["status"] == "SUCCEEDED", execution
    trials = loop.trials(run)
    assert len(trials) == 4 and all(t.status == "Completed" for t in trials)
