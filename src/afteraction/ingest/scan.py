"""A small, non-recursive JSON structure scanner over bytes.

It finds where values start and end (strings, brackets, scalars) without decoding them, so it works on
damaged, truncated, deeply nested or non-UTF-8 input and never raises ``RecursionError``. Used to
salvage the records of a damaged list file, to delimit the records of a large one read incrementally
(:mod:`afteraction.ingest.base`) and to read the first record's own keys when sniffing
(:mod:`afteraction.ingest.sniff`). Values are validated later by msgspec.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

_WS = re.compile(rb"[ \t\n\r]*")
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_SCALAR = re.compile(rb'[^ \t\n\r,:\[\]{}"]+')
# everything up to the next bracket, complete strings included (possessive: one pass, no backtracking)
_FILLER = re.compile(rb'[^"\[\]{}]*+(?:"[^"\\]*+(?:\\.[^"\\]*+)*+"[^"\[\]{}]*+)*+', re.S)
_CLOSER = {b"{"[0]: b"}"[0], b"["[0]: b"]"[0]}


class Damaged(Exception):
    """The structure is broken (or the data ends) at byte ``pos``."""

    def __init__(self, pos: int) -> None:
        super().__init__(pos)
        self.pos = pos


def ws(data: bytes, p: int) -> int:
    """Position of the first non-whitespace byte at or after ``p``."""
    return _WS.match(data, p).end()  # type: ignore[union-attr]


def skip_string(data: bytes, p: int) -> int:
    """End of the JSON string starting at ``p``."""
    m = _STRING.match(data, p)
    if m is None:
        raise Damaged(len(data))  # unterminated: the data ends inside the string
    return m.end()


def skip_value(data: bytes, p: int) -> int:
    """End of the JSON value starting at ``p`` (brackets matched with a stack, never recursion)."""
    if p >= len(data):
        raise Damaged(p)
    c = data[p]
    if c == 0x22:  # "
        return skip_string(data, p)
    if c not in _CLOSER:
        m = _SCALAR.match(data, p)
        if m is None:
            raise Damaged(p)
        return m.end()
    stack = [_CLOSER[c]]
    q = p + 1
    end = len(data)
    while stack:
        q = _FILLER.match(data, q).end()  # type: ignore[union-attr]
        if q >= end or data[q] == 0x22:  # the data ends, or inside an unterminated string
            raise Damaged(end)
        c = data[q]
        if c in _CLOSER:
            stack.append(_CLOSER[c])
            q += 1
        elif c == stack.pop():
            q += 1
        else:
            raise Damaged(q)
    return q


def expect(data: bytes, p: int, char: bytes) -> int:
    """Position after ``char`` (whitespace skipped before it); :class:`Damaged` when it is not there."""
    p = ws(data, p)
    if data[p : p + 1] != char:
        raise Damaged(p)
    return p + 1


def members(data: bytes, p: int) -> Iterator[tuple[bytes, int]]:
    """``(raw key without quotes, value start)`` of the object at ``p``, in order; raises :class:`Damaged`."""
    p = expect(data, p, b"{")
    p = ws(data, p)
    if data[p : p + 1] == b"}":
        return
    while True:
        p = ws(data, p)
        end = skip_string(data, p) if data[p : p + 1] == b'"' else None
        if end is None:
            raise Damaged(p)
        key = data[p + 1 : end - 1]
        start = ws(data, expect(data, end, b":"))
        yield key, start
        p = ws(data, skip_value(data, start))
        if data[p : p + 1] == b"}":
            return
        p = expect(data, p, b",")


def object_keys(data: bytes, p: int) -> dict[bytes, int]:
    """Own keys of the object at ``p`` -> value start; stops quietly where the data ends or is damaged."""
    keys: dict[bytes, int] = {}
    try:
        for key, start in members(data, p):
            keys.setdefault(key, start)
    except Damaged:
        pass
    return keys


def string_at(data: bytes, p: int) -> str | None:
    """The JSON string value at ``p`` decoded, or None when there is no complete, valid string."""
    m = _STRING.match(data, p)
    if m is None:
        return None
    try:
        value = json.loads(m.group())
    except ValueError:
        return None
    return value if isinstance(value, str) else None


class ArrayWalk:
    """Spans of the elements of the array at ``start``; ``damage`` is set when the walk stops on damage."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.damage: int | None = None  # byte offset where the structure broke
        self.resume: int = 0  # start of the first element that could not be delimited

    def elements(self, p: int) -> Iterator[tuple[int, int]]:
        """Yield ``(start, end)`` per element; stop at ``]`` or at damage (recorded, not raised)."""
        data = self.data
        self.resume = p
        try:
            p = ws(data, expect(data, p, b"["))
            self.resume = p
            if data[p : p + 1] == b"]":
                return
            while True:
                self.resume = p = ws(data, p)
                end = skip_value(data, p)
                yield p, end
                self.resume = p = ws(data, end)
                if data[p : p + 1] == b"]":
                    return
                self.resume = p = ws(data, expect(data, p, b","))
        except Damaged as exc:
            self.damage = exc.pos


def bad_utf8_pointer(raw: bytes) -> str:
    """Relative JSON pointer of the first key or string in ``raw`` that holds invalid UTF-8, or ``""``."""
    try:
        root = json.loads(raw.decode("utf-8", "surrogateescape"))
    except (ValueError, RecursionError):
        return ""
    todo: list[tuple[str, Any]] = [("", root)]
    while todo:
        path, value = todo.pop()
        if isinstance(value, str):
            if _escaped(value):
                return path
        elif isinstance(value, dict | list):
            pairs = value.items() if isinstance(value, dict) else enumerate(value)
            children = []
            for k, v in pairs:
                token = str(k).replace("~", "~0").replace("/", "~1")
                if isinstance(k, str) and _escaped(k):
                    return path + "/" + token
                children.append((path + "/" + token, v))
            todo.extend(reversed(children))
    return ""


def _escaped(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)
