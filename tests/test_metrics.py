"""Metrics read from logs with MetricDefinitions, as SageMaker reads them."""

from __future__ import annotations

import math

import pytest

from byohpo.errors import ValidationError
from byohpo.metrics import (
    MetricParser,
    compile_metric_definitions,
    final_metric_values,
    missing_metric_reason,
    parse_metrics,
)

ACC = {"Name": "validation:accuracy", "Regex": "Validation-accuracy=([0-9\\.]+)"}
LOSS = {"Name": "train:loss", "Regex": r"loss: ([-+0-9.eE]+|nan|inf)"}


def test_last_match_wins() -> None:
    log = ("Epoch[0] Validation-accuracy=0.81\nEpoch[1] Validation-accuracy=0.97\n"
           "Epoch[2] Validation-accuracy=0.95\n")
    assert parse_metrics(log, [ACC]) == {"validation:accuracy": 0.95}


def test_several_metrics_each_with_its_own_last_value() -> None:
    log = "loss: 2.5\nValidation-accuracy=0.5\nloss: 1e-3\nnothing here\n"
    assert parse_metrics(log, [ACC, LOSS]) == {"validation:accuracy": 0.5, "train:loss": 0.001}


def test_metric_never_printed_is_absent() -> None:
    assert parse_metrics("loss: 1.0\n", [ACC, LOSS]) == {"train:loss": 1.0}
    assert parse_metrics("", [ACC]) == {}
    assert parse_metrics("Validation-accuracy=0.9\n", []) == {}


def test_only_the_first_group_is_the_value() -> None:
    regex = {"Name": "m", "Regex": r"(val|train)-acc=(\d+\.\d+)"}
    # the first group ("val") is not a float: the match is ignored, not read from group 2
    assert parse_metrics("val-acc=0.9\n", [regex]) == {}
    nested = {"Name": "m", "Regex": r"acc=((\d+)\.\d+)"}
    assert parse_metrics("acc=0.75\n", [nested]) == {"m": 0.75}
    optional = {"Name": "m", "Regex": r"acc=(\d+\.\d+)?"}
    assert parse_metrics("acc=0.5\nacc=\n", [optional]) == {"m": 0.5}  # an empty group is no value


def test_non_float_captures_are_skipped_and_earlier_value_kept() -> None:
    log = "Validation-accuracy=0.91\nValidation-accuracy=0.97.\nValidation-accuracy=...\n"
    assert parse_metrics(log, [ACC]) == {"validation:accuracy": 0.91}


def test_every_match_on_a_line_counts_last_wins() -> None:
    progress = "loss: 3.0\rloss: 2.0\rloss: 1.5"  # a progress bar redrawn with carriage returns
    assert parse_metrics(progress, [LOSS]) == {"train:loss": 1.5}


def test_definitions_as_pairs_and_compiled() -> None:
    pairs = [("validation:accuracy", ACC["Regex"])]  # as TuningRequest.metric_definitions holds them
    compiled = compile_metric_definitions(pairs)
    assert compiled == compile_metric_definitions([ACC])
    assert parse_metrics("Validation-accuracy=0.5\n", compiled) == {"validation:accuracy": 0.5}


def test_regex_without_group_or_invalid_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError) as err:
        compile_metric_definitions([ACC, {"Name": "x", "Regex": "accuracy=[0-9.]+"},
                                    {"Name": "y", "Regex": "acc=(["}, {"Name": "", "Regex": "(a)"},
                                    {"Name": "validation:accuracy", "Regex": "(b)"}])
    paths = [e.path for e in err.value.errors]
    assert paths == ["[1].Regex", "[2].Regex", "[3].Name", "[4].Name"]
    assert "capture group" in str(err.value)
    assert "defined twice" in str(err.value)


def test_nan_and_inf_are_kept_out_and_reported() -> None:
    parser = MetricParser([LOSS, ACC])
    parser.feed("loss: 0.5\nValidation-accuracy=0.9\nloss: nan\n")
    assert parser.values == {"validation:accuracy": 0.9}
    assert parser.nonfinite == {"train:loss": "nan"}
    assert "nan" in str(parser.missing_reason("train:loss"))
    parser.feed("loss: 0.25\n")  # a finite value after the NaN is the final value again
    assert parser.values == {"train:loss": 0.25, "validation:accuracy": 0.9}
    assert parser.nonfinite == {}
    parser.feed("loss: inf\n")
    assert "train:loss" not in parser.values


def test_streaming_across_arbitrary_chunks_equals_one_shot() -> None:
    log = "Epoch[0] Validation-accuracy=0.81\r\nloss: 1.25\nEpoch[1] Validation-accuracy=0.9" \
          "7\nloss: 0.5\nValidation-accuracy=0.99"  # no final newline
    seen: list[tuple[str, float]] = []
    parser = MetricParser([ACC, LOSS], on_metric=lambda n, v: seen.append((n, v)))
    lines: list[str] = []
    for i in range(0, len(log), 7):  # chunks cut through numbers, names and the \r\n pair
        lines += parser.feed(log[i:i + 7])
    assert parser.values == {"validation:accuracy": 0.97, "train:loss": 0.5}  # last line is pending
    lines += parser.close()
    assert parser.values == parse_metrics(log, [ACC, LOSS])
    assert parser.values == {"validation:accuracy": 0.99, "train:loss": 0.5}
    assert lines == log.replace("\r\n", "\n").split("\n")
    assert seen == [("validation:accuracy", 0.81), ("train:loss", 1.25), ("validation:accuracy", 0.97),
                    ("train:loss", 0.5), ("validation:accuracy", 0.99)]


def test_feed_line_for_log_events() -> None:
    parser = MetricParser([ACC])
    for message in ["Validation-accuracy=0.5", "Validation-accuracy=0.75"]:  # CloudWatch events
        parser.feed_line(message)
    assert parser.values == {"validation:accuracy": 0.75}


def test_missing_metric_reason_names_the_regex() -> None:
    reason = missing_metric_reason("validation:accuracy", [ACC])
    assert "validation:accuracy" in reason and ACC["Regex"] in reason
    assert "no entry in MetricDefinitions" in missing_metric_reason("other", [ACC])


def test_final_metric_data_list() -> None:
    data = [
        {"MetricName": "validation:accuracy", "Value": 0.97, "Timestamp": "2024-01-01T00:00:00Z"},
        {"MetricName": "train:loss", "Value": 1, "Timestamp": 1704067200},
        {"MetricName": "bad", "Value": math.nan},
        {"MetricName": "text", "Value": "0.5"},
        {"MetricName": "flag", "Value": True},
        {"Value": 3.0},
        "junk",
    ]
    assert final_metric_values(data) == {"validation:accuracy": 0.97, "train:loss": 1.0, "text": 0.5}
    assert final_metric_values(None) == {}
    assert final_metric_values([]) == {}
