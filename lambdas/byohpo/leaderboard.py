"""The leaderboard of a run: its trials ranked best first, as the blog's ``table_metrics`` showed them.

Pure: no I/O, no clock. The CLI prints it (aligned table, CSV, JSON); the Finalize Lambda writes the
same CSV and :func:`summary` as JSON to S3, so both read alike.

Ranking (what "best first" means, everywhere in byohpo):

* Trials with a finite value for the first objective come first, best value first, ties by trial id
  (the earlier trial wins, as in the stopping rules): completed ones, and those early stopping
  stopped (``Stopped``, their reason ``EarlyStopped: ...``), with the last value they reported, as
  SageMaker ranks them (``byohpo.stopping`` says why). The first objective is the request's
  ``HyperParameterTuningJobObjective``, also when ``Objectives`` names several.
* With several objectives, the Pareto front (``byohpo.pareto``, over every objective) comes before
  them, itself ordered by the first objective; each row says whether it is on the front.
* Unranked trials follow, by status (Completed without a usable value, Stopped, Failed, InProgress,
  Pending), then by trial id. They have no rank.

When trials have learning curves (``TrialRecord.curve``: every local trial, and on AWS the trials of
a run with ``TrainingJobEarlyStoppingType: "Auto"``), an ``epochs`` column says how many epochs each
ran: an early-stopped trial's are cut short.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from byohpo.errors import ValidationError
from byohpo.pareto import pareto_indices
from byohpo.reasons import headline, shorten
from byohpo.request import parse_request
from byohpo.space import format_value
from byohpo.store.records import TRIAL_STATUSES, RunRecord, TrialRecord
from byohpo.trials import Objective

FORMATS: tuple[str, ...] = ("table", "csv", "json")
# Unranked trials, in the order they are listed.
_UNRANKED_ORDER = ("Completed", "Stopped", "Failed", "InProgress", "Pending")
_FIXED_LEAD = ("rank", "trial_id", "job_name", "generation")
_FIXED_TAIL = ("status", "duration_seconds", "failure_reason")
_HEADERS = {"trial_id": "trial", "job_name": "training job", "generation": "gen",
            "duration_seconds": "seconds", "failure_reason": "failure reason"}
_REASON_WIDTH = 80  # table only: SageMaker failure reasons run to whole tracebacks


@dataclass(frozen=True)
class Row:
    """One trial on the leaderboard.

    ``values`` has one entry per objective metric, None when the trial has no value for it (NaN and
    infinities stay as they are here; :meth:`to_dict` writes them as None, since JSON has no NaN).
    ``rank`` is 1 for the best and None for unranked trials; ``pareto`` is False for every row of a
    single-objective run.
    """

    rank: int | None
    trial_id: str
    job_name: str | None
    generation: int
    index: int
    params: dict[str, Any]
    values: dict[str, float | None]
    status: str
    duration_seconds: float | None
    failure_reason: str | None
    pareto: bool
    early_stopped: bool = False
    epochs: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable copy (``json.dumps(..., allow_nan=False)`` accepts it)."""
        return {"rank": self.rank, "trial_id": self.trial_id, "job_name": self.job_name,
                "generation": self.generation, "index": self.index, "params": dict(self.params),
                "values": {k: _finite(v) for k, v in self.values.items()}, "status": self.status,
                "duration_seconds": self.duration_seconds, "failure_reason": self.failure_reason,
                "pareto": self.pareto, "early_stopped": self.early_stopped, "epochs": self.epochs}


@dataclass(frozen=True)
class Leaderboard:
    """A run's trials ranked best first (see the module docstring), with the columns to show them.

    ``param_names`` are the tuned hyperparameters, one column each, in the request's order.
    """

    objectives: tuple[Objective, ...]
    param_names: tuple[str, ...]
    rows: tuple[Row, ...]

    @classmethod
    def from_trials(cls, trials: Sequence[TrialRecord], objectives: Sequence[Objective],
                    param_names: Sequence[str] | None = None) -> Leaderboard:
        """Rank ``trials`` for ``objectives``. Without ``param_names`` the columns are the params
        found in the trials, in the order first seen; names missing from ``param_names`` are added."""
        objectives = tuple(objectives)
        names = list(param_names or ())
        for trial in trials:
            names.extend(k for k in trial.params if k not in names)
        front: set[str] = set()
        if len(objectives) > 1:
            finished = [t for t in trials if t.finished]
            front = {finished[i].trial_id for i in pareto_indices([t.to_trial() for t in finished],
                                                                   objectives)}
        first = objectives[0] if objectives else None

        def key(trial: TrialRecord) -> tuple[int, float, int, int]:
            score = _score(first, trial) if first else None
            if score is not None:
                return (0 if trial.trial_id in front else 1, -score, trial.generation, trial.index)
            status = _UNRANKED_ORDER.index(trial.status) if trial.status in _UNRANKED_ORDER else 9
            return (2 + status, 0.0, trial.generation, trial.index)

        rows = []
        for trial in sorted(trials, key=key):
            ranked = first is not None and _score(first, trial) is not None
            values = trial.values or {}
            rows.append(Row(
                rank=len(rows) + 1 if ranked else None, trial_id=trial.trial_id, job_name=trial.job_name,
                generation=trial.generation, index=trial.index, params=dict(trial.params),
                values={o.metric: values.get(o.metric) for o in objectives}, status=trial.status,
                duration_seconds=duration_seconds(trial), failure_reason=trial.failure_reason,
                pareto=trial.trial_id in front, early_stopped=trial.early_stopped,
                epochs=trial.learning_curve().epochs if trial.curve else None))
        return cls(objectives, tuple(names), tuple(rows))

    def __len__(self) -> int:
        return len(self.rows)

    def top(self, k: int | None) -> Leaderboard:
        """The first ``k`` rows (all of them for None)."""
        return self if k is None else replace(self, rows=self.rows[:k])

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @property
    def has_curves(self) -> bool:
        """Does some trial have a learning curve (and the leaderboard an ``epochs`` column)?"""
        return any(row.epochs is not None for row in self.rows)

    def columns(self) -> list[str]:
        """The flat column names: rank, trial_id, job_name, generation, one per hyperparameter, one per
        objective metric, ``pareto`` (several objectives only), ``epochs`` (when trials have learning
        curves), status, duration_seconds, failure_reason. A hyperparameter or metric named like
        another column gets a ``param.`` or ``value.`` prefix, so that no cell overwrites another."""
        return [name for name, _, _ in self._layout()]

    def _layout(self) -> list[tuple[str, str, str]]:
        """(column, kind, key) for every column; kind is fixed, param or value."""
        taken = set(_FIXED_LEAD) | set(_FIXED_TAIL) | ({"pareto"} if self.multi_objective else set())
        taken |= {"epochs"} if self.has_curves else set()
        out = [(c, "fixed", c) for c in _FIXED_LEAD]
        for kind, prefix, keys in (("param", "param.", self.param_names),
                                   ("value", "value.", [o.metric for o in self.objectives])):
            for key in keys:
                column = key if key not in taken else prefix + key
                while column in taken:
                    column = prefix + column
                taken.add(column)
                out.append((column, kind, key))
        if self.multi_objective:
            out.append(("pareto", "fixed", "pareto"))
        if self.has_curves:
            out.append(("epochs", "fixed", "epochs"))
        out.extend((c, "fixed", c) for c in _FIXED_TAIL)
        return out

    def records(self) -> list[dict[str, str]]:
        """The rows as flat dicts of strings, exactly what :meth:`to_csv` writes (and
        ``csv.DictReader`` reads back): floats in full precision, NaN as ``nan``, None as ``""``."""
        layout = self._layout()
        return [{column: _cell(row, kind, key) for column, kind, key in layout} for row in self.rows]

    def to_csv(self) -> str:
        """A header row and one row per trial (``\\n`` line ends)."""
        return csv_text(self.columns(), self.records())

    def to_json(self) -> str:
        """The rows as a JSON array of :meth:`Row.to_dict` objects (params and values nested)."""
        return json.dumps([row.to_dict() for row in self.rows], indent=2, allow_nan=False)

    def to_table(self) -> str:
        """Aligned plain text for people: values to 6 significant digits, hyperparameters to 4, the
        Pareto front marked ``*``, each failure reason as its one telling line
        (:func:`byohpo.reasons.headline`), cut to 80 characters; CSV and JSON keep it whole."""
        layout = self._layout()
        header = [_HEADERS.get(c, c) if kind == "fixed" else c for c, kind, _ in layout]
        cells = [[_display(row, kind, key) for _, kind, key in layout] for row in self.rows]
        numeric = [kind == "value" or key in ("rank", "generation", "epochs", "duration_seconds")
                   or (kind == "param" and all(_is_number(r.params.get(key)) for r in self.rows))
                   for _, kind, key in layout]
        return align(header, cells, numeric)


def align(header: Sequence[str], rows: Iterable[Sequence[str]], right: Sequence[bool]) -> str:
    """Columns padded to their widest cell, two spaces apart; ``right`` aligns numbers."""
    rows = [list(header), *[list(r) for r in rows]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = []
    for r in rows:
        cells = [c.rjust(w) if flush else c.ljust(w) for c, w, flush in zip(r, widths, right, strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def leaderboard(trials: Sequence[TrialRecord], objectives: Sequence[Objective],
                param_names: Sequence[str] | None = None) -> Leaderboard:
    """Shorthand for :meth:`Leaderboard.from_trials`."""
    return Leaderboard.from_trials(trials, objectives, param_names)


def best_trial(trials: Sequence[TrialRecord], objectives: Sequence[Objective]) -> TrialRecord | None:
    """The trial with the best finite value of the first objective that counts (a completed trial's,
    or an early-stopped one's last value: :meth:`Objective.score`), the earliest of several equal
    ones; None when there is none."""
    if not objectives:
        return None
    best: tuple[float, int, int] | None = None
    found = None
    for trial in trials:
        score = _score(objectives[0], trial)
        if score is None:
            continue
        key = (-score, trial.generation, trial.index)
        if best is None or key < best:
            best, found = key, trial
    return found


def summary(run: RunRecord, trials: Sequence[TrialRecord], objectives: Sequence[Objective]) -> dict[str, Any]:
    """What a run came to, JSON-serializable (no NaN): run name, strategy, status, why it stopped,
    trial counts by status, the best trial (by the first objective) with its params and values, with
    several objectives the Pareto front, ordered by the first objective, and what early stopping did:
    ``{"type": "Off" | "Auto", "stopped": <trials it stopped, counted among the Stopped too>,
    "epochs": <epochs the finished trials ran, by their learning curves; None without curves>}``."""
    counts = {status: 0 for status in TRIAL_STATUSES}
    for trial in trials:
        counts[trial.status] = counts.get(trial.status, 0) + 1
    best = best_trial(trials, objectives)
    front = None
    if len(objectives) > 1:
        by_id = {t.trial_id: t for t in trials}
        board = Leaderboard.from_trials(trials, objectives)
        front = [_trial_summary(by_id[row.trial_id]) for row in board.rows if row.pareto]
    return {
        "run": run.name,
        "strategy": request_info(run.request).strategy,
        "status": run.status,
        "reason": run.reason,
        "stop_code": run.stop_code,
        "created_at": run.created_at,
        "updated_at": run.updated_at,
        "objectives": [{"metric": o.metric, "direction": o.direction} for o in objectives],
        "trials": {"total": len(trials), **counts},
        "best": None if best is None else _trial_summary(best),
        "pareto_front": front,
        "early_stopping": _early_stopping(run, trials),
    }


def _early_stopping(run: RunRecord, trials: Sequence[TrialRecord]) -> dict[str, Any]:
    config = _obj(run.request.get("HyperParameterTuningJobConfig"))
    kind = config.get("TrainingJobEarlyStoppingType", "Off")
    with_curves = [t for t in trials if t.finished and t.curve]
    return {"type": kind if isinstance(kind, str) else "Off",
            "stopped": sum(1 for t in trials if t.early_stopped),
            "epochs": sum(t.learning_curve().epochs for t in with_curves) if with_curves else None}


def duration_seconds(trial: TrialRecord) -> float | None:
    """Seconds from ``started_at`` to ``ended_at`` (to the millisecond), None until both are known or
    when either is not an ISO-8601 timestamp."""
    if not trial.started_at or not trial.ended_at:
        return None
    try:
        started = datetime.fromisoformat(trial.started_at)
        ended = datetime.fromisoformat(trial.ended_at)
        return round((ended - started).total_seconds(), 3)
    except (TypeError, ValueError):  # naive against aware, or not a timestamp at all
        return None


# -- what a stored request says ---------------------------------------------------------------------

@dataclass(frozen=True)
class RequestInfo:
    """What the leaderboard, ``byohpo runs`` and the plot need from a stored run's request."""

    strategy: str | None
    objectives: list[Objective]
    param_names: list[str]
    max_jobs: int | None


def request_info(request: Mapping[str, Any]) -> RequestInfo:
    """Parse a stored request with :func:`~byohpo.request.parse_request`; when it no longer parses
    here (a plug-in strategy not installed in this environment, a request written by another byohpo
    version), read the few fields needed leniently, so that a finished run can always be shown."""
    try:
        parsed = parse_request(dict(request))
    except ValidationError:
        return _lenient_info(request)
    return RequestInfo(parsed.strategy, list(parsed.objectives), list(parsed.space.names),
                       parsed.stopping.max_jobs)


def run_info(run: RunRecord) -> RequestInfo:
    return request_info(run.request)


def _lenient_info(request: Mapping[str, Any]) -> RequestInfo:
    config = _obj(request.get("HyperParameterTuningJobConfig"))
    definitions = request.get("TrainingJobDefinitions")
    definition = _obj(definitions[0]) if isinstance(definitions, list) and definitions else {}
    objectives = []
    raw_objectives = config.get("Objectives") or [config.get("HyperParameterTuningJobObjective")
                                                   or definition.get("TuningObjective")]
    for raw in raw_objectives if isinstance(raw_objectives, list) else []:
        raw = _obj(raw)
        try:
            objectives.append(Objective(raw.get("MetricName"), raw.get("Type", "Maximize")))
        except ValidationError:
            continue
    ranges = _obj(config.get("ParameterRanges") or definition.get("HyperParameterRanges"))
    names = []
    for kind in ("ContinuousParameterRanges", "IntegerParameterRanges", "CategoricalParameterRanges"):
        kind_ranges = ranges.get(kind)
        for raw in kind_ranges if isinstance(kind_ranges, list) else []:
            name = _obj(raw).get("Name")
            if isinstance(name, str) and name not in names:
                names.append(name)
    max_jobs = _obj(config.get("ResourceLimits")).get("MaxNumberOfTrainingJobs")
    strategy = config.get("Strategy")
    return RequestInfo(strategy if isinstance(strategy, str) else None, objectives, names,
                       max_jobs if isinstance(max_jobs, int) and not isinstance(max_jobs, bool) else None)


# -- helpers ----------------------------------------------------------------------------------------

def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _score(objective: Objective, trial: TrialRecord) -> float | None:
    return objective.score(trial.to_trial()) if trial.finished else None


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _is_number(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _trial_summary(trial: TrialRecord) -> dict[str, Any]:
    return {"trial_id": trial.trial_id, "job_name": trial.job_name, "generation": trial.generation,
            "params": dict(trial.params), "hyperparameters": dict(trial.hyperparameters),
            "values": {k: _finite(v) for k, v in (trial.values or {}).items()},
            "duration_seconds": duration_seconds(trial), "status": trial.status,
            "early_stopped": trial.early_stopped}


def _raw(row: Row, kind: str, key: str) -> Any:
    if kind == "param":
        return row.params.get(key)
    if kind == "value":
        return row.values.get(key)
    return getattr(row, key)


def _cell(row: Row, kind: str, key: str) -> str:
    value = _raw(row, kind, key)
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # nan, inf, -inf: what float() reads back
    return format_value(value)


def _display(row: Row, kind: str, key: str) -> str:
    value = _raw(row, kind, key)
    if value is None:
        return "-" if kind == "value" else ""
    if key == "pareto" and kind == "fixed":
        return "*" if value else ""
    if key == "failure_reason":
        # The line that says what went wrong (a traceback's last line, not the log tail's first).
        return shorten(headline(str(value)), _REASON_WIDTH)
    if key == "duration_seconds":
        return f"{value:.1f}"
    if isinstance(value, float):
        return format(value, ".6g" if kind == "value" else ".4g")
    return format_value(value)


__all__ = ["FORMATS", "Leaderboard", "RequestInfo", "Row", "align", "best_trial", "duration_seconds",
           "leaderboard", "request_info", "run_info", "summary"]


def csv_text(columns: Sequence[str], records: Sequence[Mapping[str, str]]) -> str:
    """A header row of ``columns`` and one row per record, ``\\n`` line ends (``leaderboard`` and
    ``compare`` print the same CSV)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue()
