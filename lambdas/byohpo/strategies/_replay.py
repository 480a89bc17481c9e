"""The evaluator of the deterministic replay: it answers inspyred from the history, and never pays twice
for one point.

inspyred's algorithms re-propose points they have already evaluated: elitism and crossover or mutation
rates below 1 leave offspring equal to a parent, and integer and categorical ranges make near-copies
identical once decoded. A training job costs the same whether or not its hyperparameters were tried
before, so a point is identified by its decoded params, and each one is evaluated once:

* a candidate whose point was evaluated before is answered with that trial's fitness (its first
  evaluation's, a failure included), is not proposed, and takes no history position. Two identical
  new candidates of one generation are proposed once, and both are answered from that trial at the
  next replay. History positions thus count distinct points, and a candidate that takes one must
  have exactly that trial's genome.
* a generation with nothing new is answered whole, and ``evolve()`` goes on to the next one. A
  converged population would go on for ever: after :data:`PATIENCE` generations in a row with
  nothing new, or once one run of ``evolve()`` has met more than :data:`MAX_REVISITS_PER_TRIAL`
  revisits per trial (which bounds the work of a propose), the replay raises :class:`Converged`,
  and the strategy restarts the algorithm (see ``_inspyred``): a budget is spent searching, not
  ended early. :class:`~byohpo.errors.SearchExhausted` ends the run only when every point of a
  finite space has been tried, or when :data:`MAX_FRUITLESS_RESTARTS` restarts in a row found
  nothing new.

A history proposed before this rule (an older run) may hold a point twice. Such a trial holds the
exact genome the replay reaches at its position, so it takes that position and is answered with its
own fitness, as when it was proposed: the older run replays unchanged and goes on without repeats.
A history proposed under the rule never matches there: its trial at that position is the next new
point, whose genome differs.

Everything here is a function of the history: points are compared by equality of their value tuples
(no hash order, no sets iterated), and the guards count candidates, not time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from byohpo.errors import ReplayMismatchError, SearchExhausted
from byohpo.trials import Trial

#: Generations in a row with only evaluated points after which the population counts as converged.
#: Measured with the guards off: at most 13 on the blog problem (GA and DE, 33 runs of 400 to 1,000
#: trials) and 3 on the 7-parameter mixed space; up to 279 on a space of 8 points, which it is meant
#: to end.
PATIENCE = 30
#: Revisits (candidates answered from an earlier evaluation) one replay may meet per trial of the
#: history, plus PATIENCE generations' worth: a bound on the work of one propose. Measured: at most 8
#: per trial (DE, blog problem, 780 trials), under 1.3 on the mixed space.
MAX_REVISITS_PER_TRIAL = 50
#: Restarts in a row that found no new point after which the search counts as exhausted. A restart
#: draws half its population at random, so in a space with untried points one finds them.
MAX_FRUITLESS_RESTARTS = 10

Point = tuple[Any, ...]


class Converged(Exception):  # internal control flow: the strategy restarts, or ends the search
    """Raised from inside ``evolve()`` when the population has converged (see the module docstring)."""


class Batch(Exception):  # internal control flow: never escapes propose
    """Raised from inside ``evolve()`` when the replay reaches points the history does not have."""

    def __init__(self, genomes: list[list[Any]], generation: int, restart: int = 0) -> None:
        super().__init__(f"{len(genomes)} candidates of generation {generation} to evaluate")
        self.genomes = genomes
        self.generation = generation
        self.restart = restart


class Replay:
    """inspyred's evaluator for one replay of ``history`` (see the module docstring).

    Args:
        history: the trials, oldest first.
        fitness: what inspyred sees for each trial.
        genome_of: the JSON-serializable genome of an inspyred candidate, as stored in meta.
        point_of: the decoded params of a genome, as a tuple in the space's order.
        label: the strategy's name, for errors.
        population: candidates per generation, for the bound on revisits.

    One replay serves every run of ``evolve()`` a propose makes (the first and each restart, see
    :meth:`restart`): positions, generations and the fitness of each point replayed carry over.
    """

    __name__ = "replay"  # evolve() logs it

    def __init__(self, history: Sequence[Trial], fitness: Sequence[Any], genome_of: Callable[[Any], list],
                 point_of: Callable[[list], Point], label: str, population: int) -> None:
        self.history, self.fitness = history, fitness
        self.genome_of, self.point_of, self.label = genome_of, point_of, label
        self.max_revisits = MAX_REVISITS_PER_TRIAL * len(history) + PATIENCE * population
        self.position = 0  # history positions taken, i.e. distinct points replayed
        self.generation = 0
        self.restarts = 0  # runs of evolve() begun after the first
        self.fruitless = 0  # restarts in a row that took no position and proposed nothing
        self.stale = 0  # generations in a row with nothing new
        self.revisits = 0  # in the current run of evolve()
        self._started_at = 0  # the position where the current run of evolve() began
        self._fitness_of: dict[Point, Any] = {}  # first evaluation of each point replayed

    @property
    def points(self) -> int:
        """Distinct points replayed so far."""
        return len(self._fitness_of)

    def restart(self) -> None:
        """Begin the next run of ``evolve()``, after :class:`Converged`: or raise SearchExhausted
        when :data:`MAX_FRUITLESS_RESTARTS` in a row found nothing new."""
        self.fruitless = self.fruitless + 1 if self.restarts and self.position == self._started_at else 0
        if self.fruitless >= MAX_FRUITLESS_RESTARTS:
            raise SearchExhausted(f"{self.label}: the population converged, and {MAX_FRUITLESS_RESTARTS} "
                                  "restarts in a row found no untried point")
        self.restarts += 1
        self.stale = self.revisits = 0
        self._started_at = self.position

    def __call__(self, candidates: Sequence[Any], args: dict) -> list[Any]:
        answers = []
        new: dict[Point, list[Any]] = {}  # insertion-ordered: the batch, in inspyred's order
        taken = self.position
        for candidate in candidates:
            genome = self.genome_of(candidate)
            point = self.point_of(genome)
            if point in new:
                continue
            known = self._fitness_of.get(point)
            if self.position < len(self.history) and (known is None or self._stored() == genome):
                self._check(genome)
                answers.append(self.fitness[self.position])
                self._fitness_of.setdefault(point, answers[-1])
                self.position += 1
            elif known is not None:
                answers.append(known)
                self.revisits += 1
            else:
                new[point] = genome
        if new:
            raise Batch(list(new.values()), self.generation, self.restarts)
        self.generation += 1
        self.stale = 0 if self.position > taken else self.stale + 1
        if self.stale >= PATIENCE:
            raise Converged(f"{self.label}: the population converged; the last {PATIENCE} "
                            "generations proposed only evaluated points")
        if self.revisits > self.max_revisits:
            raise Converged(f"{self.label}: the population keeps proposing evaluated points: "
                            f"{self.revisits} candidates in replaying {len(self.history)} trials")
        return answers

    def _stored(self) -> Any:
        meta = self.history[self.position].meta
        return meta.get("genome") if isinstance(meta, Mapping) else None

    def _check(self, genome: list[Any]) -> None:
        stored = self._stored()
        if stored != genome:
            raise ReplayMismatchError(
                f"history[{self.position}] does not match the replay of {self.label}: its genome is "
                f"{stored!r}, but the strategy proposes {genome!r} there (generation {self.generation}). "
                "The history was changed, or the seed, options or strategy differ from those that "
                "proposed it.")
