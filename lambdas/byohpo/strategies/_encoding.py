"""How the Bayesian strategy sees a search space: unit-cube points (one coordinate per parameter) and
the Gaussian process's features, snapping, identity keys, and each discrete parameter's choices.

Continuous and integer parameters are features as their unit-cube coordinate (so each range's
scaling holds), integers snapped to the centre of the cell they decode to. A categorical parameter is
one-hot: every two of its values are equally far apart, so the kernel sees a category change as one
step of a Hamming distance, whatever the values' order in the request (a categorical's unit
coordinate only numbers its values). The acquisition is evaluated exactly where a candidate will be
evaluated, and two points that decode to the same parameters are recognized as the same point.
"""

from __future__ import annotations

import math

import numpy as np

from byohpo.space import Categorical, Continuous, Integer, SearchSpace
from byohpo.trials import ParamValue

#: A fully discrete space up to this many points is searched exhaustively.
MAX_ENUMERATED = 4096
#: An integer range up to this many values offers them all to the acquisition's discrete search;
#: a larger one offers this many evenly spread values and the neighbours of the current one.
MAX_INTEGER_CHOICES = 32


class Encoding:
    """Unit-cube points <-> GP features, snapping, identity keys and discrete choices."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.params = space.params
        self.continuous = np.array([isinstance(p, Continuous) for p in self.params], dtype=bool)
        self.categorical = np.array([isinstance(p, Categorical) for p in self.params], dtype=bool)
        self.groups: list[int] = []  # the length-scale group (the parameter) of each feature column
        self.columns: list[int] = []  # first feature column of each parameter
        for i, p in enumerate(self.params):
            self.columns.append(len(self.groups))
            self.groups += [i] * (p.size if isinstance(p, Categorical) else 1)
        self._fixed_choices = [self._all_choices(p) for p in self.params]

    # -- points ---------------------------------------------------------------------------------
    def snap(self, u: np.ndarray) -> np.ndarray:
        """Move every discrete coordinate to the centre of the cell it decodes to."""
        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        out = u.copy()
        for i, p in enumerate(self.params):
            if isinstance(p, Categorical):
                out[:, i] = (np.minimum(np.floor(u[:, i] * p.size), p.size - 1) + 0.5) / p.size
            elif isinstance(p, Integer):
                out[:, i] = self._integer_units(p, self._integer_values(p, u[:, i]))
        return out

    def features(self, u: np.ndarray) -> np.ndarray:
        f = np.zeros((len(u), len(self.groups)))
        for i, p in enumerate(self.params):
            c = self.columns[i]
            if isinstance(p, Categorical):
                index = np.minimum(np.floor(u[:, i] * p.size), p.size - 1).astype(int)
                f[np.arange(len(u)), c + index] = 1.0
            else:
                f[:, c] = u[:, i]
        return f

    def key(self, params: dict[str, ParamValue]) -> tuple:
        """Identity of a parameter set, stable across a JSON round trip (3 and 3.0 are one value)."""
        return tuple(str(params[p.name]) if isinstance(p, Categorical)
                     else int(params[p.name]) if isinstance(p, Integer) else float(params[p.name])
                     for p in self.params)

    def enumerate(self) -> np.ndarray | None:
        """Every point of a small, fully discrete space (cell centres), else None."""
        if self.continuous.any() or math.prod(p.size for p in self.params) > MAX_ENUMERATED:
            return None
        axes = [(np.arange(p.size) + 0.5) / p.size if isinstance(p, Categorical)
                else self._integer_units(p, np.arange(p.low, p.high + 1)) for p in self.params]
        return np.stack([a.ravel() for a in np.meshgrid(*axes, indexing="ij")], axis=1)

    # -- discrete choices -----------------------------------------------------------------------
    def choices(self, i: int, u: float) -> np.ndarray:
        """The unit coordinates a discrete search may move parameter ``i`` to from coordinate ``u``:
        every value of a categorical or small integer range; for a large integer range, an even
        spread of values and the current value's neighbours at distances 1, 2, 4, ..."""
        p = self.params[i]
        if not isinstance(p, Integer) or p.size <= MAX_INTEGER_CHOICES:
            return self._fixed_choices[i]
        v = int(self._integer_values(p, np.array([u]))[0])
        steps = 2 ** np.arange(int(math.log2(p.size)) + 1)
        near = np.clip(np.concatenate([v - steps, v + steps]), p.low, p.high)
        return np.unique(np.concatenate([self._fixed_choices[i], self._integer_units(p, near)]))

    def _all_choices(self, p: Continuous | Integer | Categorical) -> np.ndarray:
        if isinstance(p, Categorical):
            return (np.arange(p.size) + 0.5) / p.size
        if isinstance(p, Integer):
            if p.size <= MAX_INTEGER_CHOICES:
                return self._integer_units(p, np.arange(p.low, p.high + 1))
            spread = np.unique(np.round(np.linspace(p.low, p.high, MAX_INTEGER_CHOICES)).astype(int))
            if p.scaling == "Logarithmic":
                spread = np.unique(np.round(np.geomspace(p.low, p.high, MAX_INTEGER_CHOICES)).astype(int))
            return self._integer_units(p, spread)
        return np.empty(0)

    @staticmethod
    def _integer_values(p: Integer, u: np.ndarray) -> np.ndarray:
        """``Integer.from_unit`` on an array."""
        if p.scaling == "Logarithmic":
            lo, hi = math.log(p.low), math.log(p.high + 1)
            return np.clip(np.floor(np.exp(lo + u * (hi - lo))), p.low, p.high)
        return np.clip(np.floor(p.low + u * p.size), p.low, p.high)

    @staticmethod
    def _integer_units(p: Integer, values: np.ndarray) -> np.ndarray:
        """``Integer.to_unit`` on an array."""
        values = np.asarray(values, dtype=float)
        if p.scaling == "Logarithmic":
            lo, hi = math.log(p.low), math.log(p.high + 1)
            return (np.log(values + 0.5) - lo) / (hi - lo)
        return (values - p.low + 0.5) / p.size
