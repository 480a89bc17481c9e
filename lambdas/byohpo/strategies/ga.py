"""Genetic algorithm: inspyred's GA with real-valued variation, driven by deterministic replay."""

from __future__ import annotations

import random as _random
from collections.abc import Sequence
from typing import Any

from inspyred.ec import GA, EvolutionaryComputation, replacers, selectors, variators

from byohpo.space import SearchSpace
from byohpo.strategies._inspyred import InspyredStrategy, even, keep_first
from byohpo.strategies.base import MAX_GENERATION, check_float, check_int
from byohpo.trials import Objective


class GeneticAlgorithm(InspyredStrategy):
    """Genetic algorithm over the unit cube: tournament selection, blend crossover (BLX-alpha),
    Gaussian mutation and generational replacement with elitism; one full generation per propose.

    inspyred's GA defaults (rank selection, n-point crossover, bit-flip mutation) are meant for
    binary genomes and would never move a real-valued coordinate, so the variation is replaced.
    Crossover pairs parents: an odd population selects one parent more and drops the extra child.

    Args:
        population_size: candidates per generation; default the ``n`` of the first propose (at least
            2), recorded in every candidate's meta; at most 1,000.
        tournament_size: individuals competing for each parent slot (default 2, at most 1,000).
        crossover_rate: probability that a pair of parents is blended rather than copied (default 1.0).
        blx_alpha: how far beyond the parents' interval a child may land, as a fraction of that
            interval (default 0.1).
        mutation_rate: probability that each coordinate gets Gaussian noise (default 0.1).
        gaussian_stdev: standard deviation of that noise, in unit-cube coordinates: 0.1 is a tenth
            of each range (default 0.1).
        num_elites: best individuals carried over to the next generation (default 1; at most
            PopulationSize, or 1,000).
    """

    description = "Genetic algorithm (inspyred GA: tournament, blend crossover, Gaussian mutation, elitism)."

    def __init__(self, space: SearchSpace, objectives: Sequence[Objective], *, seed: int,
                 population_size: int | None = None, tournament_size: int = 2, crossover_rate: float = 1.0,
                 blx_alpha: float = 0.1, mutation_rate: float = 0.1, gaussian_stdev: float = 0.1,
                 num_elites: int = 1) -> None:
        super().__init__(space, objectives, seed=seed, population_size=population_size)
        self.tournament_size = check_int("tournament_size", tournament_size, 1, MAX_GENERATION)
        self.crossover_rate = check_float("crossover_rate", crossover_rate, 0.0, 1.0)
        self.blx_alpha = check_float("blx_alpha", blx_alpha, 0.0, 10.0)
        self.mutation_rate = check_float("mutation_rate", mutation_rate, 0.0, 1.0)
        self.gaussian_stdev = check_float("gaussian_stdev", gaussian_stdev, 0.0, 10.0)
        self.num_elites = check_int("num_elites", num_elites, 0, population_size or MAX_GENERATION)

    def evolution(self, random: _random.Random, population_size: int
                  ) -> tuple[EvolutionaryComputation, dict[str, Any]]:
        ec = GA(random)
        ec.selector = selectors.tournament_selection
        ec.variator = [variators.blend_crossover, variators.gaussian_mutation, keep_first(population_size)]
        ec.replacer = replacers.generational_replacement
        return ec, self.evolve_args(
            population_size, num_selected=even(population_size), tournament_size=self.tournament_size,
            crossover_rate=self.crossover_rate, blx_alpha=self.blx_alpha, mutation_rate=self.mutation_rate,
            gaussian_stdev=self.gaussian_stdev, num_elites=self.num_elites)
