"""Golden files: the review of a fixed incident in all three formats, byte for byte.

Regenerate after an intended change with ``AFTERACTION_UPDATE_GOLDEN=1 pytest tests/analyze/test_review_golden.py``
and review the diff.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from afteraction.analyze.review import ReviewContext, review_incident
from afteraction.attack.kb import KnowledgeBase
from afteraction.commands.review_cmd import render_review
from afteraction.store import Store
from afteraction.store.loader import ingest_paths

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden"
FIXED_NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize("incident_id", ["51007", "51112"])
@pytest.mark.parametrize("fmt", ["json", "md", "html"])
def test_review_matches_golden_file(tmp_path: Path, kb: KnowledgeBase, incident_id: str, fmt: str) -> None:
    store = Store(tmp_path / "s.duckdb")
    ingest_paths(store, [str(REPO / "examples" / "defender-incidents.json")], kb)
    result = review_incident(store, kb, incident_id, context=ReviewContext(kb, store, now=FIXED_NOW))
    text = render_review(result, fmt)
    golden = GOLDEN / f"review-{incident_id}.{fmt}"
    if os.environ.get("AFTERACTION_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"missing {golden}; set AFTERACTION_UPDATE_GOLDEN=1 to create it"
    assert text == golden.read_text(encoding="utf-8"), f"{golden.name} changed; see the module docstring"
