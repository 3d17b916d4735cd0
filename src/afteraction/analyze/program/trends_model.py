"""The typed, JSON-serialisable result of the trend analysis (:func:`afteraction.analyze.program.trends.trends`).

Times are UTC; durations are seconds; rates are shares in ``[0, 1]``. Every collection is sorted, so the
JSON is deterministic. ``docs/trends.md`` explains every field and the statistics behind it.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from afteraction.analyze.program.period import Period

TRENDS_SCHEMA_VERSION = "1"

#: The breakdown dimensions, in report order.
DIMENSIONS: tuple[str, ...] = ("tactic", "technique", "severity", "source", "incident_type", "determination")

#: Techniques shown per bucket beside the flagged ones (by alert volume in the period).
TOP_TECHNIQUES = 15


class _S(msgspec.Struct, frozen=True, kw_only=True):
    pass


class BucketTotal(_S):
    """All alerts created in one bucket, and the distinct incidents they belong to."""

    bucket: datetime  # the bucket's start
    alerts: int
    incidents: int


class Point(_S):
    """One value's counts in one bucket, with its share of the bucket's totals (None when the bucket is empty)."""

    bucket: datetime
    alerts: int
    incidents: int
    alert_rate: float | None
    incident_rate: float | None


class Series(_S):
    """The counts of one value of one dimension in every bucket of the period (empty buckets are zeros)."""

    dimension: str  # one of DIMENSIONS
    value: str  # the technique/tactic id, severity, source name, incident type or determination
    label: str  # a readable name (technique or tactic name, or the value itself)
    alerts: int  # total over the period
    incidents: int  # distinct incidents over the period
    points: tuple[Point, ...]


class TechniqueChange(_S):
    """One tested technique: incidents with it in the recent window against the baseline window."""

    technique: str
    name: str | None  # None when the loaded ATT&CK version does not know the id
    url: str | None
    tactics: tuple[str, ...]
    direction: str  # "rising", "declining" or "flat"
    baseline_incidents: int  # distinct incidents with the technique whose first alert is in the baseline window
    recent_incidents: int
    baseline_rate: float  # baseline_incidents / incidents in the baseline window
    recent_rate: float
    rate_ratio: float | None  # recent_rate / baseline_rate; None when the baseline count is 0 (infinite)
    ratio_low: float  # 95 % confidence interval of the rate ratio (exact, from the Clopper-Pearson interval)
    ratio_high: float | None  # None when unbounded (baseline count 0)
    p_value: float  # exact conditional binomial test, two-sided
    q_value: float  # Benjamini-Hochberg adjusted p-value over the techniques tested
    flagged: bool  # q_value <= fdr


class ChangeTest(_S):
    """The emerging/declining technique test: windows, exposures, parameters and results."""

    baseline_since: datetime
    baseline_until: datetime  # == recent_since
    recent_since: datetime
    recent_until: datetime
    baseline_incidents: int  # exposure: incidents whose first alert in the period falls in the window
    recent_incidents: int
    fdr: float
    min_count: int
    tested: int
    skipped: int  # techniques seen in fewer than min_count incidents in total (not tested)
    flagged: tuple[TechniqueChange, ...]  # q <= fdr, sorted by q, then by |log rate ratio| descending
    techniques: tuple[TechniqueChange, ...]  # every tested technique, sorted by id


class Durations(_S):
    """Median and 90th percentile of one response time over the incidents where it is known."""

    known: int
    median: float | None
    p90: float | None


class ResponsePoint(_S):
    """Response metrics of the incidents whose first alert falls in one bucket."""

    bucket: datetime
    incidents: int
    time_to_detect: Durations  # first activity -> first alert
    time_to_acknowledge: Durations  # first alert -> first comment
    time_to_resolve: Durations  # first alert -> resolved
    classified: int  # incidents classified truePositive, falsePositive or informationalExpectedActivity
    true_positives: int
    true_positive_rate: float | None  # true_positives / classified


class NewTechnique(_S):
    """A technique whose first alert ever (whole store) falls inside the period."""

    technique: str
    name: str | None
    url: str | None
    tactics: tuple[str, ...]
    first_seen: datetime
    alerts: int  # in the period
    incidents: int  # distinct incidents in the period


class Trends(_S):
    """Counts and rates over time, emerging/declining techniques, response metrics and new techniques."""

    schema_version: str
    generated: datetime
    attack_version: str
    period: Period
    buckets: tuple[BucketTotal, ...]
    series: tuple[Series, ...]  # by DIMENSIONS order, then by total alerts descending, then value
    changes: ChangeTest
    response: tuple[ResponsePoint, ...]
    response_overall: ResponsePoint  # every incident of the period (bucket = period start)
    new_techniques: tuple[NewTechnique, ...]  # sorted by first_seen, then id
    notes: tuple[str, ...] = ()

    def dimension(self, name: str) -> tuple[Series, ...]:
        """The series of one dimension."""
        return tuple(s for s in self.series if s.dimension == name)


def json_schema() -> dict[str, object]:
    """JSON Schema (2020-12) of the trends output."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "afteraction trends",
        "description": f"Output of afteraction trends (schema_version {TRENDS_SCHEMA_VERSION}); generated "
                       "from afteraction.analyze.program.trends_model.",
        **msgspec.json.schema(Trends),
    }


__all__ = ["DIMENSIONS", "TOP_TECHNIQUES", "TRENDS_SCHEMA_VERSION", "BucketTotal", "ChangeTest", "Durations",
           "NewTechnique", "Point", "ResponsePoint", "Series", "TechniqueChange", "Trends", "json_schema"]
