"""Reader contract and the record loops every reader shares.

A reader is ``read(stream, *, file) -> Iterator[Item]``: it yields canonical :class:`Incident` or
:class:`Alert` records and a :class:`Rejection` for every record it cannot use, and never stops at a
bad record. Whole-file problems (empty, not JSON) raise :class:`afteraction.errors.FormatError`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, Protocol

import msgspec

from afteraction.errors import FormatError, Location
from afteraction.ingest.normalize import FieldError
from afteraction.model import Alert, Incident

SNIPPET_CHARS = 500
BOM = b"\xef\xbb\xbf"


class Rejection(msgspec.Struct, frozen=True, kw_only=True):
    """One input record that could not be used: where it is, why, and the start of its text."""

    file: str | None
    record: int | None
    pointer: str | None
    line: int | None
    reason: str
    snippet: str | None = None

    @property
    def location(self) -> Location:
        """The same place as an :class:`afteraction.errors.Location`."""
        return Location(file=self.file, record=self.record, pointer=self.pointer, line=self.line)


Item = Incident | Alert | Rejection


class Reader(Protocol):
    """A streaming reader of one input format."""

    def __call__(self, stream: BinaryIO, *, file: str) -> Iterator[Item]: ...


Convert = Callable[[bytes], Incident | Alert]

_PATH = re.compile(r" - at `\$(.*)`$")
_PATH_TOKEN = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[\"((?:[^\"\\]|\\.)*)\"\]")


def json_pointer(msgspec_path: str) -> str:
    """``$.alerts[0].createdDateTime`` (without ``$``) -> ``/alerts/0/createdDateTime``."""
    parts = []
    for name, index, quoted in _PATH_TOKEN.findall(msgspec_path):
        token = name or index or quoted
        parts.append("/" + token.replace("~", "~0").replace("/", "~1"))
    return "".join(parts)


def split_validation(message: str) -> tuple[str, str]:
    """msgspec ValidationError text -> (reason, relative JSON pointer)."""
    match = _PATH.search(message)
    if match is None:
        return message, ""
    return message[: match.start()], json_pointer(match.group(1))


def snippet(raw: bytes | str) -> str:
    """At most :data:`SNIPPET_CHARS` characters of a record's text."""
    if isinstance(raw, bytes):
        raw = raw[: SNIPPET_CHARS * 4].decode("utf-8", "replace")
    return raw[:SNIPPET_CHARS]


def convert_one(
    raw: bytes, convert: Convert, *, file: str, record: int, prefix: str, line: int | None = None
) -> Item:
    """Decode and convert one record, turning every record-level failure into a :class:`Rejection`."""
    try:
        return convert(raw)
    except msgspec.ValidationError as exc:
        reason, pointer = split_validation(str(exc))
    except FieldError as exc:
        reason, pointer = exc.reason, exc.pointer
    except msgspec.DecodeError as exc:
        reason, pointer = f"invalid JSON: {exc}", ""
    return Rejection(
        file=file, record=record, pointer=prefix + pointer or None, line=line, reason=reason, snippet=snippet(raw)
    )


def read_all(stream: BinaryIO, file: str) -> bytes:
    """Whole content without BOM; an empty or blank file raises :class:`FormatError`."""
    data = stream.read()
    if data.startswith(BOM):
        data = data[3:]
    if not data.strip():
        raise FormatError("the file is empty", Location(file=file))
    return data


class _Envelope(msgspec.Struct):
    value: list[msgspec.Raw] | None = None


_ENVELOPE = msgspec.json.Decoder(_Envelope)
_LIST = msgspec.json.Decoder(list[msgspec.Raw])


def read_records(stream: BinaryIO, file: str, convert: Convert) -> Iterator[Item]:
    """Records of a ``{"value": [...]}`` list response or a bare JSON array, one at a time.

    Each record is decoded on its own, so a bad record becomes a :class:`Rejection` at
    ``/value/<i>/...``. If the file itself is damaged (e.g. truncated), every complete record before
    the damage is still yielded, followed by a rejection naming the byte offset and line.
    """
    data = read_all(stream, file)
    first = data.lstrip()[:1]
    if first not in (b"{", b"["):
        raise FormatError("not a JSON document (expected '{' or '[')", Location(file=file))
    prefix = "/value" if first == b"{" else ""
    try:
        if first == b"{":
            items = _ENVELOPE.decode(data).value
            if items is None:
                raise FormatError('no "value" array: not a list response', Location(file=file, pointer="/value"))
        else:
            items = _LIST.decode(data)
    except msgspec.ValidationError as exc:
        reason, pointer = split_validation(str(exc))
        raise FormatError(f"not a list response: {reason}", Location(file=file, pointer=pointer)) from None
    except msgspec.DecodeError as exc:
        yield from _recover(data, file, convert, prefix, str(exc))
        return
    for i, raw in enumerate(items):
        yield convert_one(bytes(raw), convert, file=file, record=i, prefix=f"{prefix}/{i}")


def read_single(stream: BinaryIO, file: str, convert: Convert) -> Iterator[Item]:
    """One JSON object as one record (record 0)."""
    data = read_all(stream, file)
    if data.lstrip()[:1] != b"{":
        raise FormatError("not a JSON object", Location(file=file))
    yield convert_one(data, convert, file=file, record=0, prefix="")


def read_lines(stream: BinaryIO, file: str, convert: Convert) -> Iterator[Item]:
    """NDJSON: one record per non-blank line, read line by line (record = line number - 1)."""
    seen = False
    for number, line in enumerate(stream, 1):
        if number == 1 and line.startswith(BOM):
            line = line[3:]
        if not line.strip():
            continue
        if not seen and line.lstrip()[:1] not in (b"{", b"["):
            raise FormatError("not JSON lines (a line does not start with '{')", Location(file=file, line=number))
        seen = True
        yield convert_one(line, convert, file=file, record=number - 1, prefix="", line=number)
    if not seen:
        raise FormatError("the file is empty", Location(file=file))


_WS = re.compile(r"[ \t\n\r]*")


class _Damaged(Exception):
    pass


def _recover(data: bytes, file: str, convert: Convert, prefix: str, error: str) -> Iterator[Item]:
    """Walk a damaged document with ``json.JSONDecoder.raw_decode`` and salvage complete records."""
    text = data.decode("utf-8", "replace")
    decoder = json.JSONDecoder()
    index = 0
    pos = 0

    def ws(p: int) -> int:
        return _WS.match(text, p).end()  # type: ignore[union-attr]

    def expect(p: int, char: str) -> int:
        p = ws(p)
        if text[p : p + 1] != char:
            raise _Damaged
        return p + 1

    def array(p: int) -> Iterator[Item]:
        nonlocal index, pos
        p = expect(p, "[")
        pos = p = ws(p)
        if text[p : p + 1] == "]":
            pos = p + 1
            return
        while True:
            pos = p = ws(p)
            _, end = decoder.raw_decode(text, p)
            yield convert_one(
                text[p:end].encode(), convert, file=file, record=index, prefix=f"{prefix}/{index}"
            )
            index += 1
            pos = p = ws(end)
            if text[p : p + 1] == ",":
                p += 1
                continue
            pos = p = expect(p, "]")
            return

    try:
        if prefix:
            p = expect(0, "{")
            while True:
                pos = p = ws(p)
                if text[p : p + 1] == "}":
                    break
                key, p = decoder.raw_decode(text, p)
                p = expect(p, ":")
                if key == "value":
                    yield from array(p)
                    p = pos
                else:
                    _, p = decoder.raw_decode(text, ws(p))
                pos = p = ws(p)
                if text[p : p + 1] == ",":
                    p += 1
        else:
            yield from array(0)
    except (ValueError, IndexError, _Damaged):
        pass
    line = text.count("\n", 0, pos) + 1
    offset = len(text[:pos].encode("utf-8", "replace"))
    yield Rejection(
        file=file,
        record=index,
        pointer=f"{prefix}/{index}",
        line=line,
        reason=f"damaged JSON from byte {offset} (line {line}); records from here on are unreadable ({error})",
        snippet=snippet(text[pos:]) or None,
    )


def as_dict_list(value: Any) -> list[dict[str, Any]]:
    """Type helper: a decoded list of dicts or an empty list."""
    return value or []
