"""The published JSON Schema: generated from botocore's model, committed, and agreeing with parsing."""

from __future__ import annotations

import json
from pathlib import Path

import botocore
import jsonschema
import pytest

from byohpo import ValidationError
from byohpo.request import SCHEMA_ID, build_schema, parse_request, schema
from byohpo.schema import generate

DATA = Path(__file__).parent / "data"
VALID = sorted(DATA.glob("request-valid-*.json"))
INVALID = sorted(DATA.glob("request-invalid-*.json"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


def _without_comment(s: dict) -> dict:
    return {k: v for k, v in s.items() if k != "$comment"}


def test_committed_schema_is_what_the_generator_writes():
    committed = schema()
    if _without_comment(committed) != _without_comment(build_schema()):
        if botocore.__version__ not in committed["$comment"]:
            pytest.skip(f"the committed schema comes from another botocore than {botocore.__version__}: "
                        "regenerate it with python -m byohpo.schema.generate")
        pytest.fail("request.schema.json is out of date: run python -m byohpo.schema.generate")


def test_generator_check_mode_compares_the_exact_text():
    if botocore.__version__ not in schema()["$comment"]:
        pytest.skip("committed from another botocore version")
    assert generate.SCHEMA_PATH.read_text(encoding="utf-8") == generate.render()
    assert generate.main(["--check"]) == 0


def test_schema_is_a_valid_draft_2020_12_schema_with_an_id():
    s = schema()
    jsonschema.Draft202012Validator.check_schema(s)
    assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert s["$id"] == SCHEMA_ID
    assert s["required"] == ["HyperParameterTuningJobName", "HyperParameterTuningJobConfig"]


def test_schema_carries_our_extensions_and_plain_text_descriptions():
    s = schema()
    config = s["$defs"]["HyperParameterTuningJobConfig"]["properties"]
    assert "enum" not in config["Strategy"] and config["Strategy"]["description"].startswith("byohpo:")
    assert config["Objectives"]["items"] == {"$ref": "#/$defs/HyperParameterTuningJobObjective"}
    assert s["$defs"]["ByohpoStrategyConfig"]["properties"]["Seed"]["minimum"] == 0
    assert "MaxFailedTrainingJobs" in s["$defs"]["TuningJobCompletionCriteria"]["properties"]
    definition = s["$defs"]["HyperParameterTrainingJobDefinition"]["properties"]
    assert definition["Local"] == {"$ref": "#/$defs/ByohpoLocal"}
    assert "MaxNumberOfTrainingJobs" in s["$defs"]["ResourceLimits"]["required"]
    assert s["properties"]["TrainingJobDefinitions"]["maxItems"] == 1
    # botocore's Hyperband options are replaced by ours, so their shapes are gone.
    assert "HyperbandStrategyConfig" not in s["$defs"]
    text = json.dumps(s)
    assert "<p>" not in text and "</a>" not in text
    assert s["$defs"]["ResourceLimits"]["properties"]["MaxParallelTrainingJobs"]["description"]


@pytest.mark.parametrize("path", VALID, ids=[p.name for p in VALID])
def test_valid_fixtures_validate_and_parse(path, validator):
    raw = json.loads(path.read_text())
    validator.validate(raw)
    if raw["HyperParameterTuningJobConfig"]["Strategy"] == "Bayesian":
        raw["HyperParameterTuningJobConfig"]["Strategy"] = "random"  # keep this test off the GP's imports
    parse_request(raw)


@pytest.mark.parametrize("path", INVALID, ids=[p.name for p in INVALID])
def test_invalid_fixtures_fail_both(path, validator):
    raw = json.loads(path.read_text())
    schema_paths = {".".join(str(x) for x in e.absolute_path) for e in validator.iter_errors(raw)}
    assert schema_paths
    with pytest.raises(ValidationError):
        parse_request(raw)


def test_fixtures_exist():
    assert len(VALID) >= 3 and len(INVALID) >= 3


def test_every_kind_of_structural_error_is_also_a_schema_error(validator):
    raw = json.loads((DATA / "request-valid-digits.json").read_text())
    cfg = raw["HyperParameterTuningJobConfig"]
    cfg["ResourceLimits"]["MaxParallelTrainingJobs"] = 0  # minimum
    cfg["TrainingJobEarlyStoppingType"] = "Sometimes"  # enum
    cfg["RandomSeed"] = "1"  # type
    cfg["Color"] = "blue"  # unknown field
    raw["TrainingJobDefinition"]["OutputDataConfig"]["S3OutputPath"] = "bucket/out"  # pattern
    del raw["TrainingJobDefinition"]["StoppingCondition"]  # required (without Local)
    del raw["TrainingJobDefinition"]["Local"]
    with pytest.raises(ValidationError) as info:
        parse_request(raw)
    ours = {e.path for e in info.value.errors}
    assert len(ours) == 6
    theirs = list(validator.iter_errors(raw))
    assert len(theirs) == 6
    assert {"HyperParameterTuningJobConfig.Color", "TrainingJobDefinition.StoppingCondition",
            "TrainingJobDefinition.OutputDataConfig.S3OutputPath"} <= ours
