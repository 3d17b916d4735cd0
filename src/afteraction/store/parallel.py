"""Stage a large plain NDJSON file with one reader process per core.

Reading and normalising records is Python work bound by the GIL; a big NDJSON file is cut into byte
ranges that end on line boundaries, and each range is read, normalised and written to Parquet staging
files by its own process. Record numbers stay those of the whole file: each range's records are
numbered after the ranges before it (``seq`` offsets), and rejection lines are shifted by the number of
lines before the range once every range is done. The merge into the store is the same as for a file
read serially.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import shutil
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from afteraction.errors import InputError
from afteraction.store.pipeline import Staged, stage_items
from afteraction.store.techniques import TechniqueResolver

if TYPE_CHECKING:
    from afteraction.attack import KnowledgeBase

PARALLEL_FORMATS = ("graph-ndjson",)
PARALLEL_MIN_BYTES = 64 * 1024 * 1024
SEQ_STRIDE = 1 << 40  # records per range can never reach this

_worker_kb: Any = None


@dataclass
class _RangeResult:
    index: int
    newlines: int
    staged: Staged
    redirected: dict[str, str] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)
    deprecated: set[str] = field(default_factory=set)


class _Window(io.RawIOBase):
    """A read-only view of ``[start, end)`` of a file that counts the newlines it hands out."""

    def __init__(self, path: str, start: int, end: int) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._file.seek(start)
        self._left = end - start
        self.newlines = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._left <= 0:
            return 0
        view = memoryview(buffer)[: self._left]
        n = self._file.readinto(view) or 0
        self._left -= n
        self.newlines += bytes(view[:n]).count(b"\n")
        return n

    def close(self) -> None:
        self._file.close()
        super().close()


MAX_DEFAULT_WORKERS = 4


def workers() -> int:
    """Reader processes to use: ``$AFTERACTION_INGEST_WORKERS``, else one per usable core, at most 4.

    Each reader process holds its own interpreter, ATT&CK index and a batch in flight (a few hundred
    MB), hence the cap; ``1`` reads serially.
    """
    env = os.environ.get("AFTERACTION_INGEST_WORKERS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_DEFAULT_WORKERS))


def use_parallel(path: Path, fmt: str, size: int, is_gzip: bool) -> bool:
    """Whether ``path`` is worth splitting: a big, plain NDJSON file on a machine with several cores."""
    return fmt in PARALLEL_FORMATS and not is_gzip and size >= PARALLEL_MIN_BYTES and workers() > 1


def split_ranges(path: Path, parts: int) -> list[tuple[int, int]]:
    """Byte ranges covering the file, each ending just after a newline (the last at end of file)."""
    size = path.stat().st_size
    bounds = [0]
    with path.open("rb") as f:
        for k in range(1, parts):
            f.seek(max(size * k // parts, bounds[-1]))
            f.readline()
            position = f.tell()
            if bounds[-1] < position < size:
                bounds.append(position)
    bounds.append(size)
    return list(pairwise(bounds))


def _init_worker(kb: KnowledgeBase) -> None:
    global _worker_kb
    _worker_kb = kb


def _stage_range(path: str, fmt: str, index: int, start: int, end: int, directory: str) -> _RangeResult:
    from afteraction.ingest import READERS

    resolver = TechniqueResolver(_worker_kb)
    window = _Window(path, start, end)
    stream = io.BufferedReader(window, buffer_size=1 << 20)
    with stream:
        items = resolver.items(READERS[fmt](stream, file=path))  # type: ignore[arg-type]
        part = Path(directory) / f"part-{index:03d}"
        part.mkdir()
        staged = stage_items(items, part, start_seq=index * SEQ_STRIDE)
    return _RangeResult(index, window.newlines, staged, resolver.redirected, resolver.unknown, resolver.deprecated)


def _shift(rejection: Any, lines_before: int) -> Any:
    changes = {}
    if getattr(rejection, "line", None) is not None:
        changes["line"] = rejection.line + lines_before
    if getattr(rejection, "record", None) is not None:
        changes["record"] = rejection.record + lines_before
    return msgspec.structs.replace(rejection, **changes) if changes else rejection


def stage_parallel(
    path: Path, fmt: str, kb: KnowledgeBase, resolver: TechniqueResolver,
    on_records: Callable[[int], None] | None = None,
) -> Callable[[Path], Staged]:
    """A staging function for :meth:`Store.ingest_staged` that reads ``path`` with several processes."""

    def stage(directory: Path) -> Staged:
        try:
            return _stage_ranges(directory)
        except InputError:
            # A range that starts with a line the reader refuses outright (e.g. not JSON) would fail the
            # whole file, where a serial read rejects just that line: read it serially instead.
            for leftover in directory.iterdir():
                shutil.rmtree(leftover, ignore_errors=True)
            from afteraction.ingest import READERS, open_input

            with open_input(path) as stream:
                return stage_items(resolver.items(READERS[fmt](stream, file=str(path))), directory, on_records)

    def _stage_ranges(directory: Path) -> Staged:
        ranges = split_ranges(path, workers())
        context = multiprocessing.get_context("spawn")  # never fork a process that holds DuckDB threads
        with ProcessPoolExecutor(len(ranges), mp_context=context, initializer=_init_worker,
                                 initargs=(kb,)) as pool:
            futures = [pool.submit(_stage_range, str(path), fmt, i, start, end, str(directory))
                       for i, (start, end) in enumerate(ranges)]
            results = []
            for future in futures:
                results.append(future.result())
                if on_records:
                    on_records(sum(r.staged.records_in for r in results))
        merged = Staged()
        lines_before = 0
        for result in sorted(results, key=lambda r: r.index):
            for name, files in result.staged.files.items():
                merged.files.setdefault(name, []).extend(files)
            merged.records_in += result.staged.records_in
            merged.rejections.extend(_shift(r, lines_before) for r in result.staged.rejections)
            lines_before += result.newlines
            resolver.redirected.update(result.redirected)
            resolver.unknown |= result.unknown
            resolver.deprecated |= result.deprecated
        return merged

    return stage
