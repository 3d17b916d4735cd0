"""Shared formatting helpers: durations, timestamps, labels, severity order, which URLs may be links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from afteraction.render import fmt


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"), (0, "0 s"), (45.4, "45 s"), (59.6, "1 min"), (60, "1 min"), (720, "12 min"),
        (3600, "1 h"), (8040, "2 h 14 min"), (8055, "2 h 14 min"), (86400, "1 d"), (273600, "3 d 4 h"),
        (259500, "3 d"), (-300, "\u22125 min"),
    ],
)
def test_duration(seconds: float | None, text: str) -> None:
    assert fmt.duration(seconds) == text


def test_when_is_utc() -> None:
    moment = datetime(2026, 3, 4, 15, 2, 59, tzinfo=timezone(timedelta(hours=1)))
    assert fmt.when(moment) == "2026-03-04 14:02 UTC"
    assert fmt.when(datetime(2026, 3, 4, 14, 2)) == "2026-03-04 14:02 UTC"  # naive is taken as UTC
    assert fmt.when(None) == "—"
    assert fmt.when_precise(moment) == "2026-03-04 14:02:59"
    assert fmt.clock(moment) == "14:02 UTC"
    assert fmt.clock(None) == ""
    assert fmt.iso_date(moment) == "2026-03-04"
    assert fmt.iso_date(None) == ""
    assert fmt.epoch(datetime(1970, 1, 1, 0, 1, tzinfo=UTC)) == "60"


def test_severity_order_and_class() -> None:
    values = ["low", "weird", "high", None, "informational", "medium", "other"]
    assert sorted(values, key=fmt.severity_rank) == ["high", "medium", "low", "informational", None, "other", "weird"]
    assert fmt.severity_class("HIGH") == "high"
    assert fmt.severity_class('x" onclick="y') == "other"


@pytest.mark.parametrize(
    ("value", "text"),
    [("inProgress", "In progress"), ("truePositive", "True positive"), ("identity_compromise", "Identity compromise"),
     ("microsoftDefenderForEndpoint", "Defender for Endpoint"), ("", "—"), (None, "—"), ("apt", "APT")],
)
def test_label(value: str | None, text: str) -> None:
    assert fmt.label(value) == text


def test_clean_and_truncate() -> None:
    assert fmt.clean("a\x1b[31mb\u202ec\nd") == "a\\u001b[31mb\\u202ec\nd"
    assert fmt.clean("a\r\nb", keep_newlines=False) == "a  b"
    assert fmt.truncate("abcdef", 4) == "abc…"
    assert fmt.truncate("ab", 4) == "ab"
    assert fmt.truncate("a\n  b", 10) == "a b"


@pytest.mark.parametrize(
    "url", ["https://attack.mitre.org/techniques/T1059/", "http://x.example/a b", "HTTPS://X.EXAMPLE"]
)
def test_http_url_accepts(url: str) -> None:
    assert fmt.http_url(url) == url


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", " javascript:alert(1)", "JaVaScRiPt:alert(1)", "java\tscript:alert(1)",
     "data:text/html,x", "vbscript:x", "//evil.example", "https:///nohost", "http://x\u202e.example",
     "https://x.example/\x1b", "mailto:a@b.c", "", None, "https://x.example ", "http://[::1"],
)
def test_http_url_rejects(url: str | None) -> None:
    assert fmt.http_url(url) is None


def test_relative_href() -> None:
    for ok in ("index.html", "incidents/4711.html", "../index.html", "#top", "https://x.example/"):
        assert fmt.relative_href(ok) == ok
    for bad in ("javascript:alert(1)", "/etc/passwd", "//evil", "\\\\evil\\x", "c:/x", "data:x", "a b.html", None):
        assert fmt.relative_href(bad) is None
