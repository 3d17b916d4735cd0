"""afteraction's own CACAO 2.0 checks: the rules the official OASIS schemas state but do not enforce.

The OASIS files declare draft-07 yet rely on 2019-09+ keywords, so a draft-07 validator ignores
``unevaluatedProperties`` (unknown properties, unknown workflow-key prefixes and badly named variables pass);
commands are only checked against the generic ``command-data.json``; and nothing checks
on_completion/on_success exclusivity, referential integrity, reachability or ``modified >= created``. These checks
run on plain JSON data (no jsonschema needed) and report every finding as a :class:`Problem` with a JSON pointer.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-5][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}"
ID_RE = re.compile(rf"^([a-z][a-z0-9-]+[a-z0-9])--{_UUID}$")
TIMESTAMP_RE = re.compile(
    r"^([0-9]{4}-(?:0[1-9]|1[012])-(?:0[1-9]|[12][0-9]|3[01])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60))"
    r"(\.[0-9]+)?Z$"
)
VARIABLE_RE = re.compile(r"^__[a-zA-Z_][a-zA-Z0-9_-]{0,199}__$")
VARIABLE_REF_RE = re.compile(r"(__[a-zA-Z_][a-zA-Z0-9_-]{0,199}?__):value")
HTTP_START_LINE_RE = re.compile(r"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) \S+ HTTP/\d(\.\d)?$")

# fmt: off
PLAYBOOK_REQUIRED = (
    "type", "spec_version", "id", "name", "created_by", "created", "modified", "workflow_start", "workflow",
)
PLAYBOOK_OPTIONAL = (
    "description", "playbook_types", "playbook_activities", "playbook_processing_summary", "revoked", "valid_from",
    "valid_until", "derived_from", "related_to", "priority", "severity", "impact", "industry_sectors", "labels",
    "external_references", "markings", "playbook_variables", "workflow_exception", "playbook_extensions",
    "authentication_info_definitions", "agent_definitions", "target_definitions", "extension_definitions",
    "data_marking_definitions", "signatures",
)
STEP_COMMON = (
    "type", "name", "description", "external_references", "delay", "timeout", "step_variables", "owner",
    "on_completion", "on_success", "on_failure", "step_extensions",
)
AGENT_TARGET_TYPES = frozenset({
    "group", "individual", "location", "organization", "sector", "security-category", "http-api", "linux",
    "net-address", "ssh",
})
COMMAND_TYPES = frozenset({
    "manual", "bash", "caldera-cmd", "elastic", "http-api", "jupyter", "kestrel", "openc2-http", "powershell",
    "sigma", "ssh", "yara",
})
# fmt: on
# step type -> (required extra properties, optional extra properties)
STEP_TYPES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "start": ((), ()),
    "end": ((), ()),
    "action": (("commands", "agent"), ("targets", "in_args", "out_args")),
    "playbook-action": (("playbook_id",), ("playbook_version", "in_args", "out_args")),
    "parallel": (("next_steps",), ()),
    "if-condition": (("condition", "on_true"), ("on_false",)),
    "while-condition": (("condition", "on_true"), ()),
    "switch-condition": (("switch", "cases"), ()),
}
AUTH_TYPES = frozenset({"http-basic", "oauth2", "user-auth"})
MARKING_TYPES = frozenset({"marking-tlp", "marking-iep", "marking-statement"})
TLP_LEVELS = frozenset({"TLP:RED", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:GREEN", "TLP:CLEAR"})
_COMMAND_OR_B64 = frozenset({"manual", "bash", "caldera-cmd", "powershell", "ssh"})
_B64_ONLY = frozenset({"elastic", "jupyter", "kestrel", "sigma", "yara"})
_POINTER_PROPS = ("on_completion", "on_success", "on_failure", "on_true", "on_false")


class Problem(msgspec.Struct, frozen=True):
    """One finding: ``severity`` is "error" or "warning"; ``pointer`` is a JSON pointer into the playbook."""

    severity: str
    pointer: str
    message: str
    check: str


def ptr(*parts: str | int) -> str:
    """A JSON pointer (RFC 6901) built from raw path parts."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def parse_timestamp(value: str) -> datetime | None:
    """The UTC datetime of a CACAO timestamp, or None if it does not match the pattern or is not a real date."""
    match = TIMESTAMP_RE.match(value)
    if not match:
        return None
    whole = match.group(1).replace(":60", ":59")  # a leap second sorts with the second before it
    try:
        moment = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    fraction = (match.group(2) or ".0")[1:7].ljust(6, "0")
    return moment.replace(microsecond=int(fraction))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Checker:
    """Collects problems while walking one playbook."""

    def __init__(self, playbook: Mapping[str, Any]) -> None:
        self.pb = playbook
        self.problems: list[Problem] = []
        self.secrets = _secret_variables(playbook)

    def error(self, pointer: str, check: str, message: str) -> None:
        self.problems.append(Problem("error", pointer, message, check))

    def warn(self, pointer: str, check: str, message: str) -> None:
        self.problems.append(Problem("warning", pointer, message, check))

    def mapping(self, key: str) -> Mapping[str, Any]:
        """A top-level dictionary property, or an empty one (a wrong type is reported once)."""
        value = self.pb.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.error(ptr(key), "type", f"'{key}' must be a JSON object, got {type(value).__name__}")
            return {}
        return value

    def identifier(self, pointer: str, value: Any, prefix: str | None = None) -> bool:
        """Check one identifier (and its ``<prefix>--``); True when it is well-formed."""
        if not isinstance(value, str) or not ID_RE.match(value):
            self.error(pointer, "id-format", f"{value!r} is not a CACAO identifier (<type>--<RFC 4122 UUID>)")
            return False
        if prefix is not None and not value.startswith(prefix + "--"):
            self.error(pointer, "prefix", f"{value!r} must start with '{prefix}--'")
            return False
        return True

    def as_list(self, pointer: str, value: Any, what: str) -> list[Any]:
        """The value if it is a list, else an empty list (and a "type" error)."""
        if not isinstance(value, list):
            self.error(pointer, "type", f"{what} must be a list, got {type(value).__name__}")
            return []
        return value

    def external_references(self, pointer: str, refs: Any) -> None:
        for i, ref in enumerate(self.as_list(pointer, refs, "external_references")):
            if not isinstance(ref, Mapping):
                self.error(ptr_join(pointer, i), "type", "an external reference must be a JSON object")
            elif not isinstance(ref.get("name"), str) or not ref["name"]:
                self.error(ptr_join(pointer, i, "name"), "required", "external reference has no 'name'")

    def definitions(self, key: str, known: frozenset[str], check: str, required: tuple[str, ...] = ("type",), *,
                    open_vocabulary: bool = False) -> None:
        """Dictionaries keyed by ``<type>--<uuid>``: key format, key prefix = value type, known types (a warning
        only, for an open vocabulary)."""
        for ident, obj in self.mapping(key).items():
            here = ptr(key, ident)
            if not isinstance(obj, Mapping):
                self.error(here, "type", f"{key} entry {ident!r} must be a JSON object")
                continue
            for prop in required:
                if prop not in obj:
                    self.error(ptr(key, ident, prop), "required", f"{ident!r} has no '{prop}'")
            kind = obj.get("type")
            if not self.identifier(here, ident) or not isinstance(kind, str):
                continue
            if ident.split("--", 1)[0] != kind:
                self.error(here, "prefix", f"key {ident!r} must start with its type '{kind}--'")
            if kind not in known:
                report = self.warn if open_vocabulary else self.error
                report(ptr(key, ident, "type"), check, f"{ident!r} has type {kind!r}, not one of {sorted(known)}")


def _secret_variables(playbook: Mapping[str, Any]) -> set[str]:
    """Variables that authentication information takes its token or password from."""
    found: set[str] = set()
    auth = playbook.get("authentication_info_definitions")
    for info in auth.values() if isinstance(auth, Mapping) else ():
        if isinstance(info, Mapping):
            for key in ("token", "password", "oauth_header"):
                if isinstance(info.get(key), str):
                    found.update(VARIABLE_REF_RE.findall(info[key]))
    return found


def ptr_join(base: str, *parts: str | int) -> str:
    """Append raw parts to an existing JSON pointer."""
    return base + ptr(*parts)


def check_metadata(c: Checker) -> None:
    """Required and known top-level properties, fixed values, identifiers, timestamps, 0-100 scores."""
    pb = c.pb
    for key in PLAYBOOK_REQUIRED:
        if key not in pb:
            c.error(ptr(key), "required", f"playbook has no '{key}' (required)")
    known = set(PLAYBOOK_REQUIRED) | set(PLAYBOOK_OPTIONAL)
    for key in pb:
        if key not in known:
            c.error(ptr(key), "unknown-property", f"'{key}' is not a CACAO 2.0 playbook property")
    if "type" in pb and pb["type"] != "playbook":
        c.error("/type", "value", f"type must be 'playbook', got {pb['type']!r}")
    if "spec_version" in pb and pb["spec_version"] != "cacao-2.0":
        c.error("/spec_version", "value", f"spec_version must be 'cacao-2.0', got {pb['spec_version']!r}")
    if "name" in pb and (not isinstance(pb["name"], str) or not pb["name"].strip()):
        c.error("/name", "type", "name must be a non-empty string")
    if "id" in pb:
        c.identifier("/id", pb["id"], "playbook")
    if "created_by" in pb:
        c.identifier("/created_by", pb["created_by"], "identity")
    for key in ("workflow_start", "workflow_exception"):
        if key in pb:
            c.identifier(ptr(key), pb[key])
    for key in ("derived_from", "related_to"):
        if key in pb:
            for i, value in enumerate(c.as_list(ptr(key), pb[key], key)):
                c.identifier(ptr(key, i), value, "playbook" if key == "derived_from" else None)
    times: dict[str, datetime] = {}
    for key in ("created", "modified", "valid_from", "valid_until"):
        if key not in pb:
            continue
        value = pb[key]
        moment = parse_timestamp(value) if isinstance(value, str) else None
        if moment is None:
            c.error(ptr(key), "timestamp", f"{key} {value!r} is not an RFC 3339 UTC timestamp ending in 'Z'")
            continue
        times[key] = moment
        if not re.search(r"\.[0-9]{3}Z$", value):
            c.warn(ptr(key), "timestamp", f"{key} {value!r} should have exactly 3 fractional digits (milliseconds)")
    if "created" in times and "modified" in times and times["modified"] < times["created"]:
        c.error(
            "/modified",
            "modified-before-created",
            f"modified {pb['modified']!r} is earlier than created {pb['created']!r}",
        )
    if "valid_from" in times and "valid_until" in times and times["valid_until"] < times["valid_from"]:
        c.error(
            "/valid_until",
            "validity-window",
            f"valid_until {pb['valid_until']!r} is earlier than valid_from {pb['valid_from']!r}",
        )
    for key in ("priority", "severity", "impact"):
        if key in pb and (not _is_int(pb[key]) or not 0 <= pb[key] <= 100):
            c.error(ptr(key), "range", f"{key} must be an integer from 0 to 100, got {pb[key]!r}")
    if "revoked" in pb and not isinstance(pb["revoked"], bool):
        c.error("/revoked", "type", f"revoked must be true or false, got {pb['revoked']!r}")
    for key in ("labels", "playbook_types", "playbook_activities", "industry_sectors"):
        if key in pb:
            values = c.as_list(ptr(key), pb[key], key)
            if isinstance(pb[key], list) and not values:
                c.error(ptr(key), "type", f"{key} must not be empty when present")
            for i, value in enumerate(values):
                if not isinstance(value, str):
                    c.error(ptr(key, i), "type", f"{key} entries must be strings, got {value!r}")
    if "external_references" in pb:
        c.external_references("/external_references", pb["external_references"])


def check_definitions(c: Checker) -> None:
    """Agents, targets, authentication info, markings and extension definitions, and the ids that point at them."""
    # agent-target-type-ov is an open vocabulary ("SHOULD come from"): other types (e.g. SOARCA's) are warnings
    c.definitions("agent_definitions", AGENT_TARGET_TYPES, "agent", ("type", "name"), open_vocabulary=True)
    c.definitions("target_definitions", AGENT_TARGET_TYPES, "agent", ("type", "name"), open_vocabulary=True)
    c.definitions("authentication_info_definitions", AUTH_TYPES, "authentication")
    c.definitions("data_marking_definitions", MARKING_TYPES, "marking", ("type", "id", "created_by", "created"))
    auth = c.mapping("authentication_info_definitions")
    for key in ("agent_definitions", "target_definitions"):
        for ident, obj in c.mapping(key).items():
            auth_id = obj.get("authentication_info") if isinstance(obj, Mapping) else None
            if auth_id is not None and (not isinstance(auth_id, str) or auth_id not in auth):
                c.error(
                    ptr(key, ident, "authentication_info"),
                    "reference",
                    f"authentication_info {auth_id!r} of {ident!r} is not in authentication_info_definitions",
                )
    markings = c.mapping("data_marking_definitions")
    for ident, obj in markings.items():
        if not isinstance(obj, Mapping):
            continue
        if "id" in obj and obj["id"] != ident:
            c.error(
                ptr("data_marking_definitions", ident, "id"),
                "reference",
                f"marking id {obj['id']!r} differs from its key {ident!r}",
            )
        level = obj.get("tlpv2_level")
        if obj.get("type") == "marking-tlp" and (not isinstance(level, str) or level not in TLP_LEVELS):
            c.error(
                ptr("data_marking_definitions", ident, "tlpv2_level"),
                "marking",
                f"tlpv2_level {level!r} is not one of {sorted(TLP_LEVELS)}",
            )
    if "markings" in c.pb:
        for i, ident in enumerate(c.as_list("/markings", c.pb["markings"], "markings")):
            if c.identifier(ptr("markings", i), ident) and ident not in markings:
                c.error(ptr("markings", i), "reference", f"marking {ident!r} is not in data_marking_definitions")
    extensions = c.mapping("extension_definitions")
    for ident, obj in extensions.items():
        c.identifier(ptr("extension_definitions", ident), ident, "extension-definition")
        if isinstance(obj, Mapping):
            for prop in ("type", "name", "created_by", "schema", "version"):
                if prop not in obj:
                    c.error(ptr("extension_definitions", ident, prop), "required", f"{ident!r} has no '{prop}'")
    for ident in c.mapping("playbook_extensions"):
        if ident not in extensions:
            c.error(ptr("playbook_extensions", ident), "reference", f"{ident!r} is not in extension_definitions")


def check_variables(c: Checker, pointer: str, variables: Any) -> set[str]:
    """Variable dictionary: names, ``type`` present, value a string; returns the defined names."""
    if not isinstance(variables, Mapping):
        c.error(pointer, "type", "variables must be a JSON object")
        return set()
    for name, var in variables.items():
        here = ptr_join(pointer, name)
        if not VARIABLE_RE.match(name):
            c.error(here, "variable", f"variable name {name!r} must look like __name__ (letters, digits, _ and -)")
        if not isinstance(var, Mapping):
            c.error(here, "type", f"variable {name!r} must be a JSON object")
        elif "type" not in var:
            c.error(ptr_join(here, "type"), "required", f"variable {name!r} has no 'type'")
        elif "value" in var and var["value"] is not None and not isinstance(var["value"], str):
            c.error(ptr_join(here, "value"), "variable", f"value of {name!r} must be a string or null")
    return {name for name in variables if isinstance(name, str)}


def variable_refs(c: Checker, pointer: str, text: Any, defined: set[str]) -> None:
    """Warn on ``__name__:value`` references to variables that are not defined in scope."""
    if not isinstance(text, str):
        return
    for name in sorted(set(VARIABLE_REF_RE.findall(text))):
        if name not in defined:
            c.warn(pointer, "variable", f"{name}:value refers to a variable that is not defined for this step")


def _b64(c: Checker, pointer: str, value: Any, what: str) -> None:
    try:
        if not isinstance(value, str):
            raise TypeError
        base64.b64decode(value, validate=True)
    except (TypeError, binascii.Error):
        c.error(pointer, "base64", f"{what} is not valid base64")


def check_command(c: Checker, pointer: str, cmd: Any, defined: set[str]) -> None:
    """One command: type known, per-type required fields, HTTP start line, headers, base64."""
    if not isinstance(cmd, Mapping):
        c.error(pointer, "type", "a command must be a JSON object")
        return
    kind = cmd.get("type")
    if not isinstance(kind, str):
        c.error(ptr_join(pointer, "type"), "required", "command has no 'type'")
        return
    if kind in ("openc2-json", "openc2"):
        c.warn(ptr_join(pointer, "type"), "command", f"command type {kind!r} is not CACAO 2.0 CS01; use 'openc2-http'")
    elif kind not in COMMAND_TYPES:
        c.warn(ptr_join(pointer, "type"), "command", f"command type {kind!r} is not one of the 12 CACAO 2.0 types")
    for key in ("command_b64", "content_b64"):
        if key in cmd:
            _b64(c, ptr_join(pointer, key), cmd[key], f"{kind} command {key}")
    if "external_references" in cmd:
        c.external_references(ptr_join(pointer, "external_references"), cmd["external_references"])
    for key in ("command", "content"):
        variable_refs(c, ptr_join(pointer, key), cmd.get(key), defined)
    for key in ("command", "content", "description"):
        text = cmd.get(key)
        for name in sorted(set(VARIABLE_REF_RE.findall(text)) & c.secrets if isinstance(text, str) else ()):
            c.warn(ptr_join(pointer, key), "secret", f"{name}:value holds an authentication secret; this command "
                                                     "would send or log it (only headers may carry it)")
    if kind in _COMMAND_OR_B64 and "command" not in cmd and "command_b64" not in cmd:
        c.error(pointer, "command", f"{kind} command needs 'command' or 'command_b64'")
    elif kind in _B64_ONLY and "command_b64" not in cmd:
        c.error(ptr_join(pointer, "command_b64"), "command", f"{kind} command needs 'command_b64'")
    if kind not in ("http-api", "openc2-http", "openc2-json", "openc2"):
        return
    line = cmd.get("command")
    if not isinstance(line, str):
        c.error(ptr_join(pointer, "command"), "command", f"{kind} command needs 'command' (an HTTP start line)")
    elif not HTTP_START_LINE_RE.match(line):
        c.error(
            ptr_join(pointer, "command"),
            "command",
            f"{line!r} is not an HTTP start line like 'POST /api/path HTTP/1.1'",
        )
    elif kind != "http-api" and not line.startswith("POST "):
        c.error(ptr_join(pointer, "command"), "command", f"{kind} command must use POST, got {line.split()[0]!r}")
    if "content" in cmd and "content_b64" in cmd:
        c.error(ptr_join(pointer, "content_b64"), "exclusive", f"{kind} command has both 'content' and 'content_b64'")
    if kind != "http-api" and "content" not in cmd and "content_b64" not in cmd:
        c.error(pointer, "command", f"{kind} command needs the OpenC2 JSON in 'content_b64' (or 'content')")
    headers = cmd.get("headers", {})
    if not isinstance(headers, Mapping):
        c.error(ptr_join(pointer, "headers"), "command", "headers must map header names to lists of strings")
        return
    for name, values in headers.items():
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            c.error(ptr_join(pointer, "headers", name), "command", f"header {name!r} must be a list of strings")
        else:
            for value in values:
                variable_refs(c, ptr_join(pointer, "headers", name), value, defined)


def iter_targets(step: Mapping[str, Any]) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """(relative path, step id) for every outgoing pointer of a step."""
    for prop in _POINTER_PROPS:
        if prop in step:
            yield (prop,), step[prop]
    next_steps = step.get("next_steps")
    if isinstance(next_steps, list):
        for i, value in enumerate(next_steps):
            yield ("next_steps", i), value
    cases = step.get("cases")
    if isinstance(cases, Mapping):
        for case, value in cases.items():
            yield ("cases", case), value
