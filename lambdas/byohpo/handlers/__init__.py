"""AWS Lambda handlers: the tuning loop of ``byohpo.tuning`` split across Step Functions states.

Each handler module (``start``, ``propose``, ``evaluate``, ``finalize``, ``import_tuning``) has a
``handler(event, context)`` that parses the event, calls the logic with the process's clients
(``byohpo.aws.clients()``, made on first use, kept while the Lambda is warm) and returns a small dict.
Configuration comes from the environment: ``BYOHPO_TABLE`` (DynamoDB table), ``BYOHPO_BUCKET`` (results
bucket), ``BYOHPO_RESULTS_PREFIX`` (default ``runs/``), ``BYOHPO_EVENT_BUDGET`` (history events one
execution may use before it continues as a new one; default 20,000 of the 25,000 hard limit),
``BYOHPO_LOG_LEVEL`` (of the ``byohpo`` loggers; default ``INFO``), ``BYOHPO_STACK`` (the deploying
stack's name: every training job is tagged ``byohpo:stack`` with it), ``BYOHPO_PASSABLE_ROLES``
(comma-separated role ARNs the stack may pass to SageMaker; Start refuses a request with another
``RoleArn``; unset: no check).

The contract with the state machine (``state_machine/``), state by state
=======================================================================

``$.run`` is the small "run context" every Lambda returns and the next one receives:
``{"name": str, "execution": str, "events": int, "event_budget": int}`` — the run's name, the ARN of
the execution driving it (the run's owner in the store), the history events this execution has used so
far (an estimate, see below) and its budget.

Start
    in:  ``{"input": <execution input>, "execution": "$$.Execution.Id"}``, and ``"training_role"`` when
         the state machine gives every job a fixed role. The execution input is the tuning request; or
         ``{"RequestS3Uri": "s3://bucket/key.json"}`` pointing at it (with an optional
         ``"RunNameSuffix"``, e.g. a schedule's scheduled time, appended to the run name); or, for a
         continuation, ``{"ContinueRun": <run name>, "PreviousExecution": <ARN of the execution that
         continued as new>}``.
    out: ``{"run": <run context>}`` (``events`` starts at :data:`START_EVENTS`); for an ``amt-*``
         strategy (SageMaker's own tuner) and a run not finished, also ``"tuning"``: the
         CreateHyperParameterTuningJob parameters (``byohpo.aws.amt.tuning_job_params``), which the
         state machine's ``Which tuner?`` sends to ``createHyperParameterTuningJob.sync`` instead of
         Propose (such a request is checked by ``byohpo.aws.amt.check_tuning_job`` instead).
         Validates the request — its fields, and each trial's CreateTrainingJob parameters against
         botocore's input shape and what the Map's task reads (``byohpo.aws.training.check_training``),
         its ``RoleArn`` against the roles the stack may pass (``BYOHPO_PASSABLE_ROLES``; the fixed
         role instead, when there is one), its size against what the table holds — and refuses it with
         ``ValidationError`` naming the field before anything is written; a run of that name made from
         a different search (``RunMismatchError``, a ValidationError) likewise. Imports warm-start
         parents (see ``byohpo.aws.warm_start``). Creates the run (with a random token for its job
         names) or adopts the existing one, and claims it for this execution with a conditional write:
         ``RunClaimedError`` when another execution holds it and is still running (a holder execution
         that has ended — failed, aborted, timed out — is taken over; a continuation takes over from
         ``PreviousExecution``). Taking over settles the trials the previous holder left unfinished: a
         job that exists and is the trial's is adopted (its result recorded, or the trial marked
         ``InProgress`` while it runs), a job that was never created, or is another run's, gets the
         next attempt's name. A finished run is not claimed: Propose answers with its stop reason.
Propose
    in:  ``{"run": <run context>}``
    out: ``{"run", "generation": int, "stop": null | {"code", "message"}, "jobs": {"training": {...},
         "trials": [{"trial_id", "job_name", "hyperparameters": {str: str}}]} | null,
         "max_parallel": int, "causes_kept": int}``.
         ``max_parallel`` is MaxParallelTrainingJobs: the Map's ``MaxConcurrencyPath``.
         ``stop`` non-null (a stopping rule holds, the budget is spent, the strategy is exhausted, or
         the run was finished by someone else) means: go to Finalize; ``jobs`` is null then.
         Otherwise ``jobs.trials`` are the generation's trials to run, each with its *tuned*
         hyperparameters only, and ``jobs.training`` the CreateTrainingJob parameters they share: all
         but ``TrainingJobName``, with the static hyperparameters as ``HyperParameters``; always with
         the keys of ``byohpo.aws.training.ALWAYS_PRESENT``, plus the definition's optional fields when
         given (``InputDataConfig``, ``VpcConfig``, ``CheckpointConfig``, ...). The Map's results take
         the place of ``jobs`` (its ``ResultPath``), so that no state holds both; ``causes_kept`` is how
         many of them (those of the first items) may carry a caught error's ``Cause`` within 256 KiB
         (:func:`map_budget`). A generation whose output or results would not fit is refused
         (``PayloadTooLargeError``) before anything is written. A retried Propose returns exactly what
         the first call wrote (generation written once, by a conditional write on the run's version).
         After a takeover, ``jobs.trials`` are the unfinished trials of the interrupted generation
         still to run (those adopted ``InProgress`` are not listed: Evaluate waits for them), possibly
         none.
Map (state machine) — one iteration per trial, ``state_machine.training``: its input
    ``{"trial", "training", "index", "causes_kept", "retries"}`` (ItemSelector); the job is
    ``training`` with ``TrainingJobName`` = the trial's ``job_name`` and ``HyperParameters`` =
    ``States.JsonMerge($.training.HyperParameters, $.trial.hyperparameters, false)``
    (``byohpo.aws.training.create_training_job_params`` builds the same). CreateTrainingJob.sync;
    retried only when SageMaker throttles or lacks instances (a retried create of a job that exists
    collides); Catch ``States.ALL``. Its result is small and bounded (:data:`MAP_RESULT_BYTES`):
    ``{"trial_id", "TrainingJobName", "TrainingJobStatus", "TrainingStartTime", "TrainingEndTime"}``
    for a completed job (the times when SageMaker gave them), or ``{"trial_id", "TrainingJobName",
    "Error"[, "Cause"]}`` when the iteration caught an error. A failed Distributed Map child returns
    its own ``{"Error", "Cause"}``, without ``trial_id``.
Evaluate
    in:  ``{"run", "generation": int, "results": [<Map iteration results>]}``
    out: ``{"run", "generation", "jobs": [], "action": "next" | "wait" | "finish" |
         "continue_as_new", "stop": null | {"code", "message"}}``.
         Settles every unfinished trial of the generation from SageMaker
         (``byohpo.aws.training.reconcile``): DescribeTrainingJob tells its status, failure reason,
         times and ``FinalMetricDataList``; metrics missing there come from the job's CloudWatch Logs
         with the request's MetricDefinitions. A job is recorded only when it is the trial's
         (``owned_by``); otherwise the trial trains again under a new name. The results are hints,
         each field checked (``MapResult``): a result without a ``trial_id`` of the generation (a
         failed child) is skipped, a second result for a trial ignored, a malformed field dropped, so
         one bad result never loses the generation. A caught error fails the trial with its cause
         when no job exists, except SageMaker's throttling and lack of instances: the trial then waits
         for a later attempt (``Pending`` under a new name, not counted as failed). Then:
         ``wait``: adopted jobs still run — Wait, then Evaluate again with this output as input;
         ``finish``: a stopping rule holds — Finalize with ``stop``;
         ``continue_as_new``: the next generation might not fit in this execution's history — start a
         new execution with ``{"ContinueRun": run.name, "PreviousExecution": $$.Execution.Id}`` and
         succeed; ``next``: Propose. A retried Evaluate records nothing twice and answers the same.
Finalize
    in:  ``{"run", "stop": {"code", "message"}}``, or ``{"run", "error": {"Error", "Cause"}}`` from a
         Catch on Propose or Evaluate (the run then ends ``Failed``, its reason the error).
    out: ``{"run": name, "status": str, "reason": str, "stop_code": str, "leaderboard": "s3://...csv",
         "summary": "s3://...json", "best": {...} | null}``. Ends the run (once: a finished run keeps
         its status; after an ``error`` its stop_code is ``Error``; after a ``stop`` in which no
         training job succeeded it is ``Failed``, its reason naming the likely cause, as
         ``byohpo.tuning.conclude`` says), marks trials left unfinished
         ``Stopped``, frees it, and writes the leaderboard CSV
         and the summary JSON to ``s3://BYOHPO_BUCKET/BYOHPO_RESULTS_PREFIX<run>/``. Retries rewrite the
         same objects.

Import (``amt-*`` runs: ``import_tuning``)
    in:  ``{"run", "event_costs"}`` once the tuning task ended, with ``"error": {"Error", "Cause"}``
         when it caught one (the tuning job failed or was stopped, which fails a ``.sync`` task, or it
         could not be created).
    out: ``{"run", "generation": int, "tuning_job": str, "action": "finish" | "fail" | "wait" |
         "continue_as_new", "stop": null | {"code", "message"[, "status"]}[, "error": {"Error",
         "Cause"}]}``. Describes the run's tuning job itself (the task's result and ``Cause`` are not
         read): none (the create failed) or one that is not the run's: ``fail``, the run ends
         ``Failed`` with the reason; still running (a run taken over from an ended execution):
         ``wait``, then Import again; ended: its training jobs written as the run's generation 0
         (``byohpo.aws.amt.import_tuning_job``: tuned values, status, failure reason, metrics, times;
         once — a retried Import writes nothing and answers the same) and ``finish`` with the stop
         code its ending maps to (``"status": "Stopped"`` when it was stopped by hand), or ``fail``
         with its FailureReason when it failed.

Errors (Python class names, which Step Functions matches): ``ValidationError`` (and its
``UnknownStrategyError``, ``RunMismatchError``, ``InvalidProposalError``), ``RunClaimedError`` (another
execution holds the run: stop quietly, never Finalize), ``VersionConflictError``,
``RunNotFoundError``, ``ReplayMismatchError``, ``PayloadTooLargeError`` (Propose: the generation would
not fit in 256 KiB; nothing written), ``ConfigurationError`` (the Lambda's environment or the
deployment).

History events
--------------
A Standard execution has 25,000 events. Evaluate adds to ``run.events`` what the generation used —
with the per-step costs the definition passes as ``event_costs`` (:class:`EventCosts`; without them,
:data:`GENERATION_EVENTS` + :data:`SUCCEEDED_JOB_EVENTS` per completed job + :data:`FAILED_JOB_EVENTS`
per other one, :data:`WAIT_EVENTS` for a ``wait`` round) — and answers ``continue_as_new`` when another
generation of the largest size seen (at least MaxParallelTrainingJobs, at most the jobs left in the
budget), every job failing, plus :data:`FINISH_EVENTS`, would pass ``event_budget``. The estimate only
grows with what the Lambdas see; a Map that retries throttled creates uses a few more events, which
the 5,000 events between the default budget and the hard limit absorb.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from byohpo.errors import ByohpoError, ValidationError
from byohpo.request import TuningRequest, parse_request
from byohpo.stopping import StopReason
from byohpo.store.base import RunClaimedError, Store
from byohpo.store.records import RunRecord

# Lambda's runtime logs the root logger at WARNING; a run's progress is worth reading in CloudWatch.
_level = os.environ.get("BYOHPO_LOG_LEVEL", "INFO").upper()
logging.getLogger("byohpo").setLevel(_level if isinstance(logging.getLevelName(_level), int) else "INFO")

#: The 25,000 events of a Standard execution, less room for what the estimates miss.
DEFAULT_EVENT_BUDGET = 20_000
MAX_EVENTS = 25_000
#: ExecutionStarted and the Start task (entered, scheduled, started, succeeded, exited), with slack.
START_EVENTS = 8
#: Propose (5), Choice (2), Map entered/started/succeeded/exited (4), Evaluate (5).
GENERATION_EVENTS = 16
#: One Map iteration whose job succeeded: iteration started/succeeded, the .sync task's seven events.
SUCCEEDED_JOB_EVENTS = 8
#: One whose job failed: the same, plus the Catch's Pass state.
FAILED_JOB_EVENTS = 10
#: A ``wait`` round: Wait (2), Evaluate (5), Choice (2), with slack.
WAIT_EVENTS = 12
#: Finalize (5) and Succeed, or StartExecution (5) and Succeed; ExecutionSucceeded; with slack.
FINISH_EVENTS = 16


#: Step Functions' limit on a state's input or output (UTF-8 JSON).
MAX_PAYLOAD = 256 * 1024
#: The largest Map iteration result without a Cause (``state_machine.training``): a trial id, a job
#: name (63), a status and two timestamps, or an error name (at most 256 characters, Step Functions'
#: limit on an error's name), with their keys.
MAP_RESULT_BYTES = 400
#: A caught error's Cause: at most 32,768 characters (Step Functions' limit), and its key.
CAUSE_BYTES = 32_768 + 16
#: What a Catch adds to the state input it passes on (``$.error``: an error name and a Cause), and so
#: the room Propose's output and the Map's must leave below :data:`MAX_PAYLOAD`.
ERROR_ROOM = CAUSE_BYTES + 512


class PayloadTooLargeError(ByohpoError):
    """A state's output would not fit in Step Functions' 256 KiB (a generation of too many trials, or
    too many or too long hyperparameters). Raised before anything is written."""


def payload_size(value: Any) -> int:
    """A state's input or output as Step Functions counts it: its JSON in UTF-8 (measured with JSON's
    default separators and ASCII escapes, a little above the compact form)."""
    return len(json.dumps(value).encode("utf-8"))


def check_size(output: Any, limit: int = MAX_PAYLOAD) -> int:
    """The output's size (:func:`payload_size`), or :class:`PayloadTooLargeError` above ``limit``."""
    size = payload_size(output)
    if size > limit:
        raise PayloadTooLargeError(_too_large(output, f"takes {size:,} bytes, above the {limit:,} a state "
                                                      "may pass on (Step Functions' 256 KiB, less room for "
                                                      "an error a Catch adds)"))
    return size


def map_budget(output: Mapping[str, Any]) -> int:
    """``causes_kept`` for Propose's ``output``: how many of the Map's results may keep a caught error's
    Cause while the Map's output (``output`` with its results in place of ``jobs``) stays within
    :data:`MAX_PAYLOAD` less :data:`ERROR_ROOM` (the Map's own Catch, and Evaluate's, add an error to
    it). :class:`PayloadTooLargeError` when not even the results without causes fit."""
    trials = (output.get("jobs") or {}).get("trials") or []
    room = MAX_PAYLOAD - ERROR_ROOM - payload_size({**output, "jobs": []}) - len(trials) * MAP_RESULT_BYTES
    if room < 0:
        raise PayloadTooLargeError(_too_large(output, f"would have Map results of up to "
                                                      f"{len(trials) * MAP_RESULT_BYTES:,} bytes, more than "
                                                      "a state may hold (Step Functions' 256 KiB)"))
    return min(len(trials), room // CAUSE_BYTES)


def _too_large(output: Any, what: str) -> str:
    jobs = output.get("jobs") if isinstance(output, Mapping) else None
    trials = jobs.get("trials") if isinstance(jobs, Mapping) else None
    subject = f"a generation of {len(trials)} trials" if isinstance(trials, list) else "the output"
    return (f"{subject} {what}: propose fewer trials at a time (MaxParallelTrainingJobs, or the "
            "strategy's PopulationSize or BatchSize)")


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RunContext:
    """``$.run``: see the module docstring."""

    name: str
    execution: str
    events: int = START_EVENTS
    event_budget: int = DEFAULT_EVENT_BUDGET

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> RunContext:
        raw = event.get("run") if isinstance(event, Mapping) else None
        if not isinstance(raw, Mapping):
            raise ValidationError('the event has no run context {"name", "execution", ...}', "run")
        name, execution = raw.get("name"), raw.get("execution")
        events, budget = raw.get("events", START_EVENTS), raw.get("event_budget", DEFAULT_EVENT_BUDGET)
        for key, value in (("name", name), ("execution", execution)):
            if not isinstance(value, str) or not value:
                raise ValidationError(f"must be a non-empty string, not {value!r}", f"run.{key}")
        for key, value in (("events", events), ("event_budget", budget)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValidationError(f"must be a non-negative integer, not {value!r}", f"run.{key}")
        return cls(name, execution, events, budget)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def spent(self, events: int) -> RunContext:
        return RunContext(self.name, self.execution, self.events + events, self.event_budget)


def event_budget() -> int:
    """``BYOHPO_EVENT_BUDGET``, within what an execution can hold."""
    raw = os.environ.get("BYOHPO_EVENT_BUDGET", "")
    try:
        value = int(raw) if raw else DEFAULT_EVENT_BUDGET
    except ValueError:
        value = DEFAULT_EVENT_BUDGET
    return max(START_EVENTS + GENERATION_EVENTS + FINISH_EVENTS, min(value, MAX_EVENTS))


@dataclass(frozen=True)
class EventCosts:
    """History events each step of the definition writes. The definition passes its own measured costs
    to Evaluate as ``event_costs`` (``state_machine.EVENT_COSTS``: a Distributed Map's jobs cost the
    parent nothing, an inline Map's 14 each); without them, these conservative defaults apply."""

    start: int = START_EVENTS
    generation: int = GENERATION_EVENTS
    succeeded_job: int = SUCCEEDED_JOB_EVENTS
    failed_job: int = FAILED_JOB_EVENTS
    wait: int = WAIT_EVENTS
    finish: int = FINISH_EVENTS

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> EventCosts:
        raw = event.get("event_costs") if isinstance(event, Mapping) else None
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise ValidationError(f"must be an object of event counts, not {raw!r}", "event_costs")
        known = set(cls.__dataclass_fields__)
        for key, value in raw.items():
            if key not in known:
                raise ValidationError(f"unknown step (known: {', '.join(sorted(known))})",
                                      f"event_costs.{key}")
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValidationError(f"must be a non-negative integer, not {value!r}", f"event_costs.{key}")
        return cls(**raw)

    def generation_events(self, succeeded: int, failed: int) -> int:
        """History events a generation of the loop uses."""
        return self.generation + self.succeeded_job * succeeded + self.failed_job * failed


def generation_events(succeeded: int, failed: int, costs: EventCosts | None = None) -> int:
    """History events a generation of the loop uses (by default :class:`EventCosts`' figures: about
    16 + 8 per succeeded job + 10 per failed job)."""
    return (costs or EventCosts()).generation_events(succeeded, failed)


def fits_another(ctx: RunContext, jobs: int, costs: EventCosts | None = None) -> bool:
    """Could a generation of ``jobs`` jobs, all failing, and the run's end still fit in the budget?"""
    costs = costs or EventCosts()
    return ctx.events + costs.generation_events(0, jobs) + costs.finish <= ctx.event_budget


def stop_dict(stop: StopReason | None) -> dict[str, str] | None:
    return None if stop is None else {"code": stop.code, "message": stop.message}


def run_stop(run: RunRecord) -> dict[str, str]:
    """The stop reason a finished run was given."""
    return {"code": run.stop_code or run.status, "message": run.reason or f"the run is {run.status}"}


@lru_cache(maxsize=16)
def _parse(text: str) -> TuningRequest:
    return parse_request(json.loads(text))


def run_request(run: RunRecord) -> TuningRequest:
    """The run's stored request, parsed (cached while the Lambda is warm)."""
    return _parse(json.dumps(run.request, sort_keys=True))


def owned_run(store: Store, ctx: RunContext) -> RunRecord:
    """The run, checked to be held by this execution (or finished: nobody holds a finished run).
    :class:`RunClaimedError` when another execution took it over: this one must stop."""
    run = store.get_run(ctx.name)
    if not run.finished and run.owner != ctx.execution:
        raise RunClaimedError(run.name, run.owner)
    return run


__all__ = [
    "CAUSE_BYTES",
    "DEFAULT_EVENT_BUDGET",
    "ERROR_ROOM",
    "FAILED_JOB_EVENTS",
    "FINISH_EVENTS",
    "GENERATION_EVENTS",
    "MAP_RESULT_BYTES",
    "MAX_PAYLOAD",
    "START_EVENTS",
    "SUCCEEDED_JOB_EVENTS",
    "WAIT_EVENTS",
    "EventCosts",
    "PayloadTooLargeError",
    "RunContext",
    "check_size",
    "event_budget",
    "fits_another",
    "generation_events",
    "map_budget",
    "owned_run",
    "payload_size",
    "run_request",
    "run_stop",
    "stop_dict",
]
