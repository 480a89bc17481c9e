"""Particle swarm optimization: inspyred's PSO, driven by deterministic replay."""

from __future__ import annotations

import random as _random
from collections.abc import Sequence
from typing import Any

from inspyred.ec import EvolutionaryComputation
from inspyred.swarm import PSO, topologies

from byohpo.space import SearchSpace
from byohpo.strategies._inspyred import InspyredStrategy
from byohpo.strategies.base import MAX_GENERATION, check_choice, check_float, check_int
from byohpo.trials import Objective

_TOPOLOGIES = {"ring": topologies.ring_topology, "star": topologies.star_topology}


class ParticleSwarm(InspyredStrategy):
    """Particle swarm optimization over the unit cube (inspyred's PSO, after Deb and Padhye 2010:
    velocity is the step from the previous position); the whole swarm moves once per propose.

    Args:
        population_size: particles, i.e. candidates per generation; default the ``n`` of the first
            propose (at least 2), recorded in every candidate's meta; at most 1,000.
        topology: ``ring`` (each particle follows the best of ``neighborhood_size`` neighbours, as in
            inspyred's own PSO example) or ``star`` (everyone follows the global best). Default ring.
        neighborhood_size: particles in a ring neighbourhood (default 5, as in the AWS blog post;
            at most 1,000).
        inertia: weight of the particle's previous step (default 0.5).
        cognitive_rate: pull toward the particle's own best position (default 2.1).
        social_rate: pull toward its neighbourhood's best position (default 2.1).
    """

    description = "Particle swarm optimization (inspyred PSO, ring neighbourhood of 5)."

    def __init__(self, space: SearchSpace, objectives: Sequence[Objective], *, seed: int,
                 population_size: int | None = None, topology: str = "ring", neighborhood_size: int = 5,
                 inertia: float = 0.5, cognitive_rate: float = 2.1, social_rate: float = 2.1) -> None:
        super().__init__(space, objectives, seed=seed, population_size=population_size)
        self.topology = check_choice("topology", topology, list(_TOPOLOGIES))
        self.neighborhood_size = check_int("neighborhood_size", neighborhood_size, 1, MAX_GENERATION)
        self.inertia = check_float("inertia", inertia, 0.0, 10.0)
        self.cognitive_rate = check_float("cognitive_rate", cognitive_rate, 0.0, 10.0)
        self.social_rate = check_float("social_rate", social_rate, 0.0, 10.0)

    def evolution(self, random: _random.Random, population_size: int
                  ) -> tuple[EvolutionaryComputation, dict[str, Any]]:
        ec = PSO(random)
        ec.topology = _TOPOLOGIES[self.topology]
        return ec, self.evolve_args(
            population_size, neighborhood_size=self.neighborhood_size, inertia=self.inertia,
            cognitive_rate=self.cognitive_rate, social_rate=self.social_rate)
