"""``byohpo stop NAME [--stack NAME] [--region R]``: stop a run on the deployed stack, as SageMaker's
StopHyperParameterTuningJob does: its execution, its training jobs in progress, and the run itself
(``Stopped``, its results written to the bucket like any ended run's). An ``amt-*`` run's tuning job
is stopped with StopHyperParameterTuningJob itself (:func:`stop_tuning`)."""

from __future__ import annotations

import argparse
from typing import Any

from botocore.exceptions import ClientError

from byohpo.aws import amt
from byohpo.aws.results import write_results
from byohpo.aws.training import describe_job
from byohpo.cli._aws import Deployment, add_aws_options, aws_errors, deployment, find_run, run_executions
from byohpo.cli._common import CommandError, fail
from byohpo.request import parse_request
from byohpo.store.dynamodb import DynamoDBStore
from byohpo.store.records import RunRecord, utc_now

RESULTS_PREFIX = "runs/"  # the stack's BYOHPO_RESULTS_PREFIX
#: The run's stop_code when ``byohpo stop`` ended it.
STOP_CODE = "StoppedByUser"
#: The error an execution stopped by ``byohpo stop`` ends with (its history shows it).
EXECUTION_ERROR = "byohpo.Stopped"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "stop", help="stop a run on the deployed stack",
        description="Stop a run of the deployed stack: stop its execution, stop its training jobs that "
                    "are in progress, end the run as Stopped (unfinished trials Stopped) and write its "
                    "leaderboard and summary to the bucket.")
    parser.add_argument("name", metavar="NAME", help="the run (its HyperParameterTuningJobName)")
    add_aws_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        deploy = deployment(args.stack, args.region)
        store = deploy.store()
        with aws_errors(f"stack {deploy.stack}"):
            record = find_run(deploy, store, args.name)
            lines = stop(deploy, store, record)
    except CommandError as exc:
        return fail("stop", exc)
    print("\n".join(lines))
    return 0


def stop(deploy: Deployment, store: DynamoDBStore, record: RunRecord) -> list[str]:
    """Stop the execution first (so that no new job starts), then the jobs, then end the run. An
    ``amt-*`` run: :func:`stop_tuning`."""
    if not record.finished and amt.run_strategy(record):
        return stop_tuning(deploy, store, record)
    lines = []
    sfn = deploy.client("stepfunctions")
    for execution in run_executions(deploy, record, status="RUNNING"):
        try:
            sfn.stop_execution(executionArn=execution["executionArn"], error=EXECUTION_ERROR,
                               cause=f"byohpo stop {record.name}")
            lines.append(f"stopped execution {execution['name']}")
        except ClientError as exc:  # ended meanwhile
            lines.append(f"execution {execution['name']}: {_message(exc)}")
    sagemaker = deploy.client("sagemaker")
    stopped_jobs = []
    for trial in store.get_trials(record.name):
        if trial.finished or not trial.job_name:
            continue
        if describe_job(sagemaker, trial.job_name).status not in ("InProgress", "Stopping"):
            continue  # never created (Missing), or ended: Evaluate would have recorded it
        try:
            sagemaker.stop_training_job(TrainingJobName=trial.job_name)
            stopped_jobs.append(trial.job_name)
        except ClientError as exc:
            lines.append(f"training job {trial.job_name}: {_message(exc)}")
    if stopped_jobs:
        lines.append(f"stopped {len(stopped_jobs)} training job{'s' * (len(stopped_jobs) != 1)}: "
                     f"{', '.join(stopped_jobs)}")
    if record.finished:
        lines.append(f"run {record.name} had ended already: {record.status} ({record.reason})")
        return lines
    return lines + end_run(deploy, store, record)


def end_run(deploy: Deployment, store: DynamoDBStore, record: RunRecord) -> list[str]:
    """The run ended ``Stopped`` (its unfinished trials too), its results written to the bucket."""
    lines = []
    reason = "stopped with byohpo stop"
    for trial in store.get_trials(record.name):
        if not trial.finished:
            store.update_trial(record.name, trial.trial_id, expected_attempt=trial.attempt, status="Stopped",
                               failure_reason=f"the run ended before this trial finished: {reason}",
                               ended_at=utc_now())
    ended = store.finish_run(record.name, "Stopped", reason, STOP_CODE)
    written = write_results(deploy.client("s3"), deploy.bucket, ended, store.get_trials(record.name),
                            prefix=RESULTS_PREFIX)
    lines.append(f"run {ended.name} is {ended.status}" + (f" ({ended.reason})" if ended.status != "Stopped"
                                                          else ""))
    lines.append(f"  leaderboard {written['leaderboard']}")
    return lines


def stop_tuning(deploy: Deployment, store: DynamoDBStore, record: RunRecord) -> list[str]:
    """An ``amt-*`` run: StopHyperParameterTuningJob, which stops the tuning job and the training jobs it
    runs. Its execution is left to end the run: the ``.sync`` task fails on the stopped tuning job, and
    Import writes every training job as a trial and ends the run ``Stopped`` (``StoppedByUser``). With
    no execution running (it failed, or was stopped by hand), the training jobs are imported here and
    the run ended as :func:`end_run` ends any."""
    sagemaker = deploy.client("sagemaker")
    name = amt.run_tuning_job(record)
    desc = amt.describe_tuning_job(sagemaker, name)
    lines = []
    foreign = desc and amt.owned_by(desc, record, parse_request(record.request))
    if desc is None:
        lines.append(f"tuning job {name} does not exist (it was never created)")
    elif foreign:
        lines.append(f"tuning job {name} is not this run's ({foreign}): left alone")
        desc = None
    elif desc.get("HyperParameterTuningJobStatus") == "InProgress":
        try:
            sagemaker.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
            lines.append(f"stopped tuning job {name} and the training jobs it runs")
        except ClientError as exc:  # it ended meanwhile
            lines.append(f"tuning job {name}: {_message(exc)}")
    else:
        lines.append(f"tuning job {name} is {desc.get('HyperParameterTuningJobStatus')}")
    running = run_executions(deploy, record, status="RUNNING")
    if running:
        lines.append(f"execution {running[0]['name']} imports its training jobs and ends run {record.name} "
                     f"Stopped: follow it with `byohpo status {record.name}`")
        return lines
    if desc is not None:
        request = parse_request(record.request)
        desc = amt.describe_tuning_job(sagemaker, name) or desc
        trials = amt.import_trials(store, request, record, sagemaker, desc)
        lines.append(f"imported {len(trials)} training job{'s' * (len(trials) != 1)} of tuning job {name}")
    return lines + end_run(deploy, store, store.get_run(record.name))


def _message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", exc))
