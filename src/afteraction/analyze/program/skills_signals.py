"""Signals of groups of handled alerts (techniques, tactics, analyst x technique) against the other alerts.

:class:`Alerts` holds the period's human-handled alerts as arrays (one row per alert, NULLs as NaN or
False), normalises each delay by the team's median for the alert's severity, and ranks the normalised
delays once; :func:`group_signals` then computes every group's seven signals from ``(group code, alert
index)`` pairs with one sort of the pairs, and :func:`apply_fdr` adds the Benjamini-Hochberg q-values.
"""

from __future__ import annotations

import math
from typing import Any

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


class Alerts:
    """The handled alerts as arrays, their rankings and totals."""

    def __init__(self, cols: dict[str, np.ndarray], rows: np.ndarray | None = None, *, sevs: list[str],
                 medians: dict[str, np.ndarray] | None = None) -> None:
        order = np.argsort(np.asarray(cols["idx"])) if rows is None else rows
        self.cols, self.sevs, self.order = cols, sevs, order
        self.c = {k: v[order] for k, v in cols.items()}  # masked arrays keep their NULL masks
        self.n = len(order)
        sev = np.asarray(self.c["sev"], dtype=np.int64)
        # the team's median delay per severity (from all handled alerts, also for a subset)
        self.sev_medians = medians or {k: self._sev_median(k, sev) for k in ("ack_s", "res_s")}
        self.c["med_ack"] = self.sev_medians["ack_s"][sev]
        self.c["med_res"] = self.sev_medians["res_s"][sev]
        with np.errstate(divide="ignore", invalid="ignore"):
            self.norm = {
                "ack_time": self._ratio("ack_s", "med_ack"),
                "resolve_time": self._ratio("res_s", "med_res"),
            }
        self.raw = {"ack_time": self._float("ack_s"), "resolve_time": self._float("res_s")}
        self.base = {"ack_time": self._float("med_ack"), "resolve_time": self._float("med_res")}
        self.ranks = {k: st.RankSums(v) for k, v in self.norm.items()}
        self.judged = self._bool("judged")
        self.flags = {k: self._bool(k) & self.judged for k in RATE_SIGNALS}

    def _sev_median(self, name: str, sev: np.ndarray) -> np.ndarray:
        values = self._float(name)
        out = np.full(max(len(self.sevs), 1), np.nan)
        for code in range(len(self.sevs)):
            v = values[(sev == code) & ~np.isnan(values)]
            out[code] = np.median(v) if len(v) else np.nan
        return out

    def subset(self, rows: np.ndarray) -> Alerts:
        """These alerts only, normalised by the whole team's severity medians."""
        return Alerts(self.cols, self.order[rows], sevs=self.sevs,
                     medians=self.sev_medians)

    def _bool(self, name: str) -> np.ndarray:
        return np.asarray(np.ma.filled(self.c[name], False), dtype=bool)

    def _float(self, name: str) -> np.ndarray:
        return np.asarray(np.ma.filled(np.ma.asarray(self.c[name]).astype(float), np.nan), dtype=float)

    def _ratio(self, value: str, median: str) -> np.ndarray:
        med = self._float(median)
        return self._float(value) / np.where(med > 0, med, 1.0)


def group_signals(data: Alerts, codes: np.ndarray, alerts: np.ndarray, groups: int) -> list[list[Signal]]:
    """Every signal of every group; ``codes``/``alerts`` are distinct (group, alert index) pairs."""
    out: list[list[Signal]] = [[] for _ in range(groups)]
    for name in DELAY_SIGNALS:
        norm, rs = data.norm[name], data.ranks[name]
        valid = ~np.isnan(norm[alerts])
        c, a = codes[valid], alerts[valid]
        n1 = st.group_counts(c, groups).astype(int)
        rsum = st.group_counts(c, groups, rs.ranks[a])
        order = np.argsort(c, kind="stable")  # one sort of the pairs by group; medians per slice
        a_sorted = a[order]
        bounds = np.searchsorted(c[order], np.arange(groups + 1))
        for g in range(groups):
            if n1[g] == 0:
                out[g].append(Signal(name=name, n=0, value=None, baseline=None, effect=None, p=None))
                continue
            members = a_sorted[bounds[g]:bounds[g + 1]]
            mine = np.sort(norm[members])
            rest = st.rest_median(rs.ordered, mine)
            value = float(np.median(mine))
            effect = None if not rest else value / rest
            out[g].append(Signal(name=name, n=int(n1[g]), value=value, baseline=rest, effect=effect,
                                 p=rs.greater(int(n1[g]), float(rsum[g])),
                                 median_s=num(float(np.median(data.raw[name][members]))),
                                 baseline_median_s=num(float(np.median(data.base[name][members])))))
    judged = data.judged[alerts]
    nj = st.group_counts(codes, groups, judged.astype(float)).astype(int)
    total_j = int(data.judged.sum())
    for name in RATE_SIGNALS:
        flag = data.flags[name]
        k = st.group_counts(codes, groups, flag[alerts].astype(float)).astype(int)
        total_k = int(flag.sum())
        for g in range(groups):
            n, rest_n = int(nj[g]), total_j - int(nj[g])
            if n == 0 or rest_n <= 0:
                out[g].append(Signal(name=name, n=n, value=None, baseline=None, effect=None, p=None, count=int(k[g])))
                continue
            p0 = (total_k - int(k[g]) + 0.5) / (rest_n + 1)  # half-count floor: a zero baseline is not certainty
            rate = int(k[g]) / n
            out[g].append(Signal(name=name, n=n, value=rate, baseline=p0, effect=rate / p0 if p0 > 0 else None,
                                 p=st.binomial_greater(int(k[g]), n, p0), count=int(k[g])))
    return out


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
