"""Early stopping on AWS (``TrainingJobEarlyStoppingType: "Auto"``), through the definition the stack
deploys, run by moto's Step Functions interpreter with the real handlers in process: each Map iteration
a Parallel of the ``.sync`` training and a Wait → Watch Lambda loop (``state_machine.training``), the
Watch Lambda reading the job's log from CloudWatch Logs, asking the median rule and calling
StopTrainingJob, Evaluate recording the job's end.

SageMaker is :class:`sfn_harness.SageMakerEmulator`: a watched job prints its log an epoch (or a few)
before each look of its Watch Lambda, ends as its fate says with its last epoch, and is ``Stopping``
then ``Stopped`` when stopped; StopTrainingJob on a job that is no longer running is refused with
ValidationException, as SageMaker refuses it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from aws_fixtures import OBJECTIVE, digits_request
from sfn_harness import FUNCTIONS, JobFate, Loop, SageMakerEmulator, byohpo_loop, function_name

import state_machine  # importable once sfn_harness has put the repository on sys.path
from byohpo.aws import watch as aws_watch
from byohpo.early_stopping import EARLY_STOPPED
from byohpo.request import CONFIG
from byohpo.store.base import RunNotFoundError
from state_machine import training as sm_training

PLACEHOLDERS = {f"{name.lower()}_fn": "${" + name + "FunctionArn}" for name in FUNCTIONS}
DISTRIBUTED, INLINE = "DISTRIBUTED", "INLINE"
WATCH = function_name("Watch")


@pytest.fixture(scope="module")
def loop() -> Iterator[Loop]:
    definitions = {mode: json.dumps(state_machine.build_definition(**PLACEHOLDERS, map_mode=mode))
                   for mode in (DISTRIBUTED, INLINE)}
    with byohpo_loop(definitions) as running:
        yield running


def auto(run: str, jobs: int, parallel: int = 1, **config: Any) -> dict[str, Any]:
    """The digits request with early stopping, ``jobs`` jobs at most ``parallel`` at once (random
    search: one generation per ``parallel`` jobs)."""
    return digits_request(run, TrainingJobEarlyStoppingType="Auto", **config, ResourceLimits={
        "MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": parallel})


def lines(values: Sequence[float]) -> tuple[str, ...]:
    """A training script's log, one line per epoch, as the digits request's regex reads it."""
    return tuple(f"epoch {i}: Validation-accuracy={v!r}" for i, v in enumerate(values, 1))


GOOD = (0.5, 0.6, 0.7, 0.8)  # the first job: the rule compares the later ones with it
BAD = (0.1, 0.2, 0.3, 0.9)  # worse than GOOD's running average at every epoch but the last


def fates(by_trial: Mapping[str, JobFate]) -> SageMakerEmulator:
    """Each job's fate by its trial (``g0001-t0000`` for the job ``<run>-g1-t0``), the rest GOOD."""
    def fate(params: Mapping[str, Any]) -> JobFate:
        name = params["TrainingJobName"]
        g, t = name.rsplit("-", 2)[-2:]
        trial = f"g{int(g[1:]):04d}-t{int(t[1:]):04d}"
        return by_trial.get(trial, JobFate(metrics=None, epochs=lines(GOOD)))

    return SageMakerEmulator(fate)


def parent_events(generations: int, jobs: int) -> int:
    costs = state_machine.EVENT_COSTS[DISTRIBUTED]
    return (costs["start"] + generations * costs["generation"] + jobs * costs["succeeded_job"]
            + costs["finish"])


def watch_looks(loop: Loop, job_name: str) -> list[Any]:
    return [i for i in loop.harness.invocations
            if i.function == WATCH and i.event.get("job_name") == job_name]


def test_a_job_the_rule_condemns_is_stopped_and_counts_with_its_last_value(loop: Loop) -> None:
    emulator = loop.fresh(fates({"g0001-t0000": JobFate(metrics=None, epochs=lines(BAD))}))
    run = "es-condemned"
    (execution,) = loop.run(auto(run, 3))
    assert execution["status"] == "SUCCEEDED", execution
    first, condemned, third = loop.trials(run)
    # The first job has nothing to be compared with: it runs to its end.
    assert first.status == "Completed" and first.values[OBJECTIVE] == GOOD[-1]
    assert first.learning_curve().series() == list(enumerate(GOOD, 1))
    # The second is worse than the first's running average at its first epoch (0.1 < 0.5): stopped
    # there, by one StopTrainingJob, and recorded as AMT records it: Stopped, EarlyStopped, its last value.
    assert emulator.stop_calls == [(condemned.job_name, None)]
    assert condemned.status == "Stopped" and condemned.failure_reason.startswith(EARLY_STOPPED)
    assert condemned.values[OBJECTIVE] == BAD[0]
    assert condemned.learning_curve().series() == [(1, BAD[0])]
    described = loop.harness.client("sagemaker").describe_training_job(TrainingJobName=condemned.job_name)
    assert described["TrainingJobStatus"] == "Stopped"
    # It wrote no epoch after its stop; the watch ended with it (one look that stopped it, one final call).
    assert emulator.jobs[condemned.job_name].written == 1
    assert [bool(i.event.get("final")) for i in watch_looks(loop, condemned.job_name)] == [False, True]
    # The third trains like the first: GOOD is not worse than the running averages' median.
    assert third.status == "Completed" and third.values[OBJECTIVE] == GOOD[-1]
    # A stopped job is a trial with a value for the strategy and the summary.
    out = json.loads(execution["output"])
    assert out["status"] == "Completed" and out["best"]["trial_id"] in (first.trial_id, third.trial_id)
    # Watching lives in the Map's child executions: the parent's history is what it is without it.
    assert len(loop.events(execution)) == parent_events(3, 3)


def test_a_job_that_ends_between_two_looks_is_recorded_as_it_ended(loop: Loop) -> None:
    # Its four epochs come out between two looks, and it completes with the last: the look that reads
    # them finds the job Completed and stops nothing, though its first epochs were the rule's to condemn.
    emulator = loop.fresh(fates({"g0001-t0000": JobFate(metrics=None, epochs=lines(BAD), epochs_per_look=4)}))
    run = "es-between"
    (execution,) = loop.run(auto(run, 2))
    assert execution["status"] == "SUCCEEDED", execution
    _, between = loop.trials(run)
    assert emulator.stop_calls == []
    assert between.status == "Completed" and between.failure_reason is None
    assert between.values[OBJECTIVE] == BAD[-1]
    assert between.learning_curve().series() == list(enumerate(BAD, 1))
    answers = [i.result for i in watch_looks(loop, between.job_name) if not i.event.get("final")]
    assert answers and all(a["status"] == "Completed" and a["done"] for a in answers)


def test_a_stop_that_races_the_jobs_own_end_records_its_real_end(loop: Loop) -> None:
    # The rule condemns it at its first epoch; by the time StopTrainingJob arrives it has completed, and
    # SageMaker refuses the stop (ValidationException): the job is recorded Completed, with its last value.
    emulator = loop.fresh(fates({"g0001-t0000": JobFate(metrics=None, epochs=lines(BAD),
                                                        completes_before_stop=True)}))
    run = "es-race"
    (execution,) = loop.run(auto(run, 2))
    assert execution["status"] == "SUCCEEDED", execution
    _, raced = loop.trials(run)
    assert emulator.stop_calls == [(raced.job_name, "ValidationException")]
    # The Watch Lambda took the refusal for what it is (the job has ended), not for an error.
    looks = watch_looks(loop, raced.job_name)
    assert looks and all(i.error is None for i in looks)
    assert raced.status == "Completed" and raced.failure_reason is None
    assert raced.values[OBJECTIVE] == BAD[-1]
    assert raced.learning_curve().series() == list(enumerate(BAD, 1))
    sagemaker = loop.harness.client("sagemaker")
    assert sagemaker.describe_training_job(TrainingJobName=raced.job_name)["TrainingJobStatus"] == "Completed"


def test_without_auto_no_job_is_watched_and_the_run_costs_what_it_did(loop: Loop) -> None:
    # Jobs that log their epochs and end on their own (no Watch Lambda to pace them).
    def fate(params: Mapping[str, Any]) -> JobFate:
        return JobFate(metrics=None, log_lines=lines(BAD if params["TrainingJobName"].endswith("-g1-t0")
                                                     else GOOD), polls=1)

    loop.fresh(SageMakerEmulator(fate))
    run = "es-off"
    request = auto(run, 3)
    request["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] = "Off"
    (execution,) = loop.run(request)
    assert execution["status"] == "SUCCEEDED", execution
    trials = loop.trials(run)
    assert [t.status for t in trials] == ["Completed"] * 3
    assert [t.values[OBJECTIVE] for t in trials] == [GOOD[-1], BAD[-1], GOOD[-1]]
    assert not [i for i in loop.harness.invocations if i.function == WATCH]
    proposed = [i.result for i in loop.harness.invocations if i.function == function_name("Propose")]
    assert proposed and all(p["jobs"].get("watch") is None for p in proposed if p.get("jobs"))
    assert len(loop.events(execution)) == parent_events(3, 3)


def test_auto_on_an_inline_map_is_refused_naming_the_field(loop: Loop) -> None:
    loop.fresh(fates({}))
    run = "es-inline"
    (execution,) = loop.run(auto(run, 2), INLINE)
    assert execution["status"] == "FAILED", execution
    assert f"{CONFIG}.TrainingJobEarlyStoppingType" in execution.get("cause", "")
    # Refused before anything is written or any job is created.
    with pytest.raises(RunNotFoundError):
        loop.trials(run)
    assert not loop.harness.sagemaker.jobs


#: SageMaker's longest training job: ``StoppingCondition.MaxRuntimeInSeconds`` at most 2,419,200 s
#: (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_StoppingCondition.html).
LONGEST_JOB = 2_419_200
#: A child execution's history holds 25,000 events ("Maximum execution history size",
#: https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html).
HISTORY = 25_000


def events_per_look() -> int:
    """The history events one look writes, from the definition's watch loop: a Wait, a Lambda task, a
    Choice (as Step Functions documents each state's events)."""
    states = state_machine.build_definition(**PLACEHOLDERS)["States"]
    processor = states["Train the generation"]["ItemProcessor"]
    (loop_branch,) = [b for b in processor["States"][sm_training.TRAIN_AND_WATCH]["Branches"]
                      if b["StartAt"] == sm_training.START_WATCHING]
    kinds = sorted(s["Type"] for n, s in loop_branch["States"].items()
                   if n in (sm_training.WAIT_TO_WATCH, sm_training.WATCH, sm_training.KEEP_WATCHING))
    assert kinds == ["Choice", "Task", "Wait"]
    # Wait: entered, exited; Lambda task: entered, scheduled, started, succeeded, exited; Choice: entered,
    # exited.
    return 2 + 5 + 2


@pytest.mark.parametrize("seconds", [state_machine.definition.MIN_WATCH_SECONDS, 60,
                                     state_machine.definition.MAX_WATCH_SECONDS])
def test_the_longest_job_is_watched_to_its_end_within_its_child_executions_history(seconds: int) -> None:
    # Polling every 60 s for 28 days would be 40,320 looks, 362,880 events: the wait grows instead.
    assert LONGEST_JOB // 60 * events_per_look() > HISTORY
    poll, looks = aws_watch.Poll(seconds, seconds), 0
    while poll.waited < LONGEST_JOB:
        answer = poll.answer(False)
        looks += 1
        assert not answer["done"], f"the watch ends after {poll.waited:,} s, {looks} looks"
        poll = aws_watch.Poll.of(answer)  # what the state machine hands the next look
    # Room left for the training branch: its task, retries of throttled creates, the final call.
    assert looks <= aws_watch.MAX_POLLS and aws_watch.MAX_POLLS * events_per_look() <= HISTORY - 6_000
    # The first looks come at the configured interval: a bad job is stopped that soon after its epoch.
    assert aws_watch.next_wait(seconds, 0) == seconds
