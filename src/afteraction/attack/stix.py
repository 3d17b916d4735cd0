"""Read a STIX 2.0 or 2.1 ATT&CK bundle (plain JSON or gzip) into typed, minimal STIX objects.

Only the fields the compiler needs are decoded (msgspec skips the rest), which is both faster and lighter
than decoding into dicts. Any problem with the file raises :class:`AttackDataError` naming it.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import Any

import msgspec

from afteraction.errors import AttackDataError

ATTACK_SOURCES = frozenset({"mitre-attack", "mitre-mobile-attack", "mitre-ics-attack"})


class ExternalRef(msgspec.Struct, gc=False):
    """One ``external_references`` entry."""

    source_name: str = ""
    external_id: str | None = None
    url: str | None = None


class KillChainPhase(msgspec.Struct, gc=False):
    """One ``kill_chain_phases`` entry."""

    kill_chain_name: str = ""
    phase_name: str = ""


class LogSourceRef(msgspec.Struct, gc=False):
    """An analytic's ``x_mitre_log_source_references`` entry, or a data component's log source."""

    x_mitre_data_component_ref: str | None = None
    name: str = ""
    channel: str | None = None


class StixObject(msgspec.Struct, gc=False):
    """The subset of STIX/ATT&CK fields afteraction uses, for every object type."""

    type: str
    id: str
    name: str | None = None
    description: str | None = None
    external_references: list[ExternalRef] = []
    revoked: bool | None = None
    x_mitre_deprecated: bool | None = None
    # attack-pattern
    kill_chain_phases: list[KillChainPhase] = []
    x_mitre_platforms: list[str] = []
    x_mitre_is_subtechnique: bool | None = None
    # groups, campaigns, software
    aliases: list[str] = []
    x_mitre_aliases: list[str] = []
    first_seen: str | None = None
    last_seen: str | None = None
    # tactic, matrix, collection
    x_mitre_shortname: str | None = None
    tactic_refs: list[str] = []
    x_mitre_version: str | None = None
    x_mitre_attack_spec_version: str | None = None
    modified: str | None = None
    # detection model
    x_mitre_analytic_refs: list[str] = []
    x_mitre_log_source_references: list[LogSourceRef] = []
    x_mitre_log_sources: list[LogSourceRef] = []
    # relationship
    relationship_type: str | None = None
    source_ref: str | None = None
    target_ref: str | None = None

    @property
    def attack_id(self) -> str | None:
        """The ATT&CK id (``external_id`` of the ``mitre-attack`` reference), if any."""
        for ref in self.external_references:
            if ref.source_name in ATTACK_SOURCES and ref.external_id:
                return ref.external_id
        return None

    @property
    def attack_url(self) -> str:
        """The ATT&CK page URL, or ``""``."""
        for ref in self.external_references:
            if ref.source_name in ATTACK_SOURCES and ref.url:
                return ref.url
        return ""

    @property
    def is_revoked(self) -> bool:
        """``revoked`` (missing = false)."""
        return bool(self.revoked)

    @property
    def is_deprecated(self) -> bool:
        """``x_mitre_deprecated`` (missing = false)."""
        return bool(self.x_mitre_deprecated)


class Bundle(msgspec.Struct, gc=False):
    """A STIX bundle."""

    type: str
    id: str = ""
    spec_version: str | None = None
    objects: list[StixObject] = []


_decoder = msgspec.json.Decoder(Bundle)


def read_bytes(path: Path) -> bytes:
    """Read a file, transparently gunzipping it (by magic bytes, not by name)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AttackDataError(f"{path}: cannot read ATT&CK data: {exc.strerror or exc}") from exc
    return maybe_gunzip(data, str(path))


def maybe_gunzip(data: bytes, name: str) -> bytes:
    """Gunzip ``data`` if it starts with the gzip magic bytes."""
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise AttackDataError(f"{name}: corrupt gzip file: {exc}") from exc


def parse_bundle(data: bytes, name: str) -> Bundle:
    """Decode bundle bytes; ``name`` is used in error messages."""
    if not data.strip():
        raise AttackDataError(f"{name}: empty file, not a STIX bundle")
    try:
        bundle = _decoder.decode(data)
    except msgspec.ValidationError as exc:
        raise AttackDataError(f"{name}: not an ATT&CK STIX bundle: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise AttackDataError(f"{name}: not valid JSON: {exc}") from exc
    if bundle.type != "bundle":
        raise AttackDataError(f"{name}: not a STIX bundle (type is {bundle.type!r}, expected 'bundle')")
    if not any(o.type == "attack-pattern" for o in bundle.objects):
        raise AttackDataError(f"{name}: STIX bundle holds no ATT&CK techniques (attack-pattern objects)")
    return bundle


def read_bundle(path: Path) -> Bundle:
    """Read and decode a bundle file (``.json`` or gzip)."""
    return parse_bundle(read_bytes(path), str(path))


def as_object(raw: dict[str, Any]) -> StixObject:
    """Convert a plain dict (e.g. built by the bundled adapter) into a :class:`StixObject`."""
    return msgspec.convert(raw, StixObject)
