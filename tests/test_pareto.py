"""The Pareto front of a history (byohpo.pareto), shared by paes/nsga2, the leaderboard and Finalize."""

from __future__ import annotations

import math
import random

import pytest

from byohpo import Objective, Trial
from byohpo.pareto import dominates, pareto_front, pareto_indices, scores

ACC = Objective("acc", "Maximize")
LOSS = Objective("loss", "Minimize")


def trial(acc: float | None = None, loss: float | None = None, status: str = "Completed") -> Trial:
    values = {k: v for k, v in (("acc", acc), ("loss", loss)) if v is not None}
    return Trial({"x": 1}, {}, status, values or None)  # type: ignore[arg-type]


def test_dominates() -> None:
    assert dominates([2, 1], [1, 1]) and dominates([2, 2], [1, 1])
    assert not dominates([1, 1], [1, 1]), "equal points do not dominate each other"
    assert not dominates([2, 0], [1, 1]) and not dominates([1, 1], [2, 0])
    assert not dominates([1, 1], [2, 1])
    with pytest.raises(ValueError):
        dominates([1], [1, 2])


def test_mixed_directions() -> None:
    history = [
        trial(0.90, 0.30),  # 0: dominated by 1 (less accurate, higher loss)
        trial(0.92, 0.20),  # 1: front
        trial(0.95, 0.25),  # 2: front (more accurate, higher loss)
        trial(0.80, 0.10),  # 3: front (lowest loss)
        trial(0.94, 0.26),  # 4: dominated by 2
        trial(0.80, 0.12),  # 5: dominated by 3 (same accuracy, higher loss)
    ]
    assert pareto_indices(history, [ACC, LOSS]) == [1, 2, 3]
    assert pareto_front(history, [ACC, LOSS]) == [history[1], history[2], history[3]]
    # Both maximized, "loss" is now something to increase: the front turns over.
    assert pareto_indices(history, [ACC, Objective("loss", "Maximize")]) == [0, 2, 4]
    assert scores(history[1], [ACC, LOSS]) == [0.92, -0.20]


def test_failed_stopped_and_incomplete_trials_are_excluded() -> None:
    history = [
        trial(0.99, 0.01, status="Failed"),
        trial(0.99, 0.01, status="Stopped"),
        trial(0.99),  # the loss metric is missing
        trial(math.nan, 0.01),
        trial(math.inf, 0.01),
        trial(0.50, 0.50),
    ]
    assert pareto_indices(history, [ACC, LOSS]) == [5]
    assert pareto_indices(history[:5], [ACC, LOSS]) == []
    assert pareto_indices(history, [ACC]) == [2], "one objective needs only its own metric"


def test_ties_are_all_on_the_front() -> None:
    history = [trial(0.9, 0.2), trial(0.9, 0.2), trial(0.9, 0.3), trial(0.8, 0.1), trial(0.8, 0.1)]
    assert pareto_indices(history, [ACC, LOSS]) == [0, 1, 3, 4]
    # One objective: the best trials, every one of them.
    assert pareto_indices(history, [ACC]) == [0, 1, 2]
    assert pareto_indices(history, [LOSS]) == [3, 4]


def test_empty_and_no_objectives() -> None:
    assert pareto_front([], [ACC, LOSS]) == []
    with pytest.raises(ValueError):
        pareto_indices([trial(0.9, 0.1)], [])


@pytest.mark.parametrize("dims", [2, 3])
def test_matches_brute_force(dims: int) -> None:
    """Random points on a coarse grid (many ties and dominations) against the O(n^2) definition."""
    rng = random.Random(dims)
    objectives = [Objective(f"m{i}", "Maximize" if i % 2 else "Minimize") for i in range(dims)]
    for _ in range(20):
        history = []
        for _ in range(rng.randrange(1, 40)):
            status = rng.choice(["Completed"] * 8 + ["Failed", "Stopped"])
            history.append(Trial({}, {}, status, {o.metric: float(rng.randrange(5)) for o in objectives}))
        points = [scores(t, objectives) if t.status == "Completed" else None for t in history]
        expected = [i for i, p in enumerate(points)
                    if p is not None and not any(q is not None and dominates(q, p) for q in points)]
        assert pareto_indices(history, objectives) == expected
