"""Reading list files: ``{"value": [...]}`` responses and bare JSON arrays, one record at a time.

Small files are read whole and split with msgspec; large ones are walked incrementally
(:class:`_ListStream`) so memory stays bounded by the largest record plus a chunk. Damaged files give
every complete record before the damage, then one located rejection.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import BinaryIO

import msgspec

from afteraction.errors import FormatError, Location
from afteraction.ingest.base import (
    BOM,
    SNIPPET_CHARS,
    Convert,
    Item,
    Rejection,
    _read_upto,
    _reader,
    _tail,
    _whole,
    convert_one,
    split_validation,
)
from afteraction.ingest.scan import ArrayWalk, Damaged, members, skip_value, ws

STREAM_OVER_BYTES = 4 << 20
"""List files bigger than this (decompressed) are parsed incrementally instead of read whole."""
STREAM_CHUNK = 1 << 20
"""At least this much is read (in :data:`_CHUNK` reads) whenever the incremental parser needs more data."""


class _Envelope(msgspec.Struct):
    value: list[msgspec.Raw] | None = None


_ENVELOPE = msgspec.json.Decoder(_Envelope)
_LIST = msgspec.json.Decoder(list[msgspec.Raw])


def read_records(stream: BinaryIO, file: str, convert: Convert) -> Iterator[Item]:
    """Records of a ``{"value": [...]}`` list response or a bare JSON array, one at a time.

    A file of up to :data:`STREAM_OVER_BYTES` (after decompression) is read into memory whole; a larger
    one is read incrementally (:class:`_ListStream`), so memory stays bounded by the largest record
    plus a chunk. Both give the same items. Each record is decoded on its own, so a bad record becomes
    a :class:`Rejection` at ``/value/<i>/...``. If the file itself is damaged (e.g. truncated, or
    truncated compressed data), every complete record before the damage is still yielded, followed by
    a rejection naming the byte offset and line.
    """
    read = _reader(stream)
    chunks, _, error, at_end = _read_upto(read, STREAM_OVER_BYTES)
    data = b"".join(chunks)
    del chunks
    if at_end:
        yield from _read_list(_whole(data, error, file), error, file, convert)
    else:
        incremental = _ListStream(read, data, file, convert)
        del data  # the stream owns the buffer now and drops what it has consumed
        yield from incremental.items()


def _read_list(data: bytes, read_error: str | None, file: str, convert: Convert) -> Iterator[Item]:
    """:func:`read_records` over the whole (BOM-less, non-blank) content."""
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
        if read_error is None:
            reason, pointer = split_validation(str(exc))
            raise FormatError(f"not a list response: {reason}", Location(file=file, pointer=pointer)) from None
        error = read_error
    except (msgspec.DecodeError, RecursionError) as exc:
        error = read_error or ("JSON nested too deeply" if isinstance(exc, RecursionError) else str(exc))
    else:
        for i, raw in enumerate(items):
            yield convert_one(bytes(raw), convert, file=file, record=i, prefix=f"{prefix}/{i}")
        if read_error is not None:
            yield _tail(data, file, None, None, f"{read_error} after the end of the JSON document")
        return
    yield from _recover(data, file, convert, prefix, error, read_error is not None)


def _recover(data: bytes, file: str, convert: Convert, prefix: str, error: str, read_error: bool) -> Iterator[Item]:
    """Walk a damaged document with the non-recursive scanner and salvage every delimitable record.

    A record that is delimitable but bad (``NaN``, a lone surrogate, deep nesting...) is rejected on its
    own and the walk goes on. A tail rejection is added only when the walk stops on damage (or when the
    compressed stream was damaged): then the records from there on are unreadable.
    """
    walk = ArrayWalk(data)
    index = 0
    found = not prefix
    try:
        if prefix:
            for key, start in members(data, ws(data, 0)):
                if key == b"value" and data[start : start + 1] == b"[":
                    found = True
                    break
        if found:
            for begin, end in walk.elements(start if prefix else ws(data, 0)):
                yield convert_one(data[begin:end], convert, file=file, record=index, prefix=f"{prefix}/{index}")
                index += 1
    except Damaged as exc:
        walk.damage, walk.resume = exc.pos, 0
    if walk.damage is None and not found:
        raise FormatError('no "value" array: not a list response', Location(file=file, pointer="/value"))
    if walk.damage is None:
        if read_error:
            yield _tail(data, file, None, None, f"{error} after the last record")
        return
    pos = walk.resume
    line = data.count(b"\n", 0, walk.damage) + 1
    where = f"byte {walk.damage} (line {line}{', where the data ends' if walk.damage >= len(data) else ''})"
    lost = "records from here on are unreadable"
    reason = (
        f"{error}: readable data ends at {where}; {lost}"
        if read_error
        else f"damaged JSON at {where}; {lost} ({error})"
    )
    yield _tail(data, file, index, pos, reason, prefix)


_LOST = "records from here on are unreadable"
_BYTE_AT = re.compile(r"\(byte (\d+)\)")


_TRAILING = re.compile(r"JSON is malformed: trailing characters \(byte (\d+)\)")
_RAW = msgspec.json.Decoder(msgspec.Raw)


def _container_end(view: memoryview, q: int) -> int:
    """End of the valid JSON object or array at ``view[q]`` found by msgspec (fast), or 0 when there is none
    (not a container, invalid, too deep, or running past the data): then the scanner delimits it. For valid
    JSON the end is the one the scanner finds."""
    opener = view[q : q + 1]
    if opener not in (b"{", b"["):
        return 0
    try:
        _RAW.decode(view[q:])
        end = len(view)
    except msgspec.DecodeError as exc:
        match = _TRAILING.fullmatch(str(exc))
        if match is None:
            return 0
        end = q + int(match.group(1)) - 1  # msgspec counts past the first trailing byte
    except RecursionError:
        return 0
    while view[end - 1] in b" \t\n\r":  # the value ends with its closing bracket
        end -= 1
    return end if view[end - 1 : end] == (b"}" if opener == b"{" else b"]") else 0


class _Fallback(Exception):
    """The document is unusual before its array starts: read it whole instead (exactly as a small file)."""


class _ListStream:
    """:func:`read_records` for a large file: the array is walked incrementally.

    ``buf`` holds the content (BOM excluded) from byte ``base`` on; ``lines`` counts the newlines before
    it. Nothing is dropped until the array starts: anything unusual before it (no ``value`` array, a
    prefix msgspec would reject) falls back to reading the file whole. Then each element is delimited
    (by msgspec when it is a valid object or array, else by the scanner) once the separator after it is
    in the buffer (or the data has ended) and handed to :func:`convert_one`; when an element runs past
    the buffer, the consumed bytes are dropped, at least a chunk more is read and the element is
    rescanned from its start. Damage and the reasons given for it are the same as for the whole-file
    path: the decode error msgspec would report for the whole document is reproduced by decoding the
    damaged part behind a stand-in for what came before it, its byte offset shifted back.
    """

    def __init__(self, read: Callable[[int], bytes], data: bytes, file: str, convert: Convert) -> None:
        self.read = read
        self.buf = data[3:] if data.startswith(BOM) else data
        self.base = 0
        self.lines = 0
        self.eof = False
        self.error: str | None = None
        self.file = file
        self.convert = convert
        self.head = b""
        self.envelope = False

    def more(self, keep: int) -> int:
        """Drop ``buf[:keep]`` and read at least a chunk more; returns ``keep`` (the shift of positions)."""
        if keep:
            self.lines += self.buf.count(b"\n", 0, keep)
            self.base += keep
            self.buf = self.buf[keep:]
        chunks, _, self.error, self.eof = _read_upto(self.read, max(STREAM_CHUNK, len(self.buf)) - 1)
        self.buf = b"".join([self.buf, *chunks])
        return keep

    def items(self) -> Iterator[Item]:
        while True:
            start = len(self.buf) - len(self.buf.lstrip())
            if start < len(self.buf) or self.eof:
                break
            self.more(0)
        if start >= len(self.buf):
            error = self.error
            raise FormatError(f"cannot read: {error}" if error else "the file is empty", Location(file=self.file))
        first = self.buf[start : start + 1]
        if first not in (b"{", b"["):
            raise FormatError("not a JSON document (expected '{' or '[')", Location(file=self.file))
        self.envelope = first == b"{"
        try:
            if ws(self.buf, 0) != start:
                raise _Fallback
            array = self._value_array(start) if self.envelope else start
        except _Fallback:
            if not self.eof:
                chunks, _, self.error, self.eof = _read_upto(self.read, None)
                self.buf = b"".join([self.buf, *chunks])
            yield from _read_list(self.buf, self.error, self.file, self.convert)
            return
        self.head = self.buf[:array]
        yield from self._walk(array + 1)

    def _value_array(self, start: int) -> int:
        """Position of the ``[`` of the first ``value`` member; :class:`_Fallback` when there is none."""
        while True:
            try:
                for key, value in members(self.buf, start):
                    if value >= len(self.buf):
                        raise Damaged(value)
                    if key != b"value":
                        continue
                    if self.buf[value : value + 1] != b"[":
                        raise _Fallback
                    try:
                        _ENVELOPE.decode(self.buf[:value] + b"[]}")
                    except (msgspec.DecodeError, RecursionError):
                        raise _Fallback from None
                    return value
                raise _Fallback
            except Damaged as exc:
                if exc.pos < len(self.buf) or self.eof:
                    raise _Fallback from None
                self.more(0)

    def _decode_error(self, context: bytes, at: int, rest: bytes) -> str | None:
        """msgspec's error for the whole document, when it fails at or after ``buf[at]``: the document is
        stood in for by the kept head, ``context`` (what the array parser expects at ``at``) and ``rest``."""
        decoder = _ENVELOPE if self.envelope else _LIST
        doc = self.head + context + rest
        try:
            decoder.decode(doc)
        except RecursionError:
            return "JSON nested too deeply"
        except msgspec.DecodeError as exc:
            shift = self.base + at - len(self.head) - len(context)
            return _BYTE_AT.sub(lambda m: f"(byte {int(m.group(1)) + shift})", str(exc))
        return None

    def _walk(self, p: int) -> Iterator[Item]:
        file, prefix = self.file, "/value" if self.envelope else ""
        index = 0
        context = b"["  # stand-in for what precedes p: the array start, or b"[0," after a comma
        first_error: str | None = None
        view = memoryview(b"")
        while True:
            buf = self.buf
            if view.obj is not buf:
                view = memoryview(buf)
            q = ws(buf, p)
            try:
                if context == b"[" and buf[q : q + 1] == b"]":
                    r = q
                    break
                end = _container_end(view, q) or skip_value(buf, q)
                r = ws(buf, end)
                if r >= len(buf) and not self.eof:
                    raise Damaged(r)
            except Damaged as exc:
                if exc.pos >= len(buf) and not self.eof:
                    buf = view = memoryview(b"")  # let go of the old buffer before reading more
                    p -= self.more(p)
                    continue
                yield self._damaged(index, exc.pos, q, context, first_error)
                return
            raw = buf[q:end]
            item = convert_one(raw, self.convert, file=file, record=index, prefix=f"{prefix}/{index}")
            if first_error is None and isinstance(item, Rejection):
                closing = buf[end : r + 1] + (b"0]" if buf[r : r + 1] == b"," else b"")
                first_error = self._decode_error(context, q, raw + closing + (b"}" if self.envelope else b""))
            yield item
            index += 1
            if buf[r : r + 1] == b"]":
                break
            if buf[r : r + 1] != b",":
                yield self._damaged(index, r, r, b"[0 ", first_error)
                return
            p, context = r + 1, b"[0,"
        yield from self._after_array(r + 1, first_error)

    def _damaged(self, index: int, damage: int, resume: int, context: bytes, first_error: str | None) -> Rejection:
        ends = ", where the data ends" if damage >= len(self.buf) else ""
        while not self.eof:  # damaged compressed data further on decides the reason, as for a whole file
            chunks, _, self.error, self.eof = _read_upto(self.read, STREAM_CHUNK)
            if len(self.buf) < resume + SNIPPET_CHARS * 4:  # the snippet of the tail rejection
                self.buf = b"".join([self.buf, *chunks])
        buf = self.buf
        line = self.lines + buf.count(b"\n", 0, damage) + 1
        where = f"byte {self.base + damage} (line {line}{ends})"
        if self.error is not None:
            reason = f"{self.error}: readable data ends at {where}; {_LOST}"
        else:
            error = first_error or self._decode_error(context, resume, buf[resume:]) or "malformed JSON"
            reason = f"damaged JSON at {where}; {_LOST} ({error})"
        prefix = "/value" if self.envelope else ""
        return _tail(buf, self.file, index, resume, reason, prefix, self.lines)

    def _after_array(self, p: int, first_error: str | None) -> Iterator[Item]:
        """Read to the end (only damaged compressed data matters after the records) and say where it broke."""
        keep = first_error is None  # the rest is needed only to tell whether the whole document is valid JSON
        self.buf = self.buf[p:] if keep else b""
        while not self.eof:
            chunks, _, self.error, self.eof = _read_upto(self.read, STREAM_CHUNK)
            if keep:
                self.buf = b"".join([self.buf, *chunks])
        if self.error is None:
            return
        complete = keep and self._decode_error(b"[]", 0, self.buf) is None
        where = "after the end of the JSON document" if complete else "after the last record"
        yield _tail(b"", self.file, None, None, f"{self.error} {where}")


