"""The Lambda handlers driven one by one, as the state machine drives them, on moto: Start -> (Propose ->
Map -> Evaluate)* -> Finalize, the Map being ``aws_fixtures.run_map``: the synthesized definition's
Map iteration run in process, its jobs created in moto, their metrics a known function of the
hyperparameters."""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest
from aws_fixtures import (
    BUCKET,
    CAUGHT_CAUSE,
    DATA,
    OBJECTIVE,
    STACK,
    AwsEnv,
    accuracy,
    digits_request,
    dynamodb_store,
    execution_arn,
    moto_aws,
    run_map,
    write_training_log,
    xgboost_request,
)
from moto.sagemaker.models import sagemaker_backends

from byohpo.aws import ConfigurationError
from byohpo.aws.training import RETRY_LATER_ATTEMPTS, iso_timestamp
from byohpo.errors import ValidationError
from byohpo.handlers import (
    FAILED_JOB_EVENTS,
    GENERATION_EVENTS,
    START_EVENTS,
    SUCCEEDED_JOB_EVENTS,
    WAIT_EVENTS,
    PayloadTooLargeError,
    evaluate,
    finalize,
    propose,
    start,
)
from byohpo.leaderboard import Leaderboard, request_info, summary
from byohpo.store.base import RunClaimedError, RunNotFoundError

NO_CRITERIA = {"TuningJobCompletionCriteria": {"MaxFailedTrainingJobs": 10}}

@pytest.fixture
def aws_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsEnv]:
    with moto_aws(monkeypatch, getattr(request, "param", "dynamodb")) as env:
        yield env



def limits(jobs: int, parallel: int) -> dict[str, Any]:
    return {"ResourceLimits": {"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": parallel}}


class Driver:
    """The state machine's loop, state by state, recording every state's output."""

    def __init__(self, env: AwsEnv, execution: str = "exec-1", **map_options: Any) -> None:
        self.env = env
        self.execution = execution_arn(execution)
        self.map_options = map_options
        self.outputs: dict[str, list[Any]] = {"start": [], "propose": [], "map": [], "evaluate": [],
                                              "finalize": []}
        self.continuations = 0

    def start(self, execution_input: Any) -> dict[str, Any]:
        out = start.handler({"input": execution_input, "execution": self.execution}, None)
        self.outputs["start"].append(out)
        return out["run"]

    def run(self, execution_input: Any, *, max_rounds: int = 100) -> dict[str, Any]:
        ctx = self.start(execution_input)
        for _ in range(max_rounds):
            proposed = propose.handler({"run": ctx}, None)
            self.outputs["propose"].append(proposed)
            if proposed["stop"] is not None:
                return self.finalize(proposed["run"], proposed["stop"])
            results = run_map(self.env, proposed, **self.map_options)
            self.outputs["map"].append(results)
            answer = evaluate.handler({"run": proposed["run"], "generation": proposed["generation"],
                                       "results": results}, None)
            self.outputs["evaluate"].append(answer)
            if answer["action"] == "finish":
                return self.finalize(answer["run"], answer["stop"])
            if answer["action"] == "continue_as_new":
                previous, self.continuations = self.execution, self.continuations + 1
                self.execution = execution_arn(f"exec-1-continued-{self.continuations}")
                ctx = self.start({"ContinueRun": ctx["name"], "PreviousExecution": previous})
            else:
                assert answer["action"] == "next", answer
                ctx = answer["run"]
        raise AssertionError(f"no end after {max_rounds} generations")

    def finalize(self, ctx: Mapping[str, Any], stop: Mapping[str, Any]) -> dict[str, Any]:
        out = finalize.handler({"run": ctx, "stop": stop}, None)
        self.outputs["finalize"].append(out)
        return out


def completed_best(env: AwsEnv, name: str) -> str:
    """The completed trial with the highest accuracy, recomputed from its hyperparameters."""
    done = [t for t in env.store.get_trials(name) if t.status == "Completed" and t.values]
    return max(done, key=lambda t: (accuracy(t.hyperparameters), -t.generation, -t.index)).trial_id


# -- a whole run -----------------------------------------------------------------------------------

@pytest.mark.parametrize("aws_env", ["dynamodb", "sqlite"], indirect=True)
def test_a_run_of_several_generations_completes_with_the_best_trial(aws_env: AwsEnv) -> None:
    raw = digits_request(Strategy="random", StrategyConfig={"Seed": 3}, **limits(12, 3), **NO_CRITERIA)
    driver = Driver(aws_env)
    final = driver.run(raw)

    # Four generations of 3; after the fourth, Evaluate finds the budget spent.
    assert [p["generation"] for p in driver.outputs["propose"]] == [0, 1, 2, 3]
    assert [e["action"] for e in driver.outputs["evaluate"]] == ["next", "next", "next", "finish"]
    trials = aws_env.store.get_trials("digits-handlers")
    assert len(trials) == 12 and all(t.status == "Completed" for t in trials)
    for t in trials:  # the metric recorded is the one the job reported for these hyperparameters
        assert t.values[OBJECTIVE] == pytest.approx(accuracy(t.hyperparameters))
        assert t.started_at and t.ended_at
    assert final["status"] == "Completed" and final["stop_code"] == "MaxNumberOfTrainingJobs"
    assert final["best"]["trial_id"] == completed_best(aws_env, "digits-handlers")
    run = aws_env.store.get_run("digits-handlers")
    assert run.status == "Completed" and run.owner is None and run.version == 4


def test_jobs_are_created_from_the_shared_fields_and_each_trials_hyperparameters(aws_env: AwsEnv) -> None:
    raw = digits_request(Strategy="random", **limits(3, 3), **NO_CRITERIA)
    driver = Driver(aws_env)
    ctx = driver.start(raw)
    proposed = propose.handler({"run": ctx}, None)
    run_map(aws_env, proposed)
    token = aws_env.store.get_run("digits-handlers").token
    assert len(token) == 6 and token.isalnum()
    for item in proposed["jobs"]["trials"]:
        job = aws_env.sagemaker.describe_training_job(TrainingJobName=item["job_name"])
        # The static ones travel once, in the shared fields.
        assert job["HyperParameters"] == {"batch_size": "100", **item["hyperparameters"]}
        assert set(item["hyperparameters"]) == {"learning_rate", "num_epoch", "activation"}
        assert job["RoleArn"] == raw["TrainingJobDefinition"]["RoleArn"]
        assert job["InputDataConfig"] == raw["TrainingJobDefinition"]["InputDataConfig"]
        assert job["ResourceConfig"] == raw["TrainingJobDefinition"]["ResourceConfig"]
        tags = aws_env.sagemaker.list_tags(ResourceArn=job["TrainingJobArn"])["Tags"]
        assert tags[-2:] == [{"Key": "byohpo:run", "Value": "digits-handlers"},
                             {"Key": "byohpo:stack", "Value": STACK}]
    assert [t["job_name"] for t in proposed["jobs"]["trials"]] == [
        f"digits-handlers-{token}-g0-t{i}" for i in range(3)]
    assert proposed["max_parallel"] == 3


def test_failed_jobs_are_recorded_with_their_reasons_and_the_run_goes_on(aws_env: AwsEnv) -> None:
    # One trial in five fails (the third of each generation of 5), two ways in turn: the job fails (the
    # .sync task fails with the job's description as its Cause, which the Map drops), and SageMaker
    # refuses the create with a validation error (caught at once, its cause kept).
    kinds = ["failed", "caught"]

    def fate(item: Mapping[str, Any]) -> str | None:
        generation, index = int(item["trial_id"][1:5]), int(item["trial_id"][-4:])
        return kinds[generation % 2] if index == 2 else None

    raw = digits_request(Strategy="random", StrategyConfig={"Seed": 5, "BatchSize": 5},
                         **limits(20, 5), **NO_CRITERIA)
    driver = Driver(aws_env, fate=fate)
    final = driver.run(raw)

    trials = aws_env.store.get_trials("digits-handlers")
    assert len(trials) == 20 and len(driver.outputs["propose"]) == 4
    failed = [t for t in trials if t.status == "Failed"]
    assert [t.trial_id for t in failed] == [f"g{g:04d}-t0002" for g in range(4)]
    reasons = [t.failure_reason for t in failed]
    assert reasons[0] == "AlgorithmError: trial g0000-t0002 ran out of memory"
    assert reasons[1] == f"SageMaker.AmazonSageMakerException: {CAUGHT_CAUSE}"
    assert reasons[2] == "AlgorithmError: trial g0002-t0002 ran out of memory"
    assert reasons[3] == reasons[1]
    assert all(t.values is None for t in failed)
    # What every strategy is given: the failures are in the history, as Failed.
    history = aws_env.store.history("digits-handlers")
    assert [i for i, t in enumerate(history) if t.status == "Failed"] == [2, 7, 12, 17]
    assert final["status"] == "Completed"
    assert final["best"]["trial_id"] == completed_best(aws_env, "digits-handlers")
    # Each generation's events: 16 + 8 per completed job + 10 per failed one.
    assert driver.outputs["evaluate"][0]["run"]["events"] == (
        START_EVENTS + GENERATION_EVENTS + 4 * SUCCEEDED_JOB_EVENTS + FAILED_JOB_EVENTS)


def test_a_genetic_algorithm_goes_on_through_failures(aws_env: AwsEnv) -> None:
    """A replaying strategy sees the failed trials (worst fitness) and still evolves."""
    raw = digits_request(Strategy="ga", StrategyConfig={"Seed": 5, "PopulationSize": 5},
                         **limits(20, 5), **NO_CRITERIA)
    driver = Driver(aws_env, fate=lambda item: "caught" if item["trial_id"].endswith("2") else None)
    final = driver.run(raw)
    trials = aws_env.store.get_trials("digits-handlers")
    assert len(trials) == 20 and len(driver.outputs["propose"]) > 3
    assert {t.status for t in trials if t.index == 2} == {"Failed"}
    assert final["status"] == "Completed" and final["stop_code"] == "MaxNumberOfTrainingJobs"


@pytest.mark.parametrize("aws_env", ["sqlite"], indirect=True)  # the rule, not the store, is under test
def test_a_run_in_which_no_job_succeeded_fails_with_the_likely_cause(aws_env: AwsEnv) -> None:
    # The budget runs out before MaxFailedTrainingJobs: the run still failed, whichever rule ended it.
    raw = digits_request(Strategy="random", StrategyConfig={"Seed": 5}, **limits(4, 2), **NO_CRITERIA)
    final = Driver(aws_env, fate=lambda item: "failed").run(raw)
    assert (final["status"], final["stop_code"]) == ("Failed", "MaxNumberOfTrainingJobs")
    assert final["reason"] == (
        "4 training jobs finished, the limit is MaxNumberOfTrainingJobs=4; no training job succeeded. "
        "Likely cause: all 4 failed in the training script, the first with: AlgorithmError: trial "
        "g0000-t0000 ran out of memory")
    assert aws_env.store.get_run("digits-handlers").status == "Failed"


# -- retries and concurrency ---------------------------------------------------------------------

def test_a_retried_propose_writes_one_generation_and_answers_the_same(aws_env: AwsEnv) -> None:
    raw = digits_request(Strategy="ga", StrategyConfig={"Seed": 1, "PopulationSize": 4},
                         **limits(12, 4), **NO_CRITERIA)
    ctx = Driver(aws_env).start(raw)
    first = propose.handler({"run": ctx}, None)
    second = propose.handler({"run": ctx}, None)
    assert second == first
    assert json.dumps(second, sort_keys=True) == json.dumps(first, sort_keys=True)
    assert len(aws_env.store.get_trials("digits-handlers")) == 4
    assert aws_env.store.get_run("digits-handlers").version == 1
    # From another Lambda process (a fresh store object), still the same.
    assert propose.propose({"run": ctx}, store=dynamodb_store(aws_env)) == first


def test_a_retried_evaluate_records_nothing_twice_and_answers_the_same(aws_env: AwsEnv) -> None:
    raw = digits_request(Strategy="random", **limits(6, 3), **NO_CRITERIA)
    ctx = Driver(aws_env).start(raw)
    proposed = propose.handler({"run": ctx}, None)
    event = {"run": proposed["run"], "generation": 0, "results": run_map(aws_env, proposed)}
    first = evaluate.handler(event, None)
    stored = aws_env.store.get_trials("digits-handlers")
    # Meanwhile SageMaker's record of a job changes (a metric revised): a retry must not read it again.
    backend = sagemaker_backends["123456789012"]["us-east-1"]
    backend.training_jobs[stored[0].job_name].final_metric_data_list[0]["Value"] = 0.5
    calls: list[str] = []
    aws_env.sagemaker.meta.events.register("before-call.sagemaker.*",
                                           lambda model, **_: calls.append(model.name))
    assert evaluate.handler(event, None) == first
    assert aws_env.store.get_trials("digits-handlers") == stored
    assert calls == []  # recorded trials are not described again


def test_of_two_concurrent_starts_one_claims_the_run_and_the_other_changes_nothing(aws_env: AwsEnv) -> None:
    raw = digits_request(Strategy="random", **limits(6, 3), **NO_CRITERIA)
    barrier = threading.Barrier(2)
    outcomes: dict[str, Any] = {}

    def begin(execution: str) -> None:
        barrier.wait()
        try:
            outcomes[execution] = start.handler({"input": raw, "execution": execution}, None)
        except Exception as exc:
            outcomes[execution] = exc

    executions = [execution_arn("racer-a"), execution_arn("racer-b")]
    threads = [threading.Thread(target=begin, args=(e,)) for e in executions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    losers = [e for e in executions if isinstance(outcomes[e], RunClaimedError)]
    winners = [e for e in executions if isinstance(outcomes[e], dict)]
    assert len(losers) == 1 and len(winners) == 1, outcomes
    error = outcomes[losers[0]]
    assert type(error).__name__ == "RunClaimedError" and error.holder == winners[0]
    run = aws_env.store.get_run("digits-handlers")
    assert run.owner == winners[0] and run.version == 0 and aws_env.store.get_trials(run.name) == []
    # The loser cannot drive the run; the winner can.
    with pytest.raises(RunClaimedError):
        propose.handler({"run": {**outcomes[winners[0]]["run"], "execution": losers[0]}}, None)
    assert len(propose.handler(outcomes[winners[0]], None)["jobs"]["trials"]) == 3


def test_a_continuation_takes_over_from_its_previous_execution(aws_env: AwsEnv, monkeypatch) -> None:
    monkeypatch.setenv("BYOHPO_EVENT_BUDGET", "60")  # room for one generation of 3
    raw = digits_request(Strategy="random", **limits(9, 3), **NO_CRITERIA)
    first = Driver(aws_env, "first")
    ctx = first.start(raw)
    proposed = propose.handler({"run": ctx}, None)
    answer = evaluate.handler({"run": proposed["run"], "generation": 0,
                               "results": run_map(aws_env, proposed)}, None)
    assert answer["action"] == "continue_as_new"

    second = execution_arn("second")
    out = start.handler({"input": {"ContinueRun": "digits-handlers", "PreviousExecution": first.execution},
                         "execution": second}, None)
    assert out["run"] == {"name": "digits-handlers", "execution": second, "events": START_EVENTS,
                          "event_budget": 60}
    assert aws_env.store.get_run("digits-handlers").owner == second
    with pytest.raises(RunClaimedError):  # the previous execution can no longer drive the run
        propose.handler({"run": answer["run"]}, None)
    # A retried continuation Start is harmless; a stranger's is refused.
    assert start.handler({"input": {"ContinueRun": "digits-handlers", "PreviousExecution": first.execution},
                          "execution": second}, None) == out
    with pytest.raises(RunClaimedError):
        start.handler({"input": {"ContinueRun": "digits-handlers", "PreviousExecution": first.execution},
                       "execution": execution_arn("third")}, None)
    assert propose.handler(out, None)["generation"] == 1


def test_a_start_takes_over_from_an_execution_that_ended_and_settles_its_trials(aws_env: AwsEnv) -> None:
    sfn = aws_env.clients.stepfunctions
    machine = sfn.create_state_machine(
        name="byohpo-tuning", roleArn="arn:aws:iam::123456789012:role/sfn",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}))
    dead = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="dead")["executionArn"]
    raw = digits_request(Strategy="random", **limits(6, 3), **NO_CRITERIA)
    ctx = start.handler({"input": raw, "execution": dead}, None)["run"]
    proposed = propose.handler({"run": ctx}, None)
    # The dead execution's Map created the first job only; the job has logged its metric.
    first = proposed["jobs"]["trials"][0]
    run_map(aws_env, {**proposed, "jobs": {**proposed["jobs"], "trials": [first]}},
            fate=lambda item: "no-metric", metric=lambda hp: 0.91)

    other = execution_arn("other")
    with pytest.raises(RunClaimedError):  # the holder is still running
        start.handler({"input": raw, "execution": other}, None)
    sfn.stop_execution(executionArn=dead)
    out = start.handler({"input": raw, "execution": other}, None)

    token = aws_env.store.get_run("digits-handlers").token
    trials = aws_env.store.get_trials("digits-handlers")
    assert trials[0].status == "Completed" and trials[0].values[OBJECTIVE] == 0.91
    renamed = [f"digits-handlers-{token}-g0-t{i}-a1" for i in (1, 2)]
    assert [(t.status, t.attempt, t.job_name) for t in trials[1:]] == [("Pending", 1, n) for n in renamed]
    again = propose.handler(out, None)
    assert again["generation"] == 0
    assert [t["job_name"] for t in again["jobs"]["trials"]] == renamed


def test_evaluate_adopts_a_job_that_exists_and_waits_for_it(aws_env: AwsEnv) -> None:
    raw = digits_request(Strategy="random", **limits(6, 3), **NO_CRITERIA)
    ctx = Driver(aws_env).start(raw)
    proposed = propose.handler({"run": ctx}, None)
    # The create call of the second trial went through, its answer was lost, and the retry found the
    # name in use: the Map caught ResourceInUse, and the job runs.
    results = run_map(aws_env, proposed,
                      fate=lambda item: "in-use" if item["trial_id"].endswith("1") else None)
    assert results[1]["Error"] == "SageMaker.ResourceInUseException"
    job = proposed["jobs"]["trials"][1]["job_name"]
    backend = sagemaker_backends["123456789012"]["us-east-1"]

    answer = evaluate.handler({"run": proposed["run"], "generation": 0, "results": results}, None)
    assert answer["action"] == "wait" and answer["jobs"] == []
    assert aws_env.store.get_trials("digits-handlers")[1].status == "InProgress"
    backend.training_jobs[job].training_job_status = "Completed"
    backend.training_jobs[job].final_metric_data_list = []
    write_training_log(aws_env, job, 0.93)
    answer = evaluate.handler({**answer, "results": answer["jobs"]}, None)  # Wait, then Evaluate again
    assert answer["action"] == "next"
    # Three trials (the request's BatchSize): two completed, one caught, then one wait round.
    assert answer["run"]["events"] == (START_EVENTS + GENERATION_EVENTS + 2 * SUCCEEDED_JOB_EVENTS
                                       + FAILED_JOB_EVENTS + WAIT_EVENTS)
    trial = aws_env.store.get_trials("digits-handlers")[1]
    assert (trial.status, trial.values[OBJECTIVE], trial.job_name) == ("Completed", 0.93, job)


# -- metrics ---------------------------------------------------------------------------------------

def test_metrics_come_from_the_logs_when_the_final_metric_list_lacks_the_objective(aws_env: AwsEnv) -> None:
    raw = digits_request(Strategy="random", **limits(6, 3), **NO_CRITERIA)
    driver = Driver(aws_env, fate=lambda item: "no-metric")
    final = driver.run(raw)
    trials = aws_env.store.get_trials("digits-handlers")
    assert len(trials) == 6
    for t in trials:
        assert t.status == "Completed" and t.failure_reason is None
        assert t.values[OBJECTIVE] == accuracy(t.hyperparameters)
        assert t.values["train:progress"] == 100.0  # what the list did hold is kept
    assert final["best"]["trial_id"] == completed_best(aws_env, "digits-handlers")


def test_a_watched_iteration_ends_with_the_same_result_and_records_the_jobs_end(aws_env: AwsEnv) -> None:
    """Early stopping (``Auto``): each iteration of the synthesized Map is the watched one (a Parallel of
    the training and the watch), its result the same as an unwatched iteration's; the Watch Lambda's
    last call records each job's end and its learning curve, read from its log."""
    raw = digits_request(Strategy="random", TrainingJobEarlyStoppingType="Auto", **limits(3, 3),
                         **NO_CRITERIA)
    ctx = start.handler({"input": raw, "execution": execution_arn("watched"),
                         "early_stopping": {"watch_seconds": 60}}, None)["run"]
    proposed = propose.handler({"run": ctx}, None)
    assert all(proposed["jobs"]["watch"] == {"run": "digits-handlers"} for _ in proposed["jobs"]["trials"])
    failing = proposed["jobs"]["trials"][1]["trial_id"]
    results = run_map(aws_env, proposed, fate=lambda item: "failed" if item["trial_id"] == failing
                      else "no-metric")
    assert [set(r) for r in results] == [
        {"trial_id", "TrainingJobName", "TrainingJobStatus", "TrainingStartTime", "TrainingEndTime"},
        {"trial_id", "TrainingJobName", "Error"},
        {"trial_id", "TrainingJobName", "TrainingJobStatus", "TrainingStartTime", "TrainingEndTime"}]
    evaluate.handler({"run": proposed["run"], "generation": 0, "results": results}, None)
    for trial in aws_env.store.get_trials("digits-handlers"):
        assert trial.watch["ended"] == trial.status
        if trial.trial_id == failing:
            assert trial.status == "Failed" and "out of memory" in trial.failure_reason
        else:
            assert trial.status == "Completed" and trial.values[OBJECTIVE] == accuracy(trial.hyperparameters)
            # the first instance's stream, one value per line (write_training_log's 20, to 6 places)
            assert trial.learning_curve().epochs == 20
            assert trial.learning_curve().last == pytest.approx(trial.values[OBJECTIVE], abs=1e-6)


def test_a_completed_job_without_the_objective_anywhere_says_why(aws_env: AwsEnv) -> None:
    raw = digits_request(Strategy="random", **limits(3, 3), **NO_CRITERIA)
    ctx = Driver(aws_env).start(raw)
    proposed = propose.handler({"run": ctx}, None)
    results = run_map(aws_env, proposed, fate=lambda item: "silent")
    evaluate.handler({"run": proposed["run"], "generation": 0, "results": results}, None)
    trial = aws_env.store.get_trials("digits-handlers")[0]
    assert trial.status == "Completed" and trial.values is None
    assert trial.failure_reason == ("no value for metric validation:accuracy matched Regex "
                                    "`Validation-accuracy=([0-9\\.]+)` in the training log")


# -- results ---------------------------------------------------------------------------------------

def test_finalize_writes_a_leaderboard_and_a_summary_that_read_back(aws_env: AwsEnv) -> None:
    raw = digits_request(Strategy="random", **limits(8, 4), **NO_CRITERIA)
    final = Driver(aws_env, fate=lambda item: "failed" if item["trial_id"].endswith("3") else None).run(raw)
    assert final["leaderboard"] == f"s3://{BUCKET}/runs/digits-handlers/leaderboard.csv"
    assert final["summary"] == f"s3://{BUCKET}/runs/digits-handlers/summary.json"

    run = aws_env.store.get_run("digits-handlers")
    trials = aws_env.store.get_trials(run.name)
    info = request_info(run.request)
    board = Leaderboard.from_trials(trials, info.objectives, info.param_names)
    text = aws_env.s3.get_object(Bucket=BUCKET, Key="runs/digits-handlers/leaderboard.csv")["Body"].read()
    rows = list(csv.DictReader(io.StringIO(text.decode("utf-8"))))
    assert rows == board.records() and len(rows) == 8
    assert rows[0]["trial_id"] == final["best"]["trial_id"] and rows[0]["rank"] == "1"
    assert [r["status"] for r in rows[-2:]] == ["Failed", "Failed"]
    body = aws_env.s3.get_object(Bucket=BUCKET, Key="runs/digits-handlers/summary.json")["Body"].read()
    assert json.loads(body) == summary(run, trials, info.objectives)
    assert json.loads(body)["trials"]["Failed"] == 2
    # A retried Finalize rewrites the same results and keeps the run's end.
    again = finalize.handler({"run": {"name": run.name, "execution": "anyone"},
                              "stop": {"code": "MaxRuntimeInSeconds", "message": "late"}}, None)
    assert again == final


def test_finalize_after_a_caught_error_fails_the_run_and_stops_what_is_left(aws_env: AwsEnv) -> None:
    raw = digits_request(Strategy="random", **limits(6, 3), **NO_CRITERIA)
    ctx = Driver(aws_env).start(raw)
    propose.handler({"run": ctx}, None)
    error = {"Error": "ReplayMismatchError", "Cause": "history changed"}
    out = finalize.handler({"run": ctx, "error": error}, None)
    assert (out["status"], out["stop_code"], out["reason"]) == ("Failed", "Error",
                                                                "ReplayMismatchError: history changed")
    trials = aws_env.store.get_trials("digits-handlers")
    assert {t.status for t in trials} == {"Stopped"}
    assert trials[0].failure_reason.startswith("the run ended before this trial finished")


# -- refusals --------------------------------------------------------------------------------------

def assert_nothing_written(env: AwsEnv) -> None:
    assert env.store.list_runs() == []
    assert env.s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0
    assert env.sagemaker.list_training_jobs()["TrainingJobSummaries"] == []


@pytest.mark.parametrize(("change", "field"), [
    (lambda r: r["HyperParameterTuningJobConfig"]["ParameterRanges"]["ContinuousParameterRanges"][0]
     .update(MinValue="0.5"),
     "HyperParameterTuningJobConfig.ParameterRanges.ContinuousParameterRanges[0].MinValue"),
    (lambda r: r["TrainingJobDefinition"]["ResourceConfig"].update(InstanceCount="1"),
     "TrainingJobDefinition.ResourceConfig.InstanceCount"),
    (lambda r: r["TrainingJobDefinition"]["StaticHyperParameters"].update({f"p{i}": "1" for i in range(98)}),
     "TrainingJobDefinition.StaticHyperParameters"),
    (lambda r: r["HyperParameterTuningJobConfig"].update(Strategy="no-such-strategy"),
     "HyperParameterTuningJobConfig.Strategy"),
])
def test_a_bad_request_is_refused_by_start_naming_the_field(aws_env: AwsEnv, change: Callable,
                                                            field: str) -> None:
    raw = digits_request(Strategy="random", **limits(6, 3))
    change(raw)
    with pytest.raises(ValidationError) as caught:
        start.handler({"input": raw, "execution": execution_arn("bad")}, None)
    assert type(caught.value).__name__ in ("ValidationError", "UnknownStrategyError")
    assert field in [e.path for e in caught.value.errors], caught.value
    assert_nothing_written(aws_env)


def test_a_request_can_come_from_s3(aws_env: AwsEnv) -> None:
    raw = digits_request(Strategy="random", **limits(6, 3))
    aws_env.s3.put_object(Bucket=BUCKET, Key="requests/digits.json", Body=json.dumps(raw).encode())
    out = start.handler({"input": {"RequestS3Uri": f"s3://{BUCKET}/requests/digits.json"},
                         "execution": execution_arn("s3")}, None)
    assert out["run"]["name"] == "digits-handlers"
    with pytest.raises(ValidationError) as caught:
        start.handler({"input": {"RequestS3Uri": "https://example.com/x.json"},
                       "execution": execution_arn("s3-bad")}, None)
    assert caught.value.errors[0].path == "RequestS3Uri"


def test_each_scheduled_execution_tunes_under_its_own_run_name(aws_env: AwsEnv) -> None:
    raw = digits_request(Strategy="random", **limits(6, 3))
    raw["HyperParameterTuningJobName"] = "a-rather-long-schedule-name-x"  # 29 of 32 characters
    aws_env.s3.put_object(Bucket=BUCKET, Key="requests/schedules/d.json", Body=json.dumps(raw).encode())
    names = []
    for i, when in enumerate(("2026-11-26T06:00:00Z", "2026-11-27T06:00:00Z")):
        event = {"RequestS3Uri": f"s3://{BUCKET}/requests/schedules/d.json", "RunNameSuffix": when}
        names.append(start.handler({"input": event, "execution": execution_arn(f"sched-{i}")},
                                   None)["run"]["name"])
    assert names == ["a-rather-long-s-20261126T060000Z", "a-rather-long-s-20261127T060000Z"]
    assert all(len(n) <= 32 for n in names)
    assert [r.name for r in aws_env.store.list_runs()] == names
    with pytest.raises(ValidationError) as caught:
        start.handler({"input": {"RequestS3Uri": f"s3://{BUCKET}/requests/schedules/d.json",
                                 "RunNameSuffix": ":-"}, "execution": execution_arn("sched-bad")}, None)
    assert caught.value.errors[0].path == "RunNameSuffix"


def test_a_run_of_the_same_name_with_another_search_is_refused(aws_env: AwsEnv) -> None:
    start.handler({"input": digits_request(Strategy="random", **limits(6, 3)),
                   "execution": execution_arn("one")}, None)
    with pytest.raises(ValidationError) as caught:
        start.handler({"input": digits_request(Strategy="sobol", **limits(6, 3)),
                       "execution": execution_arn("two")}, None)
    assert type(caught.value).__name__ == "RunMismatchError"
    assert aws_env.store.get_run("digits-handlers").owner == execution_arn("one")


def test_a_continuation_of_an_unknown_run_is_refused(aws_env: AwsEnv) -> None:
    with pytest.raises(RunNotFoundError):
        start.handler({"input": {"ContinueRun": "nope", "PreviousExecution": execution_arn("x")},
                       "execution": execution_arn("y")}, None)


# -- history events --------------------------------------------------------------------------------

def test_evaluate_counts_history_events_and_continues_as_new_before_the_budget(aws_env: AwsEnv,
                                                                                monkeypatch) -> None:
    # Start 8; a generation of 3 completed jobs 16 + 3 * 8 = 40; another, all failing, and the end
    # need 16 + 3 * 10 + 16 = 62. With 120: 48 + 62 fits, 88 + 62 does not.
    monkeypatch.setenv("BYOHPO_EVENT_BUDGET", "120")
    raw = digits_request(Strategy="random", **limits(12, 3), **NO_CRITERIA)
    driver = Driver(aws_env)
    final = driver.run(raw)
    answers = [(a["action"], a["run"]["events"]) for a in driver.outputs["evaluate"]]
    assert answers == [("next", 48), ("continue_as_new", 88), ("next", 48), ("finish", 88)]
    assert driver.continuations == 1 and final["status"] == "Completed"
    assert len(aws_env.store.get_trials("digits-handlers")) == 12


# -- warm start -------------------------------------------------------------------------------------

def warm_start_config(parent: str, kind: str) -> dict[str, Any]:
    return {"ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": parent}],
            "WarmStartType": kind}


def test_a_warm_start_imports_the_parents_completed_trials(aws_env: AwsEnv) -> None:
    parent = digits_request("digits-parent", Strategy="random", **limits(6, 3), **NO_CRITERIA)
    Driver(aws_env, "parent",
           fate=lambda item: "failed" if item["trial_id"].endswith("1") else None).run(parent)
    child = digits_request(Strategy="bayesian", StrategyConfig={"Seed": 2}, **limits(4, 2), **NO_CRITERIA)
    child["WarmStartConfig"] = warm_start_config("digits-parent", "IdenticalDataAndAlgorithm")
    driver = Driver(aws_env, "child")
    final = driver.run(child)

    parents = [t for t in aws_env.store.get_trials("digits-parent") if t.status == "Completed"]
    trials = aws_env.store.get_trials("digits-handlers")
    imported = [t for t in trials if t.generation == 0]
    assert [(t.params, t.values, t.job_name) for t in imported] == [
        (p.params, p.values, p.job_name) for p in parents]
    assert all(t.meta["warm_start"]["parent"] == "digits-parent" for t in imported)
    # The budget counts the run's own jobs only: 4 beyond the 4 imported.
    assert len(trials) == 8 and final["stop_code"] == "MaxNumberOfTrainingJobs"
    assert driver.outputs["propose"][0]["generation"] == 1


def test_a_warm_start_of_a_replaying_strategy_is_refused_before_anything_is_written(aws_env: AwsEnv) -> None:
    Driver(aws_env, "parent").run(digits_request("digits-parent", Strategy="random", **limits(3, 3),
                                                 **NO_CRITERIA))
    child = digits_request(Strategy="ga", StrategyConfig={"Seed": 1, "PopulationSize": 4}, **limits(8, 4))
    child["WarmStartConfig"] = warm_start_config("digits-parent", "TransferLearning")
    with pytest.raises(ValidationError) as caught:
        start.handler({"input": child, "execution": execution_arn("child")}, None)
    assert caught.value.errors[0].path == "WarmStartConfig.ParentHyperParameterTuningJobs"
    with pytest.raises(RunNotFoundError):
        aws_env.store.get_run("digits-handlers")
    child["WarmStartConfig"]["ParentHyperParameterTuningJobs"][0]["HyperParameterTuningJobName"] = "nobody"
    child["HyperParameterTuningJobConfig"].update(Strategy="random", StrategyConfig={"Seed": 1})
    with pytest.raises(ValidationError) as caught:
        start.handler({"input": child, "execution": execution_arn("child")}, None)
    assert caught.value.errors[0].path == ("WarmStartConfig.ParentHyperParameterTuningJobs[0]"
                                           ".HyperParameterTuningJobName")


def test_a_parent_that_is_an_automatic_model_tuning_job_is_read_from_sagemaker() -> None:
    """No byohpo run of that name: the parent is looked up as an AMT job (moto has no
    ListTrainingJobsForHyperParameterTuningJob, so botocore's Stubber answers as SageMaker would)."""
    from botocore.stub import Stubber

    from byohpo.aws.warm_start import import_trials
    from byohpo.request import parse_request
    from byohpo.store.sqlite import SQLiteStore

    child = digits_request(Strategy="random", **limits(6, 3))
    child["WarmStartConfig"] = warm_start_config("amt-parent", "IdenticalDataAndAlgorithm")
    request = parse_request(child)
    client = botocore.session.get_session().create_client(
        "sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")

    def job_summary(name: str, lr: str, epochs: str, activation: str, value: float) -> dict[str, Any]:
        return {"TrainingJobName": name, "TrainingJobArn": f"arn:aws:sagemaker:::training-job/{name}",
                "CreationTime": datetime(2024, 5, 1, tzinfo=UTC), "TrainingJobStatus": "Completed",
                "TunedHyperParameters": {"learning_rate": lr, "num_epoch": epochs, "activation": activation},
                "FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": OBJECTIVE, "Value": value},
                "TrainingStartTime": datetime(2024, 5, 1, 12, tzinfo=UTC),
                "TrainingEndTime": datetime(2024, 5, 1, 12, 5, tzinfo=UTC)}

    listing = {"HyperParameterTuningJobName": "amt-parent", "StatusEquals": "Completed", "SortBy": "Name",
               "SortOrder": "Ascending", "MaxResults": 100}
    with Stubber(client) as stub, SQLiteStore(":memory:") as store:
        stub.add_response("describe_hyper_parameter_tuning_job", {
            "HyperParameterTuningJobName": "amt-parent", "HyperParameterTuningJobStatus": "Completed",
            "HyperParameterTuningJobArn": "arn:aws:sagemaker:us-east-1:1:hyper-parameter-tuning-job/amt",
            "HyperParameterTuningJobConfig": {"Strategy": "Bayesian", "ResourceLimits": {
                "MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 1}},
            "CreationTime": datetime(2024, 5, 1, tzinfo=UTC),
            "TrainingJobStatusCounters": {}, "ObjectiveStatusCounters": {}},
            {"HyperParameterTuningJobName": "amt-parent"})
        stub.add_response("list_training_jobs_for_hyper_parameter_tuning_job", {
            "TrainingJobSummaries": [job_summary("amt-001", "0.05", "20", '"tanh"', 0.95),
                                     job_summary("amt-002", "0.5", "20", "relu", 0.9)],  # outside the range
            "NextToken": "page-2"}, listing)
        stub.add_response("list_training_jobs_for_hyper_parameter_tuning_job", {
            "TrainingJobSummaries": [job_summary("amt-003", "0.1", "35.0", "relu", 0.93)]},
            {**listing, "NextToken": "page-2"})
        trials = import_trials(store, request, sagemaker=client)
        stub.assert_no_pending_responses()
    assert [(t.job_name, t.params, t.values) for t in trials] == [
        ("amt-001", {"learning_rate": 0.05, "num_epoch": 20, "activation": "tanh"}, {OBJECTIVE: 0.95}),
        ("amt-003", {"learning_rate": 0.1, "num_epoch": 35, "activation": "relu"}, {OBJECTIVE: 0.93})]
    assert [t.trial_id for t in trials] == ["g0000-t0000", "g0000-t0001"]
    assert trials[0].hyperparameters == {"batch_size": "100", "learning_rate": "0.05", "num_epoch": "20",
                                         "activation": "tanh"}
    assert (trials[0].started_at, trials[0].ended_at) == ("2024-05-01T12:00:00.000Z",
                                                          "2024-05-01T12:05:00.000Z")


# -- odds and ends ---------------------------------------------------------------------------------

@pytest.mark.parametrize("aws_env", ["sqlite"], indirect=True)
def test_a_generation_too_large_for_step_functions_is_refused_before_it_is_written(aws_env: AwsEnv) -> None:
    raw = xgboost_request(Strategy="random", StrategyConfig={"Seed": 1, "BatchSize": 700}, **limits(700, 700))
    ctx = Driver(aws_env).start(raw)
    with pytest.raises(PayloadTooLargeError, match="a generation of 700 trials takes"):
        propose.handler({"run": ctx}, None)
    assert aws_env.store.get_run("xgboost-handlers").version == 0
    assert aws_env.store.get_trials("xgboost-handlers") == []


def test_a_finished_run_started_again_only_reports(aws_env: AwsEnv) -> None:
    raw = digits_request(Strategy="random", **limits(3, 3), **NO_CRITERIA)
    first = Driver(aws_env, "first").run(raw)
    again = Driver(aws_env, "again")
    assert again.run(raw) == first
    assert again.outputs["propose"][0]["stop"] == {"code": "MaxNumberOfTrainingJobs",
                                                   "message": first["reason"]}
    assert len(aws_env.store.get_trials("digits-handlers")) == 3
    assert aws_env.store.get_run("digits-handlers").owner is None


# -- what AWS enforces ----------------------------------------------------------------------------------

def test_one_malformed_map_result_never_loses_the_generation(aws_env: AwsEnv) -> None:
    """Results the definition would never produce, Evaluate reads field by field: what can be
    recorded is recorded, from SageMaker, and a second result for a trial does not replace the first."""
    raw = digits_request(Strategy="random", StrategyConfig={"Seed": 3, "BatchSize": 5}, **limits(5, 5),
                         **NO_CRITERIA)
    ctx = Driver(aws_env).start(raw)
    proposed = propose.handler({"run": ctx}, None)
    results = run_map(aws_env, proposed,
                      fate=lambda item: "caught" if item["trial_id"].endswith("4") else None)
    results[0]["TrainingEndTime"] = 1e20
    results[1]["FinalMetricDataList"] = "not a list"
    results[2]["FinalMetricDataList"] = [{"MetricName": OBJECTIVE, "Value": int("9" * 400)}]
    results[3]["TrainingJobName"] = "x" * 500_000
    # The fifth create was refused (no job); a second result for it would have it wait, not fail.
    duplicate = {**results[4], "Error": "SageMaker.ResourceLimitExceededException", "Cause": "no instances"}
    results += [duplicate, {"Error": "States.Runtime", "Cause": "a child failed"}, None, "text", 17,
                {"trial_id": "g0007-t0000", "TrainingJobStatus": "Completed"}]
    answer = evaluate.handler({"run": proposed["run"], "generation": 0, "results": results}, None)
    assert answer["action"] == "finish"
    trials = aws_env.store.get_trials("digits-handlers")
    assert [t.status for t in trials] == ["Completed"] * 4 + ["Failed"]
    assert trials[4].failure_reason == f"SageMaker.AmazonSageMakerException: {CAUGHT_CAUSE}"
    assert trials[4].attempt == 0
    for trial, item in zip(trials[:4], proposed["jobs"]["trials"], strict=False):
        assert trial.values[OBJECTIVE] == pytest.approx(accuracy(trial.hyperparameters))
        assert trial.job_name == item["job_name"]
        job = aws_env.sagemaker.describe_training_job(TrainingJobName=trial.job_name)
        assert trial.ended_at == iso_timestamp(job["TrainingEndTime"])


@pytest.mark.parametrize("child", [None, {"Error": "States.Runtime", "Cause": "An error occurred while "
                                          "executing the state 'Train' (entered at the event id #7)."}])
def test_a_failed_distributed_map_child_is_settled_from_sagemaker(aws_env: AwsEnv, child: Any) -> None:
    """A child execution that failed returns no result of ours: its trial is settled from its job
    (here the job ran and completed), the others as usual, and the run goes on."""
    raw = digits_request(Strategy="random", **limits(6, 3), **NO_CRITERIA)
    ctx = Driver(aws_env).start(raw)
    proposed = propose.handler({"run": ctx}, None)
    results = run_map(aws_env, proposed)
    results[1] = child
    answer = evaluate.handler({"run": proposed["run"], "generation": 0, "results": results}, None)
    assert answer["action"] == "next"
    trials = aws_env.store.get_trials("digits-handlers")
    assert [t.status for t in trials] == ["Completed"] * 3
    assert trials[1].values[OBJECTIVE] == pytest.approx(accuracy(trials[1].hyperparameters))


def test_a_child_that_failed_before_its_job_existed_fails_its_trial_with_the_childs_error(
        aws_env: AwsEnv) -> None:
    raw = digits_request(Strategy="random", **limits(6, 3), **NO_CRITERIA)
    ctx = Driver(aws_env).start(raw)
    proposed = propose.handler({"run": ctx}, None)
    jobs = proposed["jobs"]
    results = run_map(aws_env, {**proposed, "jobs": {**jobs, "trials": jobs["trials"][:2]}})
    results.append({"Error": "States.DataLimitExceeded", "Cause": "the input is too large"})
    evaluate.handler({"run": proposed["run"], "generation": 0, "results": results}, None)
    last = aws_env.store.get_trials("digits-handlers")[2]
    assert last.status == "Failed"
    assert last.failure_reason == ("the state machine returned no result for this trial (1 Map iteration "
                                   "failed: States.DataLimitExceeded: the input is too large)")


def test_a_trial_without_instances_waits_for_a_later_attempt_not_counted_as_failed(aws_env: AwsEnv) -> None:
    raw = digits_request(Strategy="random", **limits(6, 3))
    raw["HyperParameterTuningJobConfig"]["TuningJobCompletionCriteria"] = {"MaxFailedTrainingJobs": 1}

    def fate(item: Mapping[str, Any]) -> str | None:  # the second trial's first attempt gets no instances
        return "capacity" if item["job_name"].endswith("-g0-t1") else None

    driver = Driver(aws_env, fate=fate)
    final = driver.run(raw)
    assert final["status"] == "Completed" and final["stop_code"] == "MaxNumberOfTrainingJobs"
    trials = aws_env.store.get_trials("digits-handlers")
    assert [(t.trial_id, t.status, t.attempt) for t in trials[:3]] == [
        ("g0000-t0000", "Completed", 0), ("g0000-t0001", "Completed", 1), ("g0000-t0002", "Completed", 0)]
    assert trials[1].job_name.endswith("-g0-t1-a1") and trials[1].failure_reason is None
    # The pending trial went out alone, before the next generation.
    assert [len(p["jobs"]["trials"]) for p in driver.outputs["propose"] if p["jobs"]] == [3, 1, 3]


def test_a_trial_sagemaker_never_has_instances_for_fails_after_its_attempts(aws_env: AwsEnv) -> None:
    raw = digits_request(Strategy="random", **limits(3, 3), **NO_CRITERIA)
    driver = Driver(aws_env, fate=lambda item: "capacity" if item["trial_id"] == "g0000-t0000" else None)
    driver.run(raw)
    first = aws_env.store.get_trials("digits-handlers")[0]
    assert first.status == "Failed" and first.attempt == RETRY_LATER_ATTEMPTS - 1
    assert first.failure_reason.startswith(f"SageMaker could not take the job in {RETRY_LATER_ATTEMPTS} "
                                           "attempts; the last: SageMaker.ResourceLimitExceededException")


ROLES = ("arn:aws:iam::123456789012:role/byohpo-sagemaker",
         "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-team")


@pytest.mark.parametrize("plural", [False, True])
def test_start_refuses_a_role_the_stack_may_not_pass(aws_env: AwsEnv, monkeypatch: pytest.MonkeyPatch,
                                                     plural: bool) -> None:
    monkeypatch.setenv("BYOHPO_PASSABLE_ROLES", ",".join(ROLES))
    raw = (json.loads((DATA / "request-valid-amt-console.json").read_text()) if plural
           else digits_request(Strategy="random", **limits(6, 3)))
    raw.pop("WarmStartConfig", None)  # the console's request names a parent this test does not have
    # The console's request asks for early stopping ("Auto"): Start as the stack's Distributed Map calls it.
    watching = {"early_stopping": {"watch_seconds": 60}}
    with pytest.raises(ValidationError) as caught:
        start.handler({"input": raw, "execution": execution_arn("role"), **watching}, None)
    (error,) = caught.value.errors
    assert error.path == ("TrainingJobDefinitions[0].RoleArn" if plural else "TrainingJobDefinition.RoleArn")
    assert all(role in error.message for role in ROLES) and "sagemaker_role_arns" in error.message
    assert_nothing_written(aws_env)
    definition = raw["TrainingJobDefinitions"][0] if plural else raw["TrainingJobDefinition"]
    definition["RoleArn"] = ROLES[1]
    assert start.handler({"input": raw, "execution": execution_arn("role"), **watching}, None)["run"]["name"]


def test_a_fixed_role_of_the_state_machine_is_the_one_checked(aws_env: AwsEnv,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """With the definition built with a fixed role, every job gets that role: the request's RoleArn
    is not used (nor checked), the fixed one must be passable."""
    monkeypatch.setenv("BYOHPO_PASSABLE_ROLES", ROLES[0])
    raw = digits_request(Strategy="random", **limits(6, 3))  # its RoleArn is not ROLES[0]
    event = {"input": raw, "execution": execution_arn("fixed"), "training_role": ROLES[0]}
    assert start.handler(event, None)["run"]["name"] == "digits-handlers"
    monkeypatch.setenv("BYOHPO_PASSABLE_ROLES", ROLES[1])
    with pytest.raises(ConfigurationError, match="not among the roles it may pass"):
        start.handler({**event, "input": digits_request("other", **limits(6, 3))}, None)


def test_more_tags_than_a_job_takes_beside_byohpos_are_refused(aws_env: AwsEnv) -> None:
    raw = digits_request(Strategy="random", **limits(6, 3))
    raw["Tags"] = [{"Key": f"team:{i}", "Value": "ml"} for i in range(49)]
    with pytest.raises(ValidationError) as caught:
        start.handler({"input": raw, "execution": execution_arn("tags")}, None)
    (error,) = caught.value.errors
    assert error.path == "Tags" and error.message.startswith("at most 48 tags, not 49: byohpo adds")
    assert_nothing_written(aws_env)
    raw["Tags"] = [*raw["Tags"][:47], {"Key": "byohpo:run", "Value": "mine"},
                   {"Key": "byohpo:stack", "Value": "mine"}]
    ctx = start.handler({"input": raw, "execution": execution_arn("tags")}, None)["run"]
    tags = propose.handler({"run": ctx}, None)["jobs"]["training"]["Tags"]
    assert len(tags) == 49 and tags[-2:] == [{"Key": "byohpo:run", "Value": "digits-handlers"},
                                             {"Key": "byohpo:stack", "Value": STACK}]


def test_a_request_larger_than_a_dynamodb_item_is_refused_naming_where_it_is_large(
        aws_env: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    """A strategy option of 450 KB (a list of starting points, say): the run's record would pass
    DynamoDB's 400 KB item limit; Start refuses the request, naming the option, before writing."""
    import byohpo

    class Seeded(byohpo.Strategy):
        def __init__(self, space: Any, objectives: Any, *, seed: int, points: Any = ()) -> None:
            super().__init__(space, objectives, seed=seed)
            self.points = list(points)

        def propose(self, history: Any, n: int) -> list[Any]:
            return [byohpo.Candidate(self.space.decode([0.5] * self.space.dims), {})]

    monkeypatch.setattr(byohpo.strategies, "_registered", dict(byohpo.strategies._registered))
    byohpo.register_strategy("seeded", Seeded)
    raw = digits_request(Strategy="seeded", StrategyConfig={"Seed": 1, "Points": [
        {"learning_rate": f"0.05{i:06d}", "note": "p" * 400} for i in range(1000)]}, **limits(6, 3))
    with pytest.raises(ValidationError) as caught:
        start.handler({"input": raw, "execution": execution_arn("large")}, None)
    (error,) = caught.value.errors
    assert type(caught.value) is ValidationError
    assert error.path == "HyperParameterTuningJobConfig.StrategyConfig.Points"
    assert "above the 409,600 a DynamoDB item holds" in error.message and "by reference" in error.message
    assert_nothing_written(aws_env)


@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d.pop("ResourceConfig"), "TrainingJobDefinition.ResourceConfig"),
    (lambda d: d.pop("StoppingCondition"), "TrainingJobDefinition.StoppingCondition"),
    # (without any AlgorithmSpecification, the objective has no MetricDefinitions: refused by the parse)
    (lambda d: d.update(AlgorithmSpecification={"MetricDefinitions": d["AlgorithmSpecification"][
        "MetricDefinitions"]}), "TrainingJobDefinition.AlgorithmSpecification.TrainingImage"),
    (lambda d: d["StaticHyperParameters"].update(notes="n" * 2501),
     "TrainingJobDefinition.StaticHyperParameters.notes"),
    (lambda d: d["ResourceConfig"].update(VolumeKmsKeyId="k" * 2049),
     "TrainingJobDefinition.ResourceConfig.VolumeKmsKeyId"),
    (lambda d: d["StaticHyperParameters"].update({f"n{i}": "x" * 2500 for i in range(50)}),
     "TrainingJobDefinition.StaticHyperParameters"),
])
def test_what_the_map_task_needs_or_sagemaker_refuses_is_refused_at_start(
        aws_env: AwsEnv, change: Callable, field: str) -> None:
    """Fields CreateTrainingJob's newer model no longer requires but the Map's task reads, maxima
    botocore does not check, and parameters too large for a Map iteration."""
    raw = digits_request(Strategy="random", **limits(6, 3))
    change(raw["TrainingJobDefinition"])
    with pytest.raises(ValidationError) as caught:
        start.handler({"input": raw, "execution": execution_arn("bad")}, None)
    assert field in [e.path for e in caught.value.errors], caught.value
    assert_nothing_written(aws_env)


def test_a_tuning_resource_config_stands_for_the_resource_config(aws_env: AwsEnv) -> None:
    raw = digits_request(Strategy="random", **limits(6, 3))
    definition = raw["TrainingJobDefinition"]
    definition["HyperParameterTuningResourceConfig"] = definition.pop("ResourceConfig")
    assert start.handler({"input": raw, "execution": execution_arn("htrc")}, None)["run"]["name"]


def test_a_describe_sagemaker_throttles_beyond_botocores_retries_is_left_for_the_wait_round(
        aws_env: AwsEnv) -> None:
    """A generation of hundreds of jobs described at once may be throttled past botocore's retry
    quota: the trial is left as it is, Evaluate answers wait, and the next round settles it."""
    from botocore.awsrequest import AWSResponse

    raw = digits_request(Strategy="random", **limits(6, 3), **NO_CRITERIA)
    ctx = Driver(aws_env).start(raw)
    proposed = propose.handler({"run": ctx}, None)
    results = run_map(aws_env, proposed)
    throttled = proposed["jobs"]["trials"][1]["job_name"]

    def throttle(params: Mapping[str, Any], **_: Any) -> Any:  # the serialized request
        if json.loads(params["body"]).get("TrainingJobName") == throttled:
            return (AWSResponse("https://api.sagemaker", 400, {}, None),
                    {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}})
        return None

    aws_env.sagemaker.meta.events.register("before-call.sagemaker.DescribeTrainingJob", throttle)
    answer = evaluate.handler({"run": proposed["run"], "generation": 0, "results": results}, None)
    assert answer["action"] == "wait"
    statuses = [t.status for t in aws_env.store.get_trials("digits-handlers")]
    assert statuses == ["Completed", "Pending", "Completed"]
    aws_env.sagemaker.meta.events.unregister("before-call.sagemaker.DescribeTrainingJob", throttle)
    answer = evaluate.handler({**answer, "results": answer["jobs"]}, None)
    assert answer["action"] == "next"
    trial = aws_env.store.get_trials("digits-handlers")[1]
    assert trial.status == "Completed"
    assert trial.values[OBJECTIVE] == pytest.approx(accuracy(trial.hyperparameters))
