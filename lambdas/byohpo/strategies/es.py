"""Evolution strategy: inspyred's self-adaptive (mu + lambda) ES, driven by deterministic replay."""

from __future__ import annotations

import random as _random
from collections.abc import Callable, Sequence
from typing import Any

from inspyred.ec import ES, EvolutionaryComputation

from byohpo.space import SearchSpace
from byohpo.strategies._inspyred import InspyredStrategy
from byohpo.strategies.base import check_float
from byohpo.trials import Objective


class _ES(ES):
    # inspyred's ES.evolve appends step sizes drawn from [0, 1) (in the unit cube, most first mutants
    # would land on a bound) and hides them from the evaluator. Here the generator makes the whole
    # genome, point then step sizes, and the evaluator sees all of it: the replay checks and stores it.
    def evolve(self, generator: Callable, evaluator: Callable, pop_size: int = 100, seeds: Any = None,
               maximize: bool = True, bounder: Any = None, **args: Any) -> list:
        return EvolutionaryComputation.evolve(self, generator, evaluator, pop_size, seeds, maximize,
                                              bounder, **args)


class EvolutionStrategy(InspyredStrategy):
    """Self-adaptive evolution strategy (inspyred's ES): every individual carries one mutation step
    size per coordinate, mutated log-normally before it mutates the point; the next population is the
    best ``population_size`` of parents and offspring. One full generation per propose.

    The genome stored in meta is the unit-cube point followed by its step sizes.

    Args:
        population_size: parents and offspring per generation (mu = lambda); default the ``n`` of the
            first propose (at least 2), recorded in every candidate's meta; at most 1,000.
        tau: learning rate of each coordinate's step size; default ``1 / sqrt(2 sqrt(d))`` for ``d``
            parameters (inspyred's).
        tau_prime: learning rate shared by all step sizes; default ``1 / sqrt(2 d)``.
        epsilon: smallest step size (default 1e-5).
        initial_stdev: the first generation's step sizes are drawn uniformly below this, in unit-cube
            coordinates (default 0.2; inspyred draws them below 1).
    """

    description = "Evolution strategy (inspyred ES: self-adaptive step sizes, plus replacement)."

    def __init__(self, space: SearchSpace, objectives: Sequence[Objective], *, seed: int,
                 population_size: int | None = None, tau: float | None = None,
                 tau_prime: float | None = None, epsilon: float = 1e-5,
                 initial_stdev: float = 0.2) -> None:
        super().__init__(space, objectives, seed=seed, population_size=population_size)
        self.tau = None if tau is None else check_float("tau", tau, 0.0, 10.0, exclusive_min=True)
        self.tau_prime = None if tau_prime is None else check_float(
            "tau_prime", tau_prime, 0.0, 10.0, exclusive_min=True)
        self.epsilon = check_float("epsilon", epsilon, 0.0, 1.0, exclusive_min=True)
        self.initial_stdev = check_float("initial_stdev", initial_stdev, 0.0, 10.0, exclusive_min=True)

    def evolution(self, random: _random.Random, population_size: int
                  ) -> tuple[EvolutionaryComputation, dict[str, Any]]:
        return _ES(random), self.evolve_args(
            population_size, tau=self.tau, tau_prime=self.tau_prime, epsilon=self.epsilon)

    def generator(self, random: _random.Random, args: dict) -> list[Any]:
        point = super().generator(random, args)
        return point + [self.initial_stdev * random.random() for _ in point]
