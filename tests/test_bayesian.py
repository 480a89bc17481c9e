"""The Bayesian-optimization strategy: determinism, legal and duplicate-free batches, exhaustion of a
small discrete space, failed trials and a failure region, the categorical encoding, the mixed
acquisition search, and that the GP actually helps on a 2-d problem."""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from conftest import ACCURACY, make_mixed_space, run_loop, synthetic_accuracy

import byohpo
from byohpo import Candidate, Objective, SearchExhausted, SearchSpace, Trial, ValidationError
from byohpo.strategies._acquisition import AcquisitionOptimizer
from byohpo.strategies._encoding import Encoding
from byohpo.strategies._gp import GaussianProcess

TINY_RANGES = {"IntegerParameterRanges": [{"Name": "depth", "MinValue": "1", "MaxValue": "3"}],
               "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b"]}]}
LOSS = Objective("loss", "Minimize")


def bayes(space: SearchSpace, seed: int = 3, objectives: list[Objective] | None = None,
          **options: Any) -> byohpo.Strategy:
    return byohpo.make_strategy("bayesian", space, objectives or [ACCURACY], seed=seed, options=options)


def keys(params: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(p, sort_keys=True) for p in params]


def branin(params: dict[str, Any]) -> dict[str, float]:
    x1, x2 = params["x1"], params["x2"]
    value = (x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2
    return {"loss": value + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10}


def branin_space() -> SearchSpace:
    return SearchSpace.from_sagemaker({"ContinuousParameterRanges": [
        {"Name": "x1", "MinValue": "-5", "MaxValue": "10"},
        {"Name": "x2", "MinValue": "0", "MaxValue": "15"}]})


# A history with a failed and a stopped trial, replayed in subprocesses for the determinism test.
_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from conftest import ACCURACY, make_mixed_space, run_loop, synthetic_accuracy
import byohpo
turn = iter(range(10**6))
def evaluate(params):
    k = next(turn)
    return None if k % 5 == 3 else ("Stopped", None) if k % 7 == 6 else synthetic_accuracy(params)
strategy = byohpo.make_strategy("bayesian", make_mixed_space(), [ACCURACY], seed=11)
history = run_loop(strategy, evaluate, generations=3, n=5)
batch = strategy.propose(history, 5)
print(json.dumps([[t.params, t.meta] for t in history] + [[c.params, c.meta] for c in batch], sort_keys=True))
"""


def test_proposals_are_identical_across_processes_and_hash_seeds() -> None:
    outputs = []
    for hash_seed in ("0", "987"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "OPENBLAS_NUM_THREADS": "1"}
        done = subprocess.run([sys.executable, "-c", _SCRIPT, os.path.dirname(__file__)], env=env,
                              capture_output=True, text=True, timeout=120, check=True)
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert len(json.loads(outputs[0])) == 20  # 3 generations of 5 and the batch after them


def test_propose_is_a_pure_function_of_its_inputs_including_a_json_round_trip() -> None:
    strategy = bayes(make_mixed_space())
    history = run_loop(strategy, synthetic_accuracy, generations=3, n=4)
    again = [Trial(**json.loads(json.dumps(t.__dict__))) for t in history]
    first = strategy.propose(history, 4)
    assert bayes(make_mixed_space()).propose(again, 4) == first
    assert bayes(make_mixed_space(), seed=4).propose(history, 4) != first


def test_mixed_space_gives_legal_values_and_json_meta() -> None:
    space = make_mixed_space()
    history = run_loop(bayes(space), synthetic_accuracy, generations=5, n=4)  # validates every candidate
    assert len(history) == 20
    assert {t.meta["source"] for t in history} == {"design", "gp"}
    for t in history:
        assert isinstance(t.params["num_epoch"], int) and isinstance(t.params["num_layers"], int)
        assert t.params["activation"] in ("relu", "tanh", "sigmoid")
        assert isinstance(t.params["learning_rate"], float)
    assert len(set(keys([t.params for t in history]))) == len(history)


def test_all_failed_history_still_proposes_legal_new_points() -> None:
    space = make_mixed_space()
    history = run_loop(bayes(space), lambda params: None, generations=3, n=4)
    assert len(history) == 12 and all(t.status == "Failed" for t in history)
    batch = bayes(space).propose(history, 4)
    assert len(batch) == 4
    for c in batch:
        space.validate_params(c.params)
    assert not set(keys([c.params for c in batch])) & set(keys([t.params for t in history]))


def test_failed_points_are_never_proposed_again() -> None:
    space = SearchSpace.from_sagemaker({"IntegerParameterRanges": [
        {"Name": "a", "MinValue": "0", "MaxValue": "4"}, {"Name": "b", "MinValue": "0", "MaxValue": "4"}]})

    def evaluate(params: dict[str, Any]) -> dict[str, float] | None:  # the best region always fails
        if params["a"] >= 3:
            return None
        return {"validation:accuracy": params["a"] + 0.1 * params["b"]}

    history = run_loop(bayes(space, seed=5), evaluate, generations=20, n=3)
    assert len(history) == 25  # the whole 5 x 5 space, each point once, then SearchExhausted
    assert len(set(keys([t.params for t in history]))) == 25


def test_a_failure_region_is_learned_and_avoided() -> None:
    """Failed trials enter the fit as the worst value seen: the GP learns where training diverges.
    Left out of the fit (as before), 27 to 30 of the 30 trials after the design failed here."""
    space = SearchSpace.from_sagemaker({"ContinuousParameterRanges": [
        {"Name": "x", "MinValue": "0", "MaxValue": "1"}, {"Name": "y", "MinValue": "0", "MaxValue": "1"}]})

    def evaluate(params: dict[str, Any]) -> dict[str, float] | None:  # better toward the failures
        if params["x"] > 0.6:
            return None
        return {"validation:accuracy": params["x"] - (params["y"] - 0.5) ** 2}

    for seed in (0, 1):
        history = run_loop(bayes(space, seed=seed), evaluate, generations=8, n=5)
        after_design = history[10:]
        assert sum(t.status == "Failed" for t in after_design) <= 10, f"seed {seed}"
        assert max(t.values["validation:accuracy"] for t in history if t.values) > 0.5


def test_a_category_change_is_one_hamming_step() -> None:
    """Every two values of a categorical are equally far apart, whatever their order in the request:
    its unit coordinate only numbers the values."""
    space = SearchSpace.from_sagemaker({"CategoricalParameterRanges": [
        {"Name": "c", "Values": ["a", "b", "c", "d", "e"]}]})
    encoding = Encoding(space)
    features = encoding.features(np.array([[(k + 0.5) / 5] for k in range(5)]))
    distances = {round(float(np.linalg.norm(features[i] - features[j])), 12)
                 for i in range(5) for j in range(5) if i != j}
    assert distances == {round(math.sqrt(2), 12)}


def test_large_integer_ranges_offer_a_spread_and_the_neighbours() -> None:
    space = SearchSpace.from_sagemaker({"IntegerParameterRanges": [
        {"Name": "small", "MinValue": "1", "MaxValue": "8"},
        {"Name": "rounds", "MinValue": "1", "MaxValue": "4000", "ScalingType": "Logarithmic"}]})
    encoding = Encoding(space)
    decode = space.params[1].from_unit
    assert [space.params[0].from_unit(u) for u in encoding.choices(0, 0.3)] == list(range(1, 9))
    values = {decode(u) for u in encoding.choices(1, space.params[1].to_unit(777))}
    assert {776, 778, 775, 779, 773, 781, 1, 4000} <= values and len(values) < 70


def test_the_acquisition_search_leaves_no_better_single_discrete_move() -> None:
    """Its result is a local optimum of log EI: no other category or integer value of one parameter
    is better (a pool search alone, without the discrete local search, was not)."""
    space = SearchSpace.from_sagemaker({
        "ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}],
        "IntegerParameterRanges": [
            {"Name": "k", "MinValue": "1", "MaxValue": "64", "ScalingType": "Logarithmic"},
            {"Name": "n", "MinValue": "0", "MaxValue": "20"}],
        "CategoricalParameterRanges": [{"Name": "c", "Values": ["v0", "v1", "v2", "v3", "v4"]},
                                       {"Name": "d", "Values": ["p", "q", "r"]}]})
    encoding = Encoding(space)
    rng = np.random.default_rng(4)
    x = encoding.snap(rng.random((40, space.dims)))
    params = [space.decode(u) for u in x]
    y = np.array([-(p["x"] - 0.3) ** 2 - 0.1 * (math.log2(p["k"]) - 5) ** 2 - 0.01 * (p["n"] - 7) ** 2
                  + 0.5 * (p["c"] == "v3") + 0.2 * (p["d"] == "q") for p in params])
    y = (y - y.mean()) / y.std()
    gp = GaussianProcess(encoding.features(x), y, encoding.groups, categorical=encoding.categorical)
    optimizer = AcquisitionOptimizer(encoding, x[np.argsort(-y)[:5]], rng)
    best = optimizer.maximize(gp, float(y.max()), lambda u: True)
    value = optimizer.value(gp, float(y.max()), best[None, :])[0]
    for i in np.flatnonzero(~encoding.continuous):
        moves = np.repeat(best[None, :], len(encoding.choices(i, best[i])), axis=0)
        moves[:, i] = encoding.choices(i, best[i])
        assert optimizer.value(gp, float(y.max()), moves).max() <= value + 1e-9, space.params[i].name
    assert space.decode(best)["c"] == "v3"


def test_tiny_space_batches_shrink_then_search_is_exhausted() -> None:
    space = SearchSpace.from_sagemaker(TINY_RANGES)
    strategy = bayes(space, objectives=[LOSS])

    def loss(params: dict[str, Any]) -> dict[str, float]:
        return {"loss": params["depth"] + (params["kind"] == "a")}

    history: list[Trial] = []
    sizes = []
    while True:
        try:
            batch = strategy.propose(history, 4)
        except SearchExhausted as exc:
            assert "6 points" in str(exc)
            break
        sizes.append(len(batch))
        history += [Trial.from_candidate(c, "Completed", loss(c.params))
                    for c in batch]
    assert sizes == [4, 2]
    assert sorted(keys([t.params for t in history])) == sorted(keys(list(space.grid(3))))


def test_batches_are_duplicate_free_on_a_large_integer_space_with_a_plateau() -> None:
    space = SearchSpace.from_sagemaker({
        "IntegerParameterRanges": [{"Name": "a", "MinValue": "0", "MaxValue": "99"},
                                   {"Name": "b", "MinValue": "0", "MaxValue": "99"}],
        "CategoricalParameterRanges": [{"Name": "c", "Values": ["x", "y"]}]})

    def plateau(params: dict[str, Any]) -> dict[str, float]:  # pulls every batch to one corner
        return {"loss": max(params["a"], 90) + max(params["b"], 90) + (params["c"] == "y")}

    history = run_loop(bayes(space, objectives=[LOSS]), plateau, generations=8, n=6)
    assert len(history) == 48
    assert len(set(keys([t.params for t in history]))) == 48


def test_a_mixed_batch_of_design_and_gp_points() -> None:
    space = make_mixed_space()  # 7 dimensions: the initial design has 10 points (at least 10)
    strategy = bayes(space)
    first = strategy.propose([], 6)
    history = [Trial.from_candidate(c, "Completed", synthetic_accuracy(c.params)) for c in first]
    second = strategy.propose(history, 6)
    assert [c.meta["source"] for c in second] == ["design"] * 4 + ["gp"] * 2
    assert [c.meta["index"] for c in second] == list(range(6, 12))
    assert bayes(space, n_initial=12).propose(history, 6)[-1].meta["source"] == "design"
    assert bayes(space, n_initial=8).propose(history, 6)[2].meta["source"] == "gp"


def test_beats_random_search_on_branin_with_a_small_budget() -> None:
    finals: dict[str, list[float]] = {"bayesian": [], "random": []}
    for name in finals:
        for seed in range(3):
            strategy = byohpo.make_strategy(name, branin_space(), [LOSS], seed=seed)
            history = run_loop(strategy, branin, generations=5, n=6)
            finals[name].append(min(t.values["loss"] for t in history))
    # The optimum is 0.398; random search's median after 30 evaluations is about 1.5.
    assert statistics.median(finals["bayesian"]) < 0.5 < statistics.median(finals["random"])


def test_options_are_validated_and_multi_objective_is_refused() -> None:
    space = branin_space()
    with pytest.raises(ValidationError, match=r"StrategyConfig\.NInitial"):
        bayes(space, n_initial=0)
    assert bayes(space, NInitial=3).n_initial == 3
    with pytest.raises(ValidationError, match="Objectives"):
        bayes(space, objectives=[LOSS, ACCURACY])


def test_candidates_are_plain_json() -> None:
    batch = bayes(make_mixed_space()).propose([], 3)
    assert all(isinstance(c, Candidate) for c in batch)
    assert json.loads(json.dumps([c.meta for c in batch])) == [c.meta for c in batch]


def test_snapping_matches_the_space_decoding() -> None:
    """The acquisition is evaluated at the snapped point: it must be where the candidate decodes to."""
    space = make_mixed_space()
    encoding = bayes(space).encoding
    u = np.random.default_rng(0).random((500, space.dims))
    u[:5] = np.array([[0.0], [1.0], [0.5], [1 - 1e-12], [1e-12]])  # edges and middle of every axis
    snapped = encoding.snap(u)
    assert np.allclose(snapped, [space.encode(space.decode(x)) for x in u], atol=1e-9)
    assert [space.decode(x) for x in snapped] == [space.decode(x) for x in u]
