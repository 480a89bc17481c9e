"""Differential evolution: inspyred's DEA with a full generation, driven by deterministic replay."""

from __future__ import annotations

import random as _random
from collections.abc import Sequence
from typing import Any

from inspyred.ec import DEA, EvolutionaryComputation, replacers, variators

from byohpo.space import SearchSpace
from byohpo.strategies._inspyred import InspyredStrategy, even, keep_first
from byohpo.strategies.base import MAX_GENERATION, check_float, check_int
from byohpo.trials import Objective


class DifferentialEvolution(InspyredStrategy):
    """inspyred's differential evolution (DEA) over the unit cube: tournament selection, heuristic
    crossover (a child steps from the worse parent past the better one), Gaussian mutation, and a
    full generation per propose.

    inspyred's DEA breeds two offspring per generation into a steady-state population: one or two
    training jobs at a time. Here every generation breeds ``population_size`` offspring, and the next
    population is the best ``population_size`` of parents and offspring (plus replacement: with a full
    generation, DEA's steady-state replacement would discard every parent, while DE keeps a parent
    its child does not beat).

    Args:
        population_size: candidates per generation; default the ``n`` of the first propose (at least
            2), recorded in every candidate's meta; at most 1,000.
        tournament_size: individuals competing for each parent slot (default 2, at most 1,000).
        crossover_rate: probability that a pair of parents is crossed rather than copied (default 1.0).
        mutation_rate: probability that each coordinate gets Gaussian noise (default 0.1).
        gaussian_stdev: standard deviation of that noise, in unit-cube coordinates (default 0.1).
    """

    description = "Differential evolution (inspyred DEA: heuristic crossover, full generations)."

    def __init__(self, space: SearchSpace, objectives: Sequence[Objective], *, seed: int,
                 population_size: int | None = None, tournament_size: int = 2, crossover_rate: float = 1.0,
                 mutation_rate: float = 0.1, gaussian_stdev: float = 0.1) -> None:
        super().__init__(space, objectives, seed=seed, population_size=population_size)
        self.tournament_size = check_int("tournament_size", tournament_size, 1, MAX_GENERATION)
        self.crossover_rate = check_float("crossover_rate", crossover_rate, 0.0, 1.0)
        self.mutation_rate = check_float("mutation_rate", mutation_rate, 0.0, 1.0)
        self.gaussian_stdev = check_float("gaussian_stdev", gaussian_stdev, 0.0, 10.0)

    def evolution(self, random: _random.Random, population_size: int
                  ) -> tuple[EvolutionaryComputation, dict[str, Any]]:
        ec = DEA(random)
        ec.variator = [variators.heuristic_crossover, variators.gaussian_mutation,
                       keep_first(population_size)]
        ec.replacer = replacers.plus_replacement
        return ec, self.evolve_args(
            population_size, num_selected=even(population_size), tournament_size=self.tournament_size,
            crossover_rate=self.crossover_rate, mutation_rate=self.mutation_rate,
            gaussian_stdev=self.gaussian_stdev)
