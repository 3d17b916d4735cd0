"""truth.json validates against docs/schemas/truth.schema.json, and the schema matches the Structs."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import msgspec
import pytest

from afteraction.synth import truth as t

from .support import Sample

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "schemas" / "truth.schema.json"
STRUCTS = {
    "Options": t.Options, "Period": t.Period, "AttackRef": t.AttackRef, "DetectionEntry": t.DetectionEntry,
    "Trend": t.Trend, "SkillGap": t.SkillGap, "NoisyDetector": t.NoisyDetector, "ActorRef": t.ActorRef,
    "SoftwareRef": t.SoftwareRef, "EntityRef": t.EntityRef, "Cluster": t.Cluster, "Step": t.Step,
    "TruthIncident": t.TruthIncident, "TechniqueStat": t.TechniqueStat, "DetectorStat": t.DetectorStat,
    "Stats": t.Stats,
}


def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("which", ["sample", "hostile_sample"])
def test_truth_validates(which: str, request: pytest.FixtureRequest) -> None:
    sample: Sample = request.getfixturevalue(which)
    data = json.loads(sample.result.truth_path.read_bytes())
    _validator().validate(data)
    assert data["format"] == t.TRUTH_FORMAT
    assert msgspec.json.decode(sample.result.truth_path.read_bytes(), type=t.Truth) == sample.truth


def test_schema_lists_exactly_the_struct_fields() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert list(schema["properties"]) == list(t.Truth.__struct_fields__)
    assert schema["required"] == list(t.Truth.__struct_fields__)
    for name, struct in STRUCTS.items():
        definition = schema["$defs"][name]
        assert list(definition["properties"]) == list(struct.__struct_fields__), name
        assert definition["required"] == list(struct.__struct_fields__), name


def test_schema_rejects_wrong_truth(sample: Sample) -> None:
    data = json.loads(sample.result.truth_path.read_bytes())
    data["incidents"][0]["steps"][0]["tactic_id"] = 7
    with pytest.raises(jsonschema.ValidationError):
        _validator().validate(data)
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(json.dumps({**data, "surprise": 1}), type=t.Truth)
