"""Sobol search: a scrambled Sobol' sequence, which covers the unit cube more evenly than random
points, decoded through each range's scaling; independent of the history."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from scipy.stats import qmc

from byohpo.space import SearchSpace
from byohpo.strategies.base import MAX_GENERATION, Strategy, check_int, generation_size
from byohpo.trials import Candidate, Objective, Trial


class SobolSearch(Strategy):
    """Quasi-random search on a scrambled Sobol' sequence (``scipy.stats.qmc.Sobol``).

    Args:
        batch_size: candidates per propose, 1 to 1,000; default the free slots ``n`` (at most 1,000).

    The i-th candidate of a run is the i-th point of the sequence scrambled by the seed (i counts the
    trials in the history), so it depends only on (seed, i): a retried or resumed propose draws exactly
    what the first one would have, whatever the batch boundaries were. The sequence is most even over
    the first 2, 4, 8, ... points: a ``MaxNumberOfTrainingJobs`` that is a power of two uses it best.
    """

    description = "Scrambled Sobol' quasi-random sequence: random search with even coverage."
    max_objectives = 16  # the sequence never reads the objective values

    def __init__(self, space: SearchSpace, objectives: Sequence[Objective], *, seed: int,
                 batch_size: int | None = None) -> None:
        super().__init__(space, objectives, seed=seed)
        self.batch_size = (None if batch_size is None
                           else check_int("batch_size", batch_size, 1, MAX_GENERATION))

    def _sequence(self) -> qmc.Sobol:
        # An explicit Generator: scipy is moving integer seeds from `seed=` (legacy stream) to `rng=`
        # (another stream), and a Generator draws the same points under either keyword and version.
        # Negative seeds are valid byohpo seeds but not numpy ones; wrap them into numpy's range.
        rng = np.random.default_rng(self.seed % 2**64)
        try:
            return qmc.Sobol(self.space.dims, scramble=True, rng=rng)
        except TypeError:  # scipy < 1.15 has no `rng`
            return qmc.Sobol(self.space.dims, scramble=True, seed=rng)

    def propose(self, history: Sequence[Trial], n: int) -> list[Candidate]:
        start, count = len(history), self.batch_size or generation_size(n)
        sequence = self._sequence()
        with warnings.catch_warnings():
            # Batches of any size are the point here; the warning is about balance when n != 2**m.
            warnings.filterwarnings("ignore", message="The balance properties of Sobol",
                                    category=UserWarning)
            if start:  # scipy's fast_forward(0) on a fresh engine underflows
                sequence.fast_forward(start)
            points = sequence.random(count)
        return [Candidate(self.space.decode([float(x) for x in row]), {"index": start + k})
                for k, row in enumerate(points)]
