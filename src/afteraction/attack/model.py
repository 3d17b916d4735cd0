"""Compiled ATT&CK model: plain, typed, JSON/msgpack-serialisable msgspec Structs.

Everything here is produced by :mod:`afteraction.attack.compile` from a source (bundled lookup files or a
STIX bundle) and stored in the compiled cache. Leaf structs use ``gc=False`` (they never form cycles), which
keeps cache decoding fast.
"""

from __future__ import annotations

from typing import Literal

import msgspec

#: Bump whenever the compiled layout or the compile rules change: it is part of every cache key.
COMPILER_VERSION = "1"

Status = Literal["active", "revoked", "deprecated", "unknown", "invalid"]


class Tactic(msgspec.Struct, frozen=True, gc=False):
    """An ATT&CK tactic (TA0001...) with its kill-chain shortname."""

    id: str
    shortname: str
    name: str
    url: str = ""
    stix_id: str = ""


class Technique(msgspec.Struct, frozen=True, gc=False):
    """A technique or sub-technique, including revoked and deprecated ones (flagged)."""

    id: str
    name: str
    stix_id: str = ""
    tactics: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    parent: str | None = None
    is_subtechnique: bool = False
    deprecated: bool = False
    revoked: bool = False
    revoked_by: str | None = None
    url: str = ""
    description: str = ""

    @property
    def active(self) -> bool:
        """Neither revoked nor deprecated."""
        return not (self.revoked or self.deprecated)

    @property
    def status(self) -> Status:
        """``active``, ``revoked`` or ``deprecated``."""
        if self.revoked:
            return "revoked"
        return "deprecated" if self.deprecated else "active"


class Group(msgspec.Struct, frozen=True, gc=False):
    """An intrusion set. ``techniques``/``software`` are its *direct* ``uses``."""

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    url: str = ""
    stix_id: str = ""
    description: str = ""
    techniques: tuple[str, ...] = ()
    software: tuple[str, ...] = ()
    campaigns: tuple[str, ...] = ()


class Campaign(msgspec.Struct, frozen=True, gc=False):
    """A campaign, its attributed groups and its own ``uses``."""

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    url: str = ""
    stix_id: str = ""
    description: str = ""
    first_seen: str | None = None
    last_seen: str | None = None
    groups: tuple[str, ...] = ()
    techniques: tuple[str, ...] = ()
    software: tuple[str, ...] = ()


class Software(msgspec.Struct, frozen=True, gc=False):
    """Malware or tool (``kind``) with aliases, platforms and the techniques it uses."""

    id: str
    name: str
    kind: str = "malware"
    aliases: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    url: str = ""
    stix_id: str = ""
    description: str = ""
    techniques: tuple[str, ...] = ()


class Mitigation(msgspec.Struct, frozen=True, gc=False):
    """An active mitigation (course-of-action)."""

    id: str
    name: str
    url: str = ""
    stix_id: str = ""
    description: str = ""


class MitigationAdvice(msgspec.Struct, frozen=True, gc=False):
    """A mitigation applied to one technique, with the technique-specific advice (short form)."""

    mitigation_id: str
    name: str
    advice: str = ""
    url: str = ""


class LogSource(msgspec.Struct, frozen=True, gc=False):
    """A log source: ``name`` (e.g. ``WinEventLog:Security``) and ``channel`` (e.g. ``EventCode=4769``)."""

    name: str
    channel: str = ""
    data_component: str | None = None


class DataComponent(msgspec.Struct, frozen=True, gc=False):
    """A data component (DC0001...) and its log sources."""

    id: str
    name: str
    stix_id: str = ""
    description: str = ""
    log_sources: tuple[LogSource, ...] = ()
    deprecated: bool = False


class Analytic(msgspec.Struct, frozen=True, gc=False):
    """A platform-specific analytic (AN0001...) with the log sources it reads."""

    id: str
    name: str
    stix_id: str = ""
    url: str = ""
    description: str = ""
    platforms: tuple[str, ...] = ()
    log_sources: tuple[LogSource, ...] = ()
    data_components: tuple[str, ...] = ()


class DetectionStrategy(msgspec.Struct, frozen=True, gc=False):
    """A v18+ detection strategy (DET0001...): analytics ids and the techniques it detects."""

    id: str
    name: str
    stix_id: str = ""
    url: str = ""
    analytics: tuple[str, ...] = ()
    techniques: tuple[str, ...] = ()


class KBData(msgspec.Struct, gc=False):
    """The whole compiled knowledge base, as stored in the cache."""

    compiler_version: str
    version: str
    version_origin: str
    source: str
    source_hash: str
    tactics: list[Tactic]
    techniques: dict[str, Technique]
    groups: dict[str, Group]
    campaigns: dict[str, Campaign]
    software: dict[str, Software]
    mitigations: dict[str, Mitigation]
    technique_mitigations: dict[str, list[MitigationAdvice]]
    detection_strategies: dict[str, DetectionStrategy]
    analytics: dict[str, Analytic]
    data_components: dict[str, DataComponent]
    technique_detections: dict[str, list[str]]
    legacy_detections: dict[str, list[str]]
    object_redirects: dict[str, str]
    bundle_id: str = ""
    spec_version: str = ""
