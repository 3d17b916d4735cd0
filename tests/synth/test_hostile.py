"""--hostile plants attacker-controlled strings; ingest keeps them unchanged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from afteraction.synth.hostile import ESCAPE, FORMULA, HOSTILE_STRINGS, JS_URL, RLO, SCRIPT

from .support import Sample, rows


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def test_hostile_strings_are_in_the_export(hostile_sample: Sample) -> None:
    incidents = [json.loads(line) for line in hostile_sample.result.files[0].read_bytes().splitlines()]
    text = "\n".join(s for i in incidents for s in _strings(i))
    for needle in HOSTILE_STRINGS:
        assert needle in text, needle
    hostile = {i.id for i in hostile_sample.truth.incidents if i.hostile}
    assert hostile
    assert hostile_sample.truth.hostile_strings == list(HOSTILE_STRINGS)
    for incident in incidents:
        if incident["id"] in hostile:
            assert SCRIPT in incident["displayName"]
            assert incident["incidentWebUrl"] == JS_URL
            assert incident["alerts"][0]["title"].startswith(FORMULA)
            assert any(ESCAPE in c["comment"] and RLO in c["comment"] for c in incident["comments"])
            assert any(e.get("url") == JS_URL for e in incident["alerts"][0]["evidence"])


def test_ingest_keeps_hostile_strings(hostile_sample: Sample) -> None:
    assert hostile_sample.summary.rejected == 0
    assert not hostile_sample.summary.failed_files
    titles = {r["title"] for r in rows(hostile_sample.db, "SELECT title FROM incidents")}
    assert any(SCRIPT in t for t in titles)
    urls = {r["url"] for r in rows(hostile_sample.db, "SELECT url FROM evidence WHERE url IS NOT NULL")}
    assert JS_URL in urls
    comments = [r["text"] for r in rows(hostile_sample.db, "SELECT text FROM comments")]
    assert any(ESCAPE in c and RLO in c for c in comments)


def test_no_hostile_strings_by_default(sample: Sample) -> None:
    text = b"".join(f.read_bytes() for f in sample.result.files).decode()
    for needle in (SCRIPT, JS_URL, FORMULA, RLO):
        assert needle not in text
    assert "\\u001b" not in text
    assert not any(i.hostile for i in sample.truth.incidents)
