"""The ask/tell loop, one step at a time, shared by the local engine and the Lambdas.

A run is a sequence of generations. Between generations every decision is a pure function of the
request and the trials stored so far, so that any driver — the local engine in one process, or the
Propose and Evaluate Lambdas across invocations — takes the same step from the same store:

* :func:`decide` — should the run stop now, and why (the stopping rules);
* :func:`next_generation` — the next generation's trial records (ask the strategy, check what it
  proposed, cut to the budget, name the training jobs), or the reason there is none;
* :func:`open_run` — create the run, or adopt an existing one made from a compatible request;
* :func:`conclude` — the status and reason a run ends with: Failed, with the likely cause, when no
  training job succeeded, whichever rule ended it.

Drivers add only what differs between them: how trials are run and how time is read.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from byohpo.errors import FieldError, SearchExhausted, ValidationError
from byohpo.reasons import headline
from byohpo.request import CONFIG, TuningRequest, parse_request
from byohpo.stopping import MAX_FAILED, StopReason, check_stopping, remaining_budget, succeeded
from byohpo.store.base import RunExistsError, RunNotFoundError, Store
from byohpo.store.records import RunRecord, TrialRecord
from byohpo.strategies.base import to_snake
from byohpo.trials import Trial

#: SageMaker training job names: 1-63 of ``[a-zA-Z0-9-]``, unique per account and Region for ever.
MAX_JOB_NAME = 63


class InvalidProposalError(ValidationError):
    """The strategy proposed a candidate outside the search space (a bug in the strategy)."""


class RunMismatchError(ValidationError):
    """A run of this name exists, made from a request that differs where a resumed run cannot."""


#: A run's token: lowercase letters and digits (6 of 36: 2.2 billion), drawn once when the run is made.
TOKEN_LENGTH = 6
_TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_run_token() -> str:
    """A fresh random token for a new run's training job names (see :func:`training_job_name`)."""
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


def training_job_name(run: str, generation: int, index: int, attempt: int = 0, *, token: str = "") -> str:
    """``<run>-<token>-g<generation>-t<index>[-a<attempt>]``: deterministic, so a retried Propose names
    the same jobs, and unique per attempt, because SageMaker never reuses a name.

    SageMaker's names are unique per account and Region for ever, across every table and stack that
    ever ran there: the run's ``token`` (random, drawn when the run was created and stored with it)
    keeps a run of the same name elsewhere, or again after its table was emptied, from colliding with
    this one's jobs. Runs made without one (the local engine's, older ones) have plain names. Run names
    are at most 32 characters (SageMaker's limit for tuning jobs), so the name stays within 63.
    """
    head = f"{run}-{token}" if token else run
    name = f"{head}-g{generation}-t{index}" + (f"-a{attempt}" if attempt else "")
    if len(name) > MAX_JOB_NAME:
        raise ValueError(f"training job name {name!r} is longer than {MAX_JOB_NAME} characters")
    return name


def elapsed_seconds(run: RunRecord, now: datetime) -> float:
    """Wall time since the run was created (``MaxRuntimeInSeconds`` counts interruptions too, as
    SageMaker counts a tuning job's time from its creation)."""
    created = datetime.fromisoformat(run.created_at.replace("Z", "+00:00"))
    return max(0.0, (now - created).total_seconds())


def history(trials: Sequence[TrialRecord]) -> list[Trial]:
    """The finished trials in history order, as strategies and stopping rules read them."""
    return [t.to_trial() for t in trials if t.finished]


def decide(request: TuningRequest, trials: Sequence[TrialRecord], elapsed: float | None) -> StopReason | None:
    """The reason to stop before the next generation, or None to go on."""
    return check_stopping(request.stopping, request.objectives, history(trials), elapsed)


def next_generation(request: TuningRequest, run: RunRecord,
                    trials: Sequence[TrialRecord]) -> list[TrialRecord] | StopReason:
    """The trials of generation ``run.version``, ready for ``Store.put_generation``, or why there are none.

    Every earlier trial must be finished: strategies see the whole history, in proposal order. The
    strategy is asked for ``MaxParallelTrainingJobs`` candidates (a generational strategy returns its
    whole generation) and the result is cut to the remaining budget.
    """
    unfinished = [t.trial_id for t in trials if not t.finished]
    if unfinished:
        raise ValueError(f"run {run.name}: cannot propose while trials {', '.join(unfinished)} "
                         "are unfinished")
    budget = remaining_budget(request.stopping, trials)
    if budget <= 0:
        return StopReason("MaxNumberOfTrainingJobs",
                          f"every training job of the budget (MaxNumberOfTrainingJobs="
                          f"{request.stopping.max_jobs}) was started")
    strategy = request.build_strategy()
    try:
        candidates = strategy.propose(history(trials), request.max_parallel)
    except SearchExhausted as exc:
        return StopReason.exhausted(exc)
    if not candidates:
        return StopReason.exhausted(SearchExhausted(f"strategy {request.strategy!r} proposed nothing"))
    generation = run.version
    records = []
    for index, candidate in enumerate(candidates[:budget]):
        try:
            request.space.validate_params(candidate.params)
            # Stored meta comes back through JSON: make the proposal what the store will hand back,
            # so that a retried put_generation compares equal.
            meta = json.loads(json.dumps(candidate.meta, allow_nan=True))
        except ValidationError as exc:
            raise InvalidProposalError(
                [FieldError(f"candidate[{index}].{e.path}", e.message) for e in exc.errors]) from exc
        except (TypeError, ValueError) as exc:
            raise InvalidProposalError(f"meta is not JSON-serializable: {exc}",
                                       f"candidate[{index}].meta") from exc
        records.append(TrialRecord.new(
            run.name, generation, index, candidate.params, meta=meta,
            hyperparameters=request.space.to_hyperparameters(candidate.params),
            job_name=training_job_name(run.name, generation, index, token=run.token)))
    return records


def conclude(request: TuningRequest, trials: Sequence[TrialRecord], stop: StopReason) -> StopReason:
    """The reason a run ends with: ``stop``, unless no training job succeeded (Completed with a value
    of every objective). Then the run did not complete whichever rule ended it (a budget used up by
    jobs that all timed out is no success), so it is Failed, and the message says what the trials
    point to: their time limit, an error in the training script, or a metric regex that never
    matched. Both drivers call this just before ``Store.finish_run``."""
    finished = [t for t in trials if t.finished]
    if any(succeeded(request.objectives, t.to_trial()) for t in finished):
        return stop
    said = stop.code == MAX_FAILED and request.stopping.max_failed_jobs is None  # "none succeeded: ..."
    lead = "" if said else "; no training job succeeded"
    return StopReason(stop.code, f"{stop.message}{lead}. Likely cause: {_likely_cause(request, finished)}",
                      failed=True)


_METRIC_REASONS = ("no value for metric ", "the last value of metric ", "metric ")


def _likely_cause(request: TuningRequest, finished: Sequence[TrialRecord]) -> str:
    """What the unsuccessful trials point to, most frequent first."""
    if not finished:
        return "no training job ran to its end"
    limit = (request.training.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
    groups: dict[str, list[TrialRecord]] = {"time": [], "metric": [], "script": [], "ended": []}
    for t in finished:
        reason = t.failure_reason or ""
        if t.status == "Stopped":
            # Locally "MaxRuntimeExceeded: ..."; on SageMaker such a job is Stopped with SecondaryStatus
            # MaxRuntimeExceeded and no FailureReason (API SecondaryStatusTransition), and a Stopped
            # trial otherwise comes from a stop of the whole run, which happens after this.
            timed_out = not reason or reason.startswith("MaxRuntimeExceeded")
            groups["time" if timed_out else "ended"].append(t)
        elif t.status == "Completed" or reason.startswith(_METRIC_REASONS):
            groups["metric"].append(t)
        else:
            groups["script"].append(t)
    metrics = dict(request.metric_definitions)
    missing = [o.metric for o in request.objectives]
    regexes = " and ".join(f"`{metrics[m]}`" for m in missing if m in metrics)
    total = len(finished)
    their = "their" if total > 1 else "its"
    texts = {
        "time": f"hit {their} time limit (StoppingCondition.MaxRuntimeInSeconds = {limit} s): raise it, "
                "or make a training job shorter" if limit else "stopped before printing a value",
        "metric": f"printed no value of {' and '.join(missing)} that MetricDefinitions' Regex {regexes} "
                  "matched: compare the Regex with the training log" if regexes else
                  f"printed no value of {' and '.join(missing)}",
        "script": "failed in the training script, the first with: "
                  + headline(next((t.failure_reason for t in groups["script"] if t.failure_reason),
                                  "no reason given")),
        "ended": "stopped, or never started, because the run ended",
    }
    ranked = sorted((kind for kind in groups if groups[kind]), key=lambda kind: -len(groups[kind]))

    def subject(n: int) -> str:
        if total == 1:
            return "the training job"
        return f"all {n}" if n == total else f"{n} of {total}"

    return "; ".join(f"{subject(len(groups[k]))} {texts[k]}" for k in ranked)


def open_run(store: Store, request: TuningRequest, *, token: str = "") -> tuple[RunRecord, bool]:
    """The run for ``request``, created if new (with ``token`` for its training job names, see
    :func:`training_job_name`); ``(run, created)``. An existing run keeps the token it was made with.

    An existing run is adopted only if its request has the same fingerprint (space, objectives,
    strategy, options, seed): its stored trials were proposed from those, and a strategy replaying
    them under other settings would propose nonsense. Budget, parallelism and stopping rules may
    change between sessions; the current request's apply.
    """
    try:
        run = store.get_run(request.name)
    except RunNotFoundError:
        run = None
    if run is None:
        try:
            return store.create_run(RunRecord(request.name, request.raw, request.fingerprint(),
                                              token=token)), True
        except RunExistsError:  # another driver created it between our read and our write
            run = store.get_run(request.name)
    if run.fingerprint != request.fingerprint():
        raise RunMismatchError(_mismatches(run, request) or [FieldError(
            "HyperParameterTuningJobName",
            f"a run named {request.name!r} already exists with a different search space, objective, "
            "strategy, StrategyConfig or seed; resuming it with this request would mix two searches. "
            "Use a new HyperParameterTuningJobName, or the original request")])
    return run, False


def _mismatches(run: RunRecord, request: TuningRequest) -> list[FieldError]:
    """Which fields of ``request`` differ from the stored run's request where a resumed run cannot
    change; empty when the stored request no longer parses (another byohpo version, a strategy
    plugin gone), and the caller says so in general terms."""
    try:
        stored = parse_request(run.request)
    except ValidationError:
        return []
    config = request.raw.get(CONFIG) or {}
    seed_keys = [k for k in config.get("StrategyConfig") or {} if to_snake(str(k)) == "seed"]
    if seed_keys:
        seed_path = f"{CONFIG}.StrategyConfig.{seed_keys[0]}"
    elif "RandomSeed" in config:
        seed_path = f"{CONFIG}.RandomSeed"
    else:
        seed_path = f"{CONFIG}.StrategyConfig.Seed"
    ranges = (f"{CONFIG}.ParameterRanges" if "ParameterRanges" in config
              else f"{request.training_path}.HyperParameterRanges")
    if "Objectives" in config:
        objective = f"{CONFIG}.Objectives"
    elif "HyperParameterTuningJobObjective" in config:
        objective = f"{CONFIG}.HyperParameterTuningJobObjective"
    else:
        objective = f"{request.training_path}.TuningObjective"

    def options(r: TuningRequest) -> dict[str, Any]:
        return {to_snake(str(k)): v for k, v in r.strategy_options.items()}

    checks = [
        (ranges, stored.space.to_sagemaker(), request.space.to_sagemaker()),
        (f"{request.training_path}.StaticHyperParameters", stored.space.static, request.space.static),
        (objective, [[o.metric, o.direction] for o in stored.objectives],
         [[o.metric, o.direction] for o in request.objectives]),
        (f"{CONFIG}.Strategy", stored.strategy, request.strategy),
        (f"{CONFIG}.StrategyConfig", options(stored), options(request)),
        (seed_path, stored.seed, request.seed),
    ]
    return [FieldError(path, f"differs from the stored run {run.name!r}{_was(before, after)}: a resumed "
                             "run keeps its search space, objectives, strategy, StrategyConfig and seed, "
                             "because its trials were proposed from them. Use a new "
                             "HyperParameterTuningJobName, or the original request")
            for path, before, after in checks if _canonical(before) != _canonical(after)]


def _was(before: Any, after: Any) -> str:
    """`` (was 7, now 8)`` for short values; nothing for whole ranges, too long for one line."""
    shown = json.dumps(before, default=str), json.dumps(after, default=str)
    return f" (was {shown[0]}, now {shown[1]})" if max(map(len, shown)) <= 80 else ""


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
