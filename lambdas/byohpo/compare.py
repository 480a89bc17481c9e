"""Several runs of one objective side by side: what each tuner found, how soon, and at what cost.

Pure: no I/O, no clock. ``byohpo compare`` prints it (aligned table, CSV, JSON) and draws it
(``byohpo.plot_compare``).

What is compared:

* Runs must share their objective: the first objective (metric and direction) of every run is the
  same, else :class:`DifferentObjectivesError`. Runs that all optimize the same several objectives
  (PAES, NSGA-II) are compared by their Pareto fronts as well: front size, how many of its trials
  are on the joint front of all the runs, and the hypervolume (below). A multi-objective run beside
  single-objective ones is compared on the shared first objective alone, and a note says so.
* A run's *jobs* are its own finished training jobs (trials imported by a warm start are history it
  did not pay for: they only set where its best-so-far starts). They are counted in proposal order,
  the order the strategy asked for them, so "jobs to best" is the number of jobs the tuner spent
  up to and including its best one.
* ``best at K``: each run's best within its first K jobs, K being the fewest jobs any of the runs
  spent: the comparison at an equal budget when runs stopped at different points.
* Early stopping: the jobs it stopped (``early_stopped``) count as jobs with their last value, as on
  the leaderboard, and are counted apart from the jobs stopped otherwise (``stopped``: their time
  limit, the run's end); ``epochs`` is what the run's jobs trained, by their learning curves (None
  for runs without curves), and ``training_seconds`` what they took: the two places the saving shows.
* Rank 1 is the best: by best value, equal values by fewer jobs to reach it; runs compared by fronts
  by hypervolume. Equal keys share a rank; a run with no value has none.
* Hypervolume: the share of a box that a run's front dominates; the box spans, per objective, from
  the worst value on any of the compared fronts pushed out by a tenth of that objective's range, to
  the best value on any of them. In [0, 1], larger is better, and meaningful only among the runs
  compared together (the box depends on all of them).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from byohpo.errors import ByohpoError
from byohpo.leaderboard import FORMATS, RequestInfo, align, csv_text, duration_seconds, request_info
from byohpo.pareto import pareto_indices
from byohpo.space import format_value
from byohpo.store.records import RunRecord, TrialRecord
from byohpo.trials import Objective

# The meta key under which a warm start marks the trials it imported (``byohpo.aws.warm_start.KEY``;
# that module needs botocore, which the local CLI does without).
_WARM_START = "warm_start"
_MARGIN = 0.1  # the hypervolume box's reference point, beyond the worst value, in shares of the range


class CompareError(ByohpoError, ValueError):
    """The runs cannot be compared (the message says why)."""


class DifferentObjectivesError(CompareError):
    """The runs optimize different objectives."""


@dataclass(frozen=True)
class RunResult:
    """One run, as compared.

    ``best_so_far[k]`` is the best value of the compared objective after the run's first ``k + 1``
    jobs (None while no job has a value); ``start`` is the best it began with, from the trials a warm
    start imported (None without). ``front`` is the run's Pareto front over the compared
    objectives (None unless runs are compared by fronts), ordered by the first objective.
    ``stopped`` counts the jobs stopped other than by early stopping, ``early_stopped`` those it
    stopped; ``epochs`` the epochs of the jobs' learning curves (None when none has one).
    """

    name: str
    strategy: str | None
    status: str
    reason: str | None
    stop_code: str | None
    objectives: tuple[Objective, ...]
    budget: int | None
    jobs: int
    completed: int
    failed: int
    stopped: int
    unfinished: int
    imported: int
    best: TrialRecord | None
    jobs_to_best: int | None
    best_so_far: tuple[float | None, ...]
    training_seconds: float
    elapsed_seconds: float | None
    start: float | None = None
    front: tuple[TrialRecord, ...] | None = None
    on_joint_front: int | None = None
    hypervolume: float | None = None
    rank: int | None = None
    early_stopped: int = 0
    epochs: int | None = None

    def best_value(self, objective: Objective) -> float | None:
        return None if self.best is None else (self.best.values or {}).get(objective.metric)

    def best_at(self, jobs: int) -> float | None:
        """The best value within the first ``jobs`` jobs (the starting best of a warm start at 0)."""
        if jobs <= 0 or not self.best_so_far:
            return None
        return self.best_so_far[min(jobs, len(self.best_so_far)) - 1]


@dataclass(frozen=True)
class Comparison:
    """Runs of one objective side by side, in the order given; ``rank`` says which did best.

    ``objectives`` are what the runs are compared on: the shared first objective, or the shared
    objectives of multi-objective runs (then ``by_front`` is True). ``common_jobs`` is K of
    ``best at K``. ``reference`` and ``ideal`` are the hypervolume box's corners, per metric.
    """

    objectives: tuple[Objective, ...]
    runs: tuple[RunResult, ...]
    common_jobs: int
    notes: tuple[str, ...] = ()
    reference: dict[str, float] | None = None
    ideal: dict[str, float] | None = None
    param_names: tuple[str, ...] = ()

    @property
    def objective(self) -> Objective:
        return self.objectives[0]

    @property
    def by_front(self) -> bool:
        return len(self.objectives) > 1

    # -- output ---------------------------------------------------------------------------------
    def columns(self) -> list[str]:
        """The CSV columns: one row per run, the best trial's hyperparameters as ``param.<name>``."""
        front = ["front_size", "on_joint_front", "hypervolume"] if self.by_front else []
        return ["rank", "run", "strategy", "status", "stop_code", "reason", "objective", "budget", "jobs",
                "completed", "failed", "stopped", "early_stopped", "unfinished", "imported", "best",
                "best_trial_id",
                "best_job_name", "jobs_to_best", "common_jobs", "best_at_common_jobs", *front,
                "epochs", "training_seconds", "elapsed_seconds", *(f"param.{p}" for p in self.param_names)]

    def records(self) -> list[dict[str, str]]:
        """The rows as flat dicts of strings, what :meth:`to_csv` writes (None as ``""``)."""
        return [{k: _text(v) for k, v in self._flat(run).items()} for run in self.runs]

    def to_csv(self) -> str:
        return csv_text(self.columns(), self.records())

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable (no NaN): the objectives, K, the hypervolume box, the notes, and per run
        its counts, its best trial, its best-so-far curve and (by fronts) its front."""
        return {
            "objectives": [_objective_dict(o) for o in self.objectives],
            "by_front": self.by_front,
            "common_jobs": self.common_jobs,
            "hypervolume_box": None if self.reference is None else {"reference": self.reference,
                                                                    "ideal": self.ideal},
            "notes": list(self.notes),
            "runs": [self._run_dict(run) for run in self.runs],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def to_table(self) -> str:
        """Aligned plain text for people: a line saying what is compared, one row per run, the notes.
        ``best at K`` is shown only when some run spent more than K jobs (else it is ``best``)."""
        objective = self.objective
        k = self.common_jobs
        at_k = k > 0 and any(run.jobs > k for run in self.runs)
        header = ["rank", "run", "strategy", "status", "jobs", "best", "best trial", "at job"]
        right = [True, False, False, False, True, True, False, True]
        if at_k:
            header.append(f"best at {k}")
            right.append(True)
        if self.by_front:
            header += ["front", "on joint front", "hypervolume"]
            right += [True, True, True]
        early = any(run.early_stopped or run.epochs is not None for run in self.runs)
        header += ["failed", "stopped"] + (["stopped early", "epochs"] if early else []) + \
            ["train seconds", "elapsed"]
        right += [True, True] + ([True, True] if early else []) + [True, True]
        rows = []
        for run in self.runs:
            budget = "?" if run.budget is None else str(run.budget)
            row = [_text(run.rank), run.name, run.strategy or "?", run.status,
                   f"{run.jobs}/{budget}" + (f" +{run.unfinished}" if run.unfinished else ""),
                   _number(run.best_value(objective)), run.best.trial_id if run.best else "-",
                   _text(run.jobs_to_best) or "-"]
            if at_k:
                row.append(_number(run.best_at(k)))
            if self.by_front:
                size = len(run.front or ())
                row += [str(size), f"{run.on_joint_front}/{size}", _number(run.hypervolume, ".4f")]
            row += [str(run.failed), str(run.stopped)]
            if early:
                row += [str(run.early_stopped), "-" if run.epochs is None else str(run.epochs)]
            row += [f"{run.training_seconds:.1f}",
                    "-" if run.elapsed_seconds is None else f"{run.elapsed_seconds:.1f}"]
            rows.append(row)
        lines = [f"{len(self.runs)} runs compared on {_describe(self.objectives)}"
                 + (f"; best at {k}: each run's best within its first {k} job{'s' * (k != 1)}"
                    if at_k else ""),
                 align(header, rows, right)]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)

    def render(self, fmt: str) -> str:
        """The comparison as ``fmt``, one of :data:`FORMATS` (no trailing newline)."""
        if fmt == "table":
            return self.to_table()
        if fmt == "csv":
            return self.to_csv().rstrip("\n")
        if fmt == "json":
            return self.to_json()
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")

    def _flat(self, run: RunResult) -> dict[str, Any]:
        best = run.best
        params = best.params if best else {}
        flat: dict[str, Any] = {
            "rank": run.rank, "run": run.name, "strategy": run.strategy, "status": run.status,
            "stop_code": run.stop_code, "reason": run.reason, "objective": _describe(self.objectives),
            "budget": run.budget, "jobs": run.jobs, "completed": run.completed, "failed": run.failed,
            "stopped": run.stopped, "early_stopped": run.early_stopped, "unfinished": run.unfinished,
            "imported": run.imported,
            "best": run.best_value(self.objective), "best_trial_id": best.trial_id if best else None,
            "best_job_name": best.job_name if best else None, "jobs_to_best": run.jobs_to_best,
            "common_jobs": self.common_jobs, "best_at_common_jobs": run.best_at(self.common_jobs)}
        if self.by_front:
            flat.update(front_size=len(run.front or ()), on_joint_front=run.on_joint_front,
                        hypervolume=run.hypervolume)
        flat.update(epochs=run.epochs, training_seconds=run.training_seconds,
                    elapsed_seconds=run.elapsed_seconds)
        flat.update({f"param.{p}": params.get(p) for p in self.param_names})
        return flat

    def _run_dict(self, run: RunResult) -> dict[str, Any]:
        return {
            "rank": run.rank, "run": run.name, "strategy": run.strategy, "status": run.status,
            "reason": run.reason, "stop_code": run.stop_code,
            "objectives": [_objective_dict(o) for o in run.objectives],
            "budget": run.budget, "jobs": run.jobs, "completed": run.completed, "failed": run.failed,
            "stopped": run.stopped, "early_stopped": run.early_stopped, "unfinished": run.unfinished,
            "imported": run.imported, "epochs": run.epochs,
            "best": None if run.best is None else {**_trial_dict(run.best), "jobs_to_best": run.jobs_to_best},
            "best_at_common_jobs": _finite(run.best_at(self.common_jobs)),
            "training_seconds": run.training_seconds, "elapsed_seconds": run.elapsed_seconds,
            "start": _finite(run.start), "best_so_far": [_finite(v) for v in run.best_so_far],
            "pareto_front": None if run.front is None else [_trial_dict(t) for t in run.front],
            "on_joint_front": run.on_joint_front, "hypervolume": run.hypervolume,
        }


def compare(runs: Sequence[tuple[RunRecord, Sequence[TrialRecord]]]) -> Comparison:
    """Compare ``runs``, each a run record with its trials as a store returns them.

    Raises :class:`DifferentObjectivesError` when the runs' first objectives differ and
    :class:`CompareError` when a run names no objective or a run is given twice.
    """
    if not runs:
        raise CompareError("no runs to compare")
    names = [record.name for record, _ in runs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise CompareError(f"run {twice[0]!r} is named twice")
    infos = [request_info(record.request) for record, _ in runs]
    for name, info in zip(names, infos, strict=True):
        if not info.objectives:
            raise CompareError(f"run {name!r}: its request names no objective to compare")
    objectives = _shared_objectives(names, [info.objectives for info in infos])
    notes = [f"{name} is multi-objective ({_describe(info.objectives)}): compared on "
             f"{objectives[0].metric} alone" for name, info in zip(names, infos, strict=True)
             if len(objectives) == 1 and len(info.objectives) > 1]
    results = [_result(record, trials, info, objectives[0])
               for (record, trials), info in zip(runs, infos, strict=True)]
    reference = ideal = None
    if len(objectives) > 1:
        results, reference, ideal = _fronts(results, [trials for _, trials in runs], objectives)
    results = _ranked(results, objectives[0], by_front=len(objectives) > 1)
    param_names: list[str] = []
    for info in infos:
        param_names += [p for p in info.param_names if p not in param_names]
    for result in results:
        if result.best:
            param_names += [p for p in result.best.params if p not in param_names]
    return Comparison(objectives, tuple(results), min(r.jobs for r in results), tuple(notes), reference,
                      ideal, tuple(param_names))


# -- building ---------------------------------------------------------------------------------------

def _shared_objectives(names: Sequence[str], objectives: Sequence[Sequence[Objective]],
                       ) -> tuple[Objective, ...]:
    """The first objective if every run has it first; all of them if every run has the same several
    (in any order after the first); else :class:`DifferentObjectivesError`."""
    firsts: dict[Objective, list[str]] = {}
    for name, objs in zip(names, objectives, strict=True):
        firsts.setdefault(objs[0], []).append(name)
    if len(firsts) > 1:
        groups = "; ".join(f"{', '.join(group)} {_verb(o, len(group))} {o.metric}"
                           for o, group in firsts.items())
        raise DifferentObjectivesError(f"the runs optimize different objectives: {groups}. Compare runs "
                                       f"of one objective (the first one of each request)")
    first = tuple(objectives[0])
    if len(first) > 1 and all(len(o) == len(first) and set(o) == set(first) for o in objectives):
        return first
    return (first[0],)


def _result(record: RunRecord, trials: Sequence[TrialRecord], info: RequestInfo,
            objective: Objective) -> RunResult:
    imported = [t for t in trials if _is_imported(t)]
    own = sorted((t for t in trials if not _is_imported(t)), key=lambda t: (t.generation, t.index))
    done = [t for t in own if t.finished]
    best: TrialRecord | None = None
    best_score = None
    for t in imported:  # the history the run started from
        score = _score(objective, t)
        if score is not None and (best_score is None or score > best_score):
            best, best_score = t, score
    start = None if best is None else (best.values or {})[objective.metric]
    jobs_to_best = None
    curve: list[float | None] = []
    for position, t in enumerate(done, start=1):
        score = _score(objective, t)
        # Strictly better only: of equal values the earlier job stays best, as on the leaderboard.
        if score is not None and (best_score is None or score > best_score):
            best, best_score, jobs_to_best = t, score, position
        curve.append(None if best is None else (best.values or {})[objective.metric])
    durations = [d for d in (duration_seconds(t) for t in done) if d is not None]
    with_curves = [t for t in done if t.curve]
    return RunResult(
        name=record.name, strategy=info.strategy, status=record.status, reason=record.reason,
        stop_code=record.stop_code, objectives=tuple(info.objectives), budget=info.max_jobs, jobs=len(done),
        completed=sum(t.status == "Completed" for t in done), failed=sum(t.status == "Failed" for t in done),
        stopped=sum(t.status == "Stopped" and not t.early_stopped for t in done),
        early_stopped=sum(t.early_stopped for t in done), unfinished=len(own) - len(done),
        imported=len(imported), best=best, jobs_to_best=jobs_to_best, best_so_far=tuple(curve),
        training_seconds=round(sum(durations), 3), elapsed_seconds=_elapsed(done), start=start,
        epochs=sum(t.learning_curve().epochs for t in with_curves) if with_curves else None)


def _fronts(results: list[RunResult], trials: Sequence[Sequence[TrialRecord]],
            objectives: tuple[Objective, ...],
            ) -> tuple[list[RunResult], dict[str, float] | None, dict[str, float] | None]:
    """Each run's front, how many of its trials are on the joint front of all runs, and its
    hypervolume in the shared box (see the module docstring)."""
    first = objectives[0]
    fronts = []
    for run_trials in trials:
        finished = [t for t in run_trials if t.finished]
        front = [finished[i] for i in pareto_indices([t.to_trial() for t in finished], objectives)]
        fronts.append(sorted(front, key=lambda t: (-(_score(first, t) or 0.0), t.generation, t.index)))
    points = [_scores(t, objectives) for front in fronts for t in front]
    if not points:
        return [replace(r, front=(), on_joint_front=0) for r in results], None, None
    ideal = [max(p[d] for p in points) for d in range(len(objectives))]
    nadir = [min(p[d] for p in points) for d in range(len(objectives))]
    spans = [(hi - lo) or (abs(lo) or 1.0) for hi, lo in zip(ideal, nadir, strict=True)]
    reference = [lo - _MARGIN * span for lo, span in zip(nadir, spans, strict=True)]
    joint = _joint_front(fronts, objectives)
    out = []
    for run, front in zip(results, fronts, strict=True):
        # Scaled so that the box is the unit cube: the hypervolume is the share of it dominated.
        scaled = [[(s - r) / (i - r) for s, r, i in zip(_scores(t, objectives), reference, ideal,
                                                         strict=True)] for t in front]
        out.append(replace(run, front=tuple(front),
                           hypervolume=round(hypervolume(scaled, [0.0] * len(objectives)), 6),
                           on_joint_front=sum((t.run, t.trial_id) in joint for t in front)))
    return out, _values(reference, objectives), _values(ideal, objectives)


def _joint_front(fronts: Sequence[Sequence[TrialRecord]], objectives: Sequence[Objective],
                 ) -> set[tuple[str, str]]:
    """(run, trial id) of the trials on the front of all the runs' trials together."""
    pooled = [t for front in fronts for t in front]
    return {(pooled[i].run, pooled[i].trial_id)
            for i in pareto_indices([t.to_trial() for t in pooled], objectives)}


def _ranked(results: list[RunResult], objective: Objective, *, by_front: bool) -> list[RunResult]:
    """Ranks (1 best; equal keys share a rank; None for a run with nothing to rank it by), by
    hypervolume when compared by fronts, else by best value and then by fewer jobs to reach it."""

    def key(run: RunResult) -> tuple[float, ...] | None:
        if by_front:
            return None if not run.front else (-(run.hypervolume or 0.0),)
        score = None if run.best is None else _score(objective, run.best)
        return None if score is None else (-score, run.jobs_to_best or 0)

    keys = [key(r) for r in results]
    ranked = sorted(k for k in keys if k is not None)
    return [replace(r, rank=None if k is None else ranked.index(k) + 1)
            for r, k in zip(results, keys, strict=True)]


# -- helpers ----------------------------------------------------------------------------------------

def _score(objective: Objective, trial: TrialRecord) -> float | None:
    return objective.score(trial.to_trial()) if trial.finished else None


def _scores(trial: TrialRecord, objectives: Sequence[Objective]) -> list[float]:
    """A front trial's scores (it has a finite value for every objective)."""
    scores = [_score(o, trial) for o in objectives]
    return [s for s in scores if s is not None]


def _values(scores: Sequence[float], objectives: Sequence[Objective]) -> dict[str, float]:
    """Scores back to metric values (minimized metrics change sign back)."""
    return {o.metric: o.sign * s for o, s in zip(objectives, scores, strict=True)}


def _elapsed(trials: Sequence[TrialRecord]) -> float | None:
    """Wall clock from the first job's start to the last job's end."""
    starts = [s for s in (_time(t.started_at) for t in trials) if s is not None]
    ends = [e for e in (_time(t.ended_at) for t in trials) if e is not None]
    if not starts or not ends:
        return None
    try:
        return round((max(ends) - min(starts)).total_seconds(), 3)
    except TypeError:  # naive against aware timestamps
        return None


def _is_imported(trial: TrialRecord) -> bool:
    return trial.generation == 0 and isinstance(trial.meta, Mapping) and _WARM_START in trial.meta


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None


def _verb(objective: Objective, count: int) -> str:
    verb = "maximize" if objective.direction == "Maximize" else "minimize"
    return verb if count > 1 else verb + "s"


def _describe(objectives: Sequence[Objective]) -> str:
    return ", ".join(f"{o.direction.lower()} {o.metric}" for o in objectives)


def _objective_dict(objective: Objective) -> dict[str, str]:
    return {"metric": objective.metric, "direction": objective.direction}


def _trial_dict(trial: TrialRecord) -> dict[str, Any]:
    return {"trial_id": trial.trial_id, "job_name": trial.job_name, "params": dict(trial.params),
            "values": {k: _finite(v) for k, v in (trial.values or {}).items()}}


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return format_value(value) if isinstance(value, int | float | str) else str(value)


def _number(value: float | None, spec: str = ".6g") -> str:
    return "-" if value is None else format(value, spec)


def hypervolume(points: Sequence[Sequence[float]], reference: Sequence[float]) -> float:
    """The volume dominated by ``points`` (larger is better in every coordinate) above ``reference``.

    Exact, by slicing along the last coordinate: O(n^d) for n points in d dimensions, plenty for the
    fronts of tuning runs (tens of points, two or three objectives).
    """
    pts = [list(p) for p in points if all(x > r for x, r in zip(p, reference, strict=True))]
    if not pts:
        return 0.0
    if len(reference) == 1:
        return max(p[0] for p in pts) - reference[0]
    pts.sort(key=lambda p: p[-1], reverse=True)
    volume = 0.0
    for i, p in enumerate(pts):
        below = pts[i + 1][-1] if i + 1 < len(pts) else reference[-1]
        if p[-1] > below:
            volume += hypervolume([q[:-1] for q in pts[:i + 1]], reference[:-1]) * (p[-1] - below)
    return volume


__all__ = ["CompareError", "Comparison", "DifferentObjectivesError", "RunResult", "compare",
           "hypervolume"]
