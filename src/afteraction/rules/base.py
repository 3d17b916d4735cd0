"""What every rule reader shares: the scan context, YAML loading, status and technique resolution.

A reader is ``read(ctx, path, data) -> Iterator[Rule]``; it records per-rule problems with
:meth:`Context.error` and never raises for a bad rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import yaml

from afteraction.attack.kb import KnowledgeBase
from afteraction.attack.results import Resolution
from afteraction.rules.model import STATUS_MAP, Rule, RuleError, RuleFormat, RuleStatus

try:  # libyaml is much faster; both loaders only build plain Python values (never arbitrary objects)
    _SafeLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _SafeLoader = yaml.SafeLoader

_TAG_CACHE_MAX = 50_000


class YamlLoader(_SafeLoader):  # type: ignore[misc,valid-type]
    """The safe loader, with the implicit tag of short plain scalars memoised (rule files repeat them a lot)."""

    _tags: dict[str, str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        """Same result as the safe loader's resolver (no path resolvers are registered on it)."""
        if kind is yaml.ScalarNode and implicit[0] and len(value) < 64:
            tag = self._tags.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(self._tags) < _TAG_CACHE_MAX:
                    self._tags[value] = tag
            return tag
        return super().resolve(kind, value, implicit)

_LIST_SPLIT = re.compile(r"[;,\s]+")


class Context:
    """One scan: the knowledge base, options, caches and what was found besides rules."""

    def __init__(self, kb: KnowledgeBase, *, include_deprecated: bool = False) -> None:
        self.kb = kb
        self.include_deprecated = include_deprecated
        self.errors: list[RuleError] = []
        self.deprecated_skipped = 0
        self.redirected: dict[str, str] = {}
        self.unknown: set[str] = set()
        self.retired: set[str] = set()
        self._resolved: dict[str, Resolution] = {}
        self._tactics: dict[str, str | None] = {}

    def error(self, path: str, reason: str, *, index: int | None = None, line: int | None = None) -> None:
        """Record a rule (or file) that could not be read."""
        self.errors.append(RuleError(path=path, reason=reason, index=index, line=line))

    def resolve(self, raw: str) -> Resolution:
        """``kb.resolve`` with a per-scan cache."""
        res = self._resolved.get(raw)
        if res is None:
            res = self._resolved[raw] = self.kb.resolve(raw)
        return res

    def tactic(self, raw: str) -> str | None:
        """Tactic shortname for an id, shortname, name or PascalCase/snake_case spelling; None if unknown."""
        if raw not in self._tactics:
            tac = self.kb.tactic(raw)
            self._tactics[raw] = tac.shortname if tac else None
        return self._tactics[raw]

    def build(
        self,
        fmt: RuleFormat,
        path: str,
        *,
        rule_id: Any,
        title: Any,
        raw_status: Any,
        status: RuleStatus | None = None,
        techniques: Iterable[str] = (),
        tactics: Iterable[str] = (),
        platforms: Iterable[str] = (),
        products: Iterable[str] = (),
        kind: Any = None,
        index: int | None = None,
        line: int | None = None,
        warnings: Iterable[str] = (),
    ) -> Rule | None:
        """Resolve techniques and tactics, normalise the status and make the :class:`Rule`.

        ``status`` overrides the mapping of ``raw_status`` (e.g. an ``enabled: false`` flag). Returns None
        (and counts it) for a deprecated rule when deprecated rules were not asked for.
        """
        notes = list(warnings)
        raw_status_text = text(raw_status)
        if status is None:
            status = normalise_status(fmt, raw_status_text, notes)
        if status == "deprecated" and not self.include_deprecated:
            self.deprecated_skipped += 1
            return None
        rid = text(rule_id)
        name = text(title)
        if not rid:
            rid = f"{path}#{index}" if index is not None else path
            notes.append("no rule id: using the file location")
        if not name:
            name = rid
            notes.append("no title")
        raw_ids: list[str] = []
        current: list[str] = []
        redirects: dict[str, str] = {}
        unknown: list[str] = []
        for raw in techniques:
            raw_ids.append(raw)
            res = self.resolve(raw)
            if res.status == "invalid":
                notes.append(f"not a technique id: {raw!r}")
                continue
            if res.status == "revoked" and res.redirected_from:
                redirects[res.redirected_from] = res.id
                self.redirected[res.redirected_from] = res.id
            elif res.status == "unknown":
                unknown.append(res.id)
                self.unknown.add(res.id)
                notes.append(f"technique {res.id} is unknown to ATT&CK {self.kb.version}")
            elif res.status == "deprecated":
                self.retired.add(res.id)
                notes.append(f"technique {res.id} is deprecated in ATT&CK {self.kb.version} (no replacement)")
            if res.id not in current:
                current.append(res.id)
        shortnames: list[str] = []
        for raw in tactics:
            short = self.tactic(raw)
            if short is None:
                notes.append(f"unknown tactic {raw!r}")
            elif short not in shortnames:
                shortnames.append(short)
        return Rule(
            id=rid, title=name, format=fmt, path=path, status=status, raw_status=raw_status_text,
            techniques=tuple(current), raw_techniques=tuple(raw_ids), redirects=redirects,
            unknown_techniques=tuple(dict.fromkeys(unknown)), tactics=tuple(shortnames),
            platforms=tuple(dict.fromkeys(platforms)), products=tuple(dict.fromkeys(products)),
            kind=text(kind), index=index, line=line, warnings=tuple(notes),
        )


def normalise_status(fmt: RuleFormat, raw: str | None, notes: list[str]) -> RuleStatus:
    """Map a format's own status word to a :data:`RuleStatus`; unknown words -> ``unknown`` (noted)."""
    if raw is None:
        return "unknown"
    status = STATUS_MAP[fmt].get(raw.strip().lower())
    if status is None:
        notes.append(f"unrecognised status {raw!r}")
        return "unknown"
    return status


def text(value: Any) -> str | None:
    """A scalar as stripped text (None for missing, empty or non-scalar values)."""
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    out = str(value).strip()
    return out or None


def str_list(value: Any, split: bool = False) -> list[str] | None:
    """A list of scalars (or one scalar) as a list of text; None when the value has the wrong shape.

    With ``split``, a string is split on ``;``, ``,`` and white space (several ids in one cell).
    """
    if value is None:
        return []
    if isinstance(value, str):
        parts = _LIST_SPLIT.split(value) if split else [value]
        return [p.strip() for p in parts if p.strip()]
    if isinstance(value, list | tuple):
        out: list[str] = []
        for item in value:
            if isinstance(item, dict | list):
                return None
            item_text = text(item)
            if item_text:
                out.extend(str_list(item_text, split) or [])
        return out
    return None


def decode(data: bytes) -> str:
    """Rule file bytes -> text (UTF-8 with or without BOM, or UTF-16 with a BOM).

    Raises UnicodeDecodeError for anything else.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")


#: Top-level keys whose values the readers use; other values of a top-level mapping are not built
#: (they become :data:`UNREAD`), which halves the cost of big ``detection``/``query`` blocks.
WANTED_KEYS = frozenset({
    "action", "enabled", "id", "kind", "logsource", "name", "relevantTechniques", "rules", "status", "tactics",
    "tags", "title", "type",
})  # fmt: skip
UNREAD = "<not read>"


def _construct(loader: Any, node: Any) -> Any:
    """Build a document, but only the wanted values of a top-level mapping with plain keys."""
    if isinstance(node, yaml.MappingNode) and all(
        isinstance(k, yaml.ScalarNode) and k.tag == "tag:yaml.org,2002:str" for k, _ in node.value
    ):
        try:
            return {
                key.value: loader.construct_object(value, deep=True) if key.value in WANTED_KEYS else UNREAD
                for key, value in node.value
            }
        finally:
            loader.constructed_objects = {}
            loader.recursive_objects = {}
    return loader.construct_document(node)


def yaml_documents(ctx: Context, path: str, source: str) -> Iterator[tuple[int, int | None, Any]]:
    """``(index, first line, document)`` for each YAML document; a syntax error is recorded and ends
    the file (documents before it are still yielded). See :data:`WANTED_KEYS`."""
    loader = YamlLoader(source)
    index = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            line = node.start_mark.line + 1 if node is not None else None
            yield index, line, _construct(loader, node) if node is not None else None
            index += 1
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        ctx.error(path, f"invalid YAML: {problem}", index=index, line=mark.line + 1 if mark else None)
    except RecursionError:
        ctx.error(path, "invalid YAML: nested too deeply", index=index)
    finally:
        loader.dispose()


def dig(doc: Any, *keys: str) -> Any:
    """``doc[k1][k2]...`` or None when a level is missing or not a mapping."""
    for key in keys:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc
