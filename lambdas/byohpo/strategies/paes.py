"""PAES: inspyred's Pareto archived evolution strategy, driven by deterministic replay."""

from __future__ import annotations

import random as _random
from collections.abc import Sequence
from typing import Any

from inspyred.ec import EvolutionaryComputation
from inspyred.ec.emo import PAES as _PAES

from byohpo.space import SearchSpace
from byohpo.strategies._inspyred import InspyredStrategy
from byohpo.strategies.base import check_float, check_int, option_error
from byohpo.trials import Objective

#: Largest ``max_archive_size``: every newcomer is compared with every member, at each replay.
MAX_ARCHIVE = 10_000


class _Cells(dict):
    """Archive members per grid cell; like inspyred's list, location -1 (outside the grid) is the last
    cell. A dict, because zeroing a list of 2 ** (objectives * divisions) cells at every update was
    most of the replay time with four objectives."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def __getitem__(self, location: int) -> int:
        return self.get(location % self.size, 0)

    def add(self, location: int) -> None:
        self[location % self.size] = self[location] + 1


class _AdaptiveGrid:
    """inspyred's ``adaptive_grid_archiver`` for one run, with three differences:

    * its grid lives on this object, not on the module's function (shared by every run in the process);
    * a non-dominated newcomer that dominates no member is archived. inspyred 1.0.3 reuses the name
      ``ind`` as a loop variable and appends a copy of the last member instead, so its archive fills
      with duplicates (100 entries, 13 distinct after 300 evaluations on the blog problem) and the
      crowding it measures is that of the duplicates;
    * a member's grid location is recomputed only when the grid's bounds move, not at every update.
    """

    __name__ = "adaptive_grid_archiver"  # evolve() logs it

    def __init__(self, objectives: int, divisions: int, max_size: int) -> None:
        self.divisions, self.max_size = divisions, max_size
        self.grid_population = _Cells(2 ** (objectives * divisions))
        self.global_smallest: list[float] = []
        self.global_largest: list[float] = []
        self._bounds: tuple = ()

    def __call__(self, random: Any, population: list, archive: list, args: dict) -> list:
        for ind in population:
            self._update_grid(ind, archive)
            if any(ind == a or a > ind for a in archive):
                continue
            dominated = [i for i, a in enumerate(archive) if ind > a]
            if dominated:  # the first dominated member's place goes to ind, the others leave
                archive[dominated[0]] = ind
                archive[:] = [a for i, a in enumerate(archive) if i not in dominated[1:]]
            elif len(archive) < self.max_size:
                archive.append(ind)
            else:  # full: ind replaces a member of a more crowded cell, if any
                most = self.grid_population[ind.grid_location] if ind.grid_location >= 0 else -1
                replaced = None
                for i, a in enumerate(archive):
                    if self.grid_population[a.grid_location] > most:
                        most, replaced = self.grid_population[a.grid_location], i
                if replaced is not None:
                    archive[replaced] = ind
        return archive

    def _update_grid(self, individual: Any, archive: list) -> None:
        points = [a.fitness for a in archive] + [individual.fitness]
        smallest = [min(f[o] for f in points) for o in range(len(individual.fitness))]
        largest = [max(f[o] for f in points) for o in range(len(individual.fitness))]
        self.global_smallest = [s - abs(0.2 * s) for s in smallest]
        self.global_largest = [g + abs(0.2 * g) for g in largest]
        bounds = (self.global_smallest, self.global_largest)
        moved = bounds != self._bounds
        self._bounds = bounds
        self.grid_population.clear()
        for a in archive:
            if moved or not hasattr(a, "grid_location"):
                a.grid_location = self._location(a.fitness)
            self.grid_population.add(a.grid_location)
        individual.grid_location = self._location(individual.fitness)
        self.grid_population.add(individual.grid_location)

    def _location(self, fitness: Sequence[float]) -> int:
        # inspyred's get_grid_location: bisect each objective's range `divisions` times.
        low, high = list(self.global_smallest), self.global_largest
        if any(f < lo or f > lo + hi - lo for f, lo, hi in zip(fitness, low, high, strict=True)):
            return -1
        k = len(fitness)
        inc = [2 ** i for i in range(k)]
        width = [hi - lo for lo, hi in zip(low, high, strict=True)]
        location = 0
        for _ in range(self.divisions):
            for i, f in enumerate(fitness):
                if f < width[i] / 2.0 + low[i]:
                    location += inc[i]
                else:
                    low[i] += width[i] / 2.0
            inc = [step * k * 2 for step in inc]
            width = [w / 2.0 for w in width]
        return location


class PAES(InspyredStrategy):
    """Pareto archived evolution strategy (inspyred's PAES), for one or several objectives: a current
    point is mutated, and the mutant replaces it when it dominates it, or when neither dominates and
    the mutant lies in a less crowded cell of an adaptive grid over the archive of non-dominated points.

    PAES is (1+1) by nature; inspyred runs ``population_size`` such chains side by side (each parent
    against its own mutant, one shared archive), so that every parallel training slot is busy. Set it
    to 1 for the canonical single chain (one training job at a time).

    Args:
        population_size: chains, i.e. candidates per generation (default: the free slots ``n`` of the
            first propose, like every generational strategy; at most 1,000).
        max_archive_size: non-dominated points kept in the archive, 1 to 10,000 (default 100, as in
            the AWS blog).
        num_grid_divisions: times the grid halves each objective's range, 1 to 16 (default 4, as in the
            blog);
            the grid has ``2 ** (objectives * divisions)`` cells, at most 2 ** 16.
        mutation_rate: probability that each coordinate moves (default 1.0: inspyred's 0.1 would
            leave most two-parameter mutants equal to their parent, a step that goes nowhere).
        gaussian_stdev: standard deviation of a move, in unit-cube coordinates (default 0.1).
    """

    description = "Pareto archived evolution strategy (inspyred PAES, multi-objective, archive of 100)."
    max_objectives = 4
    min_population = 1
    pareto = True

    def __init__(self, space: SearchSpace, objectives: Sequence[Objective], *, seed: int,
                 population_size: int | None = None, max_archive_size: int = 100, num_grid_divisions: int = 4,
                 mutation_rate: float = 1.0, gaussian_stdev: float = 0.1) -> None:
        super().__init__(space, objectives, seed=seed, population_size=population_size)
        self.max_archive_size = check_int("max_archive_size", max_archive_size, 1, MAX_ARCHIVE)
        self.num_grid_divisions = check_int("num_grid_divisions", num_grid_divisions, 1, 16)
        if len(self.objectives) * num_grid_divisions > 16:
            raise option_error("num_grid_divisions", f"{num_grid_divisions} divisions of "
                               f"{len(self.objectives)} objectives make more than 2 ** 16 grid cells")
        self.mutation_rate = check_float("mutation_rate", mutation_rate, 0.0, 1.0)
        self.gaussian_stdev = check_float("gaussian_stdev", gaussian_stdev, 0.0, 10.0)

    def evolution(self, random: _random.Random, population_size: int
                  ) -> tuple[EvolutionaryComputation, dict[str, Any]]:
        ec = _PAES(random)
        ec.archiver = _AdaptiveGrid(len(self.objectives), self.num_grid_divisions, self.max_archive_size)
        return ec, self.evolve_args(
            population_size, max_archive_size=self.max_archive_size,
            num_grid_divisions=self.num_grid_divisions, mutation_rate=self.mutation_rate,
            gaussian_stdev=self.gaussian_stdev)
