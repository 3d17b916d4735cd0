"""ATT&CK Navigator layers: schema, mitreattack-python strict loading, sanitising, determinism."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from afteraction.render.navigator import (
    COVERAGE_CATEGORIES,
    DIVIDER,
    MAX_COMMENT,
    Category,
    Gradient,
    LegendItem,
    TechniqueEntry,
    build_layer,
    categorical_layer,
    clean_text,
    dumps_layers,
    write_layers,
)
from afteraction.render.terminal import UNSAFE_CHARS

REPO = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO / "docs" / "schemas" / "navigator-layer-4.5.schema.json"
SAMPLES = (REPO / ".." / "shared" / "data" / "navigator-samples").resolve()
SAMPLE_FILES = sorted(SAMPLES.rglob("*.json")) if SAMPLES.is_dir() else []

HOSTILE = "ev\u202eil\x1b[31m\x00\x07\x85\u200b\u2066x\u2028y\ufeff\ud800 <script>alert(1)</script>"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def coverage_layers() -> list[dict[str, Any]]:
    """Four layers as coverage will write them: observed, detected, rules, gaps."""
    categories = {
        "T1059.001": "detected",
        "t1566/002": "missed",
        "T1078": "no_rule",
        "T1003.001": "no_rule",
        "T1486": "never_seen",
    }
    details = {
        "T1059.001": TechniqueEntry(
            "T1059.001",
            tactic="execution",
            comment="Alert 'Suspicious PowerShell' fired in incident 51007",
            metadata=[("alerts", "da637a,da637b"), DIVIDER, ("incidents", "51007")],
            links=[("Alert", "https://security.microsoft.com/alerts/da637a")],
        ),
        "T1003.001": TechniqueEntry("T1003.001", tactic="credential-access", comment="LSASS dump, no rule"),
    }
    options: dict[str, Any] = {
        "attack_version": "18.1",
        "platforms": ["Windows", "Linux"],
        "metadata": [("period", "2026-10-01/2026-11-01"), ("generator", "afteraction")],
        "links": [("ATT&CK", "https://attack.mitre.org/")],
    }
    observed = build_layer(
        "Observed in incidents",
        [TechniqueEntry(t, score=n) for t, n in (("T1059.001", 4), ("T1566.002", 2), ("T1078", 1.5))],
        description="Techniques seen in incidents, scored by incident count",
        **options,
    )
    detected = categorical_layer(
        "Detected", {k: v for k, v in categories.items() if v == "detected"}, details=details, **options
    )
    rules = build_layer(
        "Rules", [TechniqueEntry("T1059.001", score=12), TechniqueEntry("T1566.002", score=3)],
        gradient=Gradient(("#ffffff", "#08519c"), 0, 20), legend=[LegendItem("rules", "#08519C")], **options,
    )
    gaps = categorical_layer("Coverage gaps", categories, details=details, description="All categories", **options)
    return [observed, detected, rules, gaps]


@pytest.fixture(scope="module")
def layers() -> list[dict[str, Any]]:
    return coverage_layers()


# --- schema ---------------------------------------------------------------------------------------------


def test_single_layer_validates(validator: jsonschema.Draft202012Validator, layers: list[dict[str, Any]]) -> None:
    for layer in layers:
        validator.validate(layer)


def test_array_file_validates_and_is_utf8(
    validator: jsonschema.Draft202012Validator, layers: list[dict[str, Any]], tmp_path: Path
) -> None:
    path = write_layers(tmp_path / "coverage.json", layers)
    raw = path.read_bytes()
    assert not raw.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf"))  # no UTF-16, no BOM
    data = json.loads(raw.decode("utf-8"))
    assert isinstance(data, list)
    assert [d["name"] for d in data] == ["Observed in incidents", "Detected", "Rules", "Coverage gaps"]
    validator.validate(data)
    one = json.loads(write_layers(tmp_path / "one.json", layers[3]).read_text(encoding="utf-8"))
    assert isinstance(one, dict)
    validator.validate(one)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["coverage.json", "one.json"]  # no temp files left


def test_write_replaces_existing_file_with_readable_mode(tmp_path: Path, layers: list[dict[str, Any]]) -> None:
    path = tmp_path / "sub" / "layer.json"
    write_layers(path, layers[0])
    write_layers(path, layers[1])
    assert json.loads(path.read_text(encoding="utf-8"))["name"] == "Detected"
    assert path.stat().st_mode & 0o044  # not mkstemp's private 0600


def bad(mutate: Any) -> dict[str, Any]:
    layer = copy.deepcopy(coverage_layers()[3])
    mutate(layer)
    return layer


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda d: d["techniques"][0].__setitem__("color", "red"), id="colour-name"),
        pytest.param(lambda d: d["techniques"][0].__setitem__("color", "#12345"), id="colour-short"),
        pytest.param(lambda d: d["legendItems"][0].__setitem__("color", "#1a985"), id="legend-colour"),
        pytest.param(lambda d: d["gradient"].__setitem__("colors", ["#ffffff"]), id="one-gradient-colour"),
        pytest.param(lambda d: d.__setitem__("tacticRowBackground", "blue"), id="row-background"),
        pytest.param(lambda d: d["versions"].__setitem__("layer", "4.4"), id="layer-4.4"),
        pytest.param(lambda d: d.pop("versions"), id="missing-versions"),
        pytest.param(lambda d: d["versions"].pop("navigator"), id="missing-navigator-version"),
        pytest.param(lambda d: d["versions"].__setitem__("attack", "ATT&CK v18"), id="free-text-attack-version"),
        pytest.param(lambda d: d.pop("name"), id="missing-name"),
        pytest.param(lambda d: d.__setitem__("domain", "mitre-enterprise"), id="legacy-domain"),
        pytest.param(lambda d: d.__setitem__("sorting", 4), id="sorting-4"),
        pytest.param(lambda d: d.__setitem__("sorting", True), id="sorting-bool"),
        pytest.param(lambda d: d["layout"].__setitem__("layout", "grid"), id="layout"),
        pytest.param(lambda d: d["layout"].__setitem__("aggregateFunction", "median"), id="aggregate"),
        pytest.param(lambda d: d["layout"].__setitem__("expandedSubtechniques", "some"), id="expanded"),
        pytest.param(lambda d: d["techniques"][0].__setitem__("techniqueID", "1059"), id="technique-id"),
        pytest.param(lambda d: d["techniques"][0].__setitem__("score", "3"), id="score-string"),
        pytest.param(lambda d: d["techniques"][0].__setitem__("tactic", "Execution"), id="tactic-name"),
        pytest.param(lambda d: d["techniques"][0].__setitem__("aggregateScore", 1), id="unknown-technique-key"),
        pytest.param(lambda d: d.__setitem__("version", "4.5"), id="unknown-layer-key"),
        pytest.param(lambda d: d["metadata"].append({"name": "x"}), id="metadata-without-value"),
        pytest.param(lambda d: d["links"].append({"divider": False}), id="divider-false"),
        pytest.param(lambda d: d["gradient"].pop("maxValue"), id="gradient-max"),
    ],
)
def test_schema_rejects_wrong_layers(validator: jsonschema.Draft202012Validator, mutate: Any) -> None:
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(bad(mutate))


def test_schema_rejects_empty_array_and_accepts_navigator_export_quirks(
    validator: jsonschema.Draft202012Validator,
) -> None:
    with pytest.raises(jsonschema.ValidationError):
        validator.validate([])
    layer = bad(lambda d: None)
    layer["techniques"][0]["color"] = ""  # the Navigator exports an empty colour for "no manual colour"
    layer["gradient"]["colors"] = ["#ff6666ff", "#ffe766ff", "#8ec843ff"]  # and gradient stops with alpha
    layer["customDataURL"] = "https://example.org/enterprise-attack.json"
    layer["techniques"][0]["score"] = 2.5
    validator.validate(layer)


# --- mitreattack-python strict loading ------------------------------------------------------------------


@pytest.fixture(scope="module")
def mitre_layer_class() -> Any:
    layer_module = pytest.importorskip("mitreattack.navlayers.core.layer")
    return layer_module.Layer


def test_every_layer_loads_in_mitreattack_strict_mode(
    mitre_layer_class: Any, layers: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(write_layers(tmp_path / "all.json", layers).read_text(encoding="utf-8"))
    capsys.readouterr()
    for written in data:
        loaded = mitre_layer_class(strict=True)
        loaded.from_dict(copy.deepcopy(written))
        obj = loaded.layer
        # strict mode prints its errors and leaves no layer (or a placeholder string) instead of raising
        assert obj is not None, capsys.readouterr().out
        assert not isinstance(obj, str)
        assert obj.name == written["name"]
        assert len(obj.techniques) == len(written["techniques"])
        assert obj.versions.layer == "4.5"
        assert obj.versions.attack == "18"
        assert obj.versions.navigator == written["versions"]["navigator"]
        assert obj.domain == "enterprise-attack"
        assert obj.gradient.minValue == written["gradient"]["minValue"]
        assert [t.techniqueID for t in obj.techniques] == [t["techniqueID"] for t in written["techniques"]]
    printed = capsys.readouterr().out
    for complaint in ("Unable to load", "Skipping", "WARNING", "NOTICE"):
        assert complaint not in printed, printed


def test_categorical_gradient_matches_category_colours() -> None:
    gradient_module = pytest.importorskip("mitreattack.navlayers.core.gradient")
    layer = categorical_layer("g", {"T1078": "no_rule"})
    grad = layer["gradient"]
    computed = gradient_module.Gradient(grad["colors"], grad["minValue"], grad["maxValue"])
    for cat in COVERAGE_CATEGORIES.values():
        assert computed.compute_color(cat.score) == cat.color


# --- Navigator sample layers ------------------------------------------------------------------------------


def upgrade_legacy(layer: dict[str, Any]) -> dict[str, Any]:
    """A legacy (3.0-4.4) layer upgraded as the 4.5 spec allows: versions object, domain, no filters.stages.

    Only the format changes; technique ids (some revoked in ATT&CK v18) are kept as they are.
    """
    out = copy.deepcopy(layer)
    version = out.pop("version", None)
    versions = out.setdefault("versions", {"navigator": "5.1.0"})
    versions["layer"] = "4.5"
    if version is not None:
        versions.setdefault("navigator", "5.1.0")
    out["domain"] = {"mitre-enterprise": "enterprise-attack", "mitre-mobile": "mobile-attack"}.get(
        out["domain"], out["domain"]
    )
    if "filters" in out:
        out["filters"].pop("stages", None)  # removed from the format in 4.0
    return out


@pytest.mark.shared_data
@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.name for p in SAMPLE_FILES])
def test_navigator_samples_validate_after_upgrade(validator: jsonschema.Draft202012Validator, path: Path) -> None:
    legacy = json.loads(path.read_text(encoding="utf-8"))
    assert legacy.get("version") == "3.0"
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(legacy)  # legacy format 3.0 is not format 4.5 (no versions, old domain)
    upgraded = upgrade_legacy(legacy)
    validator.validate(upgraded)
    assert len(upgraded["techniques"]) == len(legacy["techniques"])


@pytest.mark.shared_data
def test_navigator_samples_present_or_skipped() -> None:
    if not SAMPLE_FILES:
        pytest.skip(f"Navigator sample layers not found at {SAMPLES}")
    assert len(SAMPLE_FILES) == 7


# --- builder behaviour ----------------------------------------------------------------------------------


def test_hostile_strings_are_stripped(validator: jsonschema.Draft202012Validator) -> None:
    long_comment = "A" * (MAX_COMMENT + 50)
    layer = build_layer(
        HOSTILE,
        [
            TechniqueEntry("T1059", comment=HOSTILE + "\nline two", metadata=[(HOSTILE, HOSTILE)]),
            TechniqueEntry("T1078", comment=long_comment),
        ],
        description=HOSTILE,
        legend=[LegendItem(HOSTILE, "#000000")],
        metadata=[(HOSTILE, 42)],
        platforms=[HOSTILE],
    )
    validator.validate(layer)
    text = dumps_layers(layer)
    text.encode("utf-8")  # lone surrogates are gone
    decoded = json.loads(text)
    strings = [decoded["name"], decoded["description"], decoded["legendItems"][0]["label"],
               decoded["metadata"][0]["name"], decoded["filters"]["platforms"][0]]
    technique = decoded["techniques"][0]
    strings += [technique["comment"], technique["metadata"][0]["name"], technique["metadata"][0]["value"]]
    for value in strings:
        assert not set(value) & (set(HOSTILE) - set("evilx[31my <script>alert(1)</script>\n")), repr(value)
        assert "<script>" in value  # shown as text by the Navigator, kept verbatim
    assert decoded["name"] == "evil[31m x y <script>alert(1)</script>"  # NEL and U+2028 are line breaks
    assert technique["comment"].endswith("\nline two")  # comments keep newlines, names do not
    assert decoded["metadata"][0]["value"] == "42"
    assert len(decoded["techniques"][1]["comment"]) == MAX_COMMENT
    assert decoded["techniques"][1]["comment"].endswith("…")


@given(st.text(max_size=60))
@settings(max_examples=60, deadline=None)
def test_clean_text_never_leaves_unsafe_characters(value: str) -> None:
    import re

    unsafe = re.compile(f"[{UNSAFE_CHARS}\ud800-\udfff\ufffe\uffff\t]")
    assert not unsafe.search(clean_text(value))
    assert not unsafe.search(clean_text(value, multiline=True).replace("\n", ""))
    clean_text(value).encode("utf-8")


def test_only_http_links_survive(validator: jsonschema.Draft202012Validator) -> None:
    links = [
        ("js", "javascript:alert(1)"),
        ("js2", " JaVaScRiPt:alert(1)"),
        ("data", "data:text/html,<script>alert(1)</script>"),
        ("vb", "vbscript:msgbox"),
        ("file", "file:///etc/passwd"),
        ("relative", "/alerts/1"),
        ("ctl", "https://example.org/\x1b[2J"),
        ("", "https://attack.mitre.org/techniques/T1059/"),
        DIVIDER,
        ("plain", "http://example.org/a b"),
    ]
    layer = build_layer("links", [TechniqueEntry("T1059", links=links)], links=links)
    validator.validate(layer)
    expected = [
        {"label": "https://attack.mitre.org/techniques/T1059/", "url": "https://attack.mitre.org/techniques/T1059/"},
        {"divider": True},
        {"label": "plain", "url": "http://example.org/a b"},
    ]
    assert layer["links"] == expected
    assert layer["techniques"][0]["links"] == expected


def test_output_is_deterministic(tmp_path: Path) -> None:
    entries = [TechniqueEntry("T1078", score=1), TechniqueEntry("t1059.001", tactic="execution", score=2)]
    first = dumps_layers([build_layer("x", entries, attack_version=18), build_layer("y", [])])
    second = dumps_layers([build_layer("x", list(reversed(entries)), attack_version="18"), build_layer("y", [])])
    assert first == second
    a = write_layers(tmp_path / "a.json", coverage_layers()).read_bytes()
    b = write_layers(tmp_path / "b.json", coverage_layers()).read_bytes()
    assert a == b
    cats = dict(reversed(list({"T1078": "no_rule", "T1059": "detected", "T1003.001": "missed"}.items())))
    assert dumps_layers(categorical_layer("c", cats)) == dumps_layers(
        categorical_layer("c", {"T1003.001": "missed", "T1078": "no_rule", "T1059": "detected"})
    )


def test_ids_are_normalised_and_parents_expand() -> None:
    layer = build_layer(
        "subs",
        [
            TechniqueEntry(" t1059/001 ", tactic="execution", score=3),
            TechniqueEntry("T1059.003", tactic="execution", score=1),
            TechniqueEntry("T1566.002", tactic="initial-access"),
            TechniqueEntry("T1003"),  # parent present for all tactics
            TechniqueEntry("T1003.001", tactic="credential-access"),
            TechniqueEntry("T1055", show_subtechniques=False),  # explicit choice kept
            TechniqueEntry("T1055.012", tactic="Defense_Evasion"),
        ],
    )
    got = {(t["techniqueID"], t.get("tactic")): t["showSubtechniques"] for t in layer["techniques"]}
    assert got == {
        ("T1003", None): True,
        ("T1003.001", "credential-access"): False,
        ("T1055", None): False,
        ("T1055.012", "defense-evasion"): False,
        ("T1059", "execution"): True,
        ("T1059.001", "execution"): False,
        ("T1059.003", "execution"): False,
        ("T1566", "initial-access"): True,
        ("T1566.002", "initial-access"): False,
    }
    parent = next(t for t in layer["techniques"] if t["techniqueID"] == "T1059")
    assert "score" not in parent  # added parents stay unscored and uncoloured
    assert "color" not in parent
    assert [t["techniqueID"] for t in layer["techniques"]] == sorted(t["techniqueID"] for t in layer["techniques"])


@pytest.mark.parametrize(
    ("entries", "kwargs"),
    [
        ([TechniqueEntry("1059")], {}),
        ([TechniqueEntry("T1059.1")], {}),
        ([TechniqueEntry("T1059"), TechniqueEntry("t1059")], {}),
        ([TechniqueEntry("T1059", color="red")], {}),
        ([TechniqueEntry("T1059", score=float("nan"))], {}),
        ([TechniqueEntry("T1059", tactic="<b>")], {}),
        ([], {"legend": [LegendItem("x", "#fff")]}),
        ([], {"gradient": Gradient(("#ffffff", "#000000"), 5, 5)}),
        ([], {"gradient": Gradient(("#ffffff", "#000000"), 0, 2.5)}),  # type: ignore[arg-type]
        ([], {"gradient": Gradient(("#ffffff",), 0, 1)}),
        ([], {"sorting": 7}),
        ([], {"domain": "mitre-enterprise"}),
        ([], {"attack_version": "latest"}),
    ],
)
def test_builder_rejects_malformed_input(entries: list[TechniqueEntry], kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        build_layer("bad", entries, **kwargs)


def test_categorical_layer_legend_and_details(validator: jsonschema.Draft202012Validator) -> None:
    layer = categorical_layer(
        "gaps",
        {"T1059.001": "detected", "T1078": "no_rule"},
        details={"t1059/001": TechniqueEntry("ignored", tactic="execution", comment="seen", score=99, color="#000000")},
    )
    validator.validate(layer)
    assert [i["label"] for i in layer["legendItems"]] == [c.label for c in COVERAGE_CATEGORIES.values()]
    sub = next(t for t in layer["techniques"] if t["techniqueID"] == "T1059.001")
    assert (sub["tactic"], sub["score"], sub["color"], sub["comment"]) == ("execution", 3, "#1a9850", "seen")
    assert sub["metadata"][0] == {"name": "category", "value": COVERAGE_CATEGORIES["detected"].label}
    assert layer["gradient"] == {"colors": ["#bdbdbd", "#d73027", "#fdae61", "#1a9850"], "minValue": 0, "maxValue": 3}
    with pytest.raises(ValueError, match="unknown category"):
        categorical_layer("x", {"T1078": "partly"})
    with pytest.raises(ValueError, match="integers"):
        categorical_layer("x", {"T1078": "a"}, {"a": Category(1.5, "#000000", "a")})  # type: ignore[arg-type]


def test_categorical_gradient_with_uneven_scores() -> None:
    table = {
        "low": Category(0, "#000000", "low"),
        "mid": Category(10, "#ffffff", "mid"),
        "high": Category(100, "#ff0000", "high"),
    }
    grad = categorical_layer("g", {"T1078": "mid"}, table)["gradient"]
    assert (grad["minValue"], grad["maxValue"]) == (0, 100)
    stops = len(grad["colors"]) - 1
    for cat in table.values():
        position = cat.score * stops / 100
        assert position == int(position)
        assert grad["colors"][int(position)] == cat.color
    single = categorical_layer("one", {"T1078": "only"}, {"only": Category(5, "#123456", "only")})["gradient"]
    assert single == {"colors": ["#123456", "#123456"], "minValue": 5, "maxValue": 6}


def test_dividers_kept_where_tools_read_them(layers: list[dict[str, Any]]) -> None:
    layer = build_layer(
        "d",
        [TechniqueEntry("T1059", metadata=[("a", "1"), DIVIDER, ("b", "2")], links=[DIVIDER])],
        metadata=[("a", "1"), DIVIDER],
    )
    assert layer["metadata"] == [{"name": "a", "value": "1"}, {"divider": True}]
    assert layer["techniques"][0]["metadata"] == [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}]
    assert layer["techniques"][0]["links"] == [{"divider": True}]
    observed = layers[0]
    # floats are kept (mitreattack-python truncates them when it loads the layer)
    assert [t["score"] for t in observed["techniques"] if "score" in t] == [4, 1.5, 2]


def test_overlong_urls_and_empty_tables_are_refused() -> None:
    long_url = "https://example.org/" + "a" * 3000
    assert build_layer("l", [], links=[("long", long_url)])["links"] == []
    with pytest.raises(ValueError, match="empty"):
        categorical_layer("x", {}, {})
