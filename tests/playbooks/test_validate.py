"""CACAO 2.0 validator: own semantic checks (always) and the official OASIS schemas (offline, shared data)."""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from afteraction.errors import UsageError
from afteraction.playbooks import validate as validate_module
from afteraction.playbooks.validate import (
    Problem,
    Validation,
    load_official_schemas,
    schema_dir_from_env,
    validate_playbook,
)

from .cacao_samples import (
    AGENT_API,
    AGENT_SOC,
    END,
    END_FALSE,
    END_HTTP,
    END_MANUAL,
    END_TRUE,
    HTTP,
    IF,
    MANUAL,
    PARALLEL,
    START,
    minimal_playbook,
    rename,
    rich_playbook,
)

SCHEMAS = Path(__file__).resolve().parents[3] / "shared" / "data" / "cacao-schemas"
OTHER = "0f1e2d3c-4b5a-4968-8776-655443322110"  # a valid v4 UUID used for dangling references
W = "/workflow/"


def _found(result: Validation, check: str, pointer: str, severity: str = "error") -> list[Problem]:
    return [p for p in result.problems if p.check == check and p.pointer == pointer and p.severity == severity]


# --- the valid samples -------------------------------------------------------------------------------------------


def test_rich_sample_has_no_problems() -> None:
    result = validate_playbook(rich_playbook())
    assert result.ok
    assert result.problems == ()
    assert result.schema_checked is False


def test_minimal_sample_has_no_problems() -> None:
    result = validate_playbook(minimal_playbook())
    assert (result.ok, result.problems) == (True, ())


# --- one mutation per check ----------------------------------------------------------------------------------------


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation that sets (or, for value ``...``, deletes) the item at a slash path (keys only, ints for lists)."""

    def mutate(pb: dict[str, Any]) -> None:
        *parents, last = path.strip("/").split("/")
        node: Any = pb
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        key: Any = int(last) if isinstance(node, list) else last
        if value is ...:
            del node[key]
        else:
            node[key] = value

    return mutate


def _orphan_end(pb: dict[str, Any]) -> None:
    pb["workflow"][f"end--{OTHER}"] = {"type": "end"}


def _without_ends(pb: dict[str, Any]) -> None:
    for step in pb["workflow"].values():
        if step["type"] == "end":
            step["type"] = "start"


def _unknown_agent_type(pb: dict[str, Any]) -> None:
    pb["agent_definitions"][f"robot--{OTHER}"] = {"type": "robot", "name": "R2"}


def _openc2_get(pb: dict[str, Any]) -> None:
    cmd = pb["workflow"][HTTP]["commands"][0]
    cmd.update(type="openc2-http", command="GET /openc2 HTTP/1.1")


CASES: list[tuple[str, Callable[[dict[str, Any]], None], str, str, str]] = [
    # (id, mutation, check, pointer, severity)
    ("missing-workflow-start", _set("workflow_start", ...), "required", "/workflow_start", "error"),
    ("missing-name", _set("name", ...), "required", "/name", "error"),
    ("type-not-playbook", _set("type", "bundle"), "value", "/type", "error"),
    ("spec-version", _set("spec_version", "cacao-1.1"), "value", "/spec_version", "error"),
    ("unknown-top-level", _set("x_custom", 1), "unknown-property", "/x_custom", "error"),
    ("id-not-uuid", _set("id", "playbook--1234"), "id-format", "/id", "error"),
    ("id-uuid-version-6", _set("id", "playbook--0f1e2d3c-4b5a-6968-8776-655443322110"), "id-format", "/id", "error"),
    ("created-by-not-identity", _set("created_by", f"organization--{OTHER}"), "prefix", "/created_by", "error"),
    ("created-not-rfc3339", _set("created", "2026-11-20 09:15:00"), "timestamp", "/created", "error"),
    ("created-not-utc", _set("created", "2026-11-20T09:15:00.000+01:00"), "timestamp", "/created", "error"),
    ("created-impossible-date", _set("created", "2026-02-30T09:15:00.000Z"), "timestamp", "/created", "error"),
    ("created-no-millis", _set("created", "2026-11-20T09:15:00Z"), "timestamp", "/created", "warning"),
    ("modified-before-created", _set("modified", "2026-11-19T09:15:00.000Z"), "modified-before-created",
     "/modified", "error"),
    ("valid-until-before-from", _set("valid_until", "2025-01-01T00:00:00.000Z"), "validity-window",
     "/valid_until", "error"),
    ("priority-over-100", _set("priority", 101), "range", "/priority", "error"),
    ("severity-bool", _set("severity", True), "range", "/severity", "error"),
    ("external-reference-no-name", _set("external_references/0/name", ...), "required",
     "/external_references/0/name", "error"),
    ("marking-undefined", _set("markings/0", f"marking-tlp--{OTHER}"), "reference", "/markings/0", "error"),
    ("workflow-empty", _set("workflow", {}), "type", "/workflow", "error"),
    ("workflow-start-dangling", _set("workflow_start", f"start--{OTHER}"), "reference", "/workflow_start", "error"),
    ("workflow-start-not-start", _set("workflow_start", PARALLEL), "start", "/workflow_start", "error"),
    ("workflow-exception-dangling", _set("workflow_exception", f"end--{OTHER}"), "reference",
     "/workflow_exception", "error"),
    ("step-type-unknown", _set(f"workflow/{END}/type", "finish"), "step", f"{W}{END}/type", "error"),
    ("step-type-missing", _set(f"workflow/{END}/type", ...), "required", f"{W}{END}/type", "error"),
    ("step-unknown-property", _set(f"workflow/{MANUAL}/retries", 3), "unknown-property", f"{W}{MANUAL}/retries",
     "error"),
    ("on-completion-dangling", _set(f"workflow/{PARALLEL}/on_completion", f"if-condition--{OTHER}"), "reference",
     f"{W}{PARALLEL}/on_completion", "error"),
    ("next-steps-dangling", _set(f"workflow/{PARALLEL}/next_steps/1", f"action--{OTHER}"), "reference",
     f"{W}{PARALLEL}/next_steps/1", "error"),
    ("on-true-dangling", _set(f"workflow/{IF}/on_true", f"end--{OTHER}"), "reference", f"{W}{IF}/on_true", "error"),
    ("on-completion-and-on-success", _set(f"workflow/{PARALLEL}/on_success", IF), "exclusive",
     f"{W}{PARALLEL}/on_completion", "error"),
    ("start-on-success", _set(f"workflow/{START}/on_success", PARALLEL), "step", f"{W}{START}/on_success", "error"),
    ("end-outgoing", _set(f"workflow/{END}/on_completion", START), "step", f"{W}{END}/on_completion", "error"),
    ("self-reference", _set(f"workflow/{MANUAL}/on_completion", MANUAL), "self-reference",
     f"{W}{MANUAL}/on_completion", "error"),
    ("action-no-commands", _set(f"workflow/{MANUAL}/commands", ...), "required", f"{W}{MANUAL}/commands", "error"),
    ("action-empty-commands", _set(f"workflow/{MANUAL}/commands", []), "step", f"{W}{MANUAL}/commands", "error"),
    ("action-no-agent", _set(f"workflow/{MANUAL}/agent", ...), "required", f"{W}{MANUAL}/agent", "error"),
    ("parallel-one-branch", _set(f"workflow/{PARALLEL}/next_steps", [MANUAL]), "step", f"{W}{PARALLEL}/next_steps",
     "error"),
    ("if-no-condition", _set(f"workflow/{IF}/condition", ...), "required", f"{W}{IF}/condition", "error"),
    ("delay-negative", _set(f"workflow/{MANUAL}/delay", -5), "range", f"{W}{MANUAL}/delay", "error"),
    ("unreachable-step", _orphan_end, "reachability", f"{W}end--{OTHER}", "error"),
    ("no-end-reachable", _without_ends,
     "end-reachable", "/workflow_start", "error"),
    ("agent-undefined", _set(f"workflow/{MANUAL}/agent", f"individual--{OTHER}"), "reference", f"{W}{MANUAL}/agent",
     "error"),
    ("agent-not-an-id", _set(f"workflow/{MANUAL}/agent", "soc"), "id-format", f"{W}{MANUAL}/agent", "error"),
    ("target-undefined", _set(f"workflow/{HTTP}/targets/0", f"net-address--{OTHER}"), "reference",
     f"{W}{HTTP}/targets/0", "error"),
    ("agent-key-prefix-vs-type", _set(f"agent_definitions/{AGENT_SOC}/type", "organization"), "prefix",
     f"/agent_definitions/{AGENT_SOC}", "error"),
    ("agent-type-unknown", _unknown_agent_type, "agent", f"/agent_definitions/robot--{OTHER}/type", "warning"),
    ("agent-no-name", _set(f"agent_definitions/{AGENT_SOC}/name", ...), "required",
     f"/agent_definitions/{AGENT_SOC}/name", "error"),
    ("auth-undefined", _set(f"agent_definitions/{AGENT_API}/authentication_info", f"oauth2--{OTHER}"), "reference",
     f"/agent_definitions/{AGENT_API}/authentication_info", "error"),
    ("command-no-type", _set(f"workflow/{MANUAL}/commands/0/type", ...), "required",
     f"{W}{MANUAL}/commands/0/type", "error"),
    ("command-type-unknown", _set(f"workflow/{MANUAL}/commands/0/type", "ftp"), "command",
     f"{W}{MANUAL}/commands/0/type", "warning"),
    ("command-type-openc2-json", _set(f"workflow/{HTTP}/commands/0/type", "openc2-json"), "command",
     f"{W}{HTTP}/commands/0/type", "warning"),
    ("manual-no-command", _set(f"workflow/{MANUAL}/commands/0/command", ...), "command",
     f"{W}{MANUAL}/commands/0", "error"),
    ("manual-bad-base64", _set(f"workflow/{MANUAL}/commands/0/command_b64", "not base64!"), "base64",
     f"{W}{MANUAL}/commands/0/command_b64", "error"),
    ("http-no-start-line", _set(f"workflow/{HTTP}/commands/0/command", "curl -X POST https://x"), "command",
     f"{W}{HTTP}/commands/0/command", "error"),
    ("http-content-and-b64", _set(f"workflow/{HTTP}/commands/0/content_b64", "e30="), "exclusive",
     f"{W}{HTTP}/commands/0/content_b64", "error"),
    ("http-header-not-list", _set(f"workflow/{HTTP}/commands/0/headers/Content-Type", "application/json"),
     "command", f"{W}{HTTP}/commands/0/headers/Content-Type", "error"),
    ("openc2-http-not-post", _openc2_get, "command", f"{W}{HTTP}/commands/0/command", "error"),
    ("variable-bad-name", _set("playbook_variables/host", {"type": "string"}), "variable",
     "/playbook_variables/host", "error"),
    ("variable-no-type", _set("playbook_variables/__host__/type", ...), "required",
     "/playbook_variables/__host__/type", "error"),
    ("step-variable-value-not-string", _set(f"workflow/{HTTP}/step_variables/__incident_id__/value", 1842),
     "variable", f"{W}{HTTP}/step_variables/__incident_id__/value", "error"),
    ("in-args-undefined", _set(f"workflow/{HTTP}/in_args/0", "__hostname__"), "variable", f"{W}{HTTP}/in_args/0",
     "warning"),
    ("command-variable-undefined", _set(f"workflow/{HTTP}/commands/0/command", "POST /api/__nope__:value HTTP/1.1"),
     "variable", f"{W}{HTTP}/commands/0/command", "warning"),
    ("condition-variable-undefined", _set(f"workflow/{IF}/condition", "__status__:value = 'ok'"), "variable",
     f"{W}{IF}/condition", "warning"),
]


@pytest.mark.parametrize(("mutate", "check", "pointer", "severity"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_check_reports_its_problem(
    mutate: Callable[[dict[str, Any]], None], check: str, pointer: str, severity: str
) -> None:
    pb = rich_playbook()
    mutate(pb)
    result = validate_playbook(pb)
    assert _found(result, check, pointer, severity), [msgspec.structs.asdict(p) for p in result.problems]
    assert result.ok is (severity == "warning"), result.errors  # warnings alone never fail a playbook


def test_workflow_key_prefix_must_match_step_type() -> None:
    wrong = "action--" + END.split("--", 1)[1]
    result = validate_playbook(rename(rich_playbook(), END, wrong))
    assert _found(result, "prefix", W + wrong)
    assert "'end--'" in _found(result, "prefix", W + wrong)[0].message


def test_workflow_key_must_be_an_identifier() -> None:
    result = validate_playbook(rename(rich_playbook(), END, "end--final"))
    assert _found(result, "id-format", W + "end--final")


def test_playbook_variables_are_checked_without_a_workflow() -> None:
    pb = rich_playbook()
    del pb["workflow"]
    pb["playbook_variables"]["bad name"] = {"type": "string"}
    result = validate_playbook(pb)
    assert _found(result, "variable", "/playbook_variables/bad name")
    assert _found(result, "required", "/workflow")


def test_switch_needs_cases() -> None:
    switch = "switch-condition--" + IF.split("--", 1)[1]
    pb = rename(rich_playbook(), IF, switch)
    pb["workflow"][switch] = {"type": "switch-condition", "switch": "__isolation_status__:value"}
    result = validate_playbook(pb)
    assert _found(result, "required", f"{W}{switch}/cases")
    assert _found(result, "reachability", W + END)  # the end was only reachable through the removed branches


def test_cycle_outside_while_is_a_warning() -> None:
    pb = rich_playbook()
    pb["workflow"][HTTP]["on_completion"] = PARALLEL
    del pb["workflow"][END_HTTP]
    result = validate_playbook(pb)
    cycles = [p for p in result.problems if p.check == "cycle"]
    assert [(p.severity, p.pointer) for p in cycles] == [("warning", W + min(PARALLEL, HTTP))]
    assert result.ok


def test_loop_through_while_condition_is_fine() -> None:
    pb = minimal_playbook()
    loop = "while-condition--" + OTHER
    pb["workflow"][START]["on_completion"] = loop
    pb["workflow"][loop] = {"type": "while-condition", "condition": "x", "on_true": MANUAL, "on_completion": END}
    body_end = "end--" + OTHER
    pb["workflow"][MANUAL]["on_completion"] = body_end  # CACAO 2.0: the body ends in its own end step
    pb["workflow"][body_end] = {"type": "end"}
    assert validate_playbook(pb).problems == ()
    pb["workflow"][MANUAL]["on_completion"] = loop  # the CACAO 1.x habit: the body jumps back to the loop
    del pb["workflow"][body_end]
    result = validate_playbook(pb)
    assert [(p.severity, p.check) for p in result.problems] == [("warning", "branch-end")]


def test_branches_must_end_in_their_own_end_steps() -> None:
    pb = rich_playbook()
    pb["workflow"][IF]["on_true"] = pb["workflow"][IF]["on_false"] = END  # both branches share the main end
    del pb["workflow"][END_TRUE], pb["workflow"][END_FALSE]
    result = validate_playbook(pb)
    assert result.ok  # a warning: much tooling is looser than the specification
    assert [(p.check, p.pointer) for p in result.problems] == [("branch-end", W + IF)]  # identical ones merged
    pb = rich_playbook()
    pb["workflow"][MANUAL]["on_completion"] = END_HTTP  # two parallel branches share one end
    del pb["workflow"][END_MANUAL]
    assert [(p.check, p.pointer) for p in validate_playbook(pb).problems] == [("branch-end", W + PARALLEL)] * 2


def test_steps_reachable_only_from_workflow_exception_are_fine() -> None:
    pb = minimal_playbook()
    handler, handler_end = f"action--{OTHER}", "end--" + OTHER
    pb["workflow_exception"] = handler
    pb["workflow"][handler] = {**pb["workflow"][MANUAL], "on_completion": handler_end}
    pb["workflow"][handler_end] = {"type": "end"}
    assert validate_playbook(pb).problems == ()


def test_non_object_input_and_sorting() -> None:
    result = validate_playbook(["not", "a", "playbook"])  # type: ignore[arg-type]
    assert not result.ok
    assert [(p.check, p.pointer) for p in result.problems] == [("type", "")]
    broken = rich_playbook()
    broken.update(created_by="someone", priority=-1, x_extra=True)
    del broken["workflow"][MANUAL]["agent"]
    problems = validate_playbook(broken).problems
    assert list(problems) == sorted(problems, key=lambda p: (p.pointer, p.check, p.message, p.severity))
    assert [p.pointer for p in problems] == ["/created_by", "/priority", f"{W}{MANUAL}/agent", "/x_extra"]


def _paths(node: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    return [path] + [p for key, child in children for p in _paths(child, (*path, key))]


@pytest.mark.parametrize("junk", [None, 7, [["x"]], {"k": [{}]}, "--"], ids=repr)
def test_wrong_types_anywhere_give_problems_not_exceptions(junk: Any) -> None:
    for path in _paths(rich_playbook())[1:]:
        pb = rich_playbook()
        node: Any = pb
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = junk
        result = validate_playbook(pb)  # must not raise
        assert all(isinstance(p, Problem) for p in result.problems)


def test_result_serialises_to_json() -> None:
    pb = rich_playbook()
    pb["created"] = "2026-11-20T09:15:00Z"
    encoded = msgspec.json.decode(msgspec.json.encode(validate_playbook(pb)))
    assert encoded == {
        "ok": True,
        "problems": [
            {
                "severity": "warning",
                "pointer": "/created",
                "message": "created '2026-11-20T09:15:00Z' should have exactly 3 fractional digits (milliseconds)",
                "check": "timestamp",
            }
        ],
        "schema_checked": False,
    }


# --- schema directory handling --------------------------------------------------------------------------------------


def test_schema_dir_without_playbook_json_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=str(tmp_path)):
        load_official_schemas(tmp_path)
    with pytest.raises(UsageError, match=r"playbook\.json"):
        validate_playbook(rich_playbook(), schemas=tmp_path)


def test_schema_dir_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AFTERACTION_CACAO_SCHEMAS", raising=False)
    assert schema_dir_from_env() is None
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "playbook.json").write_text("{}", encoding="utf-8")
    monkeypatch.setenv("AFTERACTION_CACAO_SCHEMAS", str(tmp_path))
    assert schema_dir_from_env() == tmp_path / "schemas"
    monkeypatch.setenv("AFTERACTION_CACAO_SCHEMAS", str(tmp_path / "schemas"))
    assert schema_dir_from_env() == tmp_path / "schemas"


# --- the official OASIS schemas (shared data) ----------------------------------------------------------------------


@pytest.fixture
def schemas() -> Path:
    if not (SCHEMAS / "schemas" / "playbook.json").is_file():
        pytest.skip(f"OASIS CACAO schemas not found at {SCHEMAS}")
    return SCHEMAS


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the validator tried to use the network")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    validate_module._load_validator.cache_clear()


@pytest.mark.shared_data
@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("sample", [rich_playbook, minimal_playbook], ids=["rich", "minimal"])
def test_samples_pass_official_schemas_offline(schemas: Path, sample: Callable[[], dict[str, Any]]) -> None:
    result = validate_playbook(sample(), schemas=schemas)
    assert result.schema_checked is True
    assert result.problems == ()


@pytest.mark.shared_data
def test_loaded_validator_is_cached_and_draft7(schemas: Path) -> None:
    validator = load_official_schemas(schemas)
    assert load_official_schemas(schemas / "schemas") is validator
    assert type(validator).__name__ == "Draft7Validator"
    assert validator.schema["$id"].endswith("/schemas/playbook.json")


SCHEMA_CASES = [
    # (id, mutation, pointers of the schema errors; empty when draft-07 cannot see the defect)
    ("missing-workflow-start", _set("workflow_start", ...), [""]),
    ("bad-id", _set("id", "playbook--1234"), ["/id"]),
    ("bad-spec-version", _set("spec_version", "cacao-1.1"), ["/spec_version"]),
    ("action-without-agent", _set(f"workflow/{MANUAL}/agent", ...), [W + MANUAL]),
]


@pytest.mark.shared_data
@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize(("mutate", "pointers"), [c[1:] for c in SCHEMA_CASES], ids=[c[0] for c in SCHEMA_CASES])
def test_official_schemas_catch_mutations(
    schemas: Path, mutate: Callable[[dict[str, Any]], None], pointers: list[str]
) -> None:
    pb = rich_playbook()
    mutate(pb)
    result = validate_playbook(pb, schemas=schemas)
    schema_errors = [p for p in result.problems if p.check == "schema"]
    assert [p.pointer for p in schema_errors] == pointers
    assert all(p.message.startswith("OASIS schema: ") and p.severity == "error" for p in schema_errors)
    assert not result.ok


@pytest.mark.shared_data
def test_schema_misses_what_own_checks_catch(schemas: Path) -> None:
    pb = rich_playbook()
    pb["x_custom"] = True  # unevaluatedProperties is ignored by draft-07
    pb["workflow"][MANUAL]["on_completion"] = IF
    pb["workflow"][MANUAL]["on_success"] = IF  # exclusivity is not enforced by the schema
    pb["modified"] = "2020-01-01T00:00:00.000Z"
    pb["workflow"]["step--1"] = {"type": "end"}  # an unknown key prefix is let through as well
    result = validate_playbook(pb, schemas=schemas)
    assert [p for p in result.problems if p.check == "schema"] == []
    assert {p.check for p in result.errors} == {
        "unknown-property", "exclusive", "modified-before-created", "id-format", "reachability"
    }


@pytest.mark.shared_data
def test_schema_does_not_check_commands_per_type(schemas: Path) -> None:
    pb = rich_playbook()
    del pb["workflow"][HTTP]["commands"][0]["command"]  # http-api requires it, but only command-data.json is used
    result = validate_playbook(pb, schemas=schemas)
    assert [p for p in result.problems if p.check == "schema"] == []
    assert _found(result, "command", f"{W}{HTTP}/commands/0/command")
