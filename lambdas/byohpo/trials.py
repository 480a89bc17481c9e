"""The values that cross the strategy contract: objectives, candidates and trials."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from byohpo.errors import ValidationError

ParamValue = int | float | str
Status = Literal["Completed", "Failed", "Stopped"]
STATUSES: tuple[str, ...] = ("Completed", "Failed", "Stopped")


@dataclass(frozen=True)
class Objective:
    """A metric to optimize, named as in the request's ``MetricDefinitions``."""

    metric: str
    direction: Literal["Maximize", "Minimize"] = "Maximize"

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or not self.metric:
            raise ValidationError("must be a non-empty metric name", "MetricName")
        if self.direction not in ("Maximize", "Minimize"):
            raise ValidationError(f"must be Maximize or Minimize, not {self.direction!r}", "Type")

    @property
    def sign(self) -> int:
        """+1 to maximize, -1 to minimize: ``sign * value`` is larger when better."""
        return 1 if self.direction == "Maximize" else -1

    def score(self, trial: Trial) -> float | None:
        """The trial's value oriented so that larger is better; None if it has no usable value.

        A completed trial's value counts, and so does the last value of a trial early stopping stopped
        (``trial.early_stopped``): SageMaker keeps it as the job's final objective metric and its tuner
        uses it (``ObjectiveStatus`` ``Succeeded``). A trial stopped for any other reason (its time
        limit, the run's end) has no usable value, nor has a failed one."""
        if not (trial.status == "Completed" or trial.early_stopped) or not trial.values:
            return None
        value = trial.values.get(self.metric)
        if value is None or not math.isfinite(value):
            return None
        return self.sign * float(value)

    def better(self, a: float, b: float) -> bool:
        """Is value ``a`` strictly better than value ``b``?"""
        return self.sign * a > self.sign * b


@dataclass(frozen=True)
class Candidate:
    """A point a strategy proposes. ``meta`` is JSON-serializable and opaque to the engine; the
    strategy reads it back from the history (a genome, a grid index, a generation number)."""

    params: dict[str, ParamValue]
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Trial:
    """An evaluated candidate. Failed and Stopped trials stay in the history: the strategy decides
    what they mean (usually the worst fitness), and never proposes as if they had not happened.

    ``early_stopped`` marks a ``Stopped`` trial that early stopping (``TrainingJobEarlyStoppingType:
    "Auto"``) stopped: its ``values`` are the last ones it reported, and :meth:`Objective.score` counts
    them, as for a completed trial. Other stopped trials (a time limit, the run's end) have none that
    count."""

    params: dict[str, ParamValue]
    meta: dict[str, Any]
    status: Status
    values: dict[str, float] | None = None
    early_stopped: bool = False

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValidationError(f"must be one of {', '.join(STATUSES)}, not {self.status!r}", "status")
        if not isinstance(self.early_stopped, bool):
            raise ValidationError(f"must be True or False, not {self.early_stopped!r}", "early_stopped")
        if self.early_stopped and self.status != "Stopped":
            raise ValidationError(f"an early-stopped trial is Stopped, not {self.status}", "early_stopped")

    @classmethod
    def from_candidate(
        cls, candidate: Candidate, status: Status, values: Mapping[str, float] | None = None, *,
        early_stopped: bool = False,
    ) -> Trial:
        return cls(dict(candidate.params), dict(candidate.meta), status, dict(values) if values else None,
                   early_stopped=early_stopped)
