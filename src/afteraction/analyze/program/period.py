"""The period a program analysis covers and its time buckets (day, ISO week starting Monday, month), UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

import msgspec

from afteraction.errors import UsageError

if TYPE_CHECKING:
    from afteraction.store.db import Store

Bucket = Literal["day", "week", "month"]
BUCKETS: tuple[Bucket, ...] = ("day", "week", "month")


class Period(msgspec.Struct, frozen=True):
    """``[since, until)`` in UTC, cut into buckets of one ``bucket``."""

    since: datetime
    until: datetime
    bucket: Bucket

    @property
    def days(self) -> float:
        """Length in days."""
        return (self.until - self.since).total_seconds() / 86400


def bucket_start(t: datetime, bucket: Bucket) -> datetime:
    """The start of the bucket holding ``t`` (weeks start on Monday 00:00 UTC, as DuckDB's ``date_trunc``)."""
    t = t.astimezone(UTC)
    day = t.replace(hour=0, minute=0, second=0, microsecond=0)
    if bucket == "day":
        return day
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def next_bucket(t: datetime, bucket: Bucket) -> datetime:
    """The start of the bucket after the one starting at ``t``."""
    if bucket == "day":
        return t + timedelta(days=1)
    if bucket == "week":
        return t + timedelta(days=7)
    return (t.replace(day=28) + timedelta(days=4)).replace(day=1)


def bucket_starts(period: Period) -> list[datetime]:
    """Every bucket start from the one holding ``since`` to the last one before ``until``."""
    out, t = [], bucket_start(period.since, period.bucket)
    while t < period.until:
        out.append(t)
        t = next_bucket(t, period.bucket)
    return out


def data_extent(store: Store) -> tuple[datetime | None, datetime | None]:
    """The first and last alert creation time in the store (None when it holds no alerts)."""
    row = store.con.execute("SELECT min(created), max(created) FROM alerts").fetchone()
    return (row[0], row[1]) if row else (None, None)


def resolve_period(store: Store, since: datetime | None, until: datetime | None, bucket: Bucket = "week") -> Period:
    """The period asked for; an open end defaults to the store's first or last alert (inclusive)."""
    if bucket not in BUCKETS:
        raise UsageError(f"unknown bucket {bucket!r}: use one of {', '.join(BUCKETS)}")
    first, last = data_extent(store)
    if first is None and (since is None or until is None):
        raise UsageError("the store holds no alerts: ingest some first, or give both --since and --until")
    start = since or first
    end = until or (last + timedelta(microseconds=1) if last else None)
    if start is None or end is None:
        now = datetime.now(UTC).replace(microsecond=0)
        start, end = start or end or now, end or start or now
    if end <= start:
        raise UsageError(f"empty period: --since {start.isoformat()} is not before --until {end.isoformat()}")
    return Period(since=start.astimezone(UTC), until=end.astimezone(UTC), bucket=bucket)


__all__ = ["BUCKETS", "Bucket", "Period", "bucket_start", "bucket_starts", "data_extent", "next_bucket",
           "resolve_period"]
