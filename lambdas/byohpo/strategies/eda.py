"""Estimation of distribution: inspyred's EDA (with its spread fixed), driven by deterministic replay."""

from __future__ import annotations

import copy
import math
import random as _random
from collections.abc import Sequence
from typing import Any

from inspyred.ec import EDA, EvolutionaryComputation

from byohpo.space import SearchSpace
from byohpo.strategies._inspyred import InspyredStrategy
from byohpo.strategies.base import MAX_GENERATION, check_int, option_error
from byohpo.trials import Objective


class _EDA(EDA):
    def _internal_variation(self, random: _random.Random, candidates: list, args: dict) -> list:
        # inspyred 1.0.3 passes each coordinate's *variance* to random.gauss as its standard deviation,
        # which shrinks the search distribution quadratically (0.29 -> 0.08 -> 0.007 in the unit cube)
        # and freezes it within a few generations. Same model, with the standard deviation.
        bounder = args["_ec"].bounder
        genes = list(zip(*candidates, strict=True))
        mean = [sum(g) / len(g) for g in genes]
        stdev = [math.sqrt(sum((x - m) ** 2 for x in g) / (len(g) - 1))
                 for g, m in zip(genes, mean, strict=True)]
        offspring = []
        for _ in range(args["num_offspring"]):
            child = copy.copy(candidates[0])
            for i, (m, s) in enumerate(zip(mean, stdev, strict=True)):
                child[i] = m + random.gauss(0, s)
            offspring.append(bounder(child, args))
        return offspring


class EstimationOfDistribution(InspyredStrategy):
    """Estimation of distribution (inspyred's EDA): the best ``num_selected`` individuals define an
    independent normal distribution per coordinate, and the next generation is sampled from it.
    One full generation per propose.

    Args:
        population_size: candidates per generation; default the ``n`` of the first propose (at least
            4), recorded in every candidate's meta; at most 1,000.
        num_selected: best individuals the distribution is estimated from; default half the
            population (at least 2, since a spread needs two points; at most PopulationSize, or 1,000).
        num_elites: best individuals carried over to the next generation (default 1; at most
            PopulationSize, or 1,000).
    """

    description = "Estimation of distribution (inspyred EDA: per-coordinate normal model of the best half)."
    min_population = 4

    def __init__(self, space: SearchSpace, objectives: Sequence[Objective], *, seed: int,
                 population_size: int | None = None, num_selected: int | None = None,
                 num_elites: int = 1) -> None:
        super().__init__(space, objectives, seed=seed, population_size=population_size)
        self.num_selected = (None if num_selected is None
                             else check_int("num_selected", num_selected, 2, MAX_GENERATION))
        if None not in (population_size, num_selected) and num_selected > population_size:  # type: ignore[operator]
            raise option_error("num_selected", f"must be at most PopulationSize ({population_size})")
        self.num_elites = check_int("num_elites", num_elites, 0, population_size or MAX_GENERATION)

    def evolution(self, random: _random.Random, population_size: int
                  ) -> tuple[EvolutionaryComputation, dict[str, Any]]:
        selected = self.num_selected or max(2, population_size // 2)
        return _EDA(random), self.evolve_args(
            population_size, num_selected=min(selected, population_size), num_offspring=population_size,
            num_elites=self.num_elites)
