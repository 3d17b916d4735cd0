"""Every error afteraction raises on purpose, with the exit code the CLI returns for it.

    AfteractionError                  exit 1   root; anything not more specific
    ├── UsageError                    exit 2   bad option values or combinations
    ├── InputError                    exit 3   an input file or record is unusable; carries a Location
    │   ├── FormatError                        the file's format is unknown or not what --format said
    │   └── RecordError                        one record failed to decode or validate
    ├── AttackDataError               exit 4   ATT&CK data is missing, unreadable or not a STIX bundle
    ├── StoreError                    exit 5   the DuckDB store cannot be opened, migrated or written
    ├── NetworkError                  exit 6   an explicit download (e.g. ``attack update``) failed
    └── RejectedRecordsError          exit 7   ``--strict`` and at least one record was rejected

The CLI is the only place that turns these into messages and exit codes; library code raises them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Location:
    """Where in an input a problem is: file, record index (0-based), JSON pointer, line (1-based)."""

    file: str | None = None
    record: int | None = None
    pointer: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        parts = [self.file or "<input>"]
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.record is not None:
            parts.append(f"record {self.record}")
        if self.pointer:
            parts.append(f"at {self.pointer}")
        return ", ".join(parts)


class AfteractionError(Exception):
    """Root of afteraction's exceptions."""

    exit_code = 1


class UsageError(AfteractionError):
    """Invalid command-line usage or option values."""

    exit_code = 2


class InputError(AfteractionError):
    """An input file or record cannot be used; ``location`` says where."""

    exit_code = 3

    def __init__(self, message: str, location: Location | None = None) -> None:
        self.reason = message
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


class FormatError(InputError):
    """The input's format is unknown, or is not the format that was asked for."""


class RecordError(InputError):
    """One record failed to decode or validate; the run goes on with the others."""


class AttackDataError(AfteractionError):
    """ATT&CK data is missing, unreadable, or not a usable STIX bundle."""

    exit_code = 4


class StoreError(AfteractionError):
    """The store cannot be opened, migrated or written."""

    exit_code = 5


class NetworkError(AfteractionError):
    """An explicit network operation failed."""

    exit_code = 6


class RejectedRecordsError(AfteractionError):
    """``--strict`` was given and some records were rejected."""

    exit_code = 7
