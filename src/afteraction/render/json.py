"""Stable JSON output: sorted keys, UTC ISO-8601 times, UTF-8."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def to_json(value: Any, *, indent: int = 2) -> str:
    """Encode ``value`` (msgspec Structs, dicts, lists, datetimes...) as deterministic JSON text."""
    raw = msgspec.json.Encoder(order="sorted", enc_hook=_default).encode(value)
    return msgspec.json.format(raw, indent=indent).decode() if indent else raw.decode()


def iso(value: datetime | None) -> str | None:
    """A UTC timestamp as ISO-8601 text, or None."""
    return value.isoformat().replace("+00:00", "Z") if value is not None else None
