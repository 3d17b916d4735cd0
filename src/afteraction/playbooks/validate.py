"""Validate CACAO 2.0 playbooks: afteraction's own checks, plus the official OASIS JSON schemas when available.

Why own checks: the OASIS schema files declare draft-07 but use 2019-09+ keywords, so a draft-07 validator ignores
``unevaluatedProperties`` (unknown properties, mis-prefixed workflow keys and badly named variables pass), while
forcing draft 2020-12 rejects valid playbooks. The schemas also do not validate commands per type, do not enforce
on_completion vs on_success/on_failure exclusivity, and have no referential integrity, reachability or
``modified >= created`` check. So :func:`validate_playbook` always runs the spec's semantic checks (this module:
workflow structure and graph; :mod:`.validate_semantic`: metadata, definitions, commands, variables) and, when a
schema directory is given, adds the official draft-07 validation, resolved fully offline.
"""

from __future__ import annotations

import functools
import json
import os
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from afteraction.errors import UsageError

from .validate_semantic import (
    STEP_COMMON,
    STEP_TYPES,
    Checker,
    Problem,
    check_command,
    check_definitions,
    check_metadata,
    check_variables,
    iter_targets,
    ptr,
    ptr_join,
    variable_refs,
)

if TYPE_CHECKING:
    from jsonschema import Draft7Validator

__all__ = ["Problem", "Validation", "load_official_schemas", "schema_dir_from_env", "validate_playbook"]

SCHEMA_ENV = "AFTERACTION_CACAO_SCHEMAS"
_MAX_MESSAGE = 300


class Validation(msgspec.Struct, frozen=True):
    """The result of validating one playbook; ``ok`` means no errors (warnings are allowed)."""

    ok: bool
    problems: tuple[Problem, ...]
    schema_checked: bool

    @property
    def errors(self) -> tuple[Problem, ...]:
        """Only the problems with severity "error"."""
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """Only the problems with severity "warning"."""
        return tuple(p for p in self.problems if p.severity == "warning")


def validate_playbook(playbook: Mapping[str, Any], *, schemas: Path | None = None) -> Validation:
    """Check a playbook (parsed JSON) with the own semantic checks and, if ``schemas`` is given, the OASIS schemas."""
    validator = load_official_schemas(schemas) if schemas is not None else None
    if not isinstance(playbook, Mapping):
        found = [Problem("error", "", f"a playbook must be a JSON object, got {type(playbook).__name__}", "type")]
    else:
        checker = Checker(playbook)
        check_metadata(checker)
        check_definitions(checker)
        _check_workflow(checker)
        found = checker.problems
    if validator is not None:
        found = found + _schema_problems(validator, playbook)
    problems = tuple(sorted(set(found), key=lambda p: (p.pointer, p.check, p.message, p.severity)))
    return Validation(
        ok=not any(p.severity == "error" for p in problems), problems=problems, schema_checked=validator is not None
    )


# --- workflow ---------------------------------------------------------------------------------------------------


def _check_workflow(c: Checker) -> None:
    playbook_vars = (
        check_variables(c, "/playbook_variables", c.pb["playbook_variables"]) if "playbook_variables" in c.pb else set()
    )
    workflow = c.pb.get("workflow")
    if workflow is None:
        return  # reported as a missing required property
    if not isinstance(workflow, Mapping) or not workflow:
        c.error("/workflow", "type", "workflow must be a non-empty JSON object of steps")
        return
    steps: dict[str, Mapping[str, Any]] = {}
    for key, step in workflow.items():
        here = ptr("workflow", key)
        if not isinstance(step, Mapping):
            c.error(here, "type", f"workflow step {key!r} must be a JSON object")
            continue
        steps[key] = step
        kind = step.get("type")
        if "type" not in step:
            c.error(ptr_join(here, "type"), "required", f"workflow step {key!r} has no 'type'")
        elif not isinstance(kind, str) or kind not in STEP_TYPES:
            c.error(ptr_join(here, "type"), "step", f"step {key!r} has unknown type {kind!r}")
            kind = None
        if c.identifier(here, key) and kind is not None and key.split("--", 1)[0] != kind:
            c.error(here, "prefix", f"workflow key {key!r} must start with its step type '{kind}--'")
        _check_step(c, key, step, kind, playbook_vars)
    _check_graph(c, steps)


def _check_step(c: Checker, key: str, step: Mapping[str, Any], kind: str | None, playbook_vars: set[str]) -> None:
    """Properties of one step: allowed and required ones, pointers, per-type rules, variables, commands."""
    here = ptr("workflow", key)
    if kind is not None:
        required, optional = STEP_TYPES[kind]
        for prop in sorted(set(step) - set(STEP_COMMON) - set(required) - set(optional)):
            c.error(ptr_join(here, prop), "unknown-property", f"'{prop}' is not a property of a {kind} step ({key!r})")
        for prop in required:
            if prop not in step:
                c.error(ptr_join(here, prop), "required", f"{kind} step {key!r} has no '{prop}'")
    if "on_completion" in step and ("on_success" in step or "on_failure" in step):
        c.error(
            ptr_join(here, "on_completion"),
            "exclusive",
            f"step {key!r} has on_completion together with on_success/on_failure",
        )
    if kind == "start":
        for prop in ("on_success", "on_failure"):
            if prop in step:
                c.error(ptr_join(here, prop), "step", f"start step {key!r} must not have {prop} (use on_completion)")
    if kind == "end":
        for prop in ("on_completion", "on_success", "on_failure"):
            if prop in step:
                c.error(ptr_join(here, prop), "step", f"end step {key!r} must not point to a next step ({prop})")
    defined = set(playbook_vars)
    if "step_variables" in step:
        defined |= check_variables(c, ptr_join(here, "step_variables"), step["step_variables"])
    if "external_references" in step:
        c.external_references(ptr_join(here, "external_references"), step["external_references"])
    if "owner" in step:
        c.identifier(ptr_join(here, "owner"), step["owner"], "identity")
    for prop in ("delay", "timeout"):
        value = step.get(prop, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            c.error(ptr_join(here, prop), "range", f"{prop} of {key!r} must be a whole number of milliseconds")
    extensions = c.mapping("extension_definitions")
    if isinstance(step.get("step_extensions"), Mapping):
        for ident in step["step_extensions"]:
            if ident not in extensions:
                c.error(
                    ptr_join(here, "step_extensions", ident), "reference", f"{ident!r} is not in extension_definitions"
                )
    for prop in ("in_args", "out_args"):
        if prop in step:
            for i, name in enumerate(c.as_list(ptr_join(here, prop), step[prop], prop)):
                if not isinstance(name, str) or name not in defined:
                    c.warn(
                        ptr_join(here, prop, i),
                        "variable",
                        f"{prop} names {name!r}, which is not in playbook_variables or this step's step_variables",
                    )
    for prop in ("condition", "switch"):
        if prop in step:
            if not isinstance(step[prop], str) or not step[prop].strip():
                c.error(ptr_join(here, prop), "type", f"{prop} of {key!r} must be a non-empty string")
            variable_refs(c, ptr_join(here, prop), step[prop], defined)
    if kind == "action":
        _check_action(c, key, step, defined)
    elif kind == "playbook-action" and "playbook_id" in step:
        c.identifier(ptr_join(here, "playbook_id"), step["playbook_id"], "playbook")
    elif kind == "parallel" and "next_steps" in step:
        next_steps = c.as_list(ptr_join(here, "next_steps"), step["next_steps"], "next_steps")
        if len(next_steps) < 2 or len({str(s) for s in next_steps}) != len(next_steps):
            c.error(ptr_join(here, "next_steps"), "step", f"parallel step {key!r} needs two or more different steps")
    elif kind == "switch-condition" and "cases" in step and not (isinstance(step["cases"], Mapping) and step["cases"]):
        c.error(ptr_join(here, "cases"), "step", f"switch step {key!r} needs a non-empty 'cases' object")
    workflow = c.pb["workflow"]
    for path, target in iter_targets(step):
        pointer = ptr_join(here, *path)
        if not isinstance(target, str):
            c.error(pointer, "type", f"{'/'.join(map(str, path))} of {key!r} must be a step id, got {target!r}")
        elif target == key:
            c.error(pointer, "self-reference", f"step {key!r} points to itself")
        elif target not in workflow:
            c.error(pointer, "reference", f"step {key!r} points to {target!r}, which is not in the workflow")


def _check_action(c: Checker, key: str, step: Mapping[str, Any], defined: set[str]) -> None:
    here = ptr("workflow", key)
    if "commands" in step:
        commands = c.as_list(ptr_join(here, "commands"), step["commands"], "commands")
        if isinstance(step["commands"], list) and not commands:
            c.error(ptr_join(here, "commands"), "step", f"action step {key!r} needs at least one command")
        for i, cmd in enumerate(commands):
            check_command(c, ptr_join(here, "commands", i), cmd, defined)
    agent = step.get("agent")
    if (
        agent is not None
        and c.identifier(ptr_join(here, "agent"), agent)
        and agent not in c.mapping("agent_definitions")
    ):
        c.error(ptr_join(here, "agent"), "reference", f"agent {agent!r} of {key!r} is not in agent_definitions")
    if "targets" in step:
        targets = c.mapping("target_definitions")
        for i, target in enumerate(c.as_list(ptr_join(here, "targets"), step["targets"], "targets")):
            if c.identifier(ptr_join(here, "targets", i), target) and target not in targets:
                c.error(
                    ptr_join(here, "targets", i),
                    "reference",
                    f"target {target!r} of {key!r} is not in target_definitions",
                )


def _edges(steps: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    return {
        key: [t for _, t in iter_targets(step) if isinstance(t, str) and t in steps and t != key]
        for key, step in steps.items()
    }


def _reach(edges: Mapping[str, list[str]], roots: list[str]) -> set[str]:
    seen = set(roots)
    queue = deque(roots)
    while queue:
        for nxt in edges.get(queue.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def _check_graph(c: Checker, steps: Mapping[str, Mapping[str, Any]]) -> None:
    """workflow_start/workflow_exception exist; every step reachable; an end reachable; cycles outside while."""
    start = c.pb.get("workflow_start")
    exception = c.pb.get("workflow_exception")
    if isinstance(exception, str) and exception not in steps:
        c.error("/workflow_exception", "reference", f"workflow_exception {exception!r} is not in the workflow")
    if not isinstance(start, str):
        return
    if start not in steps:
        c.error("/workflow_start", "reference", f"workflow_start {start!r} is not in the workflow")
        return
    if steps[start].get("type") != "start":
        c.error("/workflow_start", "start", f"workflow_start {start!r} is not a start step")
    edges = _edges(steps)
    from_start = _reach(edges, [start])
    reachable = from_start | (_reach(edges, [exception]) if exception in steps else set())
    for key in steps:
        if key not in reachable:
            c.error(ptr("workflow", key), "reachability", f"step {key!r} cannot be reached from workflow_start")
    if not any(steps[key].get("type") == "end" for key in from_start):
        c.error("/workflow_start", "end-reachable", f"no end step can be reached from {start!r}")
    _check_branch_ends(c, steps, edges)
    plain = {
        k: [t for t in ts if steps[t].get("type") != "while-condition"]
        for k, ts in edges.items()
        if steps[k].get("type") != "while-condition"
    }
    reported: set[str] = set()
    for key in sorted(plain):
        if key in reported or key not in _reach(plain, plain[key]):
            continue
        cycle = sorted(k for k in _reach(plain, [key]) if key in _reach(plain, [k]))
        reported.update(cycle)
        c.warn(
            ptr("workflow", cycle[0]),
            "cycle",
            f"steps {', '.join(cycle)} form a loop that does not go through a while-condition step",
        )


def _branches(step: Mapping[str, Any]) -> list[Any]:
    kind = step.get("type")
    if kind == "parallel":
        nxt = step.get("next_steps")
        return list(nxt) if isinstance(nxt, list) else []
    if kind in ("if-condition", "while-condition"):
        return [step.get("on_true"), step.get("on_false")]
    if kind == "switch-condition" and isinstance(step.get("cases"), Mapping):
        return list(step["cases"].values())
    return []


def _check_branch_ends(c: Checker, steps: Mapping[str, Mapping[str, Any]], edges: Mapping[str, list[str]]) -> None:
    """CACAO 2.0: each branch of a parallel, if, while or switch step MUST end in its own end step, so the
    processor knows when to return to the step's on_completion (a warning: much tooling is looser)."""
    def ends(roots: list[str]) -> set[str]:
        return {k for k in _reach(edges, roots) if steps[k].get("type") == "end"}

    for key, step in steps.items():
        branches = [b for b in _branches(step) if isinstance(b, str) and b in steps]
        if not branches:
            continue
        after = [x for x in (step.get("on_completion"), step.get("on_success"), step.get("on_failure"))
                 if isinstance(x, str) and x in steps]
        reached = {b: ends([b]) for b in branches}
        for i, branch in enumerate(branches):
            here = ptr("workflow", key)
            if not reached[branch]:
                c.warn(here, "branch-end", f"branch {branch!r} of {key!r} never reaches an end step")
                continue
            others = set().union(*(reached[b] for j, b in enumerate(branches) if j != i), ends(after))
            shared = sorted(reached[branch] & others)
            if shared:
                c.warn(here, "branch-end", f"branch {branch!r} of {key!r} ends in {', '.join(shared)}, which another "
                                           "branch or the rest of the workflow also reaches; CACAO 2.0 wants each "
                                           "branch to end in its own end step")


# --- official schemas -------------------------------------------------------------------------------------------


def schema_dir_from_env() -> Path | None:
    """The OASIS schema directory named by ``AFTERACTION_CACAO_SCHEMAS``, or None when the variable is unset."""
    value = os.environ.get(SCHEMA_ENV, "").strip()
    return _schema_root(Path(value)) if value else None


def _schema_root(directory: Path) -> Path:
    for candidate in (directory, directory / "schemas"):
        if (candidate / "playbook.json").is_file():
            return candidate
    raise UsageError(f"no CACAO playbook.json schema in {directory} (nor in {directory / 'schemas'})")


def load_official_schemas(directory: Path) -> Draft7Validator:
    """A draft-07 validator for the OASIS ``playbook.json``, every ``$ref`` resolved offline from ``directory``."""
    return _load_validator(str(_schema_root(Path(directory)).resolve()))


@functools.lru_cache(maxsize=8)
def _load_validator(root: str) -> Draft7Validator:
    from jsonschema import Draft7Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    resources = []
    for path in sorted(Path(root).rglob("*.json")):
        try:
            contents = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"cannot read CACAO schema {path}: {exc}") from exc
        if isinstance(contents, dict) and isinstance(contents.get("$id"), str):
            resources.append((contents["$id"], Resource.from_contents(contents, default_specification=DRAFT7)))
    registry: Registry = Registry().with_resources(resources)
    playbook_schema = json.loads((Path(root) / "playbook.json").read_text(encoding="utf-8"))
    return Draft7Validator(playbook_schema, registry=registry)


def _schema_problems(validator: Draft7Validator, playbook: Any) -> list[Problem]:
    problems = []
    for error in validator.iter_errors(playbook):
        message = error.message if len(error.message) <= _MAX_MESSAGE else error.message[: _MAX_MESSAGE - 3] + "..."
        problems.append(Problem("error", ptr(*error.absolute_path), f"OASIS schema: {message}", "schema"))
    return problems
