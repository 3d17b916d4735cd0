"""Signals of groups of handled alerts (techniques, tactics, analyst x technique) against the other alerts.

:class:`Alerts` holds the period's human-handled alerts as arrays (one row per alert, NULLs as NaN or
False), sorts each delay once, normalises it by the team's median for the alert's severity and ranks the
normalised delays (a merge of one sorted run per severity); :func:`group_signals` then computes every
group's seven signals from ``(group code, alert index)`` pairs for all groups at once (no loop over the
groups but to build the results), and :func:`apply_fdr` adds the Benjamini-Hochberg q-values. Results are
those of ``np.median`` and ``scipy.stats`` per group, to the bit (tests pin them against such a reference).
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

from afteraction.analyze.program import skills_stats as st
from afteraction.analyze.program.skills_model import DELAY_SIGNALS, RATE_SIGNALS, Signal


def dur(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds):
        return "—"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def num(x: Any) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


class Delays(NamedTuple):
    """One delay column sorted: the non-NaN delays in order and each alert's position among them (-1 for
    NaN), and the same alerts ordered by (severity, delay) with their severities and delays."""

    ordered: np.ndarray
    pos: np.ndarray
    by_sev: np.ndarray
    sev: np.ndarray
    values: np.ndarray


def _delays(values: np.ndarray, sev: np.ndarray) -> Delays:
    known = np.flatnonzero(~np.isnan(values))
    order = known[np.argsort(values[known])]
    pos = np.full(len(values), -1, dtype=np.int64)
    pos[order] = np.arange(len(order))
    ordered = values[order]
    sev_ordered = sev[order]
    by = np.argsort(sev_ordered, kind="stable")  # a radix sort on small integers; keeps the delay order
    return Delays(ordered, pos, order[by], sev_ordered[by], ordered[by])


class Alerts:
    """The handled alerts as arrays, their rankings and totals."""

    def __init__(self, cols: dict[str, np.ndarray], rows: np.ndarray | None = None, *, sevs: list[str],
                 medians: dict[str, np.ndarray] | None = None) -> None:
        if rows is None:
            idx = np.asarray(cols["idx"])
            ascending = bool(np.all(idx[1:] > idx[:-1]))  # the rows usually come back in rowid order
            rows = np.arange(len(idx)) if ascending else np.argsort(idx)
        else:
            ascending = False
        self.cols, self.sevs, self.order = cols, sevs, rows
        # masked arrays keep their NULL masks; rows already in order are taken as they are (not modified)
        self.c = dict(cols) if ascending else {k: v[rows] for k, v in cols.items()}
        self.n = len(rows)
        sev = np.asarray(self.c["sev"], dtype=np.int64)
        small = np.int16 if self.n == 0 or (sev.min() >= -(2**15) and sev.max() < 2**15) else np.int64
        self.raw = {"ack_time": self._float("ack_s"), "resolve_time": self._float("res_s")}
        self.sorted_raw = {k: _delays(v, sev.astype(small)) for k, v in self.raw.items()}
        # the team's median delay per severity (from all handled alerts, also for a subset)
        self.sev_medians = medians or {k: self._sev_median(d, sev) for k, d in (("ack_s", "ack_time"),
                                                                              ("res_s", "resolve_time"))}
        self.sev_level = sev % len(self.sev_medians["ack_s"])  # the index the severity medians were taken at
        self.ranks = {k: self._ranks(k, col) for k, col in (("ack_time", "ack_s"), ("resolve_time", "res_s"))}
        self.judged = self._bool("judged")
        self.flags = {k: self._bool(k) & self.judged for k in RATE_SIGNALS}
        self.packed = {k: self._pack(k) for k in DELAY_SIGNALS}

    def _pack(self, name: str) -> np.ndarray:
        """Per alert the position of its normalised delay, of its delay and its severity level in one integer
        (one gather of it for all pairs; -1 for no normalised delay): see :meth:`unpack`."""
        at, raw = self.ranks[name].pos, self.sorted_raw[name].pos
        a, r, lv = self._bits(name)
        if a + r + lv > 62:
            raise OverflowError("too many alerts to pack their positions in 64 bits")
        return np.where(at >= 0, (at << (r + lv)) | (raw << lv) | self.sev_level, -1)

    def _bits(self, name: str) -> tuple[int, int, int]:
        return (max(self.ranks[name].n, 1).bit_length(), max(len(self.sorted_raw[name].ordered), 1).bit_length(),
                max(len(self.sev_medians["ack_s"]) - 1, 1).bit_length())

    def unpack(self, name: str, packed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The positions of the normalised delays and the delays, and the severity levels, of ``packed``."""
        _, r, lv = self._bits(name)
        return packed >> (r + lv), (packed >> lv) & ((1 << r) - 1), packed & ((1 << lv) - 1)

    def _sev_median(self, name: str, sev: np.ndarray) -> np.ndarray:
        d = self.sorted_raw[name]
        out = np.full(max(len(self.sevs), 1), np.nan)
        out[:len(self.sevs)] = st.sorted_medians(d.values, np.searchsorted(d.sev, np.arange(len(self.sevs) + 1)))
        return out

    def _ranks(self, name: str, col: str) -> st.RankSums:
        # one severity's normalised delays are in the order of its delays (one division by a positive
        # number): by (severity, delay) they are a few sorted runs, and computed in that order exactly as
        # in ``self.norm``
        d, med = self.sorted_raw[name], self.sev_medians[col]
        with np.errstate(divide="ignore", invalid="ignore"):
            runs = d.values / np.where(med > 0, med, 1.0)[d.sev]
        return st.RankSums.sorted_runs(self.n, d.by_sev, runs)

    @cached_property
    def base(self) -> dict[str, np.ndarray]:
        """Each alert's severity median delays."""
        return {k: self.sev_medians[col][self.sev_level] for k, col in (("ack_time", "ack_s"),
                                                                        ("resolve_time", "res_s"))}

    @cached_property
    def norm(self) -> dict[str, np.ndarray]:
        """Each alert's delays divided by its severity's median, NaN for none (the per-alert form of what the
        rankings hold; the tests' reference computes from it)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return {k: self.raw[k] / np.where(med > 0, med, 1.0) for k, med in self.base.items()}

    def subset(self, rows: np.ndarray) -> Alerts:
        """These alerts only, normalised by the whole team's severity medians."""
        return Alerts(self.cols, self.order[rows], sevs=self.sevs,
                     medians=self.sev_medians)

    def _bool(self, name: str) -> np.ndarray:
        return np.asarray(np.ma.filled(self.c[name], False), dtype=bool)

    def _float(self, name: str) -> np.ndarray:
        return np.asarray(np.ma.filled(np.ma.asarray(self.c[name]).astype(float), np.nan), dtype=float)


def _nan_none(values: np.ndarray) -> list[float | None]:
    return [None if v != v else v for v in values.tolist()]  # v != v: NaN


def _delay_signals(data: Alerts, name: str, codes: np.ndarray, alerts: np.ndarray, groups: int) -> list[Signal]:
    rs, raw = data.ranks[name], data.sorted_raw[name].ordered
    packed = data.packed[name][alerts]
    valid = packed >= 0  # a normalised delay (not NaN), so also a delay
    c = codes[valid]
    at, raw_at, level = data.unpack(name, packed[valid])
    n1 = st.group_counts(c, groups).astype(int)
    order = st.group_sort(c, at, n1, rs.n)  # one sort of the pairs by (group, value)
    value = st.group_medians(rs.ordered, order).tolist()
    rest = _nan_none(st.rest_medians(rs.ordered, order))
    p = _nan_none(rs.greater_all(n1, rs.sums(c, at, n1)))
    median_s = _nan_none(st.group_medians(raw, st.group_sort(c, raw_at, n1, len(raw))))
    levels = data.sev_medians["ack_s" if name == "ack_time" else "res_s"]  # data.base: levels[sev_level]
    base_s = _nan_none(st.level_medians(c, level, levels, groups))
    out = []
    for g, n in enumerate(n1.tolist()):
        if n == 0:
            out.append(Signal(name=name, n=0, value=None, baseline=None, effect=None, p=None))
            continue
        r = rest[g]
        out.append(Signal(name=name, n=n, value=value[g], baseline=r, effect=None if not r else value[g] / r,
                          p=p[g], median_s=median_s[g], baseline_median_s=base_s[g]))
    return out


def _rate_signals(data: Alerts, name: str, k: np.ndarray, nj: np.ndarray) -> list[Signal]:
    total_k, rest_n = int(data.flags[name].sum()), int(data.judged.sum()) - nj
    with np.errstate(divide="ignore", invalid="ignore"):
        p0 = (total_k - k + 0.5) / (rest_n + 1)  # half-count floor: a zero baseline is not certainty
        rate = k / nj
        effect = rate / p0
    test = (nj > 0) & (rest_n > 0)
    p = np.full(len(nj), np.nan)
    p[test] = st.binomial_greater(k[test], nj[test], p0[test])
    out = []
    for g, (n, kg, t) in enumerate(zip(nj.tolist(), k.tolist(), test.tolist(), strict=True)):
        if not t:
            out.append(Signal(name=name, n=n, value=None, baseline=None, effect=None, p=None, count=kg))
            continue
        out.append(Signal(name=name, n=n, value=float(rate[g]), baseline=float(p0[g]),
                          effect=float(effect[g]) if p0[g] > 0 else None, p=float(p[g]), count=kg))
    return out


def group_signals(data: Alerts, codes: np.ndarray, alerts: np.ndarray, groups: int) -> list[list[Signal]]:
    """Every signal of every group; ``codes``/``alerts`` are distinct (group, alert index) pairs."""
    by_signal = [_delay_signals(data, name, codes, alerts, groups) for name in DELAY_SIGNALS]
    # each group's judged alerts and flagged alerts, counted exactly in integers
    judged = np.bincount(codes[data.judged[alerts]], minlength=groups)[:groups]
    by_signal += [_rate_signals(data, name, np.bincount(codes[data.flags[name][alerts]], minlength=groups)[:groups],
                                judged) for name in RATE_SIGNALS]
    return [list(row) for row in zip(*by_signal, strict=True)] if groups else []


def apply_fdr(entries: list[list[Signal]], fdr: float) -> list[list[Signal]]:
    flat = [s.p for signals in entries for s in signals]
    qs = iter(st.bh(flat))
    out = []
    for signals in entries:
        row = []
        for s in signals:
            q = next(qs)
            row.append(Signal(**{**fields(s), "q": q, "significant": q is not None and q <= fdr}))
        out.append(row)
    return out


def fields(s: Signal) -> dict[str, Any]:
    return {f: getattr(s, f) for f in s.__struct_fields__}


__all__ = ["Alerts", "apply_fdr", "dur", "fields", "group_signals", "num"]
