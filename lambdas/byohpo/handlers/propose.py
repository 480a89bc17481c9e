"""Propose: the next generation's trials, written once, with the training job parameters they share
(see ``byohpo.handlers`` for the contract)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from byohpo import aws
from byohpo.aws import training
from byohpo.aws.warm_start import with_imported_budget
from byohpo.handlers import (
    ERROR_ROOM,
    MAX_PAYLOAD,
    RunContext,
    check_size,
    map_budget,
    now,
    owned_run,
    run_request,
    run_stop,
    stop_dict,
)
from byohpo.request import TuningRequest
from byohpo.stopping import StopReason
from byohpo.store.base import RunFinishedError, Store
from byohpo.store.records import TrialRecord
from byohpo.tuning import decide, elapsed_seconds, next_generation

log = logging.getLogger(__name__)


def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    return propose(event, store=aws.clients().store)


def propose(event: Mapping[str, Any], *, store: Store) -> dict[str, Any]:
    ctx = RunContext.from_event(event)
    run = owned_run(store, ctx)
    if run.finished:
        return _stopped(ctx, run.version, run_stop(run), 1)
    request = run_request(run)
    trials = store.get_trials(run.name)
    unfinished = [t for t in trials if not t.finished]
    if unfinished:
        # Written by an earlier call (this is its retry) or left by an interrupted execution (Start
        # settled them): run what is still pending, under the names already stored.
        generation = max(t.generation for t in unfinished)
        return _generation(ctx, request, generation, [t for t in unfinished if t.status == "Pending"])
    request = with_imported_budget(request, trials)
    stop = decide(request, trials, elapsed_seconds(run, now()))
    proposal = next_generation(request, run, trials) if stop is None else stop
    if isinstance(proposal, StopReason):
        log.info("run %s stops: %s", run.name, proposal.message)
        return _stopped(ctx, run.version, stop_dict(proposal), request.max_parallel)
    _generation(ctx, request, run.version, proposal)  # checked before writing: a retry cannot shrink it
    try:
        written = store.put_generation(run.name, run.version, proposal, run.version)
    except RunFinishedError:
        return _stopped(ctx, run.version, run_stop(store.get_run(run.name)), request.max_parallel)
    log.info("run %s: generation %d of %d trials", run.name, run.version, len(written))
    return _generation(ctx, request, run.version, written)


def _generation(ctx: RunContext, request: TuningRequest, generation: int,
                trials: Sequence[TrialRecord]) -> dict[str, Any]:
    """The output for ``trials``, checked to fit, and the Map's results after it, in a state."""
    output = {
        "run": ctx.to_dict(),
        "generation": generation,
        "stop": None,
        "jobs": {"training": training.shared_training_fields(request, stack=aws.stack_name()),
                 "trials": [{"trial_id": t.trial_id, "job_name": t.job_name,
                             "hyperparameters": training.tuned_hyperparameters(request, t)} for t in trials],
                 # Early stopping: each Map iteration watches its job (state_machine.training).
                 "watch": {"run": ctx.name} if request.early_stopping else None},
        "max_parallel": request.max_parallel,
        "causes_kept": 0,
    }
    # The Map's Catch adds an error to this, its input: leave room for it.
    check_size(output, MAX_PAYLOAD - ERROR_ROOM)
    output["causes_kept"] = map_budget(output)
    return output


def _stopped(ctx: RunContext, generation: int, stop: dict[str, str] | None, max_parallel: int
             ) -> dict[str, Any]:
    return {"run": ctx.to_dict(), "generation": generation, "stop": stop, "jobs": None,
            "max_parallel": max_parallel, "causes_kept": 0}
