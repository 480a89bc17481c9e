"""Evaluate: record the generation's results, then decide: next generation, wait for adopted jobs,
finish, or continue as a new execution (see ``byohpo.handlers`` for the contract)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from byohpo import aws
from byohpo.aws import training
from byohpo.aws.algorithm_metrics import metric_log_reader
from byohpo.aws.warm_start import with_imported_budget
from byohpo.errors import FieldError, ValidationError
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
from byohpo.store.base import Store
from byohpo.tuning import decide, elapsed_seconds

log = logging.getLogger(__name__)


def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    c = aws.clients()
    return evaluate(event, store=c.store, sagemaker=c.sagemaker, logs=c.logs)


def evaluate(event: Mapping[str, Any], *, store: Store, sagemaker: Any, logs: Any) -> dict[str, Any]:
    ctx = RunContext.from_event(event)
    generation, results = _parse(event)
    run = owned_run(store, ctx)
    succeeded = sum(1 for r in results if r.get("TrainingJobStatus") == "Completed" and "Error" not in r)
    costs = EventCosts.from_event(event)
    ctx = ctx.spent(costs.generation_events(succeeded, len(results) - succeeded) if results else costs.wait)
    if run.finished:
        return _answer(ctx, generation, "finish", run_stop(run))
    request = run_request(run)
    read_logs = metric_log_reader(logs, sagemaker, request)
    trials = {t.trial_id: t for t in store.get_trials(run.name)}
    answered = set()
    for i, result in enumerate(results):
        trial = trials.get(result["trial_id"])
        if trial is None or trial.generation != generation:
            raise ValidationError(f"run {run.name} has no trial {result['trial_id']!r} in generation "
                                  f"{generation}", f"results[{i}].trial_id")
        answered.add(trial.trial_id)
        if trial.finished:
            continue  # a retried Evaluate: recorded already
        outcome = training.outcome_of_result(result)
        if outcome.finished:
            training.record_outcome(store, request, trial, outcome, read_logs=read_logs)
        else:  # a caught error: the job may exist all the same
            training.reconcile(store, request, trial, sagemaker, read_logs=read_logs,
                               error=outcome if outcome.status == "Error" else None)
    for trial in list(trials.values()):
        if trial.generation == generation and not trial.finished and trial.trial_id not in answered:
            # No result from the Map (an adopted job, or a Map that lost an item): ask SageMaker.
            training.reconcile(store, request, trial, sagemaker, read_logs=read_logs,
                               error=training.JobOutcome("Error", failure_reason="the state machine "
                                                         "returned no result for this trial")
                               if trial.status == "Pending" else None)
    history = store.get_trials(run.name)
    if any(t.status == "InProgress" for t in history):
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


def _parse(event: Mapping[str, Any]) -> tuple[int, list[Mapping[str, Any]]]:
    generation, results = event.get("generation"), event.get("results")
    if isinstance(generation, bool) or not isinstance(generation, int) or generation < 0:
        raise ValidationError(f"must be a non-negative integer, not {generation!r}", "generation")
    if not isinstance(results, list):
        raise ValidationError(f"must be the list of the Map's results, not {type(results).__name__}",
                              "results")
    errors = [FieldError(f"results[{i}].trial_id", "is required") for i, r in enumerate(results)
              if not isinstance(r, Mapping) or not isinstance(r.get("trial_id"), str)]
    if errors:
        raise ValidationError(errors)
    return generation, results


def _answer(ctx: RunContext, generation: int, action: str, stop: dict[str, str] | None) -> dict[str, Any]:
    return {"run": ctx.to_dict(), "generation": generation, "results": [], "action": action, "stop": stop}
