"""Evaluate: settle the generation's trials from SageMaker, then decide: next generation, wait for
adopted jobs, finish, or continue as a new execution (see ``byohpo.handlers`` for the contract)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from byohpo import aws
from byohpo.aws import training
from byohpo.aws.algorithm_metrics import metric_log_reader
from byohpo.aws.training import MapResult
from byohpo.aws.warm_start import with_imported_budget
from byohpo.errors import ValidationError
from byohpo.handlers import (
    EventCosts,
    RunContext,
    fits_another,
    now,
    owned_run,
    run_request,
    run_stop,
    stop_dict,
)
from byohpo.stopping import remaining_budget
from byohpo.store.base import Store, VersionConflictError
from byohpo.tuning import decide, elapsed_seconds

log = logging.getLogger(__name__)

#: Why a trial of the generation has no result: the Map lost it, or its Distributed Map child failed.
NO_RESULT = "the state machine returned no result for this trial"


def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    c = aws.clients()
    return evaluate(event, store=c.store, sagemaker=c.sagemaker, logs=c.logs)


def evaluate(event: Mapping[str, Any], *, store: Store, sagemaker: Any, logs: Any) -> dict[str, Any]:
    ctx = RunContext.from_event(event)
    generation, raw = _parse(event)
    run = owned_run(store, ctx)
    results, failed_children = _results(raw, generation)
    succeeded = sum(1 for r in results.values() if r.status == "Completed" and not r.caught)
    costs = EventCosts.from_event(event)
    ctx = ctx.spent(costs.generation_events(succeeded, len(raw) - succeeded) if raw else costs.wait)
    if run.finished:
        return _answer(ctx, generation, "finish", run_stop(run))
    request = run_request(run)
    read_logs = metric_log_reader(logs, sagemaker, request)
    no_result = NO_RESULT + (f" ({failed_children})" if failed_children else "")
    deferred = 0
    for trial in store.get_trials(run.name):
        if trial.generation != generation or trial.finished:
            continue  # a retried Evaluate: recorded already
        result = results.get(trial.trial_id)
        # Without a result: an adopted job (Start marked it InProgress), or one the Map lost.
        error = no_result if result is None and trial.status == "Pending" else None
        try:
            training.reconcile(store, request, trial, sagemaker, run=run, read_logs=read_logs,
                               result=result, error=error)
        except VersionConflictError as exc:  # another writer moved the trial on: its record stands
            log.warning("run %s: trial %s changed meanwhile: %s", run.name, trial.trial_id, exc)
        except Exception as exc:
            if not _throttled(exc):
                raise
            # SageMaker or Logs throttled beyond botocore's retries (a generation of hundreds of jobs
            # described at once): the trial stays as it is, and the Wait round settles it from its job.
            deferred += 1
            log.warning("run %s: trial %s left for the next round: %s", run.name, trial.trial_id, exc)
    history = store.get_trials(run.name)
    if deferred or any(t.status == "InProgress" for t in history):
        return _answer(ctx, generation, "wait" if fits_another(ctx, 0, costs) else "continue_as_new", None)
    pending = sum(1 for t in history if not t.finished)
    if pending:  # jobs that were never created, renamed for another attempt: Propose hands them out
        action = "next" if fits_another(ctx, pending, costs) else "continue_as_new"
        return _answer(ctx, generation, action, None)
    request = with_imported_budget(request, history)
    stop = decide(request, history, elapsed_seconds(run, now()))
    if stop is not None:
        log.info("run %s stops: %s", run.name, stop.message)
        return _answer(ctx, generation, "finish", stop_dict(stop))
    largest = max(sum(1 for t in history if t.generation == g) for g in {t.generation for t in history})
    jobs = min(max(largest, request.max_parallel), remaining_budget(request.stopping, history))
    return _answer(ctx, generation, "next" if fits_another(ctx, jobs, costs) else "continue_as_new", None)


def _parse(event: Mapping[str, Any]) -> tuple[int, list[Any]]:
    generation, results = event.get("generation"), event.get("results")
    if isinstance(generation, bool) or not isinstance(generation, int) or generation < 0:
        raise ValidationError(f"must be a non-negative integer, not {generation!r}", "generation")
    if not isinstance(results, list):
        raise ValidationError(f"must be the list of the Map's results, not {type(results).__name__}",
                              "results")
    return generation, results


def _results(raw: Sequence[Any], generation: int) -> tuple[dict[str, MapResult], str]:
    """The generation's results by trial id, each checked; and, when some named no trial (failed
    Distributed Map children), a few words on them. The first result of a trial wins: a later one
    is a duplicate, not a correction."""
    out: dict[str, MapResult] = {}
    failed: list[str] = []
    for i, item in enumerate(raw):
        result = MapResult.parse(item)
        if result is None:
            failed.append(_child_error(item))
            log.warning("results[%d] names no trial (a Map iteration that failed): %s", i, failed[-1])
        elif not result.trial_id.startswith(f"g{generation:04d}-"):
            log.warning("results[%d] is for trial %s, not of generation %d: ignored", i, result.trial_id,
                        generation)
        elif result.trial_id in out:
            log.warning("results[%d] is a second result for trial %s: ignored", i, result.trial_id)
        else:
            out[result.trial_id] = result
    if not failed:
        return out, ""
    return out, training.clip(f"{len(failed)} Map iteration{'s' * (len(failed) != 1)} failed: "
                              + "; ".join(dict.fromkeys(failed)))


def _child_error(item: Any) -> str:
    if isinstance(item, Mapping) and isinstance(item.get("Error"), str):
        error, cause = item["Error"], item.get("Cause")
        return training.clip(f"{error}: {cause}" if isinstance(cause, str) and cause else error)
    return "no trial_id"


#: Error codes of AWS APIs that mean "too many requests now".
_THROTTLING_CODES = ("Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded",
                     "TooManyRequestsException", "RequestThrottled", "ProvisionedThroughputExceededException")


def _throttled(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, Mapping) else None
    return code in _THROTTLING_CODES


def _answer(ctx: RunContext, generation: int, action: str, stop: dict[str, str] | None) -> dict[str, Any]:
    # "jobs": [] is what Evaluate reads as its results when a Wait state loops back to it.
    return {"run": ctx.to_dict(), "generation": generation, "jobs": [], "action": action, "stop": stop}
