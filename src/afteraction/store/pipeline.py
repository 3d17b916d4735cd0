"""Overlap reading and staging: batches are converted and written on a worker thread.

Reading and normalising records is Python work that holds the GIL; Arrow's Parquet writer releases it,
so staging batch *n* on a worker while the caller reads batch *n + 1* uses the second core.
"""

from __future__ import annotations

import gc
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from afteraction.model import Alert, Incident
from afteraction.store.merge import stage_batch
from afteraction.store.rows import Batch

BATCH_RECORDS = 10_000


@dataclass
class Staged:
    """What staging one file produced: Parquet files per staging table, record count, rejections."""

    files: dict[str, list[Path]] = field(default_factory=dict)
    records_in: int = 0
    rejections: list[object] = field(default_factory=list)


def stage_items(
    items: Iterable[object], directory: Path, on_records: Callable[[int], None] | None = None, *, start_seq: int = 0
) -> Staged:
    """Batch ``items`` (incidents, alerts, rejections) into Parquet staging files in ``directory``.

    Batches are converted and written on a worker thread while the next batch is read.
    """
    staged = Staged()
    stager = BackgroundStager(directory)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # records form no cycles; collecting during a bulk load only costs time
    try:
        batch = Batch(start_seq)
        for item in items:
            staged.records_in += 1
            if isinstance(item, Incident):
                batch.add_incident(item)
            elif isinstance(item, Alert):
                batch.add_alert(item)
            else:
                staged.rejections.append(item)
            if len(batch) >= BATCH_RECORDS:
                stager.submit(batch)
                batch = Batch(batch.seq)
                if on_records:
                    on_records(staged.records_in)
        if len(batch):
            stager.submit(batch)
        stager.close()
    except BaseException:
        stager.abandon()
        raise
    finally:
        if gc_was_enabled:
            gc.enable()
    staged.files = stager.files
    if on_records:
        on_records(staged.records_in)
    return staged


class BackgroundStager:
    """Stages submitted batches in order on one worker thread; errors surface on the caller's side."""

    def __init__(self, directory: Path, depth: int = 1) -> None:
        self._directory = directory
        self._queue: queue.Queue[Batch | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self.staged = 0
        self.files: dict[str, list[Path]] = {}
        self._thread = threading.Thread(target=self._run, name="afteraction-stage", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drain after a failure; the caller will clean up
            try:
                for name, path in stage_batch(self._directory, batch.tables(), self.staged).items():
                    self.files.setdefault(name, []).append(path)
                self.staged += 1
            except BaseException as exc:  # re-raised in the caller's thread
                self._error = exc

    def _raise_pending(self) -> None:
        if self._error is not None:
            raise self._error

    def submit(self, batch: Batch) -> None:
        """Queue a batch; blocks while the worker is still busy with the previous one."""
        self._raise_pending()
        self._queue.put(batch)

    def close(self) -> int:
        """Wait for every queued batch; re-raise the first error. Returns the number of batches staged."""
        self._queue.put(None)
        self._thread.join()
        self._raise_pending()
        return self.staged

    def abandon(self) -> None:
        """Stop after the batch in progress (on an error or interrupt in the caller)."""
        if self._thread.is_alive():
            self._error = self._error or RuntimeError("abandoned")
            self._queue.put(None)
            self._thread.join()
