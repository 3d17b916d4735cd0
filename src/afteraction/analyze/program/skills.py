"""Skill gaps: techniques (and tactics) the team handles slower or misjudges more than its own baseline.

Human-handled alerts of the period (not closed by automation) are compared, per technique, with all other
human-handled alerts: time to acknowledge and to resolve normalised by the median of the alert's severity
(one-sided Mann-Whitney U), and five outcome rates (one-sided exact binomial tests). Benjamini-Hochberg
controls the false discovery rate over all team-level tests; a technique with enough alerts and at least
one significant signal is a skill gap, ranked by the score ``sum(log2(effect))`` over its significant
signals. Techniques whose first alert in the store falls in the period are listed as awareness gaps.
Per-analyst results exist only when asked for. See docs/skills.md.
"""

from __future__ import annotations

import math
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np

from afteraction.analyze.program import facts
from afteraction.analyze.program import skills_stats as st
from afteraction.analyze.program.facts import (
    ALERTS_TABLE,
    TECHNIQUES_TABLE,
    epoch_seconds,
    first_seen_rows,
    materialise,
)
from afteraction.analyze.program.skills_model import (
    DELAY_SIGNALS,
    RATE_SIGNALS,
    SIGNALS,
    SKILLS_SCHEMA_VERSION,
    Entry,
    NewTechnique,
    Ref,
    SeverityBaseline,
    Signal,
    Skills,
    TrainingItem,
)
from afteraction.analyze.program.skills_signals import Alerts, apply_fdr, dur, group_signals, num
from afteraction.analyze.queries import compiled_sql

if TYPE_CHECKING:
    from afteraction.analyze.program.period import Period
    from afteraction.attack.kb import KnowledgeBase
    from afteraction.store.db import Store

HANDLED_TABLE = "aa_skills_handled"
#: A technique (tactic, analyst x technique) needs this many human-handled alerts to be tested.
MIN_ALERTS = 5
ATOMIC_URL = "https://github.com/redcanaryco/atomic-red-team/blob/master/atomics/{tid}/{tid}.md"
_RATE_WORDS = {"reclassified": "classification changed", "fp_to_tp": "false positive later confirmed true positive",
               "not_enough_data": "closed as notEnoughDataToValidate", "unknown": "closed as unknown",
               "reopened": "reopened"}


def handled_alerts(con: Any) -> Any:
    """The Ibis expression of :data:`HANDLED_TABLE`: human-handled alerts with delays and outcome flags."""
    a = con.table(ALERTS_TABLE)
    a = a.filter(~a.automated)
    created = epoch_seconds(a.created)
    # an alert acknowledged before it was created joined an incident already being worked: its delay says
    # nothing about how fast that kind of alert is triaged, so it has no acknowledgement time (docs/skills.md)
    ack = ibis.ifelse(a.acknowledged >= a.created, epoch_seconds(a.acknowledged) - created, ibis.null()
                      ).cast("float64")
    # not GREATEST, which ignores NULL in DuckDB: an alert still open has no resolve time, not a zero one
    delay = (epoch_seconds(a.resolved) - created).cast("float64")
    res = ibis.cases((delay < 0, 0.0), else_=delay)
    j = a.mutate(ack_s=ack, res_s=res)
    # judged: resolved with a verdict. Graph's default classification of an untriaged alert is ``unknown``,
    # so only a resolved alert's classification (or an ``unknown`` determination on it) is a judgement.
    resolved = j.resolved.notnull() | (j.status == "resolved")
    judged = resolved & j.classification.notnull()
    return j.select(
        ak=j.ak, severity=j.severity, analyst=j.assigned_to,
        ack_s=j.ack_s, res_s=j.res_s,
        judged=judged,
        reclassified=judged & j.reclassified,
        fp_to_tp=judged & j.reclassified & j.false_positive_mentioned & (j.classification == "truePositive"),
        not_enough_data=judged & (j.determination == "notEnoughDataToValidate").fill_null(False),
        unknown=judged & ((j.determination == "unknown").fill_null(False)
                          | (j.classification == "unknown").fill_null(False)),  # on resolved alerts only
        reopened=judged & j.reopened,
    )


CODES_TABLE = "aa_skills_codes"
#: The handled alerts' row index is the temporary table's ``rowid`` (a window ``row_number`` over a million
#: wide rows costs about 2 s); techniques and severities come back as small integer codes, not strings.
_CODES_SQL = (f"CREATE OR REPLACE TEMP TABLE {CODES_TABLE} AS SELECT technique_id, "  # noqa: S608 - fixed names
              f"(row_number() OVER (ORDER BY technique_id) - 1)::BIGINT AS code "
              f"FROM (SELECT DISTINCT technique_id FROM {TECHNIQUES_TABLE})")
_PAIRS_SQL = (f"SELECT h.rowid AS idx, c.code FROM {HANDLED_TABLE} h JOIN {TECHNIQUES_TABLE} t "  # noqa: S608
              f"USING (ak) JOIN {CODES_TABLE} c USING (technique_id)")  # ak: the alert key's hash (program.facts)


#: signals that are a subset of another (a false positive confirmed true positive is a reclassification):
#: only the larger of the two counts in the score
NESTED = {"fp_to_tp": "reclassified"}


def score(signals: tuple[Signal, ...] | list[Signal]) -> float:
    """``sum(log2(effect))`` over the significant signals (effect < 1 counts 0; an undefined effect 1); of a
    nested pair (:data:`NESTED`) only the larger counts."""
    parts: dict[str, float] = {}
    for s in signals:
        if s.significant:
            value = 1.0 if s.effect is None else max(math.log2(s.effect), 0.0) if s.effect > 0 else 0.0
            key = NESTED.get(s.name, s.name)
            parts[key] = max(parts.get(key, 0.0), value)
    return round(sum(parts.values()), 6)


def evidence(s: Signal, severity: str | None, peers: str | None = None) -> str:
    """One significant signal in plain words (``peers``: what the group was compared with)."""
    q = f"q = {s.q:.2g}" if s.q is not None else "q unknown"
    times = f"{s.effect:.1f}×" if s.effect is not None else "markedly"  # noqa: RUF001 - the multiplication sign is meant
    if s.name in DELAY_SIGNALS:
        verb = "acknowledged" if s.name == "ack_time" else "resolved"
        peers = peers or (f"other {severity}-severity alerts" if severity else "other alerts of the same severity")
        return (f"{verb} {times} slower than {peers} (median {dur(s.median_s)} vs "
                f"{dur(s.baseline_median_s)}, {s.n} alerts, {q})")
    return (f"{_RATE_WORDS[s.name]} in {s.value or 0:.0%} of {s.n} classified alerts vs "
            f"{s.baseline or 0:.1%} of {peers or 'other alerts'} ({times}, {q})")


def _entries(keys: list[tuple[str, str, str, tuple[str, ...], str | None, str | None]], data: Alerts,
             codes: np.ndarray, alerts: np.ndarray, signals: list[list[Signal]], peers: str | None = None
             ) -> list[Entry]:
    groups = len(keys)
    counts = st.group_counts(codes, groups).astype(int)
    judged = st.group_counts(codes, groups, data.judged[alerts].astype(float)).astype(int)
    sevs, sev_codes = data.sevs, np.asarray(data.c["sev"], dtype=np.int64)
    by_sev = np.bincount(codes * len(sevs) + sev_codes[alerts], minlength=groups * len(sevs)).reshape(
        groups, len(sevs)) if groups else np.zeros((0, len(sevs)))
    out = []
    for g, (key, name, url, tactics, analyst, technique) in enumerate(keys):
        single = np.flatnonzero(by_sev[g])
        severity = sevs[single[0]] if len(single) == 1 else None
        sig = tuple(signals[g])
        gap = counts[g] >= MIN_ALERTS and any(s.significant for s in sig)
        out.append(Entry(key=key, name=name, url=url, tactics=tactics, analyst=analyst, technique=technique,
                         alerts=int(counts[g]), judged=int(judged[g]), signals=sig, gap=bool(gap),
                         score=score(sig) if gap else 0.0,
                         evidence=tuple(evidence(s, severity, peers) for s in sig if s.significant)))
    return out


def _tech_info(kb: KnowledgeBase, tid: str) -> tuple[str, str, tuple[str, ...]]:
    t = kb.technique(tid)
    return (t.name, t.url, tuple(t.tactics)) if t else ("", "", ())


def _ranked(entries: list[Entry]) -> list[Entry]:
    def best_q(e: Entry) -> float:
        return min((s.q for s in e.signals if s.q is not None), default=1.0)
    return sorted((e for e in entries if e.gap), key=lambda e: (-e.score, best_q(e), e.key))


def _training(kb: KnowledgeBase, gaps: list[Entry]) -> list[TrainingItem]:
    plan = []
    for rank, e in enumerate(gaps, 1):
        det = kb.detections_for(e.key)
        strategies = tuple(Ref(id=s.strategy.id, name=s.strategy.name, url=s.strategy.url) for s in det.strategies)
        names = "; ".join(SIGNALS[s.name] for s in e.signals if s.significant)
        plan.append(TrainingItem(
            rank=rank, technique=e.key, name=e.name, url=e.url, tactics=e.tactics,
            why=f"ranked {rank} of the skill gaps (score {e.score:.2f}) on {e.alerts} human-handled alerts; "
                f"significant signals: {names}",
            evidence=e.evidence,
            exercise=(f"Run an adversary-emulation test of {e.key} (for example an Atomic Red Team test for "
                      f"{e.key}) in a test environment, then hold a triage drill on the resulting alert: "
                      "acknowledge, scope, classify and resolve it against the team's severity targets, and "
                      "review the determination with a senior analyst."),
            emulation_url=ATOMIC_URL.format(tid=e.key), detection_strategies=strategies))
    return plan


def skills(store: Store, kb: KnowledgeBase, period: Period, *, per_analyst: bool = False, top: int = 15,
           fdr: float = 0.05, now: datetime | None = None) -> Skills:
    """The skill-gap analysis of ``period`` (see the module docstring and docs/skills.md)."""
    materialise(store, period)
    me = (sys.modules[__name__], facts)
    con = store.con
    con.execute(f"CREATE OR REPLACE TEMP TABLE {HANDLED_TABLE} AS "
                f"{compiled_sql(store, 'skills-handled', handled_alerts, me)}")
    sevs = [r[0] for r in con.execute(f"SELECT DISTINCT severity FROM {HANDLED_TABLE} ORDER BY 1").fetchall()]  # noqa: S608
    cols = ["rowid AS idx", "(list_position(?, severity) - 1)::BIGINT AS sev", "ack_s", "res_s", "judged",
            *RATE_SIGNALS]
    if per_analyst:
        cols.append("coalesce(analyst, '') AS analyst")
    data = Alerts(con.execute(f"SELECT {', '.join(cols)} FROM {HANDLED_TABLE}", [sevs]).fetchnumpy(),  # noqa: S608
                 sevs=sevs)
    con.execute(_CODES_SQL)
    tids = np.array([r[0] for r in con.execute(f"SELECT technique_id FROM {CODES_TABLE} ORDER BY code").fetchall()],  # noqa: S608
                    dtype=object)
    pairs = con.execute(_PAIRS_SQL).fetchnumpy()
    alert_of = np.asarray(pairs["idx"], dtype=np.int64)
    tech_codes = np.asarray(pairs["code"], dtype=np.int64)
    counts = con.execute(f"SELECT count(*), count(*) FILTER (WHERE automated) FROM {ALERTS_TABLE}"  # noqa: S608
                         ).fetchone()
    total, automated = (int(counts[0]), int(counts[1])) if counts else (0, 0)

    # techniques and tactics: one BH family for the team
    t_keys = [(str(t), *_tech_info(kb, str(t)), None, None) for t in tids]
    tactic_names = {t.shortname: t.name for t in kb.tactics}
    tactic_urls = {t.shortname: t.url for t in kb.tactics}
    tactic_list = sorted({s for _, _, _, tac, _, _ in t_keys for s in tac},
                         key=lambda s: (list(tactic_names).index(s) if s in tactic_names else 99, s))
    tac_codes, tac_alerts = _tactic_pairs(tactic_list, t_keys, tech_codes, alert_of, data.n)
    tech_n = st.group_counts(tech_codes, len(tids)).astype(int)
    tac_n = st.group_counts(tac_codes, len(tactic_list)).astype(int)
    tech_sig = group_signals(data, tech_codes, alert_of, len(tids))
    tac_sig = group_signals(data, tac_codes, tac_alerts, len(tactic_list))
    tested = [tech_sig[g] if tech_n[g] >= MIN_ALERTS else [] for g in range(len(tids))]
    tested_tac = [tac_sig[g] if tac_n[g] >= MIN_ALERTS else [] for g in range(len(tactic_list))]
    both = apply_fdr(tested + tested_tac, fdr)
    techniques = [e for e in _entries(t_keys, data, tech_codes, alert_of, both[:len(tids)])
                  if e.alerts >= MIN_ALERTS]
    tac_keys = [(s, tactic_names.get(s, s), tactic_urls.get(s, ""), (s,), None, None) for s in tactic_list]
    tactics = [e for e in _entries(tac_keys, data, tac_codes, tac_alerts, both[len(tids):])
               if e.alerts >= MIN_ALERTS]
    gaps = _ranked(techniques)

    analysts: list[Entry] = []
    notes: list[str] = []
    if per_analyst:
        analysts = _per_analyst(data, t_keys, tech_codes, alert_of, fdr)
        if not analysts:
            notes.append("Per-analyst results were asked for, but no analyst has enough assigned alerts of "
                         f"one technique (at least {MIN_ALERTS}).")

    store_first = con.execute("SELECT min(created) FROM alerts").fetchone()
    history = bool(store_first and store_first[0] and store_first[0] < period.since)
    new = _never_handled(store, kb, me) if history else []
    new.sort(key=lambda n: (n.first_seen, n.id))
    if not history:
        notes.append("The store holds no alert before the period, so no technique can be told apart as never "
                     "handled before: start the period later to list awareness gaps.")
    if not techniques:
        notes.append(f"No technique has {MIN_ALERTS} or more human-handled alerts in the period.")

    sev = np.asarray(data.c["sev"], dtype=np.int64)
    baselines = []
    for code, s in enumerate(sevs):
        m = sev == code
        if not m.any():
            continue
        baselines.append(SeverityBaseline(severity=s, alerts=int(m.sum()),
                                          median_ack_s=num(float(data.sev_medians["ack_s"][code])),
                                          median_resolve_s=num(float(data.sev_medians["res_s"][code]))))
    nj = int(data.judged.sum())
    rates = {k: (float(data.flags[k].sum()) / nj if nj else 0.0) for k in RATE_SIGNALS}
    return Skills(
        schema_version=SKILLS_SCHEMA_VERSION, generated=now or datetime.now(UTC), attack_version=kb.version,
        period=period, per_analyst=per_analyst, fdr=fdr, min_alerts=MIN_ALERTS, top=top, alerts=total,
        human_handled=data.n, automated=automated, tests=sum(1 for r in both for s in r if s.p is not None),
        severity_baselines=tuple(baselines), baseline_rates=rates, skill_gaps=tuple(gaps[:top]),
        skill_gaps_total=len(gaps), techniques=tuple(techniques), tactics=tuple(tactics),
        never_handled=tuple(new), history_before_period=history, analysts=tuple(analysts),
        training_plan=tuple(_training(kb, gaps[:top])), notes=tuple(notes))


def _never_handled(store: Store, kb: KnowledgeBase, me: tuple[Any, ...]) -> list[NewTechnique]:
    """Techniques first seen in the period, with their alerts in the period (all alerts, not only handled)."""
    period_alerts = dict(store.con.execute(
        f"SELECT technique_id, count(*) FROM {TECHNIQUES_TABLE} GROUP BY 1").fetchall())  # noqa: S608 - fixed name
    out = []
    for r in first_seen_rows(store):
        name, url, tactics = _tech_info(kb, r["technique_id"])
        out.append(NewTechnique(id=r["technique_id"], name=name, url=url, tactics=tactics, first_seen=r["first_seen"],
                                alerts=int(period_alerts.get(r["technique_id"], 0))))
    return out


def _tactic_pairs(tactics: list[str], t_keys: list[Any], tech_codes: np.ndarray, alert_of: np.ndarray,
                  n: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (tactic code, alert index) pairs: an alert belongs to every tactic of its techniques (by tactic,
    then alert index)."""
    index = {tac: i for i, tac in enumerate(tactics)}
    of_tech = [[index[tac] for tac in k[3] if tac in index] for k in t_keys]
    counts = np.array([len(v) for v in of_tech], dtype=np.int64)
    flat = np.array([c for v in of_tech for c in v], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]) if len(counts) else np.zeros(0, dtype=np.int64)
    per_pair = counts[tech_codes] if len(tech_codes) else np.zeros(0, dtype=np.int64)
    pair = np.repeat(np.arange(len(tech_codes)), per_pair)
    offset = np.arange(len(pair)) - np.repeat(np.cumsum(per_pair) - per_pair, per_pair)
    codes = flat[starts[tech_codes[pair]] + offset] if len(pair) else np.zeros(0, dtype=np.int64)
    size = max(n, 1)
    dtype = np.int32 if len(tactics) * size < 2**31 else np.int64  # a narrower sort is about twice as fast
    keys = np.sort(codes.astype(dtype) * dtype(size) + alert_of[pair].astype(dtype))
    # distinct by sort: numpy 2.4's hash-based np.unique is about 60x slower on a few million integers
    keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))] if len(keys) else keys
    return (keys // size).astype(np.int64), (keys % size).astype(np.int64)


def _per_analyst(data: Alerts, t_keys: list[Any], tech_codes: np.ndarray, alert_of: np.ndarray,
                 fdr: float) -> list[Entry]:
    """Analyst x technique cells with enough alerts, each against the colleagues' alerts of the same technique.

    The severity normalisation stays the team's; ranks, medians and rates are taken within the technique, so
    a gap the whole team shares does not show as every analyst's gap. One BH family for all cells.
    """
    if "analyst" not in data.c:
        return []
    names = np.asarray(np.ma.filled(data.c["analyst"], "")).astype(str)
    people, person = np.unique(names, return_inverse=True)
    order = np.argsort(tech_codes, kind="stable")
    bounds = np.searchsorted(tech_codes[order], np.arange(len(t_keys) + 1))
    keys, signals, subsets = [], [], []
    for g, t in enumerate(t_keys):
        rows = np.sort(alert_of[order[bounds[g]:bounds[g + 1]]])
        rows = rows[names[rows] != ""]
        if len(rows) < MIN_ALERTS:
            continue
        sub = data.subset(rows)
        local = person[rows]
        cells, codes = np.unique(local, return_inverse=True)
        counts = st.group_counts(codes, len(cells))
        if len(cells) < 2 or counts.max() < MIN_ALERTS:
            continue
        sig = group_signals(sub, codes, np.arange(len(rows)), len(cells))
        for c, who in enumerate(cells):
            if counts[c] >= MIN_ALERTS:
                name = str(people[who])
                keys.append((f"{name}|{t[0]}", t[1], t[2], t[3], name, t[0]))
                signals.append(sig[c])
                subsets.append((sub, codes == c))
    adjusted = apply_fdr(signals, fdr)
    entries = []
    for key, sig, (sub, mask) in zip(keys, adjusted, subsets, strict=True):
        idx = np.flatnonzero(mask)
        entries += _entries([key], sub, np.zeros(len(idx), dtype=np.int64), idx, [sig],
                            peers="colleagues' alerts of the same technique")
    return sorted(entries, key=lambda e: (not e.gap, -e.score, e.key))


__all__ = ["ATOMIC_URL", "HANDLED_TABLE", "MIN_ALERTS", "evidence", "handled_alerts",
           "score", "skills"]
