"""The Pareto front of a history: the completed trials that no other completed trial dominates.

Pure: no I/O, no state. Used by the multi-objective strategies (paes, nsga2), the leaderboard and the
Finalize step, so that all three agree on what "the best trials" of a multi-objective run are.

Each trial is scored by :meth:`Objective.score` (oriented so that larger is better), so objectives
that maximize and objectives that minimize mix freely. A trial that failed, was stopped, or lacks a
finite value for one of the objectives has no place on the front. Trials with identical values do not
dominate each other: every one of them is on the front when their common point is.
"""

from __future__ import annotations

from collections.abc import Sequence

from byohpo.trials import Objective, Trial


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """Does score vector ``a`` dominate ``b`` (larger is better in every coordinate): at least as good
    everywhere and strictly better somewhere?"""
    strictly = False
    for x, y in zip(a, b, strict=True):
        if x < y:
            return False
        if x > y:
            strictly = True
    return strictly


def scores(trial: Trial, objectives: Sequence[Objective]) -> list[float] | None:
    """The trial's objective values oriented so that larger is better, or None when it has no usable
    value for one of them."""
    out = []
    for objective in objectives:
        score = objective.score(trial)
        if score is None:
            return None
        out.append(score)
    return out


def pareto_indices(history: Sequence[Trial], objectives: Sequence[Objective]) -> list[int]:
    """Positions in ``history`` of the non-dominated completed trials, in history order."""
    if not objectives:
        raise ValueError("at least one objective is required")
    front: list[tuple[int, list[float]]] = []
    for i, trial in enumerate(history):
        point = scores(trial, objectives)
        if point is None:
            continue
        if any(dominates(other, point) for _, other in front):
            continue
        # Only the current front needs checking: a point dominated by an evicted trial is also
        # dominated by whatever evicted it (dominance is transitive).
        front = [(j, other) for j, other in front if not dominates(point, other)]
        front.append((i, point))
    return sorted(j for j, _ in front)


def pareto_front(history: Sequence[Trial], objectives: Sequence[Objective]) -> list[Trial]:
    """The non-dominated completed trials of ``history`` for ``objectives``, in history order.

    With one objective this is the best trial (every one of them, when several tie).
    """
    return [history[i] for i in pareto_indices(history, objectives)]


__all__ = ["dominates", "pareto_front", "pareto_indices", "scores"]
