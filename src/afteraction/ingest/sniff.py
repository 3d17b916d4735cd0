"""Opening inputs (gzip by magic bytes, UTF-8 BOM stripped) and format sniffing from content.

Sniffing peeks at the first :data:`PEEK_BYTES` of the decompressed content and never reads a whole
large file; it looks for the envelope, then at the first record's own (top-level) keys only: its
``@odata.type``, else marker keys.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from pathlib import Path
from typing import BinaryIO

from afteraction.errors import FormatError, Location
from afteraction.ingest.base import READ_ERRORS
from afteraction.ingest.scan import Damaged, expect, object_keys, skip_value, string_at, ws

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
    """Up to :data:`PEEK_BYTES` of content; damaged compressed data keeps what was read before it."""
    chunks: list[bytes] = []
    size = 0
    with open_input(path) as stream:
        try:
            while size < PEEK_BYTES and (chunk := stream.read1(PEEK_BYTES - size)):  # type: ignore[attr-defined]
                chunks.append(chunk)
                size += len(chunk)
        except (OSError, *READ_ERRORS) as exc:
            if not chunks:
                raise FormatError(f"cannot read: {exc}", Location(file=str(path))) from None
    return b"".join(chunks)


_CONTEXT = re.compile(r"#security/(incidents|alerts_v2)")
_LEGACY = (b"incidentName", b"incidentUri")
_MDE = (b"alertCreationTime", b"machineId", b"computerDnsName", b"firstEventTime")
_ALERT = (b"title", b"evidence", b"mitreTechniques", b"providerAlertId", b"alertWebUrl")


def _kind(head: bytes, start: int | None) -> str | None:
    """``legacy``, ``mde``, ``incident`` or ``alert`` from the own (top-level) keys of the record at ``start``.

    Keys of nested objects (``userAccount.displayName``, an incident's ``alerts[].title``) never count.
    """
    if start is None:
        return None
    keys = object_keys(head, start)
    odata = keys.get(b"@odata.type")
    odata_type = (string_at(head, odata) or "") if odata is not None else ""
    if odata_type.endswith(".incident"):
        return "incident"
    if odata_type.endswith(".alert"):
        return "alert"
    if any(k in keys for k in _LEGACY):
        return "legacy"
    if any(k in keys for k in _MDE):
        return "mde"
    if b"alerts" in keys or (b"title" not in keys and (b"displayName" in keys or b"incidentWebUrl" in keys)):
        return "incident"
    if any(k in keys for k in _ALERT):
        return "alert"
    return None


def _layout(text: bytes) -> tuple[bool, int | None, str | None]:
    """(is a list response, start of the first record's object or None, the envelope's ``@odata.context``)."""
    context = None
    if text[:1] == b"[":
        array = 0
    else:
        keys = object_keys(text, 0)
        if b"@odata.context" in keys:
            context = string_at(text, keys[b"@odata.context"])
        value = keys.get(b"value")
        if value is None or text[value : value + 1] != b"[":
            listed = context is not None and _CONTEXT.search(context) is not None
            return listed, None if listed else 0, context
        array = value
    return True, _first_object(text, array), context


def _first_object(text: bytes, array: int) -> int | None:
    """Start of the first object element of the array at ``array`` (non-objects skipped), if in ``text``."""
    try:
        p = ws(text, expect(text, array, b"["))
        while text[p : p + 1] not in (b"{", b"]", b""):
            p = ws(text, expect(text, skip_value(text, p), b","))
    except Damaged:
        return None
    return p if text[p : p + 1] == b"{" else None


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
    listed, first, context = _layout(text)
    kind = _kind(text, first)
    if listed:
        named = _CONTEXT.search(context or "")
        if named and kind not in ("legacy", "mde"):
            kind = "incident" if named.group(1) == "incidents" else "alert"
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
