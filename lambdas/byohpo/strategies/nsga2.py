"""NSGA-II: inspyred's non-dominated sorting genetic algorithm, driven by deterministic replay."""

from __future__ import annotations

import random as _random
from collections.abc import Sequence
from typing import Any

from inspyred.ec import EvolutionaryComputation, variators
from inspyred.ec.emo import NSGA2 as _NSGA2

from byohpo.space import SearchSpace
from byohpo.strategies._inspyred import InspyredStrategy, even, keep_first
from byohpo.strategies.base import MAX_GENERATION, check_float, check_int
from byohpo.trials import Objective


class NSGA2(InspyredStrategy):
    """NSGA-II (inspyred's), for one or several objectives: tournament selection on Pareto dominance,
    simulated binary crossover (SBX) and Gaussian mutation; the next population is filled front by
    front, the last front by crowding distance. One full generation per propose.

    inspyred's NSGA2 sets no variator, so its offspring would be copies of their parents; SBX is the
    crossover of the NSGA-II paper.

    Args:
        population_size: candidates per generation; default the ``n`` of the first propose (at least
            2), recorded in every candidate's meta; at most 1,000.
        tournament_size: individuals competing for each parent slot (default 2, at most 1,000).
        crossover_rate: probability that a pair of parents is crossed rather than copied (default 1.0).
        sbx_distribution_index: SBX's eta: larger keeps children closer to their parents (default 10).
        mutation_rate: probability that each coordinate gets Gaussian noise (default 0.1).
        gaussian_stdev: standard deviation of that noise, in unit-cube coordinates (default 0.1).
    """

    description = "NSGA-II (inspyred, multi-objective: non-dominated sorting, SBX, crowding distance)."
    max_objectives = 8
    pareto = True

    def __init__(self, space: SearchSpace, objectives: Sequence[Objective], *, seed: int,
                 population_size: int | None = None, tournament_size: int = 2, crossover_rate: float = 1.0,
                 sbx_distribution_index: float = 10.0, mutation_rate: float = 0.1,
                 gaussian_stdev: float = 0.1) -> None:
        super().__init__(space, objectives, seed=seed, population_size=population_size)
        self.tournament_size = check_int("tournament_size", tournament_size, 1, MAX_GENERATION)
        self.crossover_rate = check_float("crossover_rate", crossover_rate, 0.0, 1.0)
        self.sbx_distribution_index = check_float(
            "sbx_distribution_index", sbx_distribution_index, 0.0, 1000.0)
        self.mutation_rate = check_float("mutation_rate", mutation_rate, 0.0, 1.0)
        self.gaussian_stdev = check_float("gaussian_stdev", gaussian_stdev, 0.0, 10.0)

    def evolution(self, random: _random.Random, population_size: int
                  ) -> tuple[EvolutionaryComputation, dict[str, Any]]:
        ec = _NSGA2(random)
        ec.variator = [variators.simulated_binary_crossover, variators.gaussian_mutation,
                       keep_first(population_size)]
        return ec, self.evolve_args(
            population_size, num_selected=even(population_size), tournament_size=self.tournament_size,
            crossover_rate=self.crossover_rate, sbx_distribution_index=self.sbx_distribution_index,
            mutation_rate=self.mutation_rate, gaussian_stdev=self.gaussian_stdev)
