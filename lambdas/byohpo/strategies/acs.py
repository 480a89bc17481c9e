"""Ant colony: inspyred's Ant Colony System over a grid of the unit cube, driven by deterministic replay."""

from __future__ import annotations

import random as _random
from collections.abc import Callable, Sequence
from typing import Any

from inspyred.ec import EvolutionaryComputation
from inspyred.swarm import ACS, TrailComponent

from byohpo.space import Categorical, Integer, SearchSpace
from byohpo.strategies._inspyred import WORST_FITNESS, InspyredStrategy
from byohpo.strategies.base import check_float, check_int
from byohpo.trials import Objective


class _Colony(ACS):
    def _internal_archiver(self, random: _random.Random, population: list, archive: list, args: dict) -> list:
        # inspyred deposits `learning_rate * best.fitness` on the best trail: a negative score (a
        # minimized loss) would lay negative pheromone and make the best cells the least desirable.
        # Scores have no known scale, so the best trail so far earns a constant deposit of 1 instead,
        # and a failed one earns nothing.
        best = max(population)
        if archive and not best > max(archive):
            best = max(archive)
        archive[:] = [best]
        deposit = 0.0 if best.fitness <= WORST_FITNESS else 1.0
        for c in self.components:
            c.pheromone = ((1 - self.evaporation_rate) * c.pheromone
                           + self.evaporation_rate * self.initial_pheromone)
            if c in best.candidate:
                c.pheromone = (1 - self.learning_rate) * c.pheromone + self.learning_rate * deposit
        return archive


class _Trail(list):
    """An ant's trail, one component per parameter, and the point of the unit cube it stands for."""

    point: list[float]


class AntColony(InspyredStrategy):
    """Ant Colony System (inspyred's ACS) over a grid: each parameter's range is cut into cells (a
    categorical parameter has one cell per value, a small integer range one per integer), and an ant
    builds a candidate by choosing one cell per parameter. With probability ``bias`` it takes the most
    desirable cell (pheromone plus a uniform prior of 1), otherwise it draws one in proportion to
    desirability. The best trail so far earns pheromone; all trails evaporate. A candidate is a uniform
    point within its cells (its genome, in unit-cube coordinates), so a converged colony still refines
    within its cells instead of proposing the same training job again. One full colony per propose.

    Args:
        population_size: ants, i.e. candidates per generation; default the ``n`` of the first propose
            (at least 2), recorded in every candidate's meta; at most 1,000.
        grid_resolution: cells per continuous range (and at most per integer range), 2 to 10,000;
            default 10.
        bias: probability that an ant takes the most desirable cell (default 0.5, as in inspyred's
            own ant benchmarks).
        evaporation_rate: fraction of the pheromone that evaporates per generation (default 0.1).
        learning_rate: weight of the best trail's deposit (default 0.1).
    """

    description = "Ant colony system (inspyred ACS over a grid of each range)."

    def __init__(self, space: SearchSpace, objectives: Sequence[Objective], *, seed: int,
                 population_size: int | None = None, grid_resolution: int = 10, bias: float = 0.5,
                 evaporation_rate: float = 0.1, learning_rate: float = 0.1) -> None:
        super().__init__(space, objectives, seed=seed, population_size=population_size)
        self.grid_resolution = check_int("grid_resolution", grid_resolution, 2, 10_000)
        self.bias = check_float("bias", bias, 0.0, 1.0)
        self.evaporation_rate = check_float("evaporation_rate", evaporation_rate, 0.0, 1.0)
        self.learning_rate = check_float("learning_rate", learning_rate, 0.0, 1.0)
        self.cells = [p.size if isinstance(p, Categorical)
                      else min(p.size, grid_resolution) if isinstance(p, Integer) else grid_resolution
                      for p in space.params]

    def evolution(self, random: _random.Random, population_size: int
                  ) -> tuple[EvolutionaryComputation, dict[str, Any]]:
        # Pheromone lives on the components, so each replay starts from fresh ones.
        trails = [[TrailComponent((d, g), value=1.0) for g in range(cells)]
                  for d, cells in enumerate(self.cells)]
        ec = _Colony(random, [c for cells in trails for c in cells])
        ec.evaporation_rate, ec.learning_rate = self.evaporation_rate, self.learning_rate

        def construct(random: _random.Random, args: dict) -> _Trail:
            trail = _Trail()
            for cells in trails:
                # TrailComponent.desirability stays 0 until the first deposit: compute it here.
                weights = [c.pheromone + c.value for c in cells]
                if random.random() < self.bias:
                    top = max(weights)  # ties drawn at random: a fresh colony must not favour cell 0
                    best = [c for c, w in zip(cells, weights, strict=True) if w == top]
                    trail.append(best[random.randrange(len(best))])
                else:
                    trail.append(random.choices(cells, weights=weights)[0])
            trail.point = [(c.element[1] + random.random()) / len(cells)
                           for c, cells in zip(trail, trails, strict=True)]
            return trail

        return ec, {**self.evolve_args(population_size), "generator": construct, "bounder": None}

    def genome_of(self, candidate: Sequence[Any]) -> list[Any]:
        return list(candidate.point)  # type: ignore[attr-defined]

    def restart_generator(self, generator: Callable[..., Any], centers: list[list[float]]
                          ) -> Callable[..., Any]:
        """Ants build every generation from the pheromone, so a restart is a fresh colony: uniform
        over the cells, drawn from the restart's own seed."""
        return generator
