"""Grid and Sobol search: what the API suite cannot know about them."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import ACCURACY, SECONDS, run_loop, synthetic_accuracy
from scipy.stats import qmc

import byohpo
from byohpo import Candidate, Continuous, SearchExhausted, SearchSpace, Trial, ValidationError


def grid(space: SearchSpace, **options: object) -> byohpo.Strategy:
    return byohpo.make_strategy("grid", space, [ACCURACY], seed=1, options=options or None)


def sobol(space: SearchSpace, seed: int = 5, **options: object) -> byohpo.Strategy:
    return byohpo.make_strategy("sobol", space, [ACCURACY], seed=seed, options=options or None)


def evaluated(batch: list[Candidate], status: str = "Completed") -> list[Trial]:
    return [Trial.from_candidate(c, status, synthetic_accuracy(c.params) if status == "Completed" else None)
            for c in batch]


def unit_space(d: int) -> SearchSpace:
    """Linear [0, 1] ranges: decoded values are the cube's coordinates themselves."""
    return SearchSpace([Continuous(f"x{i}", 0.0, 1.0) for i in range(d)])


# -- grid --------------------------------------------------------------------------------------------

def test_grid_covers_the_blog_space_in_order(blog_space: SearchSpace) -> None:
    strategy = grid(blog_space)  # default resolution 5
    batch = strategy.propose([], 100)
    assert [c.params for c in batch] == list(blog_space.grid(5))
    assert [c.meta for c in batch] == [{"grid_index": i} for i in range(25)]
    assert sorted({c.params["num_epoch"] for c in batch}) == [10, 20, 30, 40, 50]
    rates = sorted({c.params["learning_rate"] for c in batch})
    assert rates[0] == 0.01 and rates[-1] == 0.2 and rates[2] == pytest.approx(0.2 ** 0.5 * 0.1)


@pytest.mark.parametrize("resolution", [1, 2, 3])
def test_grid_point_is_the_spaces_grid(mixed_space: SearchSpace, resolution: int) -> None:
    strategy = grid(mixed_space, GridResolution=resolution)
    points = list(mixed_space.grid(resolution))
    assert strategy.size == len(points) == mixed_space.grid_size(resolution)
    assert [strategy.point(i) for i in range(strategy.size)] == points
    with pytest.raises(IndexError):
        strategy.point(strategy.size)


def test_grid_in_batches_each_point_once_then_exhausted(blog_space: SearchSpace) -> None:
    strategy = grid(blog_space)
    flaky = iter([True, False] * 20)  # every other trial fails: it counts as visited all the same
    history = run_loop(strategy, lambda p: synthetic_accuracy(p) if next(flaky) else None, 10, 7)
    assert [t.meta["grid_index"] for t in history] == list(range(25))
    assert sum(t.status == "Failed" for t in history) == 12
    with pytest.raises(SearchExhausted, match=r"^grid of 25 points fully evaluated$"):
        strategy.propose(history, 3)


def test_grid_reads_visited_points_from_meta(blog_space: SearchSpace) -> None:
    strategy = grid(blog_space)
    point = strategy.point(0)
    metas = [{"grid_index": 0}, {"grid_index": 2.0},  # a float, as some JSON stores return it
             {"grid_index": "3"}, {"grid_index": True}, {"grid_index": -1}, {"grid_index": 25},
             {"grid_index": 4.5}, {}, {"index": 5}]  # none of these visits a point
    history = [Trial(point, meta, "Failed") for meta in metas]
    expected = [1, 3, 4, 5]
    assert [c.meta["grid_index"] for c in strategy.propose(history, 4)] == expected
    assert [c.meta["grid_index"] for c in strategy.propose(history[::-1], 4)] == expected
    # Nothing carried between calls: a fresh strategy agrees.
    assert grid(blog_space).propose(history, 4) == strategy.propose(history, 4)


def test_huge_grid_is_never_built() -> None:
    space = SearchSpace([Continuous(f"x{i}", 0.0, 9.0) for i in range(12)])
    strategy = grid(space, GridResolution=10)
    assert strategy.size == 10 ** 12
    assert strategy.point(0) == {f"x{i}": 0.0 for i in range(12)}
    assert strategy.point(10 ** 12 - 1) == {f"x{i}": 9.0 for i in range(12)}
    digits = "314159265358"  # index -> one axis value per digit, the last parameter fastest
    assert list(strategy.point(int(digits)).values()) == pytest.approx([float(d) for d in digits])
    history = evaluated(strategy.propose([], 1000), "Failed")
    batch = strategy.propose(history, 3)
    assert [c.meta["grid_index"] for c in batch] == [1000, 1001, 1002]


def test_grid_resolution_option(blog_space: SearchSpace) -> None:
    assert grid(blog_space, GridResolution=3).size == 9
    assert grid(blog_space, grid_resolution=3).size == 9
    middle = grid(blog_space, GridResolution=1)
    assert middle.size == 1 and [c.params for c in middle.propose([], 5)] == [blog_space.decode([0.5, 0.5])]
    # An integer range with fewer values than the resolution contributes all of them.
    space = SearchSpace.from_sagemaker({"IntegerParameterRanges": [
        {"Name": "layers", "MinValue": "1", "MaxValue": "8", "ScalingType": "Logarithmic"}]})
    assert [c.params["layers"] for c in grid(space, GridResolution=10).propose([], 20)] == list(range(1, 9))
    for bad in (0, 10_001, 2.5, "5", True, None):
        with pytest.raises(ValidationError) as info:
            grid(blog_space, GridResolution=bad)
        assert [e.path for e in info.value.errors] == ["StrategyConfig.GridResolution"]


def test_grid_of_categoricals_only() -> None:
    space = SearchSpace.from_sagemaker({"CategoricalParameterRanges": [
        {"Name": "activation", "Values": ["relu", "tanh"]},
        {"Name": "optimizer", "Values": ["sgd", "adam", "rmsprop"]}]})
    batch = grid(space).propose([], 10)
    assert [tuple(c.params.values()) for c in batch] == [
        (a, o) for a in ("relu", "tanh") for o in ("sgd", "adam", "rmsprop")]


def test_grid_ignores_objectives(blog_space: SearchSpace) -> None:
    two = byohpo.make_strategy("grid", blog_space, [ACCURACY, SECONDS], seed=1)
    assert two.propose([], 4) == grid(blog_space).propose([], 4)


# -- sobol -------------------------------------------------------------------------------------------

def test_sobol_candidate_depends_only_on_seed_and_index(mixed_space: SearchSpace) -> None:
    whole = sobol(mixed_space).propose([], 8)
    assert [c.meta for c in whole] == [{"index": i} for i in range(8)]
    for sizes in ([3, 5], [1] * 8, [5, 2, 1]):
        history: list[Trial] = []
        for size in sizes:
            history += evaluated(sobol(mixed_space).propose(history, size), "Failed")
        assert [t.params for t in history] == [c.params for c in whole], sizes


def test_sobol_is_scipys_scrambled_sequence() -> None:
    batch = sobol(unit_space(3), seed=5).propose([], 16)
    expected = qmc.Sobol(3, scramble=True, rng=np.random.default_rng(5)).random(16)
    assert [[c.params[f"x{i}"] for i in range(3)] for c in batch] == expected.tolist()


def test_sobol_points_are_balanced() -> None:
    """What Sobol' buys over random: the first 2**m points put one point in each of the 2**m equal
    slices of every axis."""
    points = [list(c.params.values()) for c in sobol(unit_space(4)).propose([], 32)]
    for m in range(1, 6):
        for axis in zip(*points[: 2 ** m], strict=True):
            assert sorted(int(u * 2 ** m) for u in axis) == list(range(2 ** m))


def test_sobol_seeds(blog_space: SearchSpace) -> None:
    runs = {seed: [c.params for c in sobol(blog_space, seed=seed).propose([], 4)] for seed in (1, 2, -1)}
    assert runs[1] != runs[2] and runs[1] != runs[-1]
    assert [c.params for c in sobol(blog_space, seed=1).propose([], 4)] == runs[1]


def test_sobol_silences_only_its_own_warning(blog_space: SearchSpace) -> None:
    before = list(warnings.filters)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sobol(blog_space).propose(evaluated(sobol(blog_space).propose([], 3)), 3)
        warnings.warn("The balance properties of Sobol' points: not ours", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["The balance properties of Sobol' points: not ours"]
    assert warnings.filters == before


def test_sobol_batch_size_option(blog_space: SearchSpace) -> None:
    assert len(sobol(blog_space, BatchSize=5).propose([], 2)) == 5
    assert len(sobol(blog_space, batch_size=5).propose([], 20)) == 5
    assert len(sobol(blog_space).propose([], 3)) == 3
    with pytest.raises(ValidationError) as info:
        sobol(blog_space, BatchSize=0)
    assert [e.path for e in info.value.errors] == ["StrategyConfig.BatchSize"]
