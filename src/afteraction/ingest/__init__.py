"""Input readers: each source format streams canonical records and per-record rejections.

``READERS`` maps a format name to its reader ``read(stream, *, file) -> Iterator[Item]``;
:func:`sniff` detects the format from content; :func:`open_input` handles gzip and BOMs;
:func:`read_path` combines them. See ``docs/input-formats.md``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from afteraction.errors import FormatError, Location
from afteraction.ingest.base import Item, Reader, Rejection
from afteraction.ingest.graph import read_alerts, read_incident, read_incidents, read_ndjson
from afteraction.ingest.legacy import read_m365d_incidents, read_mde_alerts
from afteraction.ingest.sniff import FORMATS, open_input, sniff

READERS: dict[str, Reader] = {
    "graph-incidents": read_incidents,
    "graph-incident": read_incident,
    "graph-ndjson": read_ndjson,
    "graph-alerts": read_alerts,
    "m365d-incidents": read_m365d_incidents,
    "mde-alerts": read_mde_alerts,
}
assert tuple(READERS) == FORMATS


def read_path(path: str | Path, fmt: str | None = None) -> Iterator[Item]:
    """Read the file at ``path`` (gzip or not) as ``fmt``, or as its sniffed format when ``fmt`` is None."""
    file = str(path)
    if fmt is None:
        fmt = sniff(path)
    reader = READERS.get(fmt)
    if reader is None:
        raise FormatError(f"unknown format {fmt!r}; known formats: {', '.join(READERS)}", Location(file=file))
    with open_input(path) as stream:
        yield from reader(stream, file=file)


__all__ = ["READERS", "Item", "Reader", "Rejection", "open_input", "read_path", "sniff"]
