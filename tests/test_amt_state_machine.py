"""SageMaker's own tuner (``amt-*``) through the state machine the CDK stack synthesizes, executed by
moto's interpreter (``sfn_harness``), the tuning job and its training jobs played by
``amt_emulator.TuningEmulator``: the branch at ``Which tuner?``, the tuning job created as the request
says, its training jobs imported as the run's trials, and the run ending as the tuning job did."""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from amt_emulator import TrainingFate, TuningEmulator, TuningEnd
from aws_fixtures import OBJECTIVE, accuracy, digits_request
from sfn_harness import ENVIRONMENT, Loop, byohpo_loop, function_name

from byohpo import aws
from byohpo.aws import amt
from byohpo.cli import main
from byohpo.leaderboard import Leaderboard, request_info
from byohpo.request import parse_request

RUN_NAME_TAKEN = "digits-amt-taken"


def amt_request(name: str, strategy: str = "amt-bayesian", jobs: int = 6, parallel: int = 2,
                **config: Any) -> dict[str, Any]:
    """The digits request as an AMT user writes it: SageMaker's RandomSeed, no byohpo StrategyConfig,
    AMT's completion criteria only."""
    raw = digits_request(name, Strategy=strategy, RandomSeed=7,
                         ResourceLimits={"MaxNumberOfTrainingJobs": jobs,
                                         "MaxParallelTrainingJobs": parallel},
                         TuningJobCompletionCriteria={}, **config)
    if "StrategyConfig" not in config:
        del raw["HyperParameterTuningJobConfig"]["StrategyConfig"]
    return raw


def known_accuracy(tuned: Mapping[str, str]) -> TrainingFate:
    return TrainingFate(metrics={OBJECTIVE: accuracy(tuned), "train:seconds": 12.5})


@pytest.fixture(scope="module")
def loop() -> Iterator[Loop]:
    """byohpo's handlers on moto, and a state machine of the definition exactly as ``infra/`` deploys it
    (DefinitionString and DefinitionSubstitutions), each Lambda placeholder routed to its handler."""
    stack_fixture = pytest.importorskip("stack_fixture", reason="aws-cdk-lib (and node) to synthesize")
    definition = stack_fixture.state_machine_definition()
    template = stack_fixture.synthesized().template
    with byohpo_loop({}) as running:
        values = {}
        for placeholder, value in definition.substitutions.items():
            function = function_name(placeholder.removesuffix("FunctionArn"))
            values[placeholder] = (running.harness.function_arn(function)
                                   if placeholder in definition.handlers
                                   else stack_fixture.resolve(value, template))
        running.machines["synthesized"] = running.harness.create_state_machine(
            definition.text, values, name="byohpo-synthesized")
        yield running


def store() -> Any:
    return aws.clients().store


def sagemaker() -> Any:
    return aws.clients().sagemaker


def s3_json(key: str) -> Any:
    return json.loads(aws.clients().s3.get_object(Bucket=ENVIRONMENT["BYOHPO_BUCKET"],
                                                  Key=key)["Body"].read())


def invocations(loop: Loop, function: str) -> list[Any]:
    return [i for i in loop.harness.invocations if i.function == function_name(function)]


# -- a run -------------------------------------------------------------------------------------------

def test_an_amt_run_creates_one_tuning_job_and_imports_its_training_jobs(loop: Loop) -> None:
    tuning = loop.fresh_tuning(TuningEmulator(known_accuracy, polls=1))
    raw = amt_request("digits-amt", jobs=6, parallel=2)
    (execution,) = loop.run(raw)
    assert execution["status"] == "SUCCEEDED", execution
    run = store().get_run("digits-amt")
    name = amt.tuning_job_name("digits-amt", run.token)
    assert len(name) <= 32 and name.startswith("digits-amt-") and name != "digits-amt"

    # The tuning job: the request as written, AMT's strategy, byohpo's tags; no training job of byohpo's.
    assert tuning.create_calls == [(name, None)]
    assert [i.function for i in loop.harness.invocations] == [
        "byohpo-start", "byohpo-import", "byohpo-finalize"]  # no Propose, no Evaluate
    desc = sagemaker().describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    config = desc["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Bayesian" and config["RandomSeed"] == 7 and "StrategyConfig" not in config
    assert config["ParameterRanges"] == raw["HyperParameterTuningJobConfig"]["ParameterRanges"]
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": OBJECTIVE}
    assert "Local" not in desc["TrainingJobDefinition"]
    assert desc["TrainingJobDefinition"]["RoleArn"] == raw["TrainingJobDefinition"]["RoleArn"]

    # Its training jobs are the run's trials, in the order SageMaker created them.
    trials = store().get_trials("digits-amt")
    jobs = amt.list_training_jobs(sagemaker(), name)
    assert [t.job_name for t in trials] == [j["TrainingJobName"] for j in jobs] and len(trials) == 6
    assert [t.trial_id for t in trials] == [f"g0000-t{i:04d}" for i in range(6)]
    for trial, job in zip(trials, jobs, strict=True):
        tuned = job["TunedHyperParameters"]
        described = sagemaker().describe_training_job(TrainingJobName=trial.job_name)
        assert trial.status == "Completed" and trial.failure_reason is None
        assert trial.params == {"learning_rate": float(tuned["learning_rate"]),
                                "num_epoch": int(tuned["num_epoch"]), "activation": tuned["activation"]}
        assert trial.values == {OBJECTIVE: accuracy(tuned), "train:seconds": 12.5}
        assert trial.hyperparameters == described["HyperParameters"]
        assert trial.started_at and trial.ended_at and trial.started_at <= trial.ended_at
        assert trial.meta == {"amt": {"tuning_job": name}}
        # SageMaker copied the tuning job's tags, byohpo's among them, to the training job
        tags = sagemaker().list_tags(ResourceArn=described["TrainingJobArn"])["Tags"]
        assert {"Key": "byohpo:stack", "Value": ENVIRONMENT["BYOHPO_STACK"]} in tags
        assert {"Key": "byohpo:run", "Value": "digits-amt"} in tags

    # The run ends as a byohpo run does: its stop reason, leaderboard and summary.
    assert (run.status, run.stop_code) == ("Completed", "MaxNumberOfTrainingJobs")
    assert name in run.reason and "MaxNumberOfTrainingJobs=6" in run.reason
    best = max(trials, key=lambda t: t.values[OBJECTIVE])
    out = json.loads(execution["output"])
    assert out["best"]["trial_id"] == best.trial_id and out["stop_code"] == "MaxNumberOfTrainingJobs"
    summary = s3_json("runs/digits-amt/summary.json")
    assert summary["best"]["trial_id"] == best.trial_id
    info = request_info(run.request)
    assert info.strategy == "amt-bayesian"
    board = Leaderboard.from_trials(trials, info.objectives, info.param_names)
    assert board.rows[0].trial_id == best.trial_id
    assert desc["BestTrainingJob"]["TrainingJobName"] == best.job_name  # SageMaker's best is ours


def test_failed_and_stopped_training_jobs_keep_their_reasons_and_values(loop: Loop) -> None:
    """Hyperband stops weak jobs early: they stay Stopped with their last value; a job stopped at its
    time limit reads MaxRuntimeExceeded; a failed one keeps SageMaker's FailureReason."""
    def fate(tuned: Mapping[str, str]) -> TrainingFate:
        value = accuracy(tuned)
        epochs = int(tuned["num_epoch"])
        if epochs < 20:
            return TrainingFate("Failed", failure_reason="AlgorithmError: ExecuteUserScriptError: CUDA out "
                                                         "of memory")
        if epochs > 40:
            return TrainingFate("Stopped", metrics={OBJECTIVE: value}, secondary_status="MaxRuntimeExceeded")
        if value < 0.93:
            return TrainingFate("Stopped", metrics={OBJECTIVE: value})  # stopped by Hyperband
        return TrainingFate(metrics={OBJECTIVE: value})

    loop.fresh_tuning(TuningEmulator(fate))
    raw = amt_request("digits-hyperband", "amt-hyperband", jobs=12, parallel=4,
                      StrategyConfig={"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 50}})
    (execution,) = loop.run(raw)
    assert execution["status"] == "SUCCEEDED", execution
    trials = store().get_trials("digits-hyperband")
    assert len(trials) == 12
    by_status = {s: [t for t in trials if t.status == s] for s in ("Completed", "Failed", "Stopped")}
    assert all(by_status.values()), {s: len(v) for s, v in by_status.items()}
    for trial in trials:
        epochs = int(trial.hyperparameters["num_epoch"])
        if epochs < 20:
            assert trial.status == "Failed" and trial.values is None
            assert trial.failure_reason == "AlgorithmError: ExecuteUserScriptError: CUDA out of memory"
        elif epochs > 40:
            assert trial.status == "Stopped" and trial.failure_reason.startswith("MaxRuntimeExceeded")
            assert trial.values == {OBJECTIVE: accuracy(trial.hyperparameters)}
        elif trial.status == "Stopped":
            assert trial.failure_reason.startswith("EarlyStopped: ") and "Hyperband" in trial.failure_reason
            assert trial.values == {OBJECTIVE: accuracy(trial.hyperparameters)}
    sent = sagemaker().describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=amt.run_tuning_job(store().get_run("digits-hyperband")))
    assert sent["HyperParameterTuningJobConfig"]["StrategyConfig"] == {
        "HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 50}}
    assert store().get_run("digits-hyperband").status == "Completed"


def test_an_import_that_is_retried_records_nothing_twice(loop: Loop) -> None:
    """Import ran and wrote every trial, but Step Functions never got its answer (a Lambda service
    error): the retried Import finds the trials written and answers the same."""
    loop.fresh_tuning(TuningEmulator(known_accuracy))
    loop.harness.lose_results(function_name("Import"), "ServiceException")
    (execution,) = loop.run(amt_request("digits-amt-retried", jobs=5, parallel=5))
    assert execution["status"] == "SUCCEEDED", execution
    first, second = invocations(loop, "Import")
    assert first.error == "Lambda.ServiceException" and second.error is None
    assert first.result["stop"] == second.result["stop"]
    trials = store().get_trials("digits-amt-retried")
    assert len(trials) == 5 and len({t.job_name for t in trials}) == 5
    assert store().get_run("digits-amt-retried").version == 1  # one generation written, once
    assert loop.harness.retry_sleeps  # Step Functions' Retry on Lambda.ServiceException did it


def test_a_tuning_job_that_fails_fails_the_run_with_its_reason_and_keeps_its_jobs(loop: Loop) -> None:
    reason = "ClientError: Unable to download data from s3://example-ml-data/digits/train/"
    loop.fresh_tuning(TuningEmulator(known_accuracy, end=TuningEnd(after=3, failure_reason=reason)))
    (execution,) = loop.run(amt_request("digits-amt-fails", jobs=8, parallel=3))
    assert execution["status"] == "FAILED" and execution["error"] == "RunFailed", execution
    assert reason in execution["cause"] and "TuningJobFailed" in execution["cause"]
    run = store().get_run("digits-amt-fails")
    assert run.status == "Failed" and reason in run.reason and amt.run_tuning_job(run) in run.reason
    assert run.stop_code == "Error"
    trials = store().get_trials("digits-amt-fails")
    assert len(trials) == 3 and all(t.status == "Completed" for t in trials)
    assert s3_json("runs/digits-amt-fails/summary.json")["best"] is not None
    # Import after the .sync task failed: it read the tuning job, not the task's Cause
    (imported,) = invocations(loop, "Import")
    assert imported.event["error"]["Error"] == "States.TaskFailed"


CLI_STACK = "byohpo-amt-cli"


def deployed(loop: Loop) -> None:
    """The stack's CloudFormation outputs in moto, as ``byohpo stop`` finds them (``infra/stack.py``)."""
    outputs = {"StateMachineArn": loop.machines["synthesized"], "TableName": ENVIRONMENT["BYOHPO_TABLE"],
               "BucketName": ENVIRONMENT["BYOHPO_BUCKET"]}
    cloudformation = loop.harness.client("cloudformation")
    if not cloudformation.list_stacks(StackStatusFilter=["CREATE_COMPLETE"])["StackSummaries"]:
        template = {"Resources": {"Results": {"Type": "AWS::S3::Bucket",
                                              "Properties": {"BucketName": "byohpo-amt-cli-cfn"}}},
                    "Outputs": {k: {"Value": v} for k, v in outputs.items()}}
        cloudformation.create_stack(StackName=CLI_STACK, TemplateBody=json.dumps(template))


def test_byohpo_stop_stops_the_tuning_job_and_the_execution_ends_the_run_stopped(
        loop: Loop, capsys: pytest.CaptureFixture[str]) -> None:
    """``byohpo stop`` on an amt-* run: StopHyperParameterTuningJob, the .sync task fails on the stopped
    tuning job, and Import writes what ran and ends the run Stopped, as byohpo stop ends any run (the
    training jobs a stop finds running: the next test)."""
    deployed(loop)
    tuning = loop.fresh_tuning(TuningEmulator(known_accuracy, pause_after=4))
    arn = loop.harness.start(loop.machines["synthesized"], amt_request("digits-amt-stopped", jobs=20,
                                                                       parallel=2), "digits-amt-stopped-1")
    deadline = time.monotonic() + 60
    while not any(len(t.jobs) >= 4 for t in tuning.tunings.values()):  # two waves ran, and it waits
        assert time.monotonic() < deadline, "the tuning job launched no second wave"
        time.sleep(0.01)
    (name,) = tuning.tunings
    capsys.readouterr()
    assert main(["stop", "digits-amt-stopped", "--stack", CLI_STACK]) == 0
    out = capsys.readouterr().out
    assert f"stopped tuning job {name}" in out and "execution digits-amt-stopped-1 imports" in out
    assert tuning.stop_calls == [(name, None)]
    (execution,) = loop.harness.follow(arn)
    assert execution["status"] == "SUCCEEDED", execution
    run = store().get_run("digits-amt-stopped")
    assert (run.status, run.stop_code) == ("Stopped", "StoppedByUser") and name in run.reason
    trials = store().get_trials("digits-amt-stopped")
    assert 4 <= len(trials) < 20 and all(t.finished for t in trials)
    assert [t.job_name for t in trials] == tuning.tunings[name].jobs
    (imported,) = invocations(loop, "Import")
    assert imported.event["error"]["Error"] == "States.TaskFailed"  # .sync fails on a stopped tuning job
    assert s3_json("runs/digits-amt-stopped/summary.json")["status"] == "Stopped"


def test_byohpo_stop_without_an_execution_imports_what_ran_and_ends_the_run(
        loop: Loop, capsys: pytest.CaptureFixture[str]) -> None:
    """The execution is gone (failed, stopped by hand) while the tuning job runs: byohpo stop stops the
    tuning job, imports its training jobs (those it was running, Stopped) and ends the run itself."""
    from byohpo.handlers import start

    deployed(loop)
    tuning = loop.fresh_tuning(TuningEmulator(known_accuracy))
    raw = amt_request("digits-amt-orphan", jobs=6, parallel=2)
    started = start.start({"input": raw, "execution": "arn:aws:states:us-east-1:123456789012:execution:"
                                                      "byohpo-synthesized:gone"}, store=store(),
                          clients=aws.clients())
    name = started["tuning"]["HyperParameterTuningJobName"]
    tuning.create(sagemaker(), started["tuning"])
    tuning.wave(sagemaker(), name)
    running = tuning.wave(sagemaker(), name, end=False)
    capsys.readouterr()
    assert main(["stop", "digits-amt-orphan", "--stack", CLI_STACK]) == 0
    out = capsys.readouterr().out
    assert f"stopped tuning job {name}" in out and f"imported 4 training jobs of tuning job {name}" in out
    run = store().get_run("digits-amt-orphan")
    assert (run.status, run.stop_code) == ("Stopped", "StoppedByUser")
    trials = store().get_trials("digits-amt-orphan")
    assert [t.status for t in trials] == ["Completed", "Completed", "Stopped", "Stopped"]
    assert [t.job_name for t in trials[2:]] == running
    assert s3_json("runs/digits-amt-orphan/summary.json")["status"] == "Stopped"


def test_an_interrupted_amt_run_is_taken_over_and_its_tuning_job_waited_for(loop: Loop) -> None:
    """The execution that created the tuning job is aborted while the job runs. Starting the run again
    creates no second tuning job: the create collides (ResourceInUse), Import adopts the run's own job,
    waits for it (Wait, Import again) and imports it once it ends."""
    tuning = loop.fresh_tuning(TuningEmulator(known_accuracy, pause_after=2))
    h, machine, raw = loop.harness, loop.machines["synthesized"], amt_request("digits-amt-adopted", jobs=4)
    first = h.start(machine, raw, "digits-amt-adopted-1")
    deadline = time.monotonic() + 60
    while not any(len(t.jobs) >= 2 for t in tuning.tunings.values()):
        assert time.monotonic() < deadline, "the tuning job launched no training job"
        time.sleep(0.01)
    h.client("stepfunctions").stop_execution(executionArn=first)
    assert h.wait(first)["status"] == "ABORTED"
    second = h.start(machine, raw, "digits-amt-adopted-2")
    while not any(i.result and i.result.get("action") == "wait" for i in invocations(loop, "Import")):
        assert time.monotonic() < deadline + 60, "Import did not wait for the running tuning job"
        time.sleep(0.01)
    (name,) = tuning.tunings
    tuning.pause_after = None
    tuning.run(sagemaker(), name)  # the rest of the tuning job (no .sync task polls it now)
    (execution,) = h.follow(second)
    assert execution["status"] == "SUCCEEDED", execution
    assert [(n, code) for n, code in tuning.create_calls] == [(name, None), (name, "ResourceInUse")]
    trials = store().get_trials("digits-amt-adopted")
    assert [t.job_name for t in trials] == tuning.tunings[name].jobs and len(trials) == 4
    run = store().get_run("digits-amt-adopted")
    assert (run.status, run.stop_code) == ("Completed", "MaxNumberOfTrainingJobs")
    assert h.wait_sleeps


def test_a_warm_start_from_an_amt_run_names_that_runs_tuning_job(loop: Loop) -> None:
    """WarmStartConfig naming a byohpo run of an amt-* strategy: SageMaker's tuner gets that run's tuning
    job as the parent (the warm-started task of ``Which tuner?``); a parent that is neither a run nor a
    tuning job is refused by field before anything starts."""
    tuning = loop.fresh_tuning(TuningEmulator(known_accuracy))
    (parent,) = loop.run(amt_request("digits-amt-parent", jobs=2, parallel=2))
    assert parent["status"] == "SUCCEEDED", parent
    parent_job = amt.run_tuning_job(store().get_run("digits-amt-parent"))
    raw = amt_request("digits-amt-child", jobs=2, parallel=2)
    parents = [{"HyperParameterTuningJobName": "digits-amt-parent"}]
    raw["WarmStartConfig"] = {"ParentHyperParameterTuningJobs": parents,
                              "WarmStartType": "IdenticalDataAndAlgorithm"}
    (child,) = loop.run(raw)
    assert child["status"] == "SUCCEEDED", child
    child_job = amt.run_tuning_job(store().get_run("digits-amt-child"))
    assert tuning.tunings[child_job].params["WarmStartConfig"] == {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": parent_job}],
        "WarmStartType": "IdenticalDataAndAlgorithm"}
    assert "WarmStartConfig" not in tuning.tunings[parent_job].params
    assert len(store().get_trials("digits-amt-child")) == 2

    raw = amt_request("digits-amt-orphaned", jobs=2, parallel=2)
    raw["WarmStartConfig"] = {"ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "no-such"}],
                              "WarmStartType": "IdenticalDataAndAlgorithm"}
    (refused,) = loop.run(raw)
    assert refused["status"] == "FAILED"
    assert "WarmStartConfig.ParentHyperParameterTuningJobs[0].HyperParameterTuningJobName" in refused["cause"]
    assert "no SageMaker tuning job and no byohpo run named 'no-such'" in refused["cause"]
    assert [n for n, _ in tuning.create_calls] == [parent_job, child_job]


def test_import_reads_every_page_of_a_large_tuning_job(loop: Loop) -> None:
    """More training jobs than one ListTrainingJobsForHyperParameterTuningJob page holds (100), in an
    account whose quota of parallel training jobs per tuning job was raised to 100."""
    tuning = loop.fresh_tuning(TuningEmulator(known_accuracy, parallel_quota=100))
    (execution,) = loop.run(amt_request("digits-amt-large", "amt-random", jobs=105, parallel=100),
                            timeout=300)
    assert execution["status"] == "SUCCEEDED", execution
    trials = store().get_trials("digits-amt-large")
    assert len(trials) == 105 and len({t.job_name for t in trials}) == 105
    pages = [c for c in tuning.list_calls if c["HyperParameterTuningJobName"] == amt.run_tuning_job(
        store().get_run("digits-amt-large"))]
    assert len(pages) == 2 and pages[0]["NextToken"] is None and pages[1]["NextToken"]
    assert all(c["MaxResults"] == 100 for c in pages)
    assert store().get_run("digits-amt-large").stop_code == "MaxNumberOfTrainingJobs"


def test_a_long_run_name_gets_a_tuning_job_name_within_32_characters(loop: Loop) -> None:
    """A request's HyperParameterTuningJobName may use all of SageMaker's 32 characters (the name it had
    on AMT); the run's tuning job adds its token and is cut back to 32 (the emulator refuses longer ones
    as SageMaker does)."""
    tuning = loop.fresh_tuning(TuningEmulator(known_accuracy))
    long = "xgboost-blog-11-params-bayesian1"
    (execution,) = loop.run(amt_request(long, jobs=2, parallel=2))
    assert execution["status"] == "SUCCEEDED", execution
    run = store().get_run(long)
    ((name, refused),) = tuning.create_calls
    assert refused is None and len(name) == 32 and name == f"xgboost-blog-11-params-ba-{run.token}"
    assert len(store().get_trials(long)) == 2 and run.status == "Completed"


def test_a_parallel_limit_above_the_accounts_quota_fails_the_run_with_sagemakers_message(loop: Loop) -> None:
    """MaxParallelTrainingJobs above the account's quota (10 unless raised): SageMaker refuses the create
    with ResourceLimitExceeded, retried as a capacity error, then the run fails saying why."""
    tuning = loop.fresh_tuning(TuningEmulator(known_accuracy))
    (execution,) = loop.run(amt_request("digits-amt-quota", jobs=20, parallel=12))
    assert execution["status"] == "FAILED", execution
    run = store().get_run("digits-amt-quota")
    assert run.status == "Failed" and "was not created" in run.reason
    assert "Number of parallel training jobs per hyperparameter tuning job' is 10" in run.reason
    assert {code for _, code in tuning.create_calls} == {"ResourceLimitExceeded"}
    assert len(tuning.create_calls) > 1  # Retry on SageMaker.ResourceLimitExceeded
    assert store().get_trials("digits-amt-quota") == []


def test_a_request_named_after_an_amt_job_of_its_author_runs_under_the_runs_own_name(loop: Loop) -> None:
    """The user ran this very request on AMT before: its tuning job has the request's name. The run's
    tuning job is named after the run and its token, so it is created all the same."""
    tuning = loop.fresh_tuning(TuningEmulator(known_accuracy))
    raw = amt_request(RUN_NAME_TAKEN, jobs=2, parallel=2)
    theirs = amt.tuning_job_params(parse_request(raw), name=RUN_NAME_TAKEN)
    tuning.create(sagemaker(), theirs)
    (execution,) = loop.run(raw)
    assert execution["status"] == "SUCCEEDED", execution
    run = store().get_run(RUN_NAME_TAKEN)
    assert [n for n, _ in tuning.create_calls] == [RUN_NAME_TAKEN, amt.run_tuning_job(run)]
    assert len(store().get_trials(RUN_NAME_TAKEN)) == 2


def test_the_harness_refuses_tuning_jobs_as_sagemaker_does(loop: Loop) -> None:
    """A name over 32 characters, a name already used, more than 50 tags: refused at the create, the
    run ends Failed with SageMaker's message (not silently created as moto would)."""
    tuning = loop.fresh_tuning(TuningEmulator(known_accuracy))
    raw = amt_request("digits-amt-tags", jobs=2, parallel=2)
    params = amt.tuning_job_params(parse_request(raw), name="x" * 33)
    params["Tags"] = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    with pytest.raises(Exception) as refused:
        tuning.create(sagemaker(), params)
    message = str(refused.value)
    assert "length less than or equal to 32" in message and "less than or equal to 50" in message
    params.update(HyperParameterTuningJobName="digits-amt-once", Tags=[])
    tuning.create(sagemaker(), params)
    with pytest.raises(Exception, match="ResourceInUse"):
        tuning.create(sagemaker(), params)


def test_byohpo_strategies_still_take_the_loop(loop: Loop) -> None:
    from sfn_harness import JobFate, SageMakerEmulator

    loop.fresh(SageMakerEmulator(lambda p: JobFate(metrics={OBJECTIVE: accuracy(p["HyperParameters"])})))
    raw = digits_request("digits-not-amt", ResourceLimits={"MaxNumberOfTrainingJobs": 3,
                                                           "MaxParallelTrainingJobs": 3})
    (execution,) = loop.run(copy.deepcopy(raw))
    assert execution["status"] == "SUCCEEDED", execution
    assert not invocations(loop, "Import") and invocations(loop, "Propose")
    assert loop.harness.tuning.create_calls == []
    assert all(math.isfinite(t.values[OBJECTIVE]) for t in store().get_trials("digits-not-amt"))


def test_auto_early_stopping_of_an_amt_run_is_sagemakers_even_without_a_watching_map(loop: Loop) -> None:
    """``Auto`` with ``amt-bayesian`` is AMT's own median rule: Start hands it on to the tuning job even
    when the state machine has no watched Map (INLINE, or no Watch Lambda), where byohpo's own
    strategies are refused (``test_early_stopping_aws``)."""
    from aws_fixtures import execution_arn

    from byohpo.errors import ValidationError
    from byohpo.handlers import start

    raw = amt_request("digits-amt-auto", TrainingJobEarlyStoppingType="Auto")
    started = start.handler({"input": raw, "execution": execution_arn("amt-auto")}, None)
    assert started["tuning"]["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] == "Auto"
    ours = digits_request("digits-own-auto", Strategy="random", TrainingJobEarlyStoppingType="Auto")
    with pytest.raises(ValidationError, match="TrainingJobEarlyStoppingType"):
        start.handler({"input": ours, "execution": execution_arn("own-auto")}, None)
