"""The nine inspyred strategies, driven by deterministic replay (strategies/_inspyred.py, _replay.py).

What the API suite (test_strategy_api.py) cannot check from outside: that the replay proposes exactly
what inspyred's own blocking ``evolve()`` evaluates when it answers repeated points from a cache,
configured here from inspyred's documented settings and the strategies' documented defaults; that
no point is proposed twice, and a converged population ends the search; that it refuses a history it
would not have proposed, and still replays an older one with repeated points; that it resumes
mid-generation; that failed trials never produce NaN; that PAES's archiver is inspyred's less its bug;
and that process state (global RNGs, inspyred's grid and logger) plays no part between proposes.
"""

from __future__ import annotations

import copy
import inspect
import itertools
import json
import logging
import math
import random
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from conftest import (
    ACCURACY,
    SECONDS,
    make_blog_space,
    make_mixed_space,
    synthetic_accuracy,
    synthetic_two_objectives,
)
from inspyred.ec import (
    DEA,
    EDA,
    ES,
    GA,
    SA,
    Bounder,
    EvolutionaryComputation,
    Individual,
    archivers,
    replacers,
    selectors,
    terminators,
    variators,
)
from inspyred.ec.emo import NSGA2 as NSGA2_EC
from inspyred.ec.emo import PAES as PAES_EC
from inspyred.ec.emo import Pareto
from inspyred.swarm import ACS, PSO, TrailComponent, topologies

import byohpo
from byohpo import (
    Candidate,
    Categorical,
    Integer,
    Objective,
    ReplayMismatchError,
    SearchExhausted,
    SearchSpace,
    Trial,
    ValidationError,
)
from byohpo.strategies._inspyred import WORST_FITNESS, InspyredStrategy
from byohpo.strategies._replay import (
    MAX_FRUITLESS_RESTARTS,
    MAX_REVISITS_PER_TRIAL,
    PATIENCE,
    Batch,
    Converged,
    Replay,
)

NAMES = ["ga", "pso", "de", "es", "sa", "eda", "acs", "paes", "nsga2"]
MULTI = ["paes", "nsga2"]
# Strategies with more than one candidate per generation, and the options that give them one.
POPULATED = {name: {"PopulationSize": 5} for name in NAMES if name != "sa"}

Evaluate = Callable[[dict[str, Any]], tuple[str, dict[str, float] | None]]


def build(name: str, space: SearchSpace | None = None, objectives: Sequence[Objective] = (ACCURACY,),
          seed: int = 7, **options: Any) -> InspyredStrategy:
    strategy = byohpo.make_strategy(name, space or make_blog_space(), list(objectives), seed, options)
    assert isinstance(strategy, InspyredStrategy)
    return strategy


def completed(values: Callable[[dict[str, Any]], dict[str, float]]) -> Evaluate:
    return lambda params: ("Completed", values(params))


def accuracy_with_failures(params: dict[str, Any]) -> tuple[str, dict[str, float] | None]:
    """Fails and stops in regions of the space, so replay must map failures the same way each time."""
    if params["num_epoch"] % 4 == 0:
        return "Failed", None
    if params["learning_rate"] > 0.15:
        return "Stopped", None
    return "Completed", synthetic_accuracy(params)


def two_objectives(space: SearchSpace) -> Callable[[dict[str, Any]], dict[str, float]]:
    """In unit-cube coordinates: ``a`` (maximize) peaks at (0.3, 0.5), ``b`` (minimize) at (0.7, 0.5),
    so the Pareto front is the segment between them."""
    def values(params: dict[str, Any]) -> dict[str, float]:
        u, v = space.encode(params)
        return {"a": -((u - 0.3) ** 2 + (v - 0.5) ** 2), "b": (u - 0.7) ** 2 + (v - 0.5) ** 2}
    return values


def front_distance(space: SearchSpace, params: dict[str, Any]) -> float:
    u, v = space.encode(params)
    return abs(v - 0.5) + max(0.0, 0.3 - u, u - 0.7)


def loop(strategy: InspyredStrategy, evaluate: Evaluate, generations: int, n: int = 5, *,
         through_json: bool = True) -> list[Trial]:
    """propose -> evaluate -> append; meta and params through JSON as a store would return them."""
    history: list[Trial] = []
    for _ in range(generations):
        for candidate in strategy.propose(history, n):
            strategy.space.validate_params(candidate.params)
            params, meta = candidate.params, candidate.meta
            if through_json:
                params, meta = json.loads(json.dumps(params)), json.loads(json.dumps(meta, allow_nan=False))
            status, values = evaluate(params)
            history.append(Trial(params, meta, status, values))  # type: ignore[arg-type]
    return history


Evaluation = tuple[list[Any], dict[str, Any], int]  # genome, params, generation


# -- the reference: inspyred's own evolve(), configured here ------------------------------------------
# Each algorithm as its strategy documents it, written out from inspyred's documentation and never
# read from the strategies (a reference built from the strategy's own configuration let a changed
# default pass: GA's blx_alpha 0.1 -> 0.3 passed every test). An argument left out takes inspyred's
# own default (its operators' ``args.setdefault``): blend_crossover's blx_alpha 0.1 and
# crossover_rate 1.0, gaussian_mutation's mutation_rate 0.1, tournament_size 2, PSO's inertia 0.5 and
# cognitive and social rates 2.1, simulated_binary_crossover's distribution index 10, EDA's
# num_selected (half) and num_offspring (the population), ACS's evaporation and learning rates 0.1.
# Where a strategy departs from inspyred, the value is written out, with the reason in a comment.

def keep(count: int) -> Callable[..., list]:
    """Crossovers pair parents: an odd population selects one more and drops the extra child."""
    return lambda random, candidates, args: candidates[:count]


def eda_variation(random: random.Random, candidates: list, args: dict) -> list:
    """inspyred's EDA model with the standard deviation where inspyred 1.0.3 passes the variance."""
    genes = list(zip(*candidates, strict=True))
    mean = [sum(g) / len(g) for g in genes]
    stdev = [math.sqrt(sum((x - m) ** 2 for x in g) / (len(g) - 1)) for g, m in zip(genes, mean, strict=True)]
    bounder = args["_ec"].bounder
    return [bounder([m + random.gauss(0, sd) for m, sd in zip(mean, stdev, strict=True)], args)
            for _ in range(args["num_offspring"])]


class Colony(ACS):
    """inspyred's ACS with a constant deposit of 1 on the best trail so far (its deposit is
    ``learning_rate * fitness``, negative for a minimized loss), none for a failure."""

    def _internal_archiver(self, random: random.Random, population: list, archive: list, args: dict) -> list:
        best = max(population)
        if archive and not best > max(archive):
            best = max(archive)
        archive[:] = [best]
        for c in self.components:
            c.pheromone = 0.9 * c.pheromone + 0.1 * self.initial_pheromone
            if c in best.candidate:
                c.pheromone = 0.9 * c.pheromone + 0.1 * (0.0 if best.fitness <= WORST_FITNESS else 1.0)
        return archive


def colony(rng: random.Random, space: SearchSpace, options: dict[str, Any]) -> tuple[Colony, Callable]:
    """ACS over a grid of 10 cells per range (one per value of a categorical or small integer range);
    an ant takes the most desirable cell with probability 0.5 (ties drawn at random) and stands for a
    uniform point within its cells."""
    resolution = options.get("GridResolution", 10)
    sizes = [p.size if isinstance(p, Categorical) else min(p.size, resolution) if isinstance(p, Integer)
             else resolution for p in space.params]
    trails = [[TrailComponent((d, g), value=1.0) for g in range(n)] for d, n in enumerate(sizes)]
    ec = Colony(rng, [c for cells in trails for c in cells])

    def construct(random: random.Random, args: dict) -> list:
        trail: Any = []
        for cells in trails:
            weights = [c.pheromone + c.value for c in cells]
            if random.random() < 0.5:
                best = [c for c, w in zip(cells, weights, strict=True) if w == max(weights)]
                trail.append(best[random.randrange(len(best))])
            else:
                trail.append(random.choices(cells, weights=weights)[0])
        trail = type("Trail", (list,), {})(trail)
        trail.point = [(c.element[1] + random.random()) / len(cells) for c, cells in zip(trail, trails,
                                                                                           strict=True)]
        return trail

    return ec, construct


def inspyred_evolution(name: str, rng: random.Random, space: SearchSpace, population: int,
                       options: dict[str, Any]) -> tuple[Any, dict[str, Any], Callable]:
    """inspyred's EC for ``name``, its ``evolve()`` arguments, and the evolve to call."""
    def uniform(random: random.Random, args: dict) -> list[float]:
        return [random.random() for _ in range(space.dims)]

    args: dict[str, Any] = {"generator": uniform, "bounder": Bounder(0.0, 1.0), "pop_size": population,
                            "maximize": True}
    pairs = population + population % 2  # crossovers select an even number of parents
    stdev = 0.1  # every Gaussian move is a tenth of a range: inspyred's 1.0 spans the unit cube
    if name == "ga":  # inspyred's GA defaults are binary-genome operators: real-valued ones instead
        ec = GA(rng)
        ec.selector = selectors.tournament_selection
        ec.variator = [variators.blend_crossover, variators.gaussian_mutation, keep(population)]
        ec.replacer = replacers.generational_replacement
        args |= {"num_selected": pairs, "gaussian_stdev": stdev, "num_elites": options.get("NumElites", 1)}
    elif name == "pso":  # the blog's ring of 5 (inspyred's default topology is the star)
        ec = PSO(rng)
        star = options.get("Topology") == "star"
        ec.topology = topologies.star_topology if star else topologies.ring_topology
        args |= {"neighborhood_size": 5}
    elif name == "de":  # a full generation, and plus replacement to keep parents their children lose to
        ec = DEA(rng)
        ec.variator = [variators.heuristic_crossover, variators.gaussian_mutation, keep(population)]
        ec.replacer = replacers.plus_replacement
        args |= {"num_selected": pairs, "gaussian_stdev": stdev}
    elif name == "es":  # step sizes below 0.2, not 1, and part of the genome the evaluator sees
        ec = ES(rng)

        def strategized(random: random.Random, args: dict) -> list[float]:
            point = uniform(random, args)
            return point + [0.2 * random.random() for _ in point]

        args |= {"generator": strategized, "tau": None, "tau_prime": None, "epsilon": 1e-5}
        return ec, args, lambda **kw: EvolutionaryComputation.evolve(ec, **kw)
    elif name == "sa":  # a temperature for accuracies; every coordinate moves
        ec = SA(rng)
        args |= {"temperature": 0.05, "cooling_rate": 0.9, "mutation_rate": 1.0, "gaussian_stdev": stdev}
    elif name == "eda":
        ec = EDA(rng)
        ec.variator = eda_variation
        args |= {"num_elites": 1}
    elif name == "acs":
        ec, construct = colony(rng, space, options)
        args |= {"generator": construct, "bounder": None}
    elif name == "paes":  # inspyred's archiver less its bug (see below); every coordinate moves
        ec = PAES_EC(rng)
        ec.archiver = inspyred_archiver_without_the_shadowing_bug()
        args |= {"max_archive_size": 100, "num_grid_divisions": 4, "mutation_rate": 1.0,
                 "gaussian_stdev": stdev}
    elif name == "nsga2":  # inspyred's NSGA2 has no variator: SBX, as in the NSGA-II paper
        ec = NSGA2_EC(rng)
        ec.variator = [variators.simulated_binary_crossover, variators.gaussian_mutation, keep(population)]
        args |= {"num_selected": pairs, "gaussian_stdev": stdev}
    else:
        raise AssertionError(name)
    return ec, args, ec.evolve


def genome_of(candidate: Any) -> list[float]:
    return list(getattr(candidate, "point", None) or [float(x) for x in candidate])


def reference_fitness(name: str, status: str, values: dict[str, float] | None,
                      objectives: Sequence[Objective]) -> Any:
    """Larger is better; a failure (or a missing metric) is WORST_FITNESS on every objective; PAES
    and NSGA-II compare Pareto fitnesses, even of one objective."""
    scores = [None if status != "Completed" or not values or o.metric not in values
              else values[o.metric] * (1 if o.direction == "Maximize" else -1) for o in objectives]
    scores = [WORST_FITNESS] * len(scores) if None in scores else scores
    return Pareto(scores) if name in MULTI else scores[0]


class Restart(Exception):
    pass


def restarted(generator: Callable, centers: list[list[float]], dims: int) -> Callable:
    """A restart's generator as documented: one individual in two is a Gaussian perturbation
    (stdev 0.1 of each range, clipped to the cube) of a best point so far, cycling through them."""
    count = itertools.count()

    def generate(random: random.Random, args: dict) -> Any:
        genome = generator(random, args)
        k = next(count)
        if centers and k % 2 == 0:
            genome[:dims] = [min(1.0, max(0.0, x + random.gauss(0.0, 0.1)))
                             for x in centers[(k // 2) % len(centers)]]
        return genome

    return generate


def best_points(name: str, seen: list[Evaluation], fitness: list[Any], space: SearchSpace
                ) -> list[list[float]]:
    """The best evaluated points (the non-dominated ones for PAES and NSGA-II), in order, distinct."""
    values = [list(f) if name in MULTI else [f] for f in fitness]
    out: list[list[float]] = []
    for (_, params, _), v in zip(seen, values, strict=True):
        if v[0] <= WORST_FITNESS or any(
                all(a >= b for a, b in zip(w, v, strict=True)) and w != v for w in values):
            continue
        u = space.encode(params)
        if u not in out:
            out.append(u)
    return out


def reference(name: str, options: dict[str, Any], space: SearchSpace, objectives: Sequence[Objective],
              seed: int, evaluate: Evaluate, count: int, cache_from: int = 0
              ) -> tuple[list[Evaluation], int, list[int]]:
    """What inspyred's own blocking evolve() evaluates, configured as above with ``random.Random(seed)``,
    answering a point it evaluated before from a cache, as a user paying for each evaluation would:
    its first ``count`` evaluations, in order, how many answers came from the cache, and the restart
    each evaluation belongs to. After PATIENCE generations in a row with nothing new, evolve() starts
    again as the strategies document it: ``random.Random(f"{seed}:restart:{k}")``, its first
    generation half around the best points so far (ACS: a fresh colony). The first ``cache_from``
    candidates are all evaluated, cached or not (the strategies did so before they skipped repeated
    points)."""
    population = 1 if name == "sa" else options.get("PopulationSize", 1)
    seen: list[Evaluation] = []
    fitness: list[Any] = []
    restart_of: list[int] = []
    cache: dict[str, Any] = {}
    hits = generation = asked = stale = restart = 0

    def evaluator(candidates: list, args: dict) -> list:
        nonlocal hits, generation, asked, stale
        out = []
        before = len(seen)
        for candidate in candidates:
            genome = genome_of(candidate)
            params = space.decode(genome[: space.dims])
            key = json.dumps(params, sort_keys=True)
            asked += 1
            if key in cache and asked > cache_from:
                hits += 1
                out.append(cache[key])
            else:
                seen.append((genome, params, generation))
                out.append(reference_fitness(name, *evaluate(params), objectives))
                fitness.append(out[-1])
                restart_of.append(restart)
                cache.setdefault(key, out[-1])
        generation += 1
        stale = 0 if len(seen) > before else stale + 1
        if stale >= PATIENCE and len(seen) < count:
            raise Restart
        return out

    def enough(population: list, num_generations: int, num_evaluations: int, args: dict) -> bool:
        return len(seen) >= count

    while True:
        rng = random.Random(f"{seed}:restart:{restart}" if restart else seed)
        ec, kwargs, evolve = inspyred_evolution(name, rng, space, population, options)
        if restart and name != "acs":
            kwargs["generator"] = restarted(kwargs["generator"], best_points(name, seen, fitness, space),
                                            space.dims)
        ec.terminator = enough
        try:
            evolve(evaluator=evaluator, **kwargs)
            return seen[:count], hits, restart_of[:count]
        except Restart:
            assert restart < count, "the reference restarts without new points"
            restart += 1
            stale = 0


def evaluations(history: Sequence[Trial]) -> list[Evaluation]:
    return [(t.meta["genome"], t.params, t.meta["generation"]) for t in history]


def restarts_of(history: Sequence[Trial]) -> list[int]:
    return [t.meta.get("restart", 0) for t in history]


# -- replay equals inspyred --------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "options", "multi", "proposes"), [
    ("ga", {"PopulationSize": 5}, False, 8),  # odd: one parent more, the extra child dropped
    ("ga", {"PopulationSize": 6, "NumElites": 2}, False, 6),
    ("pso", {"PopulationSize": 6}, False, 8),
    ("pso", {"PopulationSize": 4, "Topology": "star"}, False, 6),
    ("paes", {"PopulationSize": 1}, True, 40),  # the canonical single chain
    ("paes", {"PopulationSize": 3}, True, 12),
    # Not required of the others, but the replay driver is the same: cheap to check them all.
    ("de", {"PopulationSize": 5}, False, 5),
    ("es", {"PopulationSize": 4}, False, 5),
    ("sa", {}, False, 20),
    ("eda", {"PopulationSize": 6}, False, 5),
    ("acs", {"PopulationSize": 5}, False, 5),
    ("nsga2", {"PopulationSize": 5}, True, 5),
])
def test_replay_equals_inspyred_evolve(name: str, options: dict[str, Any], multi: bool,
                                       proposes: int) -> None:
    space = make_blog_space()
    if multi:
        objectives: list[Objective] = [Objective("a"), Objective("b", "Minimize")]
        values = two_objectives(space)

        def evaluate(params: dict[str, Any]) -> tuple[str, dict[str, float] | None]:
            return ("Failed", None) if params["num_epoch"] % 4 == 0 else ("Completed", values(params))
    else:
        objectives, evaluate = [ACCURACY], accuracy_with_failures
    strategy = build(name, space, objectives, seed=13, **options)
    history = loop(strategy, evaluate, proposes, n=4)
    assert {t.status for t in history} >= {"Completed", "Failed"}, "the run should exercise failures"
    expected, revisits, restarts = reference(name, options, space, objectives, 13, evaluate, len(history))
    assert evaluations(history) == expected and restarts_of(history) == restarts
    if name in ("ga", "de", "nsga2"):
        assert revisits > 0, "the run should exercise points inspyred proposes again"


def inspyred_archiver_without_the_shadowing_bug() -> Callable:
    """inspyred 1.0.3's adaptive_grid_archiver with its loop variable renamed: it reuses ``ind`` to
    filter the archive, then archives that (the last member, again) instead of the newcomer."""
    source = textwrap.dedent(inspect.getsource(archivers.adaptive_grid_archiver))
    buggy = ("for ind in new_archive:\n                    if ind not in removal_set:\n"
             "                        temp_archive.append(ind)")
    assert source.count(buggy) == 1, "inspyred's archiver changed: review paes._AdaptiveGrid"
    namespace: dict[str, Any] = {"math": math}
    exec(source.replace(buggy, buggy.replace("ind", "member")), namespace)
    return namespace["adaptive_grid_archiver"]


def reset(archiver: Callable) -> None:
    for name in ("grid_population", "global_smallest", "global_largest"):
        if hasattr(archiver, name):
            delattr(archiver, name)


@pytest.mark.parametrize(("objectives", "divisions", "size"),
                         [(1, 4, 100), (2, 4, 5), (2, 4, 100), (3, 2, 8)])
def test_paes_archiver_is_inspyreds_without_its_bug(objectives: int, divisions: int, size: int) -> None:
    """Same archive, grid locations, cell counts and bounds as inspyred's archiver (less the bug), call
    after call, on points with many ties and dominations, failures, and populations of several."""
    strategy = build("paes", objectives=[Objective(f"m{i}") for i in range(objectives)],
                     NumGridDivisions=divisions, MaxArchiveSize=size)
    ours = strategy.evolution(random.Random(0), 1)[0].archiver
    theirs = inspyred_archiver_without_the_shadowing_bug()
    args = {"max_archive_size": size, "num_grid_divisions": divisions}
    rng = random.Random(objectives * 100 + size)
    archive_ours: list = []
    archive_theirs: list = []
    try:
        for step in range(400):
            population = []
            for _ in range(rng.choice([1, 1, 1, 3])):
                values = [WORST_FITNESS if step % 37 == 5 else float(rng.randrange(-6, 6))
                          for _ in range(objectives)]
                ind = Individual([float(step), rng.random()])
                ind.fitness = Pareto(values)
                population.append(ind)
            archive_ours = ours(rng, population, archive_ours, args)
            archive_theirs = theirs(rng, copy.deepcopy(population), archive_theirs, args)
            assert [(a.candidate, a.grid_location) for a in archive_ours] == [
                (a.candidate, a.grid_location) for a in archive_theirs], f"step {step}"
            cells = ours.grid_population
            assert [cells[i] for i in range(cells.size)] == theirs.grid_population
            assert ours.global_smallest == theirs.global_smallest
            assert ours.global_largest == theirs.global_largest
        assert len(archive_ours) > (1 if objectives == 1 else 4)
    finally:
        reset(theirs)


def test_paes_archive_holds_distinct_non_dominated_points() -> None:
    space = make_blog_space()
    strategy = build("paes", space, [Objective("a"), Objective("b", "Minimize")])
    ec, kwargs = strategy.evolution(random.Random(5), 1)
    ec.terminator = terminators.evaluation_termination
    values = two_objectives(space)

    def evaluator(candidates: list, args: dict) -> list:
        return [strategy.fitness(Trial({}, {}, "Completed", values(strategy.params_of(c))))
                for c in candidates]

    ec.evolve(evaluator=evaluator, max_evaluations=300, **kwargs)
    assert 20 < len(ec.archive) <= 100
    assert len({tuple(a.candidate) for a in ec.archive}) == len(ec.archive)  # inspyred's: 13 distinct
    assert not any(a > b for a in ec.archive for b in ec.archive)


# -- behaviour on the blog problem -------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_improves_over_first_generation(name: str) -> None:
    strategy = build(name, seed=3)
    history = loop(strategy, completed(synthetic_accuracy), 60 if name in ("sa", "paes") else 10, n=6)
    scores = [ACCURACY.score(t) for t in history]
    size = max(len([t for t in history if t.meta["generation"] == 0]), 6)
    assert max(scores) > max(scores[:size])  # type: ignore[type-var]
    assert sum(scores[-size:]) / size > sum(scores[:size]) / size  # type: ignore[arg-type]


@pytest.mark.parametrize("name", MULTI)
@pytest.mark.parametrize("population", [1, 4])
def test_multi_objective_moves_toward_the_front(name: str, population: int) -> None:
    if name == "nsga2" and population == 1:
        population = 8
    space = make_blog_space()
    objectives = [Objective("a"), Objective("b", "Minimize")]
    strategy = build(name, space, objectives, seed=5, PopulationSize=population)
    history = loop(strategy, completed(two_objectives(space)), max(12, 80 // population), n=population)
    k = max(population, 8)
    first = sum(front_distance(space, t.params) for t in history[:k]) / k
    last = sum(front_distance(space, t.params) for t in history[-k:]) / k
    assert last < 0.75 * first
    front = strategy.pareto_front(history)
    assert len(front) >= 5
    assert sum(front_distance(space, t.params) for t in front) / len(front) < 0.1


def test_sa_proposes_one_candidate_per_step() -> None:
    strategy = build("sa")
    history = loop(strategy, completed(synthetic_accuracy), 5, n=8)
    assert len(history) == 5 and [t.meta["generation"] for t in history] == [0, 1, 2, 3, 4]


def test_es_genome_carries_step_sizes() -> None:
    strategy = build("es", PopulationSize=4, InitialStdev=0.05)
    history = loop(strategy, completed(synthetic_accuracy), 3)
    for trial in history:
        point, steps = trial.meta["genome"][:2], trial.meta["genome"][2:]
        assert len(steps) == 2 and all(s > 0 for s in steps)
        assert trial.params == strategy.space.decode(point)
    assert all(s < 0.05 for t in history[:4] for s in t.meta["genome"][2:])


def test_acs_chooses_grid_cells() -> None:
    space = make_mixed_space()
    strategy = build("acs", space, GridResolution=4, PopulationSize=6)
    history = loop(strategy, completed(synthetic_accuracy), 8)
    # 4 cells per continuous range, min(size, 4) per integer range, one per categorical value.
    assert strategy.cells == [4, 4, 4, 4, 4, 3, 2]
    for trial in history:
        assert trial.params == space.decode(trial.meta["genome"])
    assert {t.params["activation"] for t in history} == {"relu", "tanh", "sigmoid"}
    assert len({json.dumps(t.params) for t in history}) == len(history), "a point is drawn within its cells"
    # The colony learns: later ants agree on each parameter's cell more often than the first ones did.
    def agreement(trials: Sequence[Trial]) -> float:
        columns = zip(*(t.meta["genome"] for t in trials), strict=True)
        cells = [[int(u * c) for u in column] for column, c in zip(columns, strategy.cells, strict=True)]
        return sum(max(col.count(g) for g in col) / len(col) for col in cells) / len(cells)
    assert agreement(history[-12:]) > agreement(history[:12]) + 0.1


# -- the replay contract -----------------------------------------------------------------------------

def tampered(genome: list[Any]) -> list[Any]:
    if isinstance(genome[0], int):
        return [genome[0] + 1, *genome[1:]]
    return [math.nextafter(genome[0], 2.0), *genome[1:]]  # the smallest change a float allows


@pytest.mark.parametrize("name", NAMES)
def test_tampered_history_raises(name: str) -> None:
    strategy = build(name, **POPULATED.get(name, {}))
    history = loop(strategy, completed(synthetic_accuracy), 3)
    k = len(history) // 2
    bad = list(history)
    bad[k] = Trial(history[k].params, {**history[k].meta, "genome": tampered(history[k].meta["genome"])},
                   "Completed", history[k].values)
    with pytest.raises(ReplayMismatchError, match=rf"history\[{k}\]"):
        strategy.propose(bad, 5)
    bad[k] = Trial(history[k].params, {}, "Completed", history[k].values)
    with pytest.raises(ReplayMismatchError):
        strategy.propose(bad, 5)
    with pytest.raises(ReplayMismatchError):  # another seed would not have proposed this history
        build(name, seed=8, **POPULATED.get(name, {})).propose(history, 5)


@pytest.mark.parametrize("name", sorted(POPULATED))
def test_history_ending_mid_generation_gets_the_rest(name: str) -> None:
    strategy = build(name, **POPULATED[name])
    history = loop(strategy, completed(synthetic_accuracy), 2)
    batch = strategy.propose(history, 5)
    assert len(batch) == 5 and {c.meta["generation"] for c in batch} == {2}
    for cut in (1, 3):
        done = [Trial.from_candidate(c, "Completed", synthetic_accuracy(c.params)) for c in batch[:cut]]
        assert strategy.propose(history + done, 5) == batch[cut:]


def test_population_size_defaults_to_first_n_and_is_read_back() -> None:
    strategy = build("ga")
    history = loop(strategy, completed(synthetic_accuracy), 1, n=7)
    assert len(history) == 7 and {t.meta["population_size"] for t in history} == {7}
    assert len(strategy.propose(history, 2)) == 7, "later proposes read the size from the history"
    assert [c.meta["population_size"] for c in build("ga").propose([], 1)] == [2, 2]  # at least 2
    assert len(build("eda").propose([], 1)) == 4  # EDA needs a spread of at least two selected
    with pytest.raises(ReplayMismatchError, match="PopulationSize 7"):
        build("ga", PopulationSize=6).propose(history, 6)


@pytest.mark.parametrize("name", NAMES)
def test_meta_survives_json_round_trip(name: str) -> None:
    """Proposals are the same whether the history's meta and params went through JSON or not."""
    plain = loop(build(name, **POPULATED.get(name, {})), accuracy_with_failures, 4, through_json=False)
    stored = loop(build(name, **POPULATED.get(name, {})), accuracy_with_failures, 4, through_json=True)
    assert [(t.params, t.meta) for t in stored] == [(t.params, t.meta) for t in plain]


# -- each point once ---------------------------------------------------------------------------------

# 8 points: inspyred's algorithms propose the same ones again and again.
TINY_RANGES: dict[str, Any] = {
    "IntegerParameterRanges": [{"Name": "num_epoch", "MinValue": "10", "MaxValue": "13"}],
    "CategoricalParameterRanges": [{"Name": "activation", "Values": ["relu", "tanh"]}]}
SIX = {name: {"PopulationSize": 6} for name in NAMES if name != "sa"}


def make_tiny_space() -> SearchSpace:
    return SearchSpace.from_sagemaker(TINY_RANGES)


def tiny_values(params: dict[str, Any]) -> tuple[str, dict[str, float] | None]:
    accuracy = 0.9 - 0.01 * abs(params["num_epoch"] - 12) + 0.01 * (params["activation"] == "tanh")
    return "Completed", {ACCURACY.metric: accuracy, SECONDS.metric: float(params["num_epoch"])}


def objectives_for(name: str) -> list[Objective]:
    return [ACCURACY, SECONDS] if name in MULTI else [ACCURACY]


def run_until_exhausted(strategy: InspyredStrategy, evaluate: Evaluate, proposes: int, n: int = 6,
                        budget: int | None = None) -> tuple[list[Trial], SearchExhausted | None]:
    """``loop``, until the strategy raises SearchExhausted (returned), ``proposes`` are done or the
    history holds ``budget`` trials (the last generation cut to it, as the engine does)."""
    history: list[Trial] = []
    for _ in range(proposes):
        if budget is not None and len(history) >= budget:
            break
        try:
            batch = strategy.propose(history, n)
        except SearchExhausted as exc:
            return history, exc
        for candidate in batch[: None if budget is None else budget - len(history)]:
            params, meta = json.loads(json.dumps(candidate.params)), json.loads(json.dumps(candidate.meta))
            history.append(Trial(params, meta, *evaluate(params)))  # type: ignore[misc]
    return history, None


def points(trials: Sequence[Trial | Candidate]) -> list[str]:
    return [json.dumps(t.params, sort_keys=True) for t in trials]


@pytest.mark.parametrize("name", NAMES)
def test_no_point_is_proposed_twice_on_the_blog_problem(name: str) -> None:
    strategy = build(name, objectives=objectives_for(name), seed=5, **SIX.get(name, {}))
    history, exhausted = run_until_exhausted(strategy, completed(synthetic_two_objectives), 40)
    assert len(history) >= 40
    # EDA's distribution collapses onto one point (about 200 trials here), and ends the search there.
    assert exhausted is None or name == "eda", exhausted
    assert len(set(points(history))) == len(history)


@pytest.mark.parametrize("name", NAMES)
def test_no_point_is_proposed_twice_on_a_tiny_space(name: str) -> None:
    strategy = build(name, make_tiny_space(), objectives_for(name), seed=3, **SIX.get(name, {}))
    history: list[Trial] = []
    while True:
        try:
            batch = strategy.propose(history, 6)
        except SearchExhausted:
            break
        assert len(set(points(batch))) == len(batch), "a point twice in one batch"
        assert not set(points(batch)) & set(points(history)), "a point of the history proposed again"
        history += [Trial.from_candidate(c, *tiny_values(c.params)) for c in batch]  # type: ignore[misc]
    assert 4 <= len(history) <= 8


@pytest.mark.parametrize("name", NAMES)
def test_replay_equals_inspyred_evolve_on_a_tiny_space(name: str) -> None:
    """Where repeats are the rule: points proposed twice within one generation, and generations
    with nothing new, which the replay steps over within one propose."""
    strategy = build(name, make_tiny_space(), objectives_for(name), seed=11, **SIX.get(name, {}))
    history, _ = run_until_exhausted(strategy, tiny_values, 6)
    expected, revisits, restarts = reference(name, SIX.get(name, {}), strategy.space, strategy.objectives,
                                             11, tiny_values, len(history))
    assert evaluations(history) == expected and revisits > 0
    assert restarts_of(history) == restarts
    generations = [t.meta["generation"] for t in history]
    assert generations == sorted(generations)
    if name not in ("ga", "de", "eda"):  # these three converge within two generations here
        assert any(b - a > 1 for a, b in itertools.pairwise(generations))
    if name in SIX:
        assert len([g for g in generations if g == 0]) < 6, "two ants or individuals on one point"


@pytest.mark.parametrize("name", NAMES)
def test_a_finite_space_ends_the_search_once_every_point_is_tried(name: str) -> None:
    """The population converges long before 8 points are tried: restarts find the others, and only
    then does the search end."""
    strategy = build(name, make_tiny_space(), objectives_for(name), seed=2, **SIX.get(name, {}))
    history, exhausted = run_until_exhausted(strategy, tiny_values, 60)
    assert str(exhausted) == f"{name}: all 8 points of the search space have been tried"
    assert len(set(points(history))) == len(history) == 8
    with pytest.raises(SearchExhausted, match=f"^{name}: all 8 "):  # again: a function of the history
        strategy.propose(history, 6)


# 300 points: the populations converge well before a budget of 60 is spent (EDA after 20 trials).
SMALL_RANGES: dict[str, Any] = {
    "IntegerParameterRanges": [{"Name": "a", "MinValue": "0", "MaxValue": "9"},
                               {"Name": "b", "MinValue": "0", "MaxValue": "9"}],
    "CategoricalParameterRanges": [{"Name": "c", "Values": ["x", "y", "z"]}]}


def small_values(params: dict[str, Any]) -> tuple[str, dict[str, float] | None]:
    loss = (params["a"] - 3) ** 2 + (params["b"] - 6) ** 2 + "xyz".index(params["c"])
    return "Completed", {ACCURACY.metric: -loss, SECONDS.metric: float(params["a"] + params["b"])}


@pytest.mark.parametrize("name", NAMES)
def test_converged_population_restarts_and_spends_the_budget(name: str) -> None:
    """Issue: a converged population ended a run with budget left (SearchExhausted). Now it restarts
    (half around the best, half at random), says so in its candidates' meta, and proposes what
    inspyred's evolve() restarted as documented proposes."""
    space = SearchSpace.from_sagemaker(SMALL_RANGES)
    strategy = build(name, space, objectives_for(name), seed=1, **SIX.get(name, {}))
    history, exhausted = run_until_exhausted(strategy, small_values, 60, budget=60)
    assert exhausted is None and len(history) == 60
    assert len(set(points(history))) == len(history)
    restarts = restarts_of(history)
    assert restarts == sorted(restarts)
    if name not in ("acs", "paes", "nsga2"):  # still searching after 60 trials here
        assert restarts[-1] > 0, "the population should have converged and restarted"
        first = restarts.index(1)
        assert history[first].meta["generation"] > history[first - 1].meta["generation"]
    expected, _, expected_restarts = reference(name, SIX.get(name, {}), space, strategy.objectives, 1,
                                               small_values, len(history))
    assert evaluations(history) == expected and restarts == expected_restarts


def toy_replay(count: int, population: int = 1) -> Replay:
    """A replay of ``count`` trials at the points 0, 1, ...; candidates are one-number lists."""
    history = [Trial({"x": i}, {"genome": [i]}, "Completed", {"m": float(i)}) for i in range(count)]
    return Replay(history, [float(i) for i in range(count)], list, tuple, "toy", population)


def test_guard_counts_generations_with_nothing_new() -> None:
    replay = toy_replay(2)
    assert replay([[0]], {}) == [0.0]
    for _ in range(PATIENCE - 1):
        assert replay([[0], [0]], {}) == [0.0, 0.0]
    assert replay([[0], [1]], {}) == [0.0, 1.0], "a new point resets the count"
    for _ in range(PATIENCE - 1):
        replay([[1]], {})
    with pytest.raises(Converged, match=f"^toy: the population converged; the last {PATIENCE} "):
        replay([[1]], {})


def test_guard_bounds_the_revisits_of_one_replay() -> None:
    limit = MAX_REVISITS_PER_TRIAL * 2 + PATIENCE * 3
    replay = toy_replay(2, population=3)
    replay([[0]], {})
    assert len(replay([[0]] * limit + [[1]], {})) == limit + 1
    with pytest.raises(Converged, match=r"^toy: the population keeps proposing evaluated points"):
        replay([[0]], {})


def test_restarts_that_find_nothing_new_end_the_search() -> None:
    replay = toy_replay(3)
    replay([[0]], {})
    replay.restart()  # the first run took a position: not fruitless
    assert (replay.restarts, replay.fruitless) == (1, 0)
    replay([[0], [1]], {})
    replay.restart()  # took position 1
    assert replay.fruitless == 0
    for k in range(1, MAX_FRUITLESS_RESTARTS):  # each answered from evaluated points only
        replay([[0], [1]], {})
        replay.restart()
        assert replay.fruitless == k
    with pytest.raises(SearchExhausted, match=f"^toy: the population converged, and {MAX_FRUITLESS_RESTARTS} "
                                              "restarts in a row found no untried point"):
        replay.restart()


def test_a_restart_resets_the_guards_of_one_run() -> None:
    replay = toy_replay(1)
    replay([[0]], {})
    for _ in range(PATIENCE - 1):
        replay([[0]], {})
    replay.restart()
    for _ in range(PATIENCE - 1):  # would have raised Converged without the reset
        replay([[0]], {})
    with pytest.raises(Batch):
        replay([[5]], {})


def test_identical_new_candidates_are_proposed_once_and_both_answered() -> None:
    replay = toy_replay(1)
    with pytest.raises(Batch) as batch:
        replay([[0], [1], [2], [1], [0], [2]], {})
    assert batch.value.genomes == [[1], [2]]
    replay = toy_replay(3)
    assert replay([[0], [1], [2], [1], [0], [2]], {}) == [0.0, 1.0, 2.0, 1.0, 0.0, 2.0]


@pytest.mark.parametrize(("name", "population"), [("ga", 6), ("de", 5), ("nsga2", 6), ("pso", 4)])
def test_older_history_with_repeated_points_replays(name: str, population: int) -> None:
    """Before repeats were skipped, every candidate was proposed. Such a history replays as it was
    proposed (each repeat at its position, with its own fitness) and continues without repeats; it
    proposes what the same history without its repeats proposes; a repeat that was altered is
    refused like any other trial."""
    evaluate = completed(synthetic_two_objectives)
    strategy = build(name, objectives=objectives_for(name), seed=3, PopulationSize=population)
    options = {"PopulationSize": population}
    older, _, _ = reference(name, options, strategy.space, strategy.objectives, 3, evaluate, 5 * population,
                         cache_from=10**9)
    history = [Trial(params, {"genome": genome, "generation": generation, "population_size": population},
                     *evaluate(params)) for genome, params, generation in older]  # type: ignore[misc]
    keys = points(history)
    assert len(set(keys)) < len(keys), "the older run should have repeats"
    continued = list(history)
    for _ in range(2):
        continued += [Trial.from_candidate(c, *evaluate(c.params))  # type: ignore[misc]
                      for c in strategy.propose(continued, population)]
    assert not set(points(continued[len(history):])) & set(keys)
    expected, _, _ = reference(name, options, strategy.space, strategy.objectives, 3, evaluate,
                               len(continued), cache_from=len(history))
    assert evaluations(continued) == expected
    distinct = [t for i, t in enumerate(history) if keys.index(keys[i]) == i]
    assert strategy.propose(distinct, population) == strategy.propose(history, population)
    k = next(i for i in range(len(keys)) if keys.index(keys[i]) != i)  # the first repeat
    bad = list(history)
    bad[k] = Trial(history[k].params, {**history[k].meta, "genome": tampered(history[k].meta["genome"])},
                   "Completed", history[k].values)
    with pytest.raises(ReplayMismatchError, match=rf"history\[{k}\]"):
        strategy.propose(bad, population)


# -- failed trials -----------------------------------------------------------------------------------

def check_finite(history: Sequence[Trial], batch: Sequence[Candidate]) -> None:
    for item in [*history, *batch]:
        assert all(math.isfinite(g) for g in item.meta["genome"]), item.meta
        assert all(not isinstance(v, float) or math.isfinite(v) for v in item.params.values())


@pytest.mark.parametrize("name", NAMES)
def test_all_failed_history(name: str) -> None:
    objectives = [ACCURACY, Objective("train:seconds", "Minimize")] if name in MULTI else [ACCURACY]
    strategy = build(name, make_mixed_space(), objectives, **POPULATED.get(name, {}))
    history = loop(strategy, lambda params: ("Failed", None), 8)
    batch = strategy.propose(history, 5)
    check_finite(history, batch)
    assert strategy.pareto_front(history) == []


@pytest.mark.parametrize("name", NAMES)
def test_mixed_failed_history(name: str) -> None:
    """Failed, stopped, metric-less, NaN and infinite values among completed ones; for two-objective
    strategies also a trial with only one of its two metrics."""
    objectives = [ACCURACY, Objective("train:seconds", "Minimize")] if name in MULTI else [ACCURACY]
    outcomes: list[tuple[str, dict[str, float] | None] | None] = [
        ("Failed", None), ("Stopped", None), ("Completed", {}), None,
        ("Completed", {"validation:accuracy": math.nan, "train:seconds": 1.0}), None,
        ("Completed", {"validation:accuracy": math.inf, "train:seconds": -math.inf}), None]
    if name in MULTI:
        outcomes.append(("Completed", {"validation:accuracy": 0.9}))
    turn = iter(range(10**6))

    def evaluate(params: dict[str, Any]) -> tuple[str, dict[str, float] | None]:
        # None: completed with both metrics.
        return outcomes[next(turn) % len(outcomes)] or (
            "Completed", {**synthetic_accuracy(params), "train:seconds": float(params["num_epoch"])})

    strategy = build(name, make_mixed_space(), objectives, **POPULATED.get(name, {}))
    history = []
    for _ in range(8):  # no JSON here: NaN and inf values are not JSON
        history += [Trial(c.params, c.meta, *evaluate(c.params)) for c in strategy.propose(history, 5)]
    check_finite(history, strategy.propose(history, 5))
    fitness = strategy.fitness(Trial({}, {}, "Failed"))
    assert (list(fitness) if name in MULTI else [fitness]) == [WORST_FITNESS] * len(objectives)


def test_worst_fitness_is_strictly_worst_and_keeps_arithmetic_finite() -> None:
    """The failures' fitness goes through the algorithms' arithmetic, where -inf would turn into NaN:
    NSGA-II's crowding distance subtracts two failures, PAES's grid widens its bounds by 20%, SA
    divides a difference by the temperature."""
    strategy = build("ga")
    extremes = [strategy.fitness(Trial({}, {}, "Completed", {ACCURACY.metric: v})) for v in (-1e308, 1e308)]
    assert WORST_FITNESS < extremes[0] < extremes[1]
    for a in (WORST_FITNESS, *extremes):
        for b in (WORST_FITNESS, *extremes):
            assert math.isfinite(a - b)
            assert math.isfinite(a - abs(0.2 * a)) and math.isfinite(a + abs(0.2 * a))
            for temperature in (1e-300, 0.05, 1e300):
                assert not math.isnan(math.exp(-abs(a - b) / temperature))
    pareto = build("nsga2", objectives=[ACCURACY, Objective("b", "Minimize")])
    assert list(pareto.fitness(Trial({}, {}, "Completed", {ACCURACY.metric: 0.9}))) == [WORST_FITNESS] * 2


# -- inspyred's process state ------------------------------------------------------------------------

def test_no_global_random_state_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = {name: loop(build(name, **POPULATED.get(name, {})), accuracy_with_failures, 3)
                for name in NAMES}

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("global random state used")

    for attr in ("random", "gauss", "normalvariate", "uniform", "randint", "randrange", "choice",
                 "choices", "sample", "shuffle", "seed", "getrandbits"):
        monkeypatch.setattr(random, attr, forbidden)
    for attr in ("random", "rand", "randn", "normal", "uniform", "randint", "choice", "shuffle", "seed"):
        monkeypatch.setattr(np.random, attr, forbidden)
    for name in NAMES:
        assert loop(build(name, **POPULATED.get(name, {})), accuracy_with_failures, 3) == expected[name]


def test_replay_leaves_no_inspyred_state_behind() -> None:
    logger = logging.getLogger("inspyred.ec")
    before = len(logger.handlers)
    objectives = [Objective("a"), Objective("b", "Minimize")]
    strategy = build("paes", objectives=objectives)
    history = loop(strategy, completed(two_objectives(strategy.space)), 10)
    assert not hasattr(archivers.adaptive_grid_archiver, "grid_population"), "PAES grid left behind"
    assert len(logger.handlers) == before, "a logging handler per propose leaks"
    # A stale grid from an interrupted evolve() with other settings must not change the next replay.
    archivers.adaptive_grid_archiver.grid_population = [5] * 7
    archivers.adaptive_grid_archiver.global_smallest = [9.0, 9.0]
    try:
        assert strategy.propose(history[:7], 1) == strategy.propose(history[:7], 1)
        assert strategy.propose(history[:7], 1)[0].meta["genome"] == history[7].meta["genome"]
    finally:
        for attr in ("grid_population", "global_smallest"):
            if hasattr(archivers.adaptive_grid_archiver, attr):
                delattr(archivers.adaptive_grid_archiver, attr)


# -- options -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "options", "field"), [
    ("ga", {"PopulationSize": 1}, "PopulationSize"),
    ("ga", {"PopulationSize": 4, "NumElites": 5}, "NumElites"),
    ("ga", {"MutationRate": 1.5}, "MutationRate"),
    ("ga", {"BlxAlpha": "0.1"}, "BlxAlpha"),
    ("pso", {"Topology": "cube"}, "Topology"),
    ("pso", {"NeighborhoodSize": 0}, "NeighborhoodSize"),
    ("de", {"TournamentSize": True}, "TournamentSize"),
    ("es", {"Tau": 0}, "Tau"),
    ("es", {"InitialStdev": -1}, "InitialStdev"),
    ("sa", {"CoolingRate": 0}, "CoolingRate"),
    ("sa", {"Temperature": float("nan")}, "Temperature"),
    ("eda", {"PopulationSize": 3}, "PopulationSize"),
    ("eda", {"NumSelected": 1}, "NumSelected"),
    ("eda", {"PopulationSize": 6, "NumSelected": 7}, "NumSelected"),
    ("acs", {"GridResolution": 1}, "GridResolution"),
    ("acs", {"Bias": 2}, "Bias"),
    ("paes", {"NumGridDivisions": 9}, "NumGridDivisions"),  # 2 objectives: 2 ** 18 cells
    ("paes", {"MaxArchiveSize": 0}, "MaxArchiveSize"),
    ("nsga2", {"SbxDistributionIndex": -1}, "SbxDistributionIndex"),
])
def test_invalid_options_are_refused(name: str, options: dict[str, Any], field: str) -> None:
    objectives = [Objective("a"), Objective("b", "Minimize")] if name in MULTI else [ACCURACY]
    with pytest.raises(ValidationError) as info:
        build(name, objectives=objectives, **options)
    assert [e.path for e in info.value.errors] == [f"StrategyConfig.{field}"]


@pytest.mark.parametrize("name", [n for n in NAMES if n not in MULTI])
def test_single_objective_strategies_refuse_two(name: str) -> None:
    with pytest.raises(ValidationError, match="objective"):
        build(name, objectives=[ACCURACY, Objective("b", "Minimize")])
