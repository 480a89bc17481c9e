"""Grid search: every point of a grid over the space, in a fixed order, each exactly once.

Like Optuna's ``GridSampler`` it keeps no state: each candidate's meta carries its grid index, and every
call recomputes the unvisited points from the history's meta.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from byohpo.errors import SearchExhausted
from byohpo.space import SearchSpace
from byohpo.strategies.base import Strategy, check_int, generation_size
from byohpo.trials import Candidate, Objective, ParamValue, Trial

#: Points per axis at most; an axis (unlike the grid) is held in memory.
MAX_RESOLUTION = 10_000


class GridSearch(Strategy):
    """Grid search over every range, numeric ones included.

    SageMaker's own Grid strategy takes categorical ranges only; this one also cuts numeric ranges
    (:meth:`SearchSpace.grid_axis`): a categorical range contributes all its values, an integer range
    at most ``grid_resolution`` values (all of them when it has fewer), and a continuous range
    ``grid_resolution`` points evenly spaced in its scaling, both ends included. Points come in
    ``SearchSpace.grid`` order: the last parameter varies fastest.

    Args:
        grid_resolution: points per numeric range, 1 to 10,000 (default 5: the ends, the middle and
            the quarters). The grid has the product of the axis sizes as its number of points, which
            grows fast: 5 points on each of 11 ranges is 48 million. Such a grid is allowed (a point
            is computed from its index, the grid is never built) but will not be finished; set
            ``MaxNumberOfTrainingJobs`` accordingly, or prefer sobol or random for many ranges.

    Each proposal is the next ``n`` unvisited grid indices in order. Every trial in the history counts
    as visited, failed and stopped ones included, so a point is never retried. When none is left,
    ``propose`` raises :class:`~byohpo.errors.SearchExhausted`, which ends the run.
    """

    description = "Every point of a grid over all ranges, each once, in a fixed order."
    max_objectives = 16  # the grid never reads the objective values

    def __init__(self, space: SearchSpace, objectives: Sequence[Objective], *, seed: int,
                 grid_resolution: int = 5) -> None:
        super().__init__(space, objectives, seed=seed)
        self.grid_resolution = check_int("grid_resolution", grid_resolution, 1, MAX_RESOLUTION)
        self.axes: list[list[ParamValue]] = [space.grid_axis(p, self.grid_resolution) for p in space]
        self.size = math.prod(len(axis) for axis in self.axes)

    def point(self, index: int) -> dict[str, ParamValue]:
        """The grid point at ``index`` (``0 <= index < size``): mixed-radix digits, last axis fastest."""
        if not 0 <= index < self.size:
            raise IndexError(f"grid index {index} is outside a grid of {self.size} points")
        values: list[ParamValue] = []
        for axis in reversed(self.axes):
            index, digit = divmod(index, len(axis))
            values.append(axis[digit])
        return dict(zip(self.space.names, reversed(values), strict=True))

    def _visited(self, history: Sequence[Trial]) -> set[int]:
        visited: set[int] = set()
        for trial in history:
            index = _grid_index(trial.meta)
            if index is not None and 0 <= index < self.size:
                visited.add(index)
        return visited

    def propose(self, history: Sequence[Trial], n: int) -> list[Candidate]:
        visited = self._visited(history)
        out: list[Candidate] = []
        # The first n unvisited indices lie below len(visited) + n: the scan never walks the grid.
        index = 0
        while len(out) < generation_size(n) and index < self.size:
            if index not in visited:
                out.append(Candidate(self.point(index), {"grid_index": index}))
            index += 1
        if not out:
            raise SearchExhausted(f"grid of {self.size} points fully evaluated")
        return out


def _grid_index(meta: Any) -> int | None:
    """The grid index a trial's meta carries, tolerating a JSON round trip (``3.0``); None otherwise
    (a trial the grid did not propose, such as a warm start, visits no grid point)."""
    value = meta.get("grid_index") if isinstance(meta, dict) else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None
