"""Simulated annealing: inspyred's SA, one candidate per step, driven by deterministic replay."""

from __future__ import annotations

import random as _random
from collections.abc import Sequence
from typing import Any

from inspyred.ec import SA, EvolutionaryComputation

from byohpo.space import SearchSpace
from byohpo.strategies._inspyred import InspyredStrategy
from byohpo.strategies.base import check_float
from byohpo.trials import Objective


class SimulatedAnnealing(InspyredStrategy):
    """Simulated annealing (inspyred's SA) over the unit cube: one point, moved by Gaussian noise;
    a worse move is accepted with probability ``exp(-|delta| / temperature)``, and the temperature is
    multiplied by ``cooling_rate`` at every step. SA is sequential by nature: each propose returns
    one candidate, whatever the free slots.

    Args:
        temperature: initial temperature, in units of the objective: a move worse by this much is
            accepted with probability 1/e at the first step. The default, 0.05, suits metrics such as
            an accuracy, whose differences that matter are hundredths; scale it with your metric.
        cooling_rate: factor applied to the temperature at every step, in (0, 1] (default 0.9).
        mutation_rate: probability that each coordinate moves (default 1.0: inspyred's 0.1 would
            leave most two-parameter moves unchanged, a step that goes nowhere).
        gaussian_stdev: standard deviation of a move, in unit-cube coordinates (default 0.1).
    """

    description = "Simulated annealing (inspyred SA, one candidate per step)."
    fixed_population = 1
    min_population = 1

    def __init__(self, space: SearchSpace, objectives: Sequence[Objective], *, seed: int,
                 temperature: float = 0.05, cooling_rate: float = 0.9, mutation_rate: float = 1.0,
                 gaussian_stdev: float = 0.1) -> None:
        super().__init__(space, objectives, seed=seed)
        self.temperature = check_float("temperature", temperature, 0.0)
        self.cooling_rate = check_float("cooling_rate", cooling_rate, 0.0, 1.0, exclusive_min=True)
        self.mutation_rate = check_float("mutation_rate", mutation_rate, 0.0, 1.0)
        self.gaussian_stdev = check_float("gaussian_stdev", gaussian_stdev, 0.0, 10.0)

    def evolution(self, random: _random.Random, population_size: int
                  ) -> tuple[EvolutionaryComputation, dict[str, Any]]:
        return SA(random), self.evolve_args(
            population_size, temperature=self.temperature, cooling_rate=self.cooling_rate,
            mutation_rate=self.mutation_rate, gaussian_stdev=self.gaussian_stdev)
