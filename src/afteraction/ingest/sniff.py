"""Opening inputs (gzip by magic bytes, UTF-8 BOM stripped) and format sniffing from content.

Sniffing peeks at the first :data:`PEEK_BYTES` of the decompressed content and never reads a whole
large file; it looks for the envelope, the first record's ``@odata.type`` and marker keys.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from pathlib import Path
from typing import BinaryIO

from afteraction.errors import FormatError, Location

GZIP_MAGIC = b"\x1f\x8b"
BOM = b"\xef\xbb\xbf"
PEEK_BYTES = 64 * 1024
FORMATS = (
    "graph-incidents",
    "graph-incident",
    "graph-ndjson",
    "graph-alerts",
    "m365d-incidents",
    "mde-alerts",
)


def open_input(path: str | Path) -> BinaryIO:
    """Open ``path`` for binary reading; gunzip when it starts with the gzip magic; skip a UTF-8 BOM."""
    with open(path, "rb") as probe:
        magic = probe.read(2)
    # returned to the caller, who closes it
    stream: BinaryIO = gzip.open(path, "rb") if magic == GZIP_MAGIC else open(path, "rb")  # type: ignore[assignment]  # noqa: SIM115
    try:
        if stream.peek(3)[:3] == BOM:  # type: ignore[attr-defined]
            stream.read(3)
    except (OSError, EOFError) as exc:
        stream.close()
        raise FormatError(f"cannot read: {exc}", Location(file=str(path))) from None
    return stream


def _head(path: str | Path) -> bytes:
    with open_input(path) as stream:
        try:
            return stream.read(PEEK_BYTES)
        except (OSError, EOFError) as exc:
            raise FormatError(f"cannot read: {exc}", Location(file=str(path))) from None


_ENVELOPE = re.compile(rb'^\s*\{\s*(?:"@odata\.[^"]*"\s*:\s*(?:"[^"]*"|null|\d+)\s*,\s*)*"value"\s*:\s*\[')
_ODATA_TYPE = re.compile(rb'"@odata\.type"\s*:\s*"#microsoft\.graph\.security\.(incident|alert)"')
_ALERTS_ARRAY = re.compile(rb'"alerts"\s*:\s*\[')
_CONTEXT = re.compile(rb'"@odata\.context"\s*:\s*"[^"]*#security/(incidents|alerts_v2)')


def _key(name: bytes) -> re.Pattern[bytes]:
    return re.compile(rb'"' + name + rb'"\s*:')


_MDE = [_key(k) for k in (b"alertCreationTime", b"machineId", b"computerDnsName", b"firstEventTime")]
_LEGACY = [_key(k) for k in (b"incidentName", b"incidentUri")]
_INCIDENT = [_key(k) for k in (b"displayName", b"alerts", b"incidentWebUrl")]
_ALERT = [_key(k) for k in (b"title", b"evidence", b"mitreTechniques", b"providerAlertId", b"alertWebUrl")]


def _kind(head: bytes) -> str | None:
    """``legacy``, ``mde``, ``incident`` or ``alert`` for the first record in ``head``."""
    odata = _ODATA_TYPE.search(head)
    if odata:
        kind = odata.group(1).decode()
        nested = _ALERTS_ARRAY.search(head)
        return "incident" if kind == "alert" and nested and nested.start() < odata.start() else kind
    if any(p.search(head) for p in _LEGACY):
        return "legacy"
    if any(p.search(head) for p in _MDE):
        return "mde"
    if any(p.search(head) for p in _INCIDENT):
        return "incident"
    if any(p.search(head) for p in _ALERT):
        return "alert"
    return None


def _is_ndjson(head: bytes) -> bool:
    newline = head.find(b"\n")
    if newline < 0:
        return len(head) >= PEEK_BYTES  # one huge line: treat as JSON lines
    first = head[:newline].strip()
    if not first.startswith(b"{"):
        return False
    try:
        json.loads(first)
    except ValueError:
        return False
    return True


def sniff_bytes(head: bytes, file: str) -> str:
    """Format name from the first bytes (decompressed, BOM stripped) of ``file``."""
    text = head.lstrip()
    if not text:
        raise FormatError("the file is empty", Location(file=file))
    known = ", ".join(FORMATS)
    if text[:1] not in (b"{", b"["):
        raise FormatError(f"not JSON; known formats: {known}", Location(file=file))
    kind = _kind(text)
    if text[:1] == b"[" or _ENVELOPE.match(text) or _CONTEXT.search(text):
        context = _CONTEXT.search(text)
        if context and kind not in ("legacy", "mde"):
            kind = "incident" if context.group(1) == b"incidents" else "alert"
        fmt = {
            "legacy": "m365d-incidents",
            "mde": "mde-alerts",
            "incident": "graph-incidents",
            "alert": "graph-alerts",
        }.get(kind or "")
    elif _is_ndjson(text) and kind in ("incident", "alert"):
        fmt = "graph-ndjson"
    else:
        fmt = "graph-incident" if kind == "incident" else None
    if fmt is None:
        raise FormatError(f"unknown or ambiguous input format; known formats: {known}", Location(file=file))
    return fmt


def sniff(path: str | Path) -> str:
    """Format name of the file at ``path`` from its content (gzip and BOM handled)."""
    return sniff_bytes(_head(path), str(path))


def peekable(stream: BinaryIO) -> BinaryIO:
    """Wrap a raw stream so it supports ``peek`` (used by callers that bring their own stream)."""
    return stream if hasattr(stream, "peek") else io.BufferedReader(stream)  # type: ignore[arg-type]
