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
        """The trial's value oriented so that larger is better; None if it has no usable value."""
        if trial.status != "Completed" or not trial.values:
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
    what they mean (usually the worst fitness), and never proposes as if they had not happened."""

    params: dict[str, ParamValue]
    meta: dict[str, Any]
    status: Status
    values: dict[str, float] | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValidationError(f"must be one of {', '.join(STATUSES)}, not {self.status!r}", "status")

    @classmethod
    def from_candidate(
        cls, candidate: Candidate, status: Status, values: Mapping[str, float] | None = None
    ) -> Trial:
        return cls(dict(candidate.params), dict(candidate.meta), status, dict(values) if values else None)
