"""Service-level targets per severity (time to acknowledge, time to resolve) and their ``--sla`` syntax.

Syntax: comma-separated ``SEVERITY=ACK/RESOLVE`` items, each duration a number with a unit (``s``,
``m``/``min``, ``h``, ``d``, ``w``), for example ``high=1h/24h,medium=4h/3d``. Either duration may be left
empty to keep the default (``low=/5d``). Severities not named keep their defaults (:data:`DEFAULT_TARGETS`).
"""

from __future__ import annotations

import re

import msgspec

from afteraction.errors import UsageError

SEVERITIES = ("high", "medium", "low", "informational")
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$")


class SlaTarget(msgspec.Struct, frozen=True, kw_only=True):
    """The targets of one severity, in seconds."""

    severity: str
    acknowledge_seconds: float
    resolve_seconds: float


class SlaTargets(msgspec.Struct, frozen=True, kw_only=True):
    """One target per severity (high, medium, low, informational), in that order."""

    targets: tuple[SlaTarget, ...]

    def get(self, severity: str) -> SlaTarget | None:
        return next((t for t in self.targets if t.severity == severity), None)


#: high 1 h / 24 h, medium 4 h / 72 h, low 24 h / 7 d, informational 72 h / 30 d.
DEFAULT_TARGETS = SlaTargets(targets=(
    SlaTarget(severity="high", acknowledge_seconds=3600, resolve_seconds=86400),
    SlaTarget(severity="medium", acknowledge_seconds=4 * 3600, resolve_seconds=72 * 3600),
    SlaTarget(severity="low", acknowledge_seconds=86400, resolve_seconds=7 * 86400),
    SlaTarget(severity="informational", acknowledge_seconds=72 * 3600, resolve_seconds=30 * 86400),
))


def parse_duration(text: str, what: str = "SLA duration") -> float:
    """``90s``, ``15min``, ``4h``, ``3d``, ``1w`` -> seconds (positive); UsageError naming ``what`` otherwise."""
    match = _DURATION.match(text.lower())
    if not match or match.group(2) not in _UNITS:
        raise UsageError(f"bad {what} {text!r}: use a number and a unit (s, min, h, d, w), e.g. 4h or 3d")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise UsageError(f"bad {what} {text!r}: it must be positive")
    return seconds


def parse_sla(text: str, base: SlaTargets = DEFAULT_TARGETS) -> SlaTargets:
    """Targets from ``high=1h/24h,medium=4h/3d`` over ``base`` (the defaults); UsageError on bad input."""
    current = {t.severity: t for t in base.targets}
    seen: set[str] = set()
    items = [item.strip() for item in text.split(",")]
    if not any(items):
        raise UsageError("empty --sla: use SEVERITY=ACK/RESOLVE items, e.g. high=1h/24h,medium=4h/3d")
    for item in items:
        severity, eq, value = item.partition("=")
        severity = severity.strip().lower()
        if not eq or "/" not in value:
            raise UsageError(f"bad --sla item {item!r}: use SEVERITY=ACK/RESOLVE, e.g. high=1h/24h")
        if severity not in current:
            raise UsageError(f"bad --sla item {item!r}: unknown severity {severity!r} "
                             f"(use {', '.join(SEVERITIES)})")
        if severity in seen:
            raise UsageError(f"bad --sla: severity {severity!r} given twice")
        seen.add(severity)
        ack_text, _, resolve_text = value.partition("/")
        if not ack_text.strip() and not resolve_text.strip():
            raise UsageError(f"bad --sla item {item!r}: give at least one duration")
        old = current[severity]
        current[severity] = SlaTarget(
            severity=severity,
            acknowledge_seconds=parse_duration(ack_text) if ack_text.strip() else old.acknowledge_seconds,
            resolve_seconds=parse_duration(resolve_text) if resolve_text.strip() else old.resolve_seconds)
    return SlaTargets(targets=tuple(current[s] for s in SEVERITIES if s in current))


__all__ = ["DEFAULT_TARGETS", "SEVERITIES", "SlaTarget", "SlaTargets", "parse_duration", "parse_sla"]
