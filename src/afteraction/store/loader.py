"""Ingest files into the store: expand paths, sniff formats, resolve techniques, write atomically."""

from __future__ import annotations

import glob
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from afteraction.errors import InputError, StoreError, UsageError
from afteraction.ingest import READERS, open_input, sniff
from afteraction.store.db import FileResult, Store
from afteraction.store.merge import MergeCounts
from afteraction.store.parallel import stage_parallel, use_parallel
from afteraction.store.techniques import TechniqueResolver

if TYPE_CHECKING:
    from afteraction.attack import KnowledgeBase

INPUT_SUFFIXES = (".json", ".jsonl", ".ndjson", ".gz")


@dataclass
class IngestSummary:
    """Everything an ``ingest`` run did, for the CLI summary and ``--format json``."""

    run_id: int
    db_path: str
    attack_version: str
    files: list[FileResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    counts: MergeCounts = field(default_factory=MergeCounts)
    redirected_techniques: dict[str, str] = field(default_factory=dict)
    unknown_techniques: set[str] = field(default_factory=set)
    deprecated_techniques: set[str] = field(default_factory=set)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    @property
    def failed_files(self) -> list[FileResult]:
        return [f for f in self.files if f.status != "ok"]


def expand_paths(args: Iterable[str]) -> tuple[list[Path], list[str]]:
    """Files to ingest from files, directories (recursive) and glob patterns, plus skipped names.

    Inside directories only ``*.json``, ``*.jsonl``, ``*.ndjson`` and ``*.gz`` files are taken; other
    files are listed as skipped. Named files are always tried.
    """
    files: list[Path] = []
    skipped: list[str] = []
    for arg in args:
        matches = sorted(glob.glob(arg, recursive=True)) if glob.has_magic(arg) else [arg]
        if not matches:
            raise UsageError(f"no files match {arg!r}")
        for match in matches:
            path = Path(match)
            if path.is_dir():
                for child in sorted(p for p in path.rglob("*") if p.is_file()):
                    if any(part.startswith(".") for part in child.relative_to(path).parts):
                        continue
                    if child.name.lower().endswith(INPUT_SUFFIXES):
                        files.append(child)
                    else:
                        skipped.append(str(child))
            elif path.is_file():
                files.append(path)
            else:
                raise UsageError(f"no such file or directory: {match}")
    unique = list(dict.fromkeys(files))
    return unique, skipped


def ingest_paths(
    store: Store,
    paths: Iterable[str],
    kb: KnowledgeBase,
    *,
    fmt: str | None = None,
    strict: bool = False,
    on_file: Callable[[Path, int], None] | None = None,
    on_records: Callable[[int, int | None], None] | None = None,
    on_merge: Callable[[], None] | None = None,
) -> IngestSummary:
    """Ingest every file named by ``paths``; each file is stored atomically.

    A file that cannot be read at all is recorded as failed and the run goes on. ``on_file`` is
    called with each file and its size (0 when bytes cannot show progress) before it is read;
    ``on_records`` every batch with the running record count of the current file and how many of its
    bytes (compressed, for gzip) have been read, when known; ``on_merge`` when a file's merge begins.
    """
    if fmt is not None and fmt not in READERS:
        raise UsageError(f"unknown format {fmt!r}; known formats: {', '.join(sorted(READERS))}")
    files, skipped = expand_paths(paths)
    run_id = store.start_run(
        attack_version=kb.version, attack_source=kb.source, strict=strict, files=len(files)
    )
    summary = IngestSummary(run_id=run_id, db_path=str(store.path), attack_version=kb.version,
                            skipped=skipped)
    resolver = TechniqueResolver(kb)
    status = "interrupted"
    try:
        for path in files:
            try:
                size = path.stat().st_size
                file_fmt = fmt or sniff(path)
                parallel = use_parallel(path, file_fmt, size, _is_gzip(path))
                if on_file:
                    on_file(path, 0 if parallel else size)  # 0: ranges finish together, so no byte progress
                if parallel:
                    report = (lambda n: on_records(n, None)) if on_records else None
                    stage = stage_parallel(path, file_fmt, kb, resolver, report)
                    result = store.ingest_staged(run_id, str(path), file_fmt, stage, size_bytes=size,
                                                 on_merge=on_merge)
                else:
                    with open_input(path) as stream:
                        items = resolver.items(READERS[file_fmt](stream, file=str(path)))
                        report = _reporter(stream, on_records)
                        result = store.ingest_file(run_id, str(path), file_fmt, items, size_bytes=size,
                                                   on_records=report, on_merge=on_merge)
            except InputError as exc:
                _failed(store, summary, run_id, path, fmt, exc.reason)
                continue
            except StoreError as exc:
                _failed(store, summary, run_id, path, fmt, str(exc))
                continue
            except (OSError, EOFError, zlib.error) as exc:
                _failed(store, summary, run_id, path, fmt, f"cannot read: {exc}")
                continue
            summary.files.append(result)
            summary.counts.add(result.counts)
        status = "ok"
    except Exception:
        status = "failed"
        raise
    finally:
        summary.redirected_techniques = dict(sorted(resolver.redirected.items()))
        summary.unknown_techniques = resolver.unknown
        summary.deprecated_techniques = resolver.deprecated
        store.finish_run(run_id, status)
    return summary


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _reporter(
    stream: BinaryIO, on_records: Callable[[int, int | None], None] | None
) -> Callable[[int], None] | None:
    """Wrap ``on_records`` so it also reports the position in the underlying file."""
    if on_records is None:
        return None
    raw = getattr(stream, "fileobj", None) or stream  # gzip: position in the compressed file

    def report(records: int) -> None:
        try:
            position: int | None = raw.tell()
        except (OSError, ValueError):
            position = None
        on_records(records, position)

    return report


def _failed(
    store: Store, summary: IngestSummary, run_id: int, path: Path, fmt: str | None, reason: str
) -> FileResult:
    # ingest_file has already recorded files that failed mid-read; only record the others here.
    existing = list(store.con.execute(
        "SELECT file_id FROM ingest_files WHERE run_id = ? AND path = ? AND status <> 'ok'",
        [run_id, str(path)]).fetchall())
    if existing:
        result = FileResult(path=str(path), format=fmt or "?", file_id=int(existing[-1][0]),
                            status="failed", error=reason)
    else:
        result = store.record_failed_file(run_id, str(path), fmt or "?", reason)
    summary.files.append(result)
    return result
