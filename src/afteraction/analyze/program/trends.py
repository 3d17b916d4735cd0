"""Trend analysis over a period: counts and rates per time bucket, emerging and declining techniques,
response metrics over time and techniques new to the environment.

The counting and the response percentiles run in the engine as Ibis group-bys over the period's fact
tables (``program.facts``, which also holds every incident's inferred type; the expressions are in
``trends_queries``), compiled once per code version (``analyze.queries``); Python only sees one row per
(bucket, value) and per technique. A small lookup table is registered on the connection for the joins: the
tactics of the period's techniques (from the knowledge base). The recent window's start is a one-row
table, so the compiled SQL does not depend on the dates.

Statistics (``docs/trends.md``): an incident belongs to the window holding its first alert of the period;
per technique, the incidents with it in the recent window ``x_r`` out of ``n = x_r + x_b`` are tested
against ``Binomial(n, N_r / (N_r + N_b))`` (exact conditional test of equal rates, two-sided), where
``N_r`` and ``N_b`` are the windows' incident counts; Benjamini-Hochberg over the techniques tested.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
from scipy.stats import beta, false_discovery_control

from afteraction.analyze.program import facts, facts_incidents, trends_model
from afteraction.analyze.program import trends_queries as q
from afteraction.analyze.program.binomial import binom_two_sided
from afteraction.analyze.program.facts import first_seen_rows, materialise
from afteraction.analyze.program.period import Period, bucket_starts, data_extent, next_bucket
from afteraction.analyze.program.trends_model import (
    DIMENSIONS,
    TOP_TECHNIQUES,
    TRENDS_SCHEMA_VERSION,
    BucketTotal,
    ChangeTest,
    Durations,
    NewTechnique,
    Point,
    ResponsePoint,
    Series,
    TechniqueChange,
    Trends,
)
from afteraction.analyze.queries import compiled_sql, run_rows
from afteraction.errors import UsageError

if TYPE_CHECKING:
    from afteraction.attack.kb import KnowledgeBase
    from afteraction.store.db import Store



# -- set-up and Python on small results --------------------------------------------------------------

def _register(store: Store, kb: KnowledgeBase, recent_since: datetime) -> None:
    con = store.con
    con.execute(f"CREATE OR REPLACE TEMP TABLE {q.PARAMS_TABLE} AS SELECT ?::TIMESTAMPTZ AS recent_since",
                [recent_since])
    ids = [r["technique_id"] for r in run_rows(store, "trends-period-techniques", q.period_techniques, _me())]
    pairs = [(tid, tac) for tid in ids if (t := kb.technique(tid)) for tac in t.tactics]
    code = {tac: i for i, tac in enumerate(sorted({p[1] for p in pairs}))}
    tactics = pa.table({"technique_id": pa.array([p[0] for p in pairs], pa.string()),
                        "tactic": pa.array([p[1] for p in pairs], pa.string()),
                        "code": pa.array([code[p[1]] for p in pairs], pa.int64())})
    name = q.TACTICS_TABLE
    con.register(f"{name}_arrow", tactics)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")  # noqa: S608 - constants
    con.unregister(f"{name}_arrow")


def _me() -> tuple[Any, ...]:
    return (q, trends_model, facts, facts_incidents)


def _windows(period: Period, recent: timedelta | None) -> datetime:
    """The recent window's start: ``until - recent``, by default the period's midpoint."""
    length = period.until - period.since
    if recent is None:
        return period.since + length / 2
    if recent <= timedelta(0) or recent >= length:
        raise UsageError(f"--recent must be longer than 0 and shorter than the period ({length})")
    return period.until - recent


def _change_test(store: Store, kb: KnowledgeBase, recent_since: datetime, fdr: float, min_count: int,
                 period: Period) -> ChangeTest:
    exposure = run_rows(store, "trends-exposure", q.exposure, _me())[0]
    n_all, n_r = int(exposure["incidents"] or 0), int(exposure["recent"] or 0)
    n_b = n_all - n_r
    rows = run_rows(store, "trends-technique-windows", q.technique_windows, _me())
    testable = [r for r in rows if r["incidents"] >= min_count] if n_r and n_b else []
    changes: list[TechniqueChange] = []
    p0 = n_r / n_all if n_all else 0.0
    # the exact two-sided test of scipy's binomtest, for all techniques at once (program.binomial)
    pvalues = [float(v) for v in binom_two_sided(np.array([int(r["recent"]) for r in testable], dtype=np.int64),
                                                 np.array([int(r["incidents"]) for r in testable], dtype=np.int64),
                                                 p0)]
    qs = false_discovery_control(pvalues, method="bh") if pvalues else []
    lows, highs = _clopper_pearson([int(r["recent"]) for r in testable], [int(r["incidents"]) for r in testable])
    for r, pvalue, qv, low, high in zip(testable, pvalues, qs, lows, highs, strict=True):
        x_r, n = int(r["recent"]), int(r["incidents"])
        x_b = n - x_r
        rate_r, rate_b = x_r / n_r, x_b / n_b
        t = kb.technique(r["technique_id"])
        changes.append(TechniqueChange(
            technique=r["technique_id"], name=t.name if t else None, url=t.url or None if t else None,
            tactics=t.tactics if t else (), direction=_direction(rate_r, rate_b),
            baseline_incidents=x_b, recent_incidents=x_r, baseline_rate=rate_b, recent_rate=rate_r,
            rate_ratio=_ratio(x_r / n, n_b, n_r), ratio_low=_ratio(low, n_b, n_r) or 0.0,
            ratio_high=_ratio(high, n_b, n_r), p_value=pvalue, q_value=float(qv),
            flagged=bool(qv <= fdr)))
    flagged = sorted((c for c in changes if c.flagged), key=lambda c: (c.q_value, -_strength(c), c.technique))
    return ChangeTest(
        baseline_since=period.since, baseline_until=recent_since, recent_since=recent_since,
        recent_until=period.until, baseline_incidents=n_b, recent_incidents=n_r, fdr=fdr, min_count=min_count,
        tested=len(changes), skipped=len(rows) - len(changes), flagged=tuple(flagged), techniques=tuple(changes))


def _clopper_pearson(x: list[int], n: list[int], confidence: float = 0.95) -> tuple[list[float], list[float]]:
    """Exact (Clopper-Pearson) confidence intervals of binomial proportions ``x / n``, vectorised.

    The same interval as ``binomtest(...).proportion_ci(method="exact")``, from the beta quantiles.
    """
    if not x:
        return [], []
    xs, ns = np.asarray(x, dtype=float), np.asarray(n, dtype=float)
    alpha = 1 - confidence
    with np.errstate(invalid="ignore"):
        low = np.where(xs > 0, beta.ppf(alpha / 2, xs, ns - xs + 1), 0.0)
        high = np.where(xs < ns, beta.ppf(1 - alpha / 2, xs + 1, ns - xs), 1.0)
    return [float(v) for v in low], [float(v) for v in high]


def _ratio(share: float, n_b: int, n_r: int) -> float | None:
    """The rate ratio for a recent share ``x_r / n`` of the technique's incidents (None: infinite)."""
    if share >= 1.0:
        return None
    return float(share / (1.0 - share) * n_b / n_r)


def _direction(recent: float, baseline: float) -> str:
    return "rising" if recent > baseline else "declining" if recent < baseline else "flat"


def _strength(c: TechniqueChange) -> float:
    if c.rate_ratio is None or c.rate_ratio == 0:
        return math.inf
    return abs(math.log(c.rate_ratio))


def _response_point(bucket: datetime, r: dict[str, Any] | None) -> ResponsePoint:
    def durations(name: str) -> Durations:
        known = int(r[f"{name}_known"] or 0) if r else 0
        if not known or r is None:
            return Durations(known=0, median=None, p90=None)
        return Durations(known=known, median=float(r[f"{name}_median"]), p90=float(r[f"{name}_p90"]))

    classified = int(r["classified"] or 0) if r else 0
    tp = int(r["true_positives"] or 0) if r else 0
    return ResponsePoint(
        bucket=bucket, incidents=int(r["incidents"]) if r else 0, time_to_detect=durations("detect"),
        time_to_acknowledge=durations("acknowledge"), time_to_resolve=durations("resolve"),
        classified=classified, true_positives=tp, true_positive_rate=tp / classified if classified else None)


def _response(store: Store, period: Period, starts: list[datetime]) -> tuple[tuple[ResponsePoint, ...], ResponsePoint]:
    rows = {_key(r["b"]): r for r in run_rows(store, f"trends-response-{period.bucket}",
                                               q.response_by_bucket(period.bucket), _me())}
    overall = run_rows(store, "trends-response", q.response_overall, _me())
    return (tuple(_response_point(s, rows.get(_key(s))) for s in starts),
            _response_point(period.since, overall[0] if overall else None))


def _key(t: datetime) -> float:
    return t.timestamp()


def _series(store: Store, kb: KnowledgeBase, period: Period, starts: list[datetime], flagged: set[str],
            totals_rows: list[dict[str, Any]]) -> tuple[tuple[BucketTotal, ...], tuple[Series, ...]]:
    rows = run_rows(store, "trends-by-bucket", q.by_bucket, _me())
    index = {_key(s): i for i, s in enumerate(starts)}
    totals = [[0, 0] for _ in starts]
    found: dict[tuple[str, str], list[tuple[int, int, int]]] = {}  # (dimension, value) -> (bucket, alerts, incidents)
    for r in rows:
        i = index.get(_key(r["b"]))
        if i is None:
            continue
        if r["dimension"] == "":
            totals[i] = [int(r["alerts"]), int(r["incidents"])]
        else:
            found.setdefault((r["dimension"], r["value"]), []).append((i, int(r["alerts"]), int(r["incidents"])))
    overall = {(r["dimension"], r["value"]): (int(r["alerts"]), int(r["incidents"])) for r in totals_rows}
    top = sorted((k for k in found if k[0] == "technique"), key=lambda k: (-overall.get(k, (0, 0))[0], k[1]))
    keep = {k[1] for k in top[:TOP_TECHNIQUES]} | flagged
    tactic_names = {t.shortname: t.name for t in kb.tactics}
    out: list[Series] = []
    for dim in DIMENSIONS:
        keys = [k for k in found if k[0] == dim and (dim != "technique" or k[1] in keep)]
        keys.sort(key=lambda k: (-overall.get(k, (0, 0))[0], k[1]))
        for k in keys:
            cells = [(0, 0)] * len(starts)
            for i, alerts, incidents in found[k]:
                cells[i] = (alerts, incidents)
            points = tuple(Point(bucket=s, alerts=c[0], incidents=c[1],
                                 alert_rate=c[0] / totals[i][0] if totals[i][0] else None,
                                 incident_rate=c[1] / totals[i][1] if totals[i][1] else None)
                           for i, (s, c) in enumerate(zip(starts, cells, strict=True)))
            a, n = overall.get(k, (0, 0))
            out.append(Series(dimension=dim, value=k[1], label=_label(kb, tactic_names, dim, k[1]), alerts=a,
                              incidents=n, points=points))
    buckets = tuple(BucketTotal(bucket=s, alerts=t[0], incidents=t[1]) for s, t in zip(starts, totals, strict=True))
    return buckets, tuple(out)


def _label(kb: KnowledgeBase, tactic_names: dict[str, str], dim: str, value: str) -> str:
    if dim == "technique":
        t = kb.technique(value)
        return f"{value} {t.name}" if t else value
    if dim == "tactic":
        return tactic_names.get(value, value)
    return value


def _new_techniques(store: Store, kb: KnowledgeBase, totals_rows: list[dict[str, Any]]
                    ) -> tuple[NewTechnique, ...]:
    rows = first_seen_rows(store)
    overall = {r["value"]: r for r in totals_rows if r["dimension"] == "technique"}
    out = []
    for r in rows:
        t = kb.technique(r["technique_id"])
        counts = overall.get(r["technique_id"], {"alerts": 0, "incidents": 0})
        out.append(NewTechnique(technique=r["technique_id"], name=t.name if t else None,
                                url=t.url or None if t else None, tactics=t.tactics if t else (),
                                first_seen=r["first_seen"], alerts=int(counts["alerts"]),
                                incidents=int(counts["incidents"])))
    return tuple(out)


def trends(store: Store, kb: KnowledgeBase, period: Period, *, recent: timedelta | None = None,
           fdr: float = 0.05, min_count: int = 5, now: datetime | None = None) -> Trends:
    """The trend analysis of ``period`` (see the module docstring and ``docs/trends.md``).

    ``recent`` is the recent window's length, ending at ``period.until`` (default: the second half of the
    period); ``fdr`` the Benjamini-Hochberg false discovery rate; ``min_count`` the fewest incidents (both
    windows together) a technique needs to be tested; ``now`` the ``generated`` time (default: the clock).
    """
    if not 0 < fdr < 1:
        raise UsageError(f"--fdr must be between 0 and 1, not {fdr}")
    if min_count < 1:
        raise UsageError(f"the minimum count must be at least 1, not {min_count}")
    recent_since = _windows(period, recent)
    materialise(store, period)
    _register(store, kb, recent_since)
    starts = bucket_starts(period)
    sql = compiled_sql(store, f"trends-dimensions-{period.bucket}", q.dimension_incidents(period.bucket), _me())
    try:
        store.con.execute(f"CREATE OR REPLACE TEMP TABLE {q.DIMENSION_TABLE} AS {sql}")
        changes = _change_test(store, kb, recent_since, fdr, min_count, period)
        totals_rows = run_rows(store, "trends-by-period", q.by_period, _me())
        buckets, series = _series(store, kb, period, starts, {c.technique for c in changes.flagged}, totals_rows)
        response, overall = _response(store, period, starts)
    finally:  # the period tables stay for the next analysis; this one's own (millions of rows) go
        store.con.execute(f"DROP TABLE IF EXISTS {q.DIMENSION_TABLE}")
    notes = []
    if not (changes.baseline_incidents and changes.recent_incidents):
        notes.append("No technique was tested: the baseline or the recent window has no incidents.")
    if starts and (starts[0] < period.since or next_bucket(starts[-1], period.bucket) > period.until):
        notes.append("The first or last bucket is only partly inside the period; its counts cover that part.")
    first, _ = data_extent(store)
    if first is not None and period.since <= first:
        notes.append("The period starts at or before the store's first alert, so every technique seen is new to "
                     "the environment; give a later --since to find techniques first seen recently.")
    return Trends(
        schema_version=TRENDS_SCHEMA_VERSION, generated=(now or datetime.now(UTC)).astimezone(UTC),
        attack_version=kb.version, period=period, buckets=buckets, series=series, changes=changes,
        response=response, response_overall=overall, new_techniques=_new_techniques(store, kb, totals_rows),
        notes=tuple(notes))


__all__ = ["trends"]
