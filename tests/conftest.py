"""Shared test fixtures: the blog's search space, a mixed space, synthetic objectives, and the
propose -> evaluate -> append loop that every strategy test drives.

The plain functions are importable (``from conftest import run_loop``) so that subprocesses and
benchmarks build exactly the same problems as the fixtures.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

import byohpo
from byohpo import Objective, SearchExhausted, SearchSpace, Strategy, Trial

# The blog post's MNIST example: two tuned parameters and a static batch size.
BLOG_RANGES: dict[str, Any] = {
    "ContinuousParameterRanges": [
        {"Name": "learning_rate", "MinValue": "0.01", "MaxValue": "0.2", "ScalingType": "Logarithmic"}],
    "IntegerParameterRanges": [
        {"Name": "num_epoch", "MinValue": "10", "MaxValue": "50", "ScalingType": "Auto"}],
}
BLOG_STATIC = {"batch_size": "100"}

# Every kind of range and scaling, two categoricals: what string handling and rounding must survive.
MIXED_RANGES: dict[str, Any] = {
    "ContinuousParameterRanges": [
        {"Name": "learning_rate", "MinValue": "0.01", "MaxValue": "0.2", "ScalingType": "Logarithmic"},
        {"Name": "dropout", "MinValue": "0", "MaxValue": "0.5", "ScalingType": "Linear"},
        {"Name": "momentum", "MinValue": "0.5", "MaxValue": "0.999", "ScalingType": "ReverseLogarithmic"}],
    "IntegerParameterRanges": [
        {"Name": "num_epoch", "MinValue": "10", "MaxValue": "50", "ScalingType": "Auto"},
        {"Name": "num_layers", "MinValue": "1", "MaxValue": "8", "ScalingType": "Logarithmic"}],
    "CategoricalParameterRanges": [
        {"Name": "activation", "Values": ["relu", "tanh", "sigmoid"]},
        {"Name": "optimizer", "Values": ["sgd", "adam"]}],
}

ACCURACY = Objective("validation:accuracy", "Maximize")
SECONDS = Objective("train:seconds", "Minimize")

# Evaluate's answer: values (Completed), None (Failed), or an explicit (status, values).
Outcome = Mapping[str, float] | None | tuple[str, Mapping[str, float] | None]


def make_blog_space() -> SearchSpace:
    return SearchSpace.from_sagemaker(BLOG_RANGES, BLOG_STATIC)


def make_mixed_space() -> SearchSpace:
    return SearchSpace.from_sagemaker(MIXED_RANGES, {"batch_size": "100"})


def synthetic_accuracy(params: Mapping[str, Any]) -> dict[str, float]:
    """A smooth, deterministic "validation accuracy" with its optimum inside the ranges
    (learning_rate 0.045, num_epoch 32), a tilted valley between the two, and small effects of the
    mixed space's other parameters when present."""
    x = math.log(params["learning_rate"] / 0.045) / math.log(20)  # about -0.5 .. 0.5 over the range
    y = (params["num_epoch"] - 32) / 40
    acc = 0.98 - 0.4 * x * x - 0.2 * y * y - 0.1 * x * y
    acc -= 0.1 * (params.get("dropout", 0.2) - 0.2) ** 2
    acc -= 0.02 * (params.get("momentum", 0.9) - 0.9) ** 2
    acc -= 0.005 * (params.get("num_layers", 3) - 3) ** 2
    acc += {"tanh": 0.01, "sigmoid": -0.03}.get(params.get("activation", "relu"), 0.0)
    acc += {"adam": 0.005}.get(params.get("optimizer", "sgd"), 0.0)
    return {"validation:accuracy": acc}


def synthetic_two_objectives(params: Mapping[str, Any]) -> dict[str, float]:
    """Accuracy (maximize) against training time (minimize): below 32 epochs, more epochs buy
    accuracy with time, so the Pareto front is a curve, not a point."""
    seconds = 3.0 * params["num_epoch"] * (1 + 0.25 * params.get("num_layers", 1))
    return {**synthetic_accuracy(params), "train:seconds": seconds}


def _round_trip(value: Any) -> Any:
    # allow_nan=False: NaN is not JSON, and a DynamoDB or Step Functions payload would refuse it.
    return json.loads(json.dumps(value, allow_nan=False))


def run_loop(strategy: Strategy, evaluate: Callable[[dict[str, Any]], Outcome], generations: int, n: int,
             *, max_trials: int | None = None) -> list[Trial]:
    """Drive ``strategy`` the way the engine does: propose -> evaluate -> append, for ``generations``
    proposes (fewer if the strategy raises SearchExhausted or ``max_trials`` is reached at a generation
    boundary). Params and meta go through a JSON round trip, as they do through the store, and must
    come back equal; every proposal must belong to the space."""
    history: list[Trial] = []
    for _ in range(generations):
        try:
            batch = strategy.propose(list(history), n)
        except SearchExhausted:
            break
        assert isinstance(batch, list) and batch, f"propose returned {batch!r}"
        for candidate in batch:
            assert isinstance(candidate, byohpo.Candidate), candidate
            strategy.space.validate_params(candidate.params)
            params, meta = _round_trip(candidate.params), _round_trip(candidate.meta)
            assert (params, meta) == (candidate.params, candidate.meta), "params/meta change in JSON"
            outcome = evaluate(params)
            if isinstance(outcome, tuple):
                status, values = outcome
            else:
                status, values = ("Failed", None) if outcome is None else ("Completed", outcome)
            history.append(Trial(params, meta, status, dict(values) if values is not None else None))
        if max_trials is not None and len(history) >= max_trials:
            break
    return history


@pytest.fixture
def blog_space() -> SearchSpace:
    return make_blog_space()


@pytest.fixture
def mixed_space() -> SearchSpace:
    return make_mixed_space()


@pytest.fixture
def objectives() -> list[Objective]:
    return [ACCURACY]


@pytest.fixture
def two_objectives() -> list[Objective]:
    return [ACCURACY, SECONDS]


@pytest.fixture
def evaluate() -> Callable[[dict[str, Any]], dict[str, float]]:
    return synthetic_accuracy


@pytest.fixture
def evaluate_two() -> Callable[[dict[str, Any]], dict[str, float]]:
    return synthetic_two_objectives


# -- processes: what the local engine and runner tests watch -------------------------------------

def alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper that may never come in a container is dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def group_alive(pgid: int) -> bool:
    """Does any process of the group still run?"""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                return True
    return False


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return False
