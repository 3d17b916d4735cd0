"""Reader contract and the record loops every reader shares.

A reader is ``read(stream, *, file) -> Iterator[Item]``: it yields canonical :class:`Incident` or
:class:`Alert` records and a :class:`Rejection` for every record it cannot use, and never stops at a
bad record. Whole-file problems (empty, not JSON) raise :class:`afteraction.errors.FormatError`.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, Protocol

import msgspec

from afteraction.errors import FormatError, Location
from afteraction.ingest.normalize import FieldError
from afteraction.ingest.scan import bad_utf8_pointer
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


def convert_one(raw: bytes, convert: Convert, *, file: str, record: int, prefix: str, line: int | None = None) -> Item:
    """Decode and convert one record, turning every record-level failure into a :class:`Rejection`.

    Besides msgspec's errors this covers invalid UTF-8 inside a string, nesting deeper than the
    recursion limit and any other ``ValueError``/``OverflowError`` raised while converting.
    """
    try:
        return convert(raw)
    except msgspec.ValidationError as exc:
        reason, pointer = split_validation(str(exc))
    except FieldError as exc:
        reason, pointer = exc.reason, exc.pointer
    except msgspec.DecodeError as exc:
        reason, pointer = f"invalid JSON: {exc}", ""
    except UnicodeDecodeError as exc:
        reason, pointer = f"invalid UTF-8 in a string ({exc.reason})", bad_utf8_pointer(raw)
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as where:
            reason = f"invalid UTF-8 at byte {where.start} of the record ({where.reason})"
    except RecursionError:
        reason, pointer = "JSON nested too deeply to read", ""
    except (ValueError, OverflowError) as exc:
        reason, pointer = f"unusable value: {exc}", ""
    return Rejection(
        file=file, record=record, pointer=prefix + pointer or None, line=line, reason=reason, snippet=snippet(raw)
    )


READ_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)
"""Errors of a damaged compressed stream (truncated, corrupt data or CRC) raised part-way through reading."""
_CHUNK = 1 << 20


def read_error_reason(exc: BaseException) -> str:
    """Reason text for a :data:`READ_ERRORS` exception."""
    return f"truncated or corrupt compressed data ({type(exc).__name__}: {exc})"


def _read_upto(read: Callable[[int], bytes], limit: int | None) -> tuple[list[bytes], int, str | None, bool]:
    """Chunks read until EOF, a read error or more than ``limit`` bytes: (chunks, size, error, at_end)."""
    chunks = []
    size = 0
    try:
        while limit is None or size <= limit:
            chunk = read(_CHUNK)
            if not chunk:
                return chunks, size, None, True
            chunks.append(chunk)
            size += len(chunk)
    except READ_ERRORS as exc:
        return chunks, size, read_error_reason(exc), True
    return chunks, size, None, False


def _reader(stream: BinaryIO) -> Callable[[int], bytes]:
    return getattr(stream, "read1", None) or stream.read


def _whole(data: bytes, error: str | None, file: str) -> bytes:
    if data.startswith(BOM):
        data = data[3:]
    if not data.strip():
        raise FormatError(f"cannot read: {error}" if error else "the file is empty", Location(file=file))
    return data


def read_whole(stream: BinaryIO, file: str) -> tuple[bytes, str | None]:
    """Whole content without BOM, and the reason the read stopped early (damaged compressed data) or None.

    Read in chunks (``read1`` where available) so that everything decompressed before the damage is
    kept. An empty or blank file, or one whose damage leaves nothing readable, raises :class:`FormatError`.
    """
    chunks, _, error, _ = _read_upto(_reader(stream), None)
    return _whole(b"".join(chunks), error, file), error


def read_single(stream: BinaryIO, file: str, convert: Convert) -> Iterator[Item]:
    """One JSON object as one record (record 0)."""
    data, read_error = read_whole(stream, file)
    if data.lstrip()[:1] != b"{":
        raise FormatError("not a JSON object", Location(file=file))
    item = convert_one(data, convert, file=file, record=0, prefix="")
    if read_error is None:
        yield item
    elif isinstance(item, Rejection):
        yield msgspec.structs.replace(item, reason=f"{read_error}: the object is incomplete ({item.reason})")
    else:
        yield item
        yield _tail(data, file, None, None, f"{read_error} after the end of the JSON document")


def read_lines(stream: BinaryIO, file: str, convert: Convert) -> Iterator[Item]:
    """NDJSON: one record per non-blank line, read line by line (record = line number - 1).

    Damaged compressed data ends the file: every complete line before it is yielded, then one
    rejection for the rest (unless not a single line could be read, which raises :class:`FormatError`).
    """
    seen = False
    number = 0
    readline = stream.readline
    while True:
        try:
            line = readline()
        except READ_ERRORS as exc:
            reason = read_error_reason(exc)
            if not seen:
                raise FormatError(f"cannot read: {reason}", Location(file=file, line=number + 1)) from None
            yield Rejection(
                file=file,
                record=number,
                pointer=None,
                line=number + 1,
                reason=f"{reason} after line {number}; lines from {number + 1} on are unreadable",
            )
            return
        if not line:
            break
        number += 1
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


def _tail(
    data: bytes, file: str, record: int | None, pos: int | None, reason: str, prefix: str = "", lines: int = 0
) -> Rejection:
    line = None if pos is None else lines + data.count(b"\n", 0, pos) + 1
    return Rejection(
        file=file,
        record=record,
        pointer=None if record is None else f"{prefix}/{record}",
        line=line,
        reason=reason,
        snippet=None if pos is None else snippet(data[pos : pos + SNIPPET_CHARS * 4]) or None,
    )


def as_dict_list(value: Any) -> list[dict[str, Any]]:
    """Type helper: a decoded list of dicts or an empty list."""
    return value or []
