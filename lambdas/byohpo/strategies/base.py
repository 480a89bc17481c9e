"""The strategy contract every search algorithm satisfies, built-in or brought by a user.

A strategy is constructed from ``(space, objectives, seed, **options)`` and answers one call,
``propose(history, n)``. It keeps no state between calls: everything it needs to continue is in the
history (each trial's ``meta`` carries what the strategy wrote there when it proposed it). So:

* ``propose`` is a pure function of (space, objectives, seed, options, history, n): the same inputs
  give the same candidates in any process, which makes a retried Lambda harmless and lets a run resume
  from its store alone.
* ``n`` is a hint: the free parallel slots. A generational strategy returns its whole generation and
  the engine cuts the last one to the remaining budget.
* Failed and stopped trials are in the history; the strategy treats them as it sees fit (usually the
  worst fitness) and never crashes on them.
* Options arrive as keyword-only constructor arguments, documented there with their defaults; invalid
  values raise :class:`~byohpo.errors.ValidationError` naming the option.
* ``propose`` raises :class:`~byohpo.errors.SearchExhausted` when nothing is left to try.
* Every size-like option has a documented maximum (:data:`MAX_GENERATION` and the like), refused
  at validation: a size of 10**9 would otherwise pass the request's checks and exhaust the Propose
  Lambda's memory.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from byohpo.errors import FieldError, ValidationError
from byohpo.space import SearchSpace
from byohpo.trials import Candidate, Objective, Trial

#: The most candidates one propose returns, hence the largest ``PopulationSize`` or ``BatchSize``, and
#: the bound of the options sized like a population (tournaments, elites, neighbourhoods). A
#: generation is one Map of training jobs whose trials must fit in Propose's 256 KiB state output
#: (500 trials of 11 hyperparameters measured at 218,550 bytes), so a larger one could never run.
#: A free-slot hint ``n`` above it is read as this many.
MAX_GENERATION = 1_000


def generation_size(n: int) -> int:
    """The free-slot hint ``n`` as a number of candidates: at least 1, at most :data:`MAX_GENERATION`."""
    return min(max(int(n), 1), MAX_GENERATION)


class Strategy(ABC):
    """Base class of the built-in strategies; user strategies may subclass it or just match it."""

    #: One line shown by ``byohpo strategies``.
    description: ClassVar[str] = ""
    #: How many objectives the strategy can optimize at once.
    max_objectives: ClassVar[int] = 1

    def __init__(self, space: SearchSpace, objectives: Sequence[Objective], *, seed: int) -> None:
        if not objectives:
            raise ValidationError("at least one objective is required", "Objectives")
        if len(objectives) > self.max_objectives:
            raise ValidationError(
                f"{type(self).__name__} optimizes {self.max_objectives} objective(s), got {len(objectives)};"
                " use a multi-objective strategy such as paes or nsga2", "Objectives")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValidationError(f"must be an integer, not {seed!r}", "Seed")
        self.space = space
        self.objectives = tuple(objectives)
        self.seed = seed

    @property
    def objective(self) -> Objective:
        """The first (for single-objective strategies, the only) objective."""
        return self.objectives[0]

    @abstractmethod
    def propose(self, history: Sequence[Trial], n: int) -> list[Candidate]:
        """Candidates to evaluate next, given every trial so far (oldest first) and ``n`` free slots."""

    # -- helpers shared by the built-in strategies ---------------------------------------------
    def scores(self, trial: Trial) -> list[float] | None:
        """The trial's objective values, each oriented so that larger is better; None when the trial
        failed, was stopped or lacks an objective (treat it as the worst)."""
        out = []
        for objective in self.objectives:
            score = objective.score(trial)
            if score is None:
                return None
            out.append(score)
        return out

    def score(self, trial: Trial) -> float | None:
        """The first objective's value oriented so that larger is better, or None (see ``scores``)."""
        return self.objective.score(trial)


def option_error(option: str, message: str) -> ValidationError:
    """An error naming a ``StrategyConfig`` option the way the user wrote it (PascalCase)."""
    return ValidationError(FieldError(f"StrategyConfig.{to_pascal(option)}", message))


def check_int(option: str, value: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise option_error(option, f"must be an integer, not {value!r}")
    if minimum is not None and value < minimum:
        raise option_error(option, f"must be at least {minimum}, not {value}")
    if maximum is not None and value > maximum:
        raise option_error(option, f"must be at most {maximum}, not {value}")
    return value


def check_float(option: str, value: Any, minimum: float | None = None, maximum: float | None = None,
                *, exclusive_min: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise option_error(option, f"must be a number, not {value!r}")
    if minimum is not None and (value <= minimum if exclusive_min else value < minimum):
        bound = "above" if exclusive_min else "at least"
        raise option_error(option, f"must be {bound} {minimum}, not {value}")
    if maximum is not None and value > maximum:
        raise option_error(option, f"must be at most {maximum}, not {value}")
    return float(value)


def check_choice(option: str, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        raise option_error(option, f"must be one of {', '.join(map(str, choices))}, not {value!r}")
    return value


def to_pascal(snake: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in snake.split("_"))


def to_snake(name: str) -> str:
    """``PopulationSize`` -> ``population_size``; ``population_size`` stays; ``NumGridDivisions`` ->
    ``num_grid_divisions``."""
    out: list[str] = []
    for i, c in enumerate(name):
        if c.isupper() and i and (name[i - 1].islower() or name[i - 1].isdigit()
                                  or (i + 1 < len(name) and name[i + 1].islower() and name[i - 1] != "_")):
            out.append("_")
        out.append(c.lower())
    return "".join(out)
