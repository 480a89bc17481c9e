"""The search space: SageMaker's ``ParameterRanges``, validated, and a unit-cube encoding for strategies.

Every tuned parameter is one dimension of the unit cube ``[0, 1]^d``. ``decode`` turns a point of the
cube into typed values (float, int, str) following the range's ``ScalingType``; ``encode`` is its
inverse up to rounding. Strategies work in the cube; the engine turns decoded values into SageMaker's
string-valued ``HyperParameters`` with ``to_hyperparameters``.

Scaling follows SageMaker's rules: ``Logarithmic`` needs ``MinValue > 0``; ``ReverseLogarithmic`` is for
continuous ranges with ``0 <= MinValue`` and ``MaxValue < 1``; ``Auto`` is treated as ``Linear``
(SageMaker does not document its choice, and a fixed rule keeps proposals reproducible).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from byohpo.errors import FieldError, ValidationError
from byohpo.trials import ParamValue

Scaling = Literal["Linear", "Logarithmic", "ReverseLogarithmic"]
RANGE_KINDS = ("ContinuousParameterRanges", "IntegerParameterRanges", "CategoricalParameterRanges")
_SCALINGS = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")
_MAX_NAME = 256  # botocore: ParameterKey, ParameterValue and HyperParameterKey are at most 256 chars
_MAX_CATEGORICAL_VALUES = 30  # botocore: CategoricalParameterRange.Values
_MAX_STATIC_VALUE = 2500  # botocore: HyperParameterValue


def _clip(u: float) -> float:
    if u != u:
        raise ValueError("unit-cube coordinate is NaN")
    return 0.0 if u <= 0.0 else 1.0 if u >= 1.0 else float(u)


@dataclass(frozen=True)
class Continuous:
    name: str
    low: float
    high: float
    scaling: Scaling = "Linear"

    def from_unit(self, u: float) -> float:
        u = _clip(u)
        if u in (0.0, 1.0):  # exact ends: exp(log(x)) is not always x
            return self.low if u == 0.0 else self.high
        if self.scaling == "Logarithmic":
            v = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        elif self.scaling == "ReverseLogarithmic":
            lo, hi = math.log(1 - self.low), math.log(1 - self.high)
            v = 1 - math.exp(lo + u * (hi - lo))
        else:
            v = self.low + u * (self.high - self.low)
        return min(max(v, self.low), self.high)

    def to_unit(self, value: float) -> float:
        v = min(max(float(value), self.low), self.high)
        if self.scaling == "Logarithmic":
            return _clip((math.log(v) - math.log(self.low)) / (math.log(self.high) - math.log(self.low)))
        if self.scaling == "ReverseLogarithmic":
            lo, hi = math.log(1 - self.low), math.log(1 - self.high)
            return _clip((math.log(1 - v) - lo) / (hi - lo))
        return _clip((v - self.low) / (self.high - self.low))

    def contains(self, value: Any) -> bool:
        return (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and self.low <= value <= self.high
        )

    def to_dict(self) -> dict[str, Any]:
        return {"Name": self.name, "MinValue": repr(self.low), "MaxValue": repr(self.high),
                "ScalingType": self.scaling}


@dataclass(frozen=True)
class Integer:
    """An integer range. The cube is cut into ``high - low + 1`` equal cells (equal in log space when
    ``Logarithmic``), so every integer, the ends included, gets its fair share of the cube."""

    name: str
    low: int
    high: int
    scaling: Literal["Linear", "Logarithmic"] = "Linear"

    def from_unit(self, u: float) -> int:
        u = _clip(u)
        if self.scaling == "Logarithmic":
            x = math.exp(math.log(self.low) + u * (math.log(self.high + 1) - math.log(self.low)))
        else:
            x = self.low + u * (self.high - self.low + 1)
        return min(max(math.floor(x), self.low), self.high)

    def to_unit(self, value: int) -> float:
        v = min(max(int(value), self.low), self.high)
        if self.scaling == "Logarithmic":
            span = math.log(self.high + 1) - math.log(self.low)
            return _clip((math.log(v + 0.5) - math.log(self.low)) / span)
        return _clip((v - self.low + 0.5) / (self.high - self.low + 1))

    def contains(self, value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and self.low <= value <= self.high

    @property
    def size(self) -> int:
        return self.high - self.low + 1

    def to_dict(self) -> dict[str, Any]:
        return {"Name": self.name, "MinValue": str(self.low), "MaxValue": str(self.high),
                "ScalingType": self.scaling}


@dataclass(frozen=True)
class Categorical:
    """A categorical range: the cube's dimension is cut into one equal cell per value, in order."""

    name: str
    values: tuple[str, ...]

    def from_unit(self, u: float) -> str:
        return self.values[min(int(_clip(u) * len(self.values)), len(self.values) - 1)]

    def to_unit(self, value: str) -> float:
        return (self.values.index(value) + 0.5) / len(self.values)

    def contains(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.values

    @property
    def size(self) -> int:
        return len(self.values)

    def to_dict(self) -> dict[str, Any]:
        return {"Name": self.name, "Values": list(self.values)}


Param = Continuous | Integer | Categorical


def format_value(value: ParamValue) -> str:
    """SageMaker's HyperParameters are strings: floats by their shortest round-tripping repr."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return repr(value)
    return str(value)


class SearchSpace:
    """The tuned parameters (in the request's order: continuous, integer, categorical) and the static
    hyperparameters passed to every trial unchanged."""

    def __init__(self, params: Sequence[Param], static: Mapping[str, str] | None = None) -> None:
        self.params: tuple[Param, ...] = tuple(params)
        self.static: dict[str, str] = dict(static or {})
        self._by_name = {p.name: p for p in self.params}
        if len(self._by_name) != len(self.params):
            raise ValidationError("parameter names must be unique", "ParameterRanges")

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def from_sagemaker(cls, parameter_ranges: Mapping[str, Any], static: Mapping[str, Any] | None = None
                       ) -> SearchSpace:
        """Build from SageMaker's ``ParameterRanges`` (and ``StaticHyperParameters``).

        Every problem is collected and raised together as one :class:`ValidationError` whose entries
        name their field, e.g. ``ContinuousParameterRanges[0].MinValue: must be below MaxValue (0.2)``.
        """
        errors: list[FieldError] = []
        params: list[Param] = []
        if not isinstance(parameter_ranges, Mapping):
            raise ValidationError("must be an object with ContinuousParameterRanges, IntegerParameterRanges"
                                  " and/or CategoricalParameterRanges", "")
        for key in parameter_ranges:
            if key not in RANGE_KINDS and key != "AutoParameters":
                errors.append(FieldError(str(key), "unknown range kind (expected one of "
                                                   f"{', '.join(RANGE_KINDS)})"))
        if parameter_ranges.get("AutoParameters"):
            errors.append(FieldError("AutoParameters", "not supported: list the ranges explicitly"))
        seen: dict[str, str] = {}
        for kind in RANGE_KINDS:
            ranges = parameter_ranges.get(kind)
            if ranges is None:
                continue
            if not isinstance(ranges, list):
                errors.append(FieldError(kind, "must be a list of ranges"))
                continue
            for i, raw in enumerate(ranges):
                path = f"{kind}[{i}]"
                param = _parse_range(kind, raw, path, errors)
                if param is None:
                    continue
                if param.name in seen:
                    errors.append(FieldError(f"{path}.Name", f"duplicate parameter name {param.name!r} "
                                                             f"(already defined at {seen[param.name]})"))
                    continue
                seen[param.name] = path
                params.append(param)
        if not params and not errors:
            errors.append(FieldError("", "no parameter to tune: give at least one range in "
                                         f"{', '.join(RANGE_KINDS[:-1])} or {RANGE_KINDS[-1]}"))
        static_clean = _parse_static(static, seen, errors)
        if errors:
            raise ValidationError(errors)
        return cls(params, static_clean)

    def to_sagemaker(self) -> dict[str, list[dict[str, Any]]]:
        """SageMaker's ``ParameterRanges`` for this space (canonical strings)."""
        out: dict[str, list[dict[str, Any]]] = {k: [] for k in RANGE_KINDS}
        for p in self.params:
            kind = {Continuous: RANGE_KINDS[0], Integer: RANGE_KINDS[1], Categorical: RANGE_KINDS[2]}[type(p)]
            out[kind].append(p.to_dict())
        return out

    # -- the unit cube ----------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    @property
    def dims(self) -> int:
        return len(self.params)

    def __getitem__(self, name: str) -> Param:
        return self._by_name[name]

    def __iter__(self) -> Iterator[Param]:
        return iter(self.params)

    def __len__(self) -> int:
        return len(self.params)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and (self.params, self.static) == (other.params, other.static)

    def __repr__(self) -> str:
        return f"SearchSpace({list(self.params)!r}, static={self.static!r})"

    def decode(self, u: Sequence[float]) -> dict[str, ParamValue]:
        """Typed parameter values for a point of the unit cube (values outside [0, 1] are clipped)."""
        if len(u) != len(self.params):
            raise ValueError(f"expected a point of {len(self.params)} coordinates, got {len(u)}")
        return {p.name: p.from_unit(float(x)) for p, x in zip(self.params, u, strict=True)}

    def encode(self, params: Mapping[str, ParamValue]) -> list[float]:
        """The unit-cube point of typed values (the centre of the cell for integers and categories)."""
        return [p.to_unit(params[p.name]) for p in self.params]

    def validate_params(self, params: Mapping[str, Any]) -> None:
        """Refuse a candidate whose keys or values do not belong to this space (a buggy strategy)."""
        errors = [FieldError(p.name, "missing") for p in self.params if p.name not in params]
        errors += [FieldError(str(k), "not a tuned parameter") for k in params if k not in self._by_name]
        errors += [FieldError(p.name, f"{params[p.name]!r} is not in the range {p.to_dict()}")
                   for p in self.params if p.name in params and not p.contains(params[p.name])]
        if errors:
            raise ValidationError(errors)

    def to_hyperparameters(self, params: Mapping[str, ParamValue]) -> dict[str, str]:
        """SageMaker's ``HyperParameters`` map: static values plus the tuned ones, all strings."""
        hp = dict(self.static)
        hp.update({p.name: format_value(params[p.name]) for p in self.params})
        return hp

    def grid(self, resolution: int) -> Iterator[dict[str, ParamValue]]:
        """Every point of the grid, in a fixed order: categorical values as they are, integer ranges
        with at most ``resolution`` distinct values, continuous ranges at ``resolution`` points evenly
        spaced in their scaling (ends included)."""
        axes = [self.grid_axis(p, resolution) for p in self.params]
        for combo in itertools.product(*axes):
            yield dict(zip(self.names, combo, strict=True))

    @staticmethod
    def grid_axis(param: Param, resolution: int) -> list[ParamValue]:
        if isinstance(param, Categorical):
            return list(param.values)
        if resolution < 1:
            raise ValueError("resolution must be at least 1")
        if isinstance(param, Integer) and param.size <= resolution:
            return list(range(param.low, param.high + 1))
        points = [0.5] if resolution == 1 else [i / (resolution - 1) for i in range(resolution)]
        if isinstance(param, Integer):
            # Cell centres at the ends would miss low and high; map [0, 1] onto the integer values.
            values = [param.from_unit(min(u, 1 - 1e-12)) if resolution > 1 else param.from_unit(u)
                      for u in points]
            return list(dict.fromkeys(values))
        return list(dict.fromkeys(param.from_unit(u) for u in points))

    def grid_size(self, resolution: int) -> int:
        return math.prod(len(self.grid_axis(p, resolution)) for p in self.params)


# -- parsing --------------------------------------------------------------------------------------

def _number(raw: Any, path: str, errors: list[FieldError], integer: bool) -> float | int | None:
    if raw is None:
        errors.append(FieldError(path, "is required"))
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        errors.append(FieldError(path, f"must be a number given as a string, not {type(raw).__name__}"))
        return None
    if integer and isinstance(raw, str):
        try:  # exact beyond 2**53, where float() would round
            return int(raw.strip())
        except ValueError:
            pass
    try:
        value = float(raw)
    except ValueError:
        errors.append(FieldError(path, f"{raw!r} is not a number"))
        return None
    if not math.isfinite(value):
        errors.append(FieldError(path, f"must be finite, not {raw!r}"))
        return None
    if integer:
        if value != int(value):
            errors.append(FieldError(path, f"{raw!r} is not an integer"))
            return None
        return int(value)
    return value


def _name(raw: Mapping[str, Any], path: str, errors: list[FieldError]) -> str | None:
    name = raw.get("Name")
    if name is None:
        errors.append(FieldError(f"{path}.Name", "is required"))
    elif not isinstance(name, str) or not name.strip():
        errors.append(FieldError(f"{path}.Name", "must be a non-empty string"))
    elif len(name) > _MAX_NAME:
        errors.append(FieldError(f"{path}.Name", f"must be at most {_MAX_NAME} characters"))
    elif name.startswith("-") or any(c.isspace() for c in name):
        # Script mode passes hyperparameters as `--name value`: a space or leading dash breaks argv.
        errors.append(FieldError(f"{path}.Name", f"{name!r} cannot be a command-line flag "
                                                 "(no spaces, no leading '-')"))
    else:
        return name
    return None


def _parse_range(kind: str, raw: Any, path: str, errors: list[FieldError]) -> Param | None:
    if not isinstance(raw, Mapping):
        errors.append(FieldError(path, "must be an object"))
        return None
    allowed = {"Name", "Values"} if kind == "CategoricalParameterRanges" else {
        "Name", "MinValue", "MaxValue", "ScalingType"}
    n_before = len(errors)
    for key in raw:
        if key not in allowed:
            errors.append(FieldError(f"{path}.{key}",
                                     f"unknown field (expected {', '.join(sorted(allowed))})"))
    name = _name(raw, path, errors)
    if kind == "CategoricalParameterRanges":
        param = _parse_categorical(name, raw.get("Values"), f"{path}.Values", errors)
    else:
        param = _parse_numeric(kind, name, raw, path, errors)
    return param if len(errors) == n_before else None


def _parse_categorical(name: str | None, values: Any, path: str, errors: list[FieldError]) -> Param | None:
    if values is None:
        errors.append(FieldError(path, "is required"))
        return None
    if not isinstance(values, list) or not values:
        errors.append(FieldError(path, "must be a non-empty list of strings"))
        return None
    if len(values) > _MAX_CATEGORICAL_VALUES:
        errors.append(FieldError(path, f"has {len(values)} values; SageMaker allows at most "
                                       f"{_MAX_CATEGORICAL_VALUES}"))
        return None
    clean: list[str] = []
    for j, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, str | int | float):
            errors.append(FieldError(f"{path}[{j}]", f"must be a string, not {type(v).__name__}"))
        elif len(str(v)) > _MAX_NAME:
            errors.append(FieldError(f"{path}[{j}]", f"must be at most {_MAX_NAME} characters"))
        elif str(v) in clean:
            errors.append(FieldError(f"{path}[{j}]", f"duplicate value {str(v)!r}"))
        else:
            clean.append(str(v))
    if name is None or len(clean) != len(values):
        return None
    return Categorical(name, tuple(clean))


def _parse_numeric(kind: str, name: str | None, raw: Mapping[str, Any], path: str,
                   errors: list[FieldError]) -> Param | None:
    integer = kind == "IntegerParameterRanges"
    low = _number(raw.get("MinValue"), f"{path}.MinValue", errors, integer)
    high = _number(raw.get("MaxValue"), f"{path}.MaxValue", errors, integer)
    scaling = raw.get("ScalingType", "Auto")
    if scaling not in _SCALINGS:
        errors.append(FieldError(f"{path}.ScalingType",
                                 f"must be one of {', '.join(_SCALINGS)}, not {scaling!r}"))
        return None
    if integer and scaling == "ReverseLogarithmic":
        errors.append(FieldError(f"{path}.ScalingType", "ReverseLogarithmic is for continuous ranges only"))
        return None
    if name is None or low is None or high is None:
        return None
    if low >= high:
        hint = " (a fixed value belongs in StaticHyperParameters)" if low == high else ""
        errors.append(FieldError(f"{path}.MinValue", f"must be below MaxValue ({raw.get('MaxValue')}){hint}"))
        return None
    if scaling == "Logarithmic" and low <= 0:
        errors.append(FieldError(f"{path}.MinValue", "must be greater than 0 for Logarithmic scaling"))
        return None
    if scaling == "ReverseLogarithmic":
        if low < 0:
            errors.append(FieldError(f"{path}.MinValue", "must be at least 0 for ReverseLogarithmic scaling"))
            return None
        if high >= 1:
            errors.append(FieldError(f"{path}.MaxValue", "must be below 1 for ReverseLogarithmic scaling"))
            return None
    resolved = "Linear" if scaling == "Auto" else scaling
    if integer:
        return Integer(name, int(low), int(high), resolved)  # type: ignore[arg-type]
    return Continuous(name, float(low), float(high), resolved)  # type: ignore[arg-type]


def _parse_static(static: Mapping[str, Any] | None, tuned: Mapping[str, str],
                  errors: list[FieldError]) -> dict[str, str]:
    if static is None:
        return {}
    if not isinstance(static, Mapping):
        errors.append(FieldError("StaticHyperParameters", "must be an object of name to string value"))
        return {}
    clean: dict[str, str] = {}
    for key, value in static.items():
        path = f"StaticHyperParameters.{key}"
        if key in tuned:
            errors.append(FieldError(path, f"is also tuned (at {tuned[key]}); a hyperparameter is either "
                                           "static or tuned"))
        elif isinstance(value, bool) or not isinstance(value, str | int | float):
            errors.append(FieldError(path, f"must be a string, not {type(value).__name__}"))
        elif len(str(value)) > _MAX_STATIC_VALUE:
            errors.append(FieldError(path, f"must be at most {_MAX_STATIC_VALUE} characters"))
        else:
            clean[str(key)] = value if isinstance(value, str) else format_value(value)
    return clean
