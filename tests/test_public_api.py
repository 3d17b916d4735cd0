"""The curated public API is pinned: adding or removing a name is a deliberate change."""

from __future__ import annotations

import afteraction

PINNED = [
    "AfteractionError", "Alert", "AlertStatus", "AttackDataError", "Classification", "Comment",
    "Determination", "Evidence", "FormatError", "Incident", "IncidentStatus", "InputError", "KnowledgeBase",
    "Location", "READERS", "RecordError", "RejectedRecordsError", "RemediationStatus", "Severity", "Store",
    "StoreError", "TechniqueRef", "TechniqueStatus", "UsageError", "Verdict", "__version__", "ingest_paths",
    "load_incident", "load_kb", "read_path", "sniff",
]  # fmt: skip


def test_all_is_sorted_and_pinned() -> None:
    assert afteraction.__all__ == sorted(afteraction.__all__)
    assert afteraction.__all__ == sorted(PINNED)


def test_every_public_name_resolves() -> None:
    for name in afteraction.__all__:
        assert getattr(afteraction, name) is not None, name


def test_error_tree_has_distinct_exit_codes() -> None:
    codes = {cls.__name__: cls.exit_code for cls in (
        afteraction.AfteractionError, afteraction.UsageError, afteraction.InputError,
        afteraction.AttackDataError, afteraction.StoreError, afteraction.RejectedRecordsError)}
    assert len(set(codes.values())) == len(codes)
    assert issubclass(afteraction.FormatError, afteraction.InputError)
    assert issubclass(afteraction.RecordError, afteraction.InputError)
