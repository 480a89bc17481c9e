"""Random search: every candidate drawn uniformly from the unit cube (so following each range's
scaling), independent of the history."""

from __future__ import annotations

import random
from collections.abc import Sequence

from byohpo.space import SearchSpace
from byohpo.strategies.base import MAX_GENERATION, Strategy, check_int, generation_size
from byohpo.trials import Candidate, Objective, Trial


class RandomSearch(Strategy):
    """Random search.

    Args:
        batch_size: candidates per propose, 1 to 1,000; default the free slots ``n`` (at most 1,000).

    The i-th candidate of a run depends only on the seed and i, so a retried or resumed propose draws
    exactly what the first one would have, whatever the batch boundaries were.
    """

    description = "Uniform random sampling in each range's scaling (SageMaker's Random)."
    max_objectives = 16

    def __init__(self, space: SearchSpace, objectives: Sequence[Objective], *, seed: int,
                 batch_size: int | None = None) -> None:
        super().__init__(space, objectives, seed=seed)
        self.batch_size = (None if batch_size is None
                           else check_int("batch_size", batch_size, 1, MAX_GENERATION))

    def propose(self, history: Sequence[Trial], n: int) -> list[Candidate]:
        start = len(history)
        out = []
        for i in range(start, start + (self.batch_size or generation_size(n))):
            rng = random.Random(f"{self.seed}:{i}")
            u = [rng.random() for _ in range(self.space.dims)]
            out.append(Candidate(self.space.decode(u), {"index": i}))
        return out
