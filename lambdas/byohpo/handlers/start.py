"""Start: validate the request, create or adopt the run, claim it for this execution (see
``byohpo.handlers`` for the contract)."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from typing import Any

from byohpo import aws
from byohpo.aws import amt, training, warm_start
from byohpo.aws.algorithm_metrics import metric_log_reader
from byohpo.aws.results import read_json
from byohpo.errors import ValidationError
from byohpo.handlers import RunContext, event_budget, run_request
from byohpo.request import CONFIG, TuningRequest, parse_request
from byohpo.store.base import ItemTooLargeError, RunClaimedError, RunNotFoundError, Store
from byohpo.store.records import RunRecord
from byohpo.tuning import new_run_token, open_run

log = logging.getLogger(__name__)

_NAME = "HyperParameterTuningJobName"
_MAX_NAME = 32  # SageMaker's limit for tuning job names

#: Statuses of an execution that will never act again (DescribeExecution).
_ENDED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    c = aws.clients()
    return start(event, store=c.store, clients=c)


def start(event: Mapping[str, Any], *, store: Store, clients: aws.Clients) -> dict[str, Any]:
    execution = event.get("execution") if isinstance(event, Mapping) else None
    if not isinstance(execution, str) or not execution:
        raise ValidationError("must be the execution's ARN ($$.Execution.Id)", "execution")
    given = event.get("input")
    role = event.get("training_role")
    if role is not None and (not isinstance(role, str) or not role):
        raise ValidationError("must be the role ARN the state machine gives every job", "training_role")
    watching = isinstance(event.get("early_stopping"), Mapping)
    if isinstance(given, Mapping) and "ContinueRun" in given:
        run, request = _continuation(store, given, execution)
    else:
        run, request = _new(store, clients, given, execution, role, watching)
    if not run.finished:
        previous = run.owner
        run = _claim(store, clients, run, execution, given)
        if previous != execution:
            _settle_unfinished(store, clients, request, run)
    ctx = RunContext(run.name, execution, event_budget=event_budget())
    log.info("run %s started by %s (version %d, %s)", run.name, execution, run.version, run.status)
    if request.sagemaker_strategy and not run.finished:
        return {"run": ctx.to_dict(), "tuning": _tuning_job(store, clients, request, run, role)}
    return {"run": ctx.to_dict()}


def _tuning_job(store: Store, clients: aws.Clients, request: TuningRequest, run: RunRecord,
                role: str | None) -> dict[str, Any]:
    """An ``amt-*`` run's CreateHyperParameterTuningJob parameters, for the state machine's tuning task
    (the same name in every execution of the run: ``byohpo.aws.amt.tuning_job_name``)."""
    parents = amt.warm_start_parents(store, request,
                                     clients.sagemaker) if request.warm_start_parents else None
    params = amt.tuning_job_params(request, name=amt.run_tuning_job(run), stack=aws.stack_name(), role=role,
                                   parents=parents)
    log.info("run %s: SageMaker's tuner runs it as tuning job %s", run.name,
             params["HyperParameterTuningJobName"])
    return params


def _new(store: Store, clients: aws.Clients, given: Any, execution: str, role: str | None,
         watching: bool) -> tuple[RunRecord, TuningRequest]:
    """Everything that can refuse the request is checked before the first write."""
    if isinstance(given, Mapping) and "RequestS3Uri" in given:
        suffix = given.get("RunNameSuffix")
        try:
            given = read_json(clients.s3, given["RequestS3Uri"])
        except ValueError as exc:  # not an s3:// URI, or not JSON
            raise ValidationError(str(exc), "RequestS3Uri") from exc
        if suffix is not None:
            given = with_run_name_suffix(given, suffix)
    request = parse_request(given)
    if request.early_stopping and not watching and not request.sagemaker_strategy:
        raise ValidationError(
            '"Auto" needs a state machine whose Map watches each training job, and this one does not: '
            "its Map is INLINE (every look at a job would go into the execution's own history) or it was "
            "built without the Watch Lambda. Deploy the stack's Distributed Map, or set Off",
            f"{CONFIG}.TrainingJobEarlyStoppingType")
    amt.check_aws(request, stack=aws.stack_name(), role=role)
    if request.sagemaker_strategy and request.warm_start_parents:  # SageMaker's tuner reads its parents
        amt.warm_start_parents(store, request, clients.sagemaker)
    training.check_role(request, training.passable_roles(os.environ.get("BYOHPO_PASSABLE_ROLES")), role)
    imported = []
    if request.warm_start_parents and not request.sagemaker_strategy and _fresh(store, request.name):
        imported = warm_start.import_trials(store, request, sagemaker=clients.sagemaker)
        warm_start.check_strategy(request, imported)
    try:
        run, _ = open_run(store, request, token=new_run_token())
    except ItemTooLargeError as exc:  # refused before anything was written
        raise ValidationError(*_too_large(request.raw, exc)) from exc
    if imported and run.version == 0 and not run.finished:
        run = _claim(store, clients, run, execution, given)
        store.put_generation(run.name, 0, imported, 0)
        run = store.get_run(run.name)
    return run, request


def with_run_name_suffix(request: Any, suffix: Any) -> Any:
    """The request renamed ``<name>-<suffix>`` (the name cut to keep SageMaker's 32 characters), so
    that each execution of a schedule tunes afresh instead of finding last time's finished run.
    ``suffix`` is typically EventBridge Scheduler's ``<aws.scheduler.scheduled-time>``
    (``2026-11-26T06:00:00Z`` becomes ``20261126T060000Z``)."""
    if not isinstance(suffix, str) or not re.sub(r"[^A-Za-z0-9]", "", suffix):
        raise ValidationError("must be a non-empty string of letters and digits", "RunNameSuffix")
    if not isinstance(request, Mapping) or not isinstance(request.get(_NAME), str):
        return request  # parse_request names what is wrong
    tail = re.sub(r"[^A-Za-z0-9]", "", suffix)[:24]
    base = request[_NAME][: _MAX_NAME - len(tail) - 1].rstrip("-")
    return {**request, _NAME: f"{base}-{tail}"}


def _too_large(raw: Mapping[str, Any], exc: ItemTooLargeError) -> tuple[str, str]:
    """(message, path) for a request the store cannot hold: the path is where its bulk is (the
    largest field, descending while one child holds most of its parent)."""
    path, node = "", raw
    while isinstance(node, Mapping) and node:
        key, child = max(node.items(), key=lambda kv: len(json.dumps(kv[1], default=str)))
        if path and len(json.dumps(child, default=str)) * 2 < len(json.dumps(node, default=str)):
            break
        path, node = f"{path}.{key}" if path else str(key), child
    message = (f"the request takes {exc.size:,} bytes in the run's record, above the {exc.limit:,} a "
               "DynamoDB item holds (400 KB); sending it through S3 (RequestS3Uri) does not help, the run "
               "keeps its request. Make this field smaller: pass large values by reference (an S3 URI "
               "the training script reads), not inline")
    return message, path


def _continuation(store: Store, given: Mapping[str, Any], execution: str) -> tuple[RunRecord, TuningRequest]:
    name, previous = given.get("ContinueRun"), given.get("PreviousExecution")
    if not isinstance(name, str) or not name:
        raise ValidationError("must be the name of the run to continue", "ContinueRun")
    if not isinstance(previous, str) or not previous:
        raise ValidationError("must be the ARN of the execution that continued as new", "PreviousExecution")
    run = store.get_run(name)
    if not run.finished and run.owner not in (previous, execution):
        raise RunClaimedError(name, run.owner)
    return run, run_request(run)


def _fresh(store: Store, name: str) -> bool:
    try:
        return store.get_run(name).version == 0
    except RunNotFoundError:
        return True


def _claim(store: Store, clients: aws.Clients, run: RunRecord, execution: str, given: Any) -> RunRecord:
    """Claim the run; take it over from the previous execution of a continuation, or from a holder
    execution that has ended."""
    if run.owner == execution:
        return run
    expected = None
    if isinstance(given, Mapping) and "ContinueRun" in given:
        expected = given["PreviousExecution"]
    elif run.owner is not None and _ended(clients, run.owner):
        expected = run.owner
        log.warning("run %s: taking over from %s, which has ended", run.name, run.owner)
    return store.claim_run(run.name, execution, expected_owner=expected)


def _ended(clients: aws.Clients, holder: str) -> bool:
    """True only when Step Functions says the holder execution has ended; anything else (a local
    engine's ``pid@host``, an unknown ARN, an error) leaves it the holder."""
    if not holder.startswith("arn:") or ":execution:" not in holder:
        return False
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        status = clients.stepfunctions.describe_execution(executionArn=holder).get("status")
    except (ClientError, BotoCoreError) as exc:
        log.warning("cannot tell whether %s has ended: %s", holder, exc)
        return False
    return status in _ENDED


def _settle_unfinished(store: Store, clients: aws.Clients, request: TuningRequest, run: RunRecord) -> None:
    """Trials the previous holder left unfinished: adopt the jobs that exist, rename the others."""
    unfinished = [t for t in store.get_trials(run.name) if not t.finished]
    if not unfinished:
        return
    read_logs = metric_log_reader(clients.logs, clients.sagemaker, request)
    for trial in unfinished:
        settled = training.reconcile(store, request, trial, clients.sagemaker, run=run, read_logs=read_logs)
        log.info("run %s: trial %s left %s by the previous execution is now %s (%s)", run.name,
                 trial.trial_id, trial.status, settled.status, settled.job_name)
