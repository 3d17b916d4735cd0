"""Stable JSON output: sorted keys, UTC ISO-8601 times, UTF-8."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import msgspec


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


# msgspec escapes C0 controls; C1 controls and bidi/separator characters would reach a terminal raw.
_ESCAPE = re.compile("[\x7f-\x9f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")


def to_json(value: Any, *, indent: int = 2) -> str:
    """Encode ``value`` (msgspec Structs, dicts, lists, datetimes...) as deterministic JSON text.

    Characters that can disguise or control terminal output are written as ``\\uXXXX`` escapes, which
    is the same JSON value.
    """
    raw = msgspec.json.Encoder(order="sorted", enc_hook=_default).encode(value)
    text = msgspec.json.format(raw, indent=indent).decode() if indent else raw.decode()
    return _ESCAPE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def iso(value: datetime | None) -> str | None:
    """A UTC timestamp as ISO-8601 text, or None."""
    return value.isoformat().replace("+00:00", "Z") if value is not None else None
