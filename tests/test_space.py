"""The search space: SageMaker's ParameterRanges parsed, encoded into the unit cube and back."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from byohpo import Categorical, Continuous, Integer, SearchSpace, ValidationError
from byohpo.space import format_value


def cont(name: str = "x", low: str = "0.01", high: str = "0.2", scaling: str | None = None) -> dict[str, Any]:
    r = {"Name": name, "MinValue": low, "MaxValue": high}
    if scaling:
        r["ScalingType"] = scaling
    return r


def integer(name: str = "n", low: str = "10", high: str = "50", scaling: str | None = None) -> dict[str, Any]:
    return cont(name, low, high, scaling)


def space_of(*, c: list | None = None, i: list | None = None, cat: list | None = None,
             static: dict | None = None) -> SearchSpace:
    ranges = {}
    if c is not None:
        ranges["ContinuousParameterRanges"] = c
    if i is not None:
        ranges["IntegerParameterRanges"] = i
    if cat is not None:
        ranges["CategoricalParameterRanges"] = cat
    return SearchSpace.from_sagemaker(ranges, static)


CONTINUOUS_CASES = [
    ("Linear", "0", "1"),
    ("Linear", "-5", "5"),
    ("Auto", "0.5", "1"),
    ("Logarithmic", "1e-6", "1000"),
    ("Logarithmic", "0.01", "0.2"),
    ("ReverseLogarithmic", "0", "0.999"),
    ("ReverseLogarithmic", "0.5", "0.9999"),
]


# -- parsing of valid ranges ------------------------------------------------------------------------

def test_parses_every_kind_in_request_order_with_canonical_values():
    space = space_of(c=[cont("lr", "1e-6", "0.1", "Logarithmic")],
                     i=[integer("depth", "0", "10", "Auto")],
                     cat=[{"Name": "act", "Values": ["relu", "tanh"]}],
                     static={"batch_size": "100"})
    assert space.params == (Continuous("lr", 1e-6, 0.1, "Logarithmic"), Integer("depth", 0, 10, "Linear"),
                            Categorical("act", ("relu", "tanh")))
    assert space.names == ["lr", "depth", "act"]
    assert space.static == {"batch_size": "100"}
    assert space.to_sagemaker() == {
        "ContinuousParameterRanges": [{"Name": "lr", "MinValue": "1e-06", "MaxValue": "0.1",
                                       "ScalingType": "Logarithmic"}],
        "IntegerParameterRanges": [{"Name": "depth", "MinValue": "0", "MaxValue": "10",
                                    "ScalingType": "Linear"}],
        "CategoricalParameterRanges": [{"Name": "act", "Values": ["relu", "tanh"]}],
    }
    assert SearchSpace.from_sagemaker(space.to_sagemaker(), space.static) == space


def test_empty_lists_are_accepted_next_to_a_real_range():
    space = SearchSpace.from_sagemaker({"ContinuousParameterRanges": [],
                                        "IntegerParameterRanges": [integer()],
                                        "CategoricalParameterRanges": [], "AutoParameters": []})
    assert space.names == ["n"]


def test_integer_bounds_written_as_floats_and_numbers_written_as_exponents():
    space = space_of(c=[cont("x", "1E-3", "2e0")], i=[integer("n", "1.0", "1e2")])
    assert space["x"] == Continuous("x", 0.001, 2.0, "Linear")
    assert space["n"] == Integer("n", 1, 100, "Linear")


def test_static_numbers_become_strings():
    space = space_of(c=[cont()], static={"a": 1, "b": 0.5, "c": "text"})
    assert space.static == {"a": "1", "b": "0.5", "c": "text"}


# -- the unit cube ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("scaling", "low", "high"), CONTINUOUS_CASES)
def test_continuous_round_trips_and_ends_are_exact(scaling, low, high):
    p = space_of(c=[cont("x", low, high, scaling)])["x"]
    assert p.from_unit(0.0) == float(low)
    assert p.from_unit(1.0) == float(high)
    rng = random.Random(f"{scaling}{low}")
    for _ in range(500):
        u = rng.random()
        v = p.from_unit(u)
        assert float(low) <= v <= float(high)
        assert p.from_unit(p.to_unit(v)) == pytest.approx(v, rel=1e-12, abs=1e-300)
        assert p.to_unit(v) == pytest.approx(u, abs=1e-9)
    for v in (float(low), float(high)):
        assert p.from_unit(p.to_unit(v)) == v


@pytest.mark.parametrize(("scaling", "low", "high"), [("Linear", 0, 10), ("Auto", -3, 3), ("Linear", 5, 6),
                                                     ("Logarithmic", 1, 4000), ("Logarithmic", 8, 256)])
def test_integers_round_trip_exactly_and_every_value_is_reachable(scaling, low, high):
    p = space_of(i=[integer("n", str(low), str(high), scaling)])["n"]
    for v in range(low, high + 1):
        u = p.to_unit(v)
        assert 0.0 < u < 1.0
        assert p.from_unit(u) == v
    assert p.from_unit(0.0) == low
    assert p.from_unit(1.0) == high
    assert p.from_unit(1 - 1e-12) == high and p.from_unit(1e-12) == low


def test_categorical_round_trips_exactly_with_equal_cells():
    p = space_of(cat=[{"Name": "c", "Values": ["a", "b", "c", "d"]}])["c"]
    for value in p.values:
        assert p.from_unit(p.to_unit(value)) == value
    assert [p.from_unit(u) for u in (0.0, 0.2499, 0.25, 0.5, 0.75, 1.0)] == ["a", "a", "b", "c", "d", "d"]


def test_space_decode_encode_round_trip():
    space = space_of(c=[cont("lr", "0.01", "0.2", "Logarithmic"),
                        cont("m", "0.5", "0.99", "ReverseLogarithmic")],
                     i=[integer("n", "10", "50")], cat=[{"Name": "act", "Values": ["relu", "tanh"]}])
    rng = random.Random(3)
    for _ in range(200):
        params = space.decode([rng.random() for _ in range(space.dims)])
        space.validate_params(params)
        again = space.decode(space.encode(params))
        assert again["n"] == params["n"] and again["act"] == params["act"]
        assert again["lr"] == pytest.approx(params["lr"], rel=1e-12)
        assert again["m"] == pytest.approx(params["m"], rel=1e-12)
    assert space.decode([0.0] * 4) == {"lr": 0.01, "m": 0.5, "n": 10, "act": "relu"}
    assert space.decode([1.0] * 4) == {"lr": 0.2, "m": 0.99, "n": 50, "act": "tanh"}
    assert space.decode([-3.0, 7.0, -1.0, 2.0]) == {"lr": 0.01, "m": 0.99, "n": 10, "act": "tanh"}


def test_decode_refuses_a_point_of_the_wrong_size():
    with pytest.raises(ValueError, match="2 coordinates"):
        space_of(c=[cont("a"), cont("b")]).decode([0.5])


# -- scaling rules ----------------------------------------------------------------------------------

def test_auto_is_linear():
    assert space_of(c=[cont("x", "0", "10", "Auto")])["x"].from_unit(0.3) == pytest.approx(3.0)
    assert space_of(c=[cont("x", "0", "10")])["x"].scaling == "Linear"


def test_logarithmic_midpoint_is_the_geometric_mean():
    p = space_of(c=[cont("x", "0.001", "1000", "Logarithmic")])["x"]
    assert p.from_unit(0.5) == pytest.approx(1.0, rel=1e-12)
    assert p.from_unit(0.25) == pytest.approx(math.sqrt(0.001), rel=1e-12)


def test_reverse_logarithmic_is_dense_near_one():
    p = space_of(c=[cont("x", "0", "0.9999", "ReverseLogarithmic")])["x"]
    assert p.from_unit(0.5) == pytest.approx(1 - math.sqrt(1 * 0.0001), rel=1e-12)  # 0.99
    assert p.from_unit(0.75) > 0.999


def test_logarithmic_integers_get_equal_log_cells():
    p = space_of(i=[integer("n", "1", "1000", "Logarithmic")])["n"]
    draws = [p.from_unit(k / 10000) for k in range(10000)]
    small = sum(v < 32 for v in draws) / len(draws)  # log(32)/log(1001) ~ 0.5 of the cube
    assert small == pytest.approx(math.log(32) / math.log(1001), abs=0.01)


# -- hyperparameters and grid -----------------------------------------------------------------------

def test_to_hyperparameters_are_strings_with_static_values():
    space = space_of(c=[cont("lr", "1e-7", "0.2")], i=[integer("n")],
                     cat=[{"Name": "act", "Values": ["relu", 1]}], static={"batch_size": "100"})
    hp = space.to_hyperparameters({"lr": 1e-06, "n": 12, "act": "1"})
    assert hp == {"batch_size": "100", "lr": "1e-06", "n": "12", "act": "1"}
    assert all(isinstance(v, str) for v in hp.values())
    assert format_value(0.1) == "0.1" and format_value(True) == "true" and format_value(3) == "3"
    assert float(format_value(0.1 + 0.2)) == 0.1 + 0.2


def test_grid_covers_ends_in_a_fixed_order():
    space = space_of(c=[cont("lr", "0.01", "1", "Logarithmic")], i=[integer("n", "1", "3")],
                     cat=[{"Name": "act", "Values": ["relu", "tanh"]}])
    points = list(space.grid(3))
    assert len(points) == space.grid_size(3) == 3 * 3 * 2
    assert points[0] == {"lr": 0.01, "n": 1, "act": "relu"}
    assert points[-1] == {"lr": 1.0, "n": 3, "act": "tanh"}
    assert sorted({p["lr"] for p in points}) == pytest.approx([0.01, 0.1, 1.0], rel=1e-12)
    assert list(space.grid(3)) == points


def test_grid_of_a_wide_integer_range_keeps_both_ends_and_resolution_one_takes_the_middle():
    space = space_of(i=[integer("n", "0", "100")], c=[cont("x", "0", "1")])
    axis = SearchSpace.grid_axis(space["n"], 5)
    assert axis[0] == 0 and axis[-1] == 100 and len(axis) == 5
    assert SearchSpace.grid_axis(space["x"], 1) == [0.5]
    with pytest.raises(ValueError):
        SearchSpace.grid_axis(space["x"], 0)


def test_validate_params_names_the_offending_parameters():
    space = space_of(c=[cont("lr")], i=[integer("n")])
    with pytest.raises(ValidationError) as info:
        space.validate_params({"lr": 5.0, "extra": 1})
    found = {(e.path, e.message.split(" ")[0]) for e in info.value.errors}
    assert found >= {("n", "missing"), ("extra", "not")}
    assert any(e.path == "lr" and "not in the range" in e.message for e in info.value.errors)


# -- malformed input: exact field path and the gist of the message ---------------------------------

C, N, K = "ContinuousParameterRanges", "IntegerParameterRanges", "CategoricalParameterRanges"
GOOD = cont("ok")
LONG = "x" * 257
MALFORMED: list[tuple[str, dict[str, Any], dict[str, Any] | None, str, str]] = [
    # (id, ParameterRanges, StaticHyperParameters, path, message fragment)
    ("min-above-max", {C: [cont("x", "0.5", "0.2")]}, None, f"{C}[0].MinValue", "must be below MaxValue"),
    ("min-equals-max", {C: [cont("x", "1", "1")]}, None, f"{C}[0].MinValue", "StaticHyperParameters"),
    ("int-min-above-max", {N: [integer("n", "9", "3")]}, None, f"{N}[0].MinValue", "must be below MaxValue"),
    ("log-min-zero", {C: [cont("x", "0", "1", "Logarithmic")]}, None, f"{C}[0].MinValue",
     "greater than 0 for Logarithmic"),
    ("log-min-negative", {C: [cont("x", "-1", "1", "Logarithmic")]}, None, f"{C}[0].MinValue",
     "greater than 0"),
    ("int-log-min-zero", {N: [integer("n", "0", "10", "Logarithmic")]}, None, f"{N}[0].MinValue",
     "greater than 0"),
    ("revlog-max-one", {C: [cont("x", "0", "1", "ReverseLogarithmic")]}, None, f"{C}[0].MaxValue", "below 1"),
    ("revlog-min-negative", {C: [cont("x", "-0.1", "0.5", "ReverseLogarithmic")]}, None, f"{C}[0].MinValue",
     "at least 0"),
    ("int-revlog", {N: [integer("n", "1", "5", "ReverseLogarithmic")]}, None, f"{N}[0].ScalingType",
     "continuous ranges only"),
    ("unknown-scaling", {C: [cont("x", "0", "1", "Log")]}, None, f"{C}[0].ScalingType", "must be one of"),
    ("null-scaling", {C: [{**cont("x", "0", "1"), "ScalingType": None}]}, None, f"{C}[0].ScalingType",
     "must be one of"),
    ("non-number", {C: [cont("x", "abc", "1")]}, None, f"{C}[0].MinValue", "is not a number"),
    ("empty-number", {C: [cont("x", "0", "")]}, None, f"{C}[0].MaxValue", "is not a number"),
    ("nan", {C: [cont("x", "nan", "1")]}, None, f"{C}[0].MinValue", "must be finite"),
    ("inf", {C: [cont("x", "0", "inf")]}, None, f"{C}[0].MaxValue", "must be finite"),
    ("minus-inf", {C: [cont("x", "-Infinity", "0")]}, None, f"{C}[0].MinValue", "must be finite"),
    ("overflow", {N: [integer("n", "0", "1e400")]}, None, f"{N}[0].MaxValue", "must be finite"),
    ("int-fraction", {N: [integer("n", "1.5", "4")]}, None, f"{N}[0].MinValue", "is not an integer"),
    ("int-fraction-max", {N: [integer("n", "1", "4.25")]}, None, f"{N}[0].MaxValue", "is not an integer"),
    ("bool-bound", {C: [{**cont("x"), "MinValue": True}]}, None, f"{C}[0].MinValue", "not bool"),
    ("list-bound", {C: [{**cont("x"), "MaxValue": [1]}]}, None, f"{C}[0].MaxValue", "not list"),
    ("missing-min", {C: [{"Name": "x", "MaxValue": "1"}]}, None, f"{C}[0].MinValue", "is required"),
    ("missing-max", {N: [{"Name": "n", "MinValue": "1"}]}, None, f"{N}[0].MaxValue", "is required"),
    ("missing-name", {C: [{"MinValue": "0", "MaxValue": "1"}]}, None, f"{C}[0].Name", "is required"),
    ("blank-name", {C: [cont(" ")]}, None, f"{C}[0].Name", "non-empty string"),
    ("number-name", {K: [{"Name": 5, "Values": ["a"]}]}, None, f"{K}[0].Name", "non-empty string"),
    ("name-with-space", {C: [cont("learning rate")]}, None, f"{C}[0].Name", "command-line flag"),
    ("name-leading-dash", {C: [cont("--lr")]}, None, f"{C}[0].Name", "command-line flag"),
    ("name-too-long", {C: [cont(LONG)]}, None, f"{C}[0].Name", "at most 256"),
    ("unknown-key", {C: [{**cont("x"), "Scaling": "Linear"}]}, None, f"{C}[0].Scaling", "unknown field"),
    ("categorical-with-bounds", {K: [{"Name": "c", "Values": ["a"], "MinValue": "0"}]}, None,
     f"{K}[0].MinValue", "unknown field"),
    ("empty-values", {K: [{"Name": "c", "Values": []}]}, None, f"{K}[0].Values", "non-empty list"),
    ("missing-values", {K: [{"Name": "c"}]}, None, f"{K}[0].Values", "is required"),
    ("string-values", {K: [{"Name": "c", "Values": "a,b"}]}, None, f"{K}[0].Values", "non-empty list"),
    ("duplicate-values", {K: [{"Name": "c", "Values": ["a", "b", "a"]}]}, None, f"{K}[0].Values[2]",
     "duplicate value 'a'"),
    ("duplicate-values-mixed-types", {K: [{"Name": "c", "Values": ["1", 1]}]}, None, f"{K}[0].Values[1]",
     "duplicate value '1'"),
    ("object-value", {K: [{"Name": "c", "Values": ["a", {"b": 1}]}]}, None, f"{K}[0].Values[1]",
     "must be a string, not dict"),
    ("bool-value", {K: [{"Name": "c", "Values": [True]}]}, None, f"{K}[0].Values[0]", "must be a string"),
    ("too-many-values", {K: [{"Name": "c", "Values": [str(v) for v in range(31)]}]}, None, f"{K}[0].Values",
     "at most 30"),
    ("value-too-long", {K: [{"Name": "c", "Values": ["a", LONG]}]}, None, f"{K}[0].Values[1]", "at most 256"),
    ("duplicate-name-same-kind", {C: [cont("x"), cont("x")]}, None, f"{C}[1].Name",
     "duplicate parameter name"),
    ("duplicate-name-across-kinds", {C: [cont("x")], N: [integer("x")]}, None, f"{N}[0].Name",
     f"already defined at {C}[0]"),
    ("duplicate-name-categorical", {N: [integer("x")], K: [{"Name": "x", "Values": ["a"]}]}, None,
     f"{K}[0].Name", "duplicate parameter name 'x'"),
    ("static-also-tuned", {C: [cont("lr")]}, {"lr": "0.1"}, "StaticHyperParameters.lr", "is also tuned"),
    ("static-list-value", {C: [GOOD]}, {"layers": [1, 2]}, "StaticHyperParameters.layers",
     "must be a string"),
    ("static-bool-value", {C: [GOOD]}, {"flag": True}, "StaticHyperParameters.flag", "must be a string"),
    ("static-too-long", {C: [GOOD]}, {"blob": "x" * 2501}, "StaticHyperParameters.blob", "at most 2500"),
    ("static-not-object", {C: [GOOD]}, ["batch_size=100"], "StaticHyperParameters", "must be an object"),
    ("range-list-not-list", {C: {"Name": "x"}}, None, C, "must be a list"),
    ("range-not-object", {C: ["x"]}, None, f"{C}[0]", "must be an object"),
    ("unknown-kind", {C: [GOOD], "FloatParameterRanges": []}, None, "FloatParameterRanges",
     "unknown range kind"),
    ("auto-parameters", {C: [GOOD], "AutoParameters": [{"Name": "y", "ValueHint": "1"}]}, None,
     "AutoParameters", "not supported"),
    ("nothing-to-tune", {C: [], N: [], K: []}, None, "", "no parameter to tune"),
    ("not-an-object", ["x"], None, "", "must be an object"),  # type: ignore[list-item]
]


@pytest.mark.parametrize(("ranges", "static", "path", "fragment"), [m[1:] for m in MALFORMED],
                         ids=[m[0] for m in MALFORMED])
def test_malformed_input_names_the_field(ranges, static, path, fragment):
    with pytest.raises(ValidationError) as info:
        SearchSpace.from_sagemaker(ranges, static)
    found = [(e.path, e.message) for e in info.value.errors]
    assert any(p == path and fragment in m for p, m in found), found


def test_at_least_thirty_distinct_malformed_inputs():
    assert len({m[0] for m in MALFORMED}) == len(MALFORMED) >= 30


def test_every_problem_is_reported_together():
    with pytest.raises(ValidationError) as info:
        space_of(c=[cont("x", "2", "1"), cont("y", "0", "1", "Logarithmic")], i=[integer("z", "a", "1")],
                 cat=[{"Name": "c", "Values": []}], static={"x": "1"})
    assert [e.path for e in info.value.errors] == [
        f"{C}[0].MinValue", f"{C}[1].MinValue", f"{N}[0].MinValue", f"{K}[0].Values"]
    # "x" never became a parameter, so the static "x" does not clash; fix the range and it does:
    with pytest.raises(ValidationError, match=r"StaticHyperParameters\.x: is also tuned"):
        space_of(c=[cont("x", "0", "1")], static={"x": "1"})


def test_error_paths_nest_under_a_prefix():
    with pytest.raises(ValidationError) as info:
        space_of(c=[cont("x", "2", "1")])
    nested = info.value.prefixed("HyperParameterTuningJobConfig.ParameterRanges")
    assert nested.errors[0].path == f"HyperParameterTuningJobConfig.ParameterRanges.{C}[0].MinValue"
