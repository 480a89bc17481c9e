"""Import: an ``amt-*`` run's tuning job has ended (or the state machine caught an error creating or
waiting for it): write its training jobs as the run's trials and say how the run ends (see
``byohpo.handlers`` for the contract, ``byohpo.aws.amt`` for the import)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from byohpo import aws
from byohpo.aws import amt
from byohpo.errors import ValidationError
from byohpo.handlers import EventCosts, RunContext, fits_another, owned_run, run_request, run_stop
from byohpo.store.base import Store

log = logging.getLogger(__name__)


def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    c = aws.clients()
    return import_tuning(event, store=c.store, sagemaker=c.sagemaker)


def import_tuning(event: Mapping[str, Any], *, store: Store, sagemaker: Any) -> dict[str, Any]:
    ctx = RunContext.from_event(event)
    error = event.get("error")
    if error is not None and not isinstance(error, Mapping):
        raise ValidationError(f"must be the caught error {{Error, Cause}}, not {error!r}", "error")
    costs = EventCosts.from_event(event)
    # The tuning task (or a Wait round), Import and its Choice: within a generation's events.
    ctx = ctx.spent(costs.generation)
    run = owned_run(store, ctx)
    name = amt.run_tuning_job(run)
    if run.finished:  # byohpo stop ended it, or an earlier Import's Finalize did
        return _answer(ctx, run.version, name, "finish", stop=run_stop(run))
    outcome = amt.import_tuning_job(store, run_request(run), run, sagemaker, error=error)
    if outcome.action == "wait" and not fits_another(ctx, 0, costs):
        return _answer(ctx, run.version, name, "continue_as_new")
    log.info("run %s: tuning job %s: %s %s", run.name, name, outcome.action,
             outcome.stop or outcome.error or "")
    return _answer(ctx, store.get_run(run.name).version, name, outcome.action, stop=outcome.stop,
                   error=outcome.error)


def _answer(ctx: RunContext, generation: int, tuning_job: str, action: str, *,
            stop: Mapping[str, str] | None = None, error: Mapping[str, str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"run": ctx.to_dict(), "generation": generation, "tuning_job": tuning_job,
                           "action": action, "stop": dict(stop) if stop else None}
    if error is not None:
        out["error"] = dict(error)
    return out
