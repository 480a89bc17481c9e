"""Deterministic replay of inspyred's ``evolve()``: the driver shared by the nine inspyred strategies.

inspyred's ``evolve()`` is a closed loop that calls its evaluator synchronously, while ``propose`` must be
a pure function of the history. So every propose re-runs ``evolve()`` from scratch with
``random.Random(seed)`` and an evaluator that answers from the history (``_replay.Replay``), matched by
position: the k-th new point inspyred asks to evaluate is ``history[k]``. Its genome must equal
``history[k].meta["genome"]`` exactly, or :class:`~byohpo.errors.ReplayMismatchError` is raised (never
propose silently different candidates). A candidate whose decoded params were evaluated before is
answered with that trial's fitness and is neither proposed nor given a position: each point costs one
training job. The first generation with points not in the history stops the replay, and its new
points are proposed: a history that ends mid-generation gets exactly the candidates it is missing; a
generation with none goes on to the next (see ``_replay``).

A population that has converged (it proposes only evaluated points) restarts the algorithm, so a
budget is spent searching: a new ``evolve()`` from ``random.Random(f"{seed}:restart:{k}")`` whose
first generation holds, one in two, a Gaussian perturbation (:data:`RESTART_STDEV` of each range) of
a best point so far (the Pareto front for several objectives) and a fresh random individual. Its
candidates carry ``"restart": k`` in their meta; the replay reaches the restart at the same trial
every time, so it is a function of the history like the rest. The search ends
(:class:`~byohpo.errors.SearchExhausted`) only when every point of a finite space has been tried,
or when restarts keep finding nothing new.

Genomes are unit-cube coordinates (``space.decode`` turns them into params) under a ``[0, 1]`` bounder;
ES appends its strategy parameters to them; ACS draws its point within the grid cells its ants chose.

Failed, stopped and metric-less trials get :data:`WORST_FITNESS`: a constant (replay must see the same
fitness every time, whatever comes later) and finite (``-inf`` turns into NaN in NSGA-II's crowding
distance, PAES's adaptive grid and SA's acceptance test). Real scores are clipped to ``±1e99`` so that
it stays strictly the worst.

inspyred draws only from the ``random`` it is given on every path used here (its ``ec``, ``swarm`` and
operator modules import neither ``random`` nor numpy). Its process state is kept out of the replay:
every EC adds a handler to the ``inspyred.ec`` logger, which would grow by one per propose, so replays
run under a lock that removes it; and the adaptive grid archiver keeps its grid on the module's
function (left behind when ``evolve()`` is interrupted), so PAES uses an archiver of its own.
"""

from __future__ import annotations

import itertools
import logging
import math
import random as _random
import threading
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from inspyred.ec import Bounder, EvolutionaryComputation
from inspyred.ec.emo import Pareto

from byohpo.errors import ReplayMismatchError, SearchExhausted
from byohpo.pareto import pareto_front
from byohpo.space import Continuous, SearchSpace
from byohpo.strategies import BUILTIN
from byohpo.strategies._replay import Batch, Converged, Point, Replay
from byohpo.strategies.base import MAX_GENERATION, Strategy, check_int
from byohpo.trials import Candidate, Objective, Trial

#: The fitness of a trial without a usable value (failed, stopped, metric missing).
WORST_FITNESS = -1e100
#: Standard deviation, in unit-cube coordinates, of a restart's perturbations of the best points.
RESTART_STDEV = 0.1
_CLIP = 1e99
_LOCK = threading.Lock()
_LOGGER = logging.getLogger("inspyred.ec")

Fitness = float | Pareto


def _never(population: Any, num_generations: int, num_evaluations: int, args: dict) -> bool:
    return False  # the replay ends by Batch or SearchExhausted, never by a terminator


def keep_first(count: int) -> Callable[..., list]:
    """A variator that keeps the first ``count`` offspring: crossovers pair parents, so an odd
    population selects one parent more and drops the extra child, keeping a full generation."""
    def keep(random: _random.Random, candidates: list, args: dict) -> list:
        return candidates[:count]
    return keep


def even(count: int) -> int:
    return count + count % 2


class InspyredStrategy(Strategy):
    """Base of the strategies that replay an inspyred algorithm (see the module docstring).

    A subclass builds its configured EC in :meth:`evolution`; the genome hooks (:meth:`generator`,
    :meth:`genome_of`, :meth:`params_of`) default to unit-cube coordinates. Two genomes whose params
    are equal (:meth:`point_of`) are one training job: it is proposed once.
    """

    #: Smallest population the algorithm works with.
    min_population: ClassVar[int] = 2
    #: Population size the algorithm imposes (SA), or None when it is an option.
    fixed_population: ClassVar[int | None] = None
    #: Use inspyred's Pareto fitness (PAES, NSGA-II), even with one objective.
    pareto: ClassVar[bool] = False

    def __init__(self, space: SearchSpace, objectives: Sequence[Objective], *, seed: int,
                 population_size: int | None = None) -> None:
        super().__init__(space, objectives, seed=seed)
        if population_size is not None:
            check_int("population_size", population_size, self.min_population, MAX_GENERATION)
        self.population_size = population_size

    @abstractmethod
    def evolution(self, random: _random.Random, population_size: int
                  ) -> tuple[EvolutionaryComputation, dict[str, Any]]:
        """The configured inspyred EC and the keyword arguments of its ``evolve()`` except the
        evaluator (generator, bounder, pop_size, maximize and the algorithm's own arguments)."""

    def evolve_args(self, population_size: int, **args: Any) -> dict[str, Any]:
        """The ``evolve()`` arguments every algorithm shares, plus its own ``args``."""
        return {"generator": self.generator, "bounder": Bounder(0.0, 1.0), "pop_size": population_size,
                "maximize": True, **args}

    # -- genomes ---------------------------------------------------------------------------------
    def generator(self, random: _random.Random, args: dict) -> list[Any]:
        """A uniform point of the unit cube."""
        return [random.random() for _ in range(self.space.dims)]

    def genome_of(self, candidate: Sequence[Any]) -> list[Any]:
        """The JSON-serializable genome of an inspyred candidate."""
        return [float(x) for x in candidate]

    def params_of(self, genome: Sequence[Any]) -> dict[str, Any]:
        """The params of a genome: its first ``dims`` coordinates, decoded."""
        return self.space.decode([float(x) for x in genome[: self.space.dims]])

    def fitness(self, trial: Trial) -> Fitness:
        """What inspyred sees for a trial: its larger-is-better score, or :data:`WORST_FITNESS`."""
        scores = self.scores(trial)
        values = ([WORST_FITNESS] * len(self.objectives) if scores is None
                  else [min(max(v, -_CLIP), _CLIP) for v in scores])
        return Pareto(values) if self.pareto else values[0]

    def pareto_front(self, history: Sequence[Trial]) -> list[Trial]:
        """The non-dominated completed trials of ``history`` for this strategy's objectives."""
        return pareto_front(history, self.objectives)

    def point_of(self, genome: Sequence[Any]) -> Point:
        """The decoded params of a genome as a tuple in the space's order: equal tuples are the same
        training job."""
        return tuple(self.params_of(genome).values())

    @property
    def label(self) -> str:
        """The strategy's registered name (its class name if it is not a built-in)."""
        target = f"{type(self).__module__}:{type(self).__qualname__}"
        return next((name for name, t in BUILTIN.items() if t == target), type(self).__name__)

    # -- the replay ------------------------------------------------------------------------------
    def propose(self, history: Sequence[Trial], n: int) -> list[Candidate]:
        history = list(history)
        population = self._population(history, n)
        self._check_finite_space(history)
        replay = Replay(history, [self.fitness(trial) for trial in history], self.genome_of,
                        self.point_of, self.label, population)
        batch = self._replay(replay, history, population)
        meta: dict[str, Any] = {"generation": batch.generation, "population_size": population}
        if batch.restart:
            meta["restart"] = batch.restart
        return [Candidate(self.params_of(genome), {"genome": genome, **meta}) for genome in batch.genomes]

    def _replay(self, replay: Replay, history: Sequence[Trial], population: int) -> Batch:
        with _LOCK:
            handlers = len(_LOGGER.handlers)
            try:
                while True:
                    if replay.restarts:
                        random = _random.Random(f"{self.seed}:restart:{replay.restarts}")
                        ec, kwargs = self.evolution(random, population)
                        kwargs["generator"] = self.restart_generator(
                            kwargs["generator"], self._centers(history[: replay.position]))
                    else:
                        ec, kwargs = self.evolution(_random.Random(self.seed), population)
                    ec.terminator = _never
                    try:
                        ec.evolve(evaluator=replay, **kwargs)
                    except Converged:
                        replay.restart()
                        continue
                    # evolve() has no terminator but Batch and Converged: a bug if reached
                    raise RuntimeError(f"{self.label}: inspyred's evolve() ended before the replay did")
            except Batch as batch:
                return batch
            finally:
                for handler in _LOGGER.handlers[handlers:]:  # one per EC built
                    _LOGGER.removeHandler(handler)

    # -- restarts --------------------------------------------------------------------------------
    def restart_generator(self, generator: Callable[..., Any], centers: list[list[float]]
                          ) -> Callable[..., Any]:
        """The generator of a restart: the strategy's own, whose individuals are, one in two, moved
        to a Gaussian perturbation of one of ``centers`` (unit-cube points, cycled through)."""
        count = itertools.count()
        dims = self.space.dims

        def restarted(random: _random.Random, args: dict) -> Any:
            genome = generator(random, args)
            k = next(count)
            if centers and k % 2 == 0:
                center = centers[(k // 2) % len(centers)]
                genome[:dims] = [min(1.0, max(0.0, x + random.gauss(0.0, RESTART_STDEV))) for x in center]
            return genome

        return restarted

    def _centers(self, history: Sequence[Trial]) -> list[list[float]]:
        """The best points of ``history`` (its Pareto front, in history order), distinct."""
        out: list[list[float]] = []
        for trial in self.pareto_front(history):
            u = self.space.encode(trial.params)
            if u not in out:
                out.append(u)
        return out

    def _check_finite_space(self, history: Sequence[Trial]) -> None:
        if any(isinstance(p, Continuous) for p in self.space.params):
            return
        size = math.prod(p.size for p in self.space.params)
        tried = {tuple(t.params.get(p.name) for p in self.space.params) for t in history}
        if len(tried) >= size:
            raise SearchExhausted(f"{self.label}: all {size} points of the search space have been tried")

    def _population(self, history: Sequence[Trial], n: int) -> int:
        if self.fixed_population is not None:
            return self.fixed_population
        if not history:
            # Default: the free slots of the first propose, recorded in every candidate's meta so that
            # later proposes read it back and stay a function of the history.
            return self.population_size or min(max(int(n), self.min_population), MAX_GENERATION)
        recorded = history[0].meta.get("population_size") if isinstance(history[0].meta, Mapping) else None
        if isinstance(recorded, float) and recorded.is_integer():
            recorded = int(recorded)
        if (isinstance(recorded, bool) or not isinstance(recorded, int)
                or not self.min_population <= recorded <= MAX_GENERATION):
            raise ReplayMismatchError(f"history[0] has no valid population_size in its meta ({recorded!r}): "
                                      f"it was not proposed by {type(self).__name__}")
        if self.population_size not in (None, recorded):
            raise ReplayMismatchError(
                f"the history was proposed with PopulationSize {recorded}, not {self.population_size}")
        return recorded


__all__ = ["WORST_FITNESS", "InspyredStrategy", "even", "keep_first"]
