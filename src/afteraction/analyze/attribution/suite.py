"""``afteraction eval attribution``: every protocol, the baselines in the same run, calibration, and targets."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import msgspec
import numpy as np

from afteraction.analyze.attribution.evaluate import (
    PROTOCOLS,
    TEST_SEED,
    Calibration,
    SettingResult,
    calibration,
    fit_temperature,
    likelihood,
    oracle,
    run_setting,
    score_queries,
    scorers,
)
from afteraction.analyze.attribution.profiles import KINDS, Kind, Profiles
from afteraction.analyze.attribution.protocols import DEV_SEED, Query, p1_queries, p2_queries, p3_queries
from afteraction.analyze.attribution.scoring import DEFAULT_PARAMS, Params

if TYPE_CHECKING:
    from afteraction.attack.kb import KnowledgeBase

EVAL_SCHEMA_VERSION = "1"
#: the issue's targets on ATT&CK v18.1: (protocol, setting, measure, target, reference baseline)
TARGETS: tuple[tuple[str, str, str, float, float | None], ...] = (
    ("P1", "+software, +campaigns", "top5", 0.75, 0.61),
    ("P1", "techniques, +campaigns", "top5", 0.45, 0.30),
    ("P2", "k=5 noisy", "top1", 0.60, 0.45),
)
ECE_TARGET = 0.10
_PLURAL = {"group": "groups", "campaign": "campaigns", "software": "software"}
_MIX = {False: "k=3, 5, 10", True: "k=3, 5, 10, +1 software"}


class TargetCheck(msgspec.Struct, frozen=True):
    """One target: the measured value of afteraction's scorer against it."""

    protocol: str
    setting: str
    measure: str
    target: float
    value: float
    low: float
    high: float
    met: bool
    baseline: float | None = None


class EvalReport(msgspec.Struct, frozen=True):
    """The whole evaluation: settings, calibration, targets, and what the scorer used."""

    schema_version: str
    attack_version: str
    attack_source: str
    method: str
    params: Params
    dev_seed: int
    test_seed: int
    #: temperatures refitted on the P2-noisy development queries in this run, by kind (should equal those in use)
    fitted_temperatures: dict[str, float]
    settings: list[SettingResult]
    calibration: list[Calibration]
    targets: list[TargetCheck]


def p2_mix(profiles: Profiles, seed: int, kind: Kind = "group") -> list[Query]:
    """The calibration query mix of one candidate kind: P2-noisy k=3, 5, 10 (+1 software except for software)."""
    out: list[Query] = []
    for k in (3, 5, 10):
        out += p2_queries(profiles, k, noisy=True, seed=seed, kind=kind)
    if kind != "software":
        out += p2_queries(profiles, 5, noisy=True, software=True, seed=seed, kind=kind)
    return out


def fit_temperatures(profiles: Profiles, params: Params, seed: int = DEV_SEED) -> dict[str, float]:
    """Each kind's softmax temperature fitted on its development queries."""
    out = {}
    for kind in KINDS:
        dev = p2_mix(profiles, seed, kind)
        scores = np.array(score_queries(profiles, kind, dev, likelihood(params)))
        out[kind] = fit_temperature(scores, np.array([q.gold[0] for q in dev]))
    return out


def _target(setting: str, protocol: str) -> tuple[str, float] | None:
    for proto, name, measure, target, _ in TARGETS:
        if proto == protocol and name == setting:
            return measure, target
    return None


def run_evaluation(kb: KnowledgeBase, protocols: Iterable[str] = PROTOCOLS, params: Params = DEFAULT_PARAMS,
                   progress: Callable[[str], None] | None = None) -> EvalReport:
    """Run the chosen protocols on ``kb`` with afteraction's scorer, Jaccard and IDF-cosine on the same queries."""
    from afteraction.analyze.attribution.build import Attributor

    wanted = {p.upper() for p in protocols}
    say = progress or (lambda _msg: None)
    fns = scorers(params)
    merged, direct = Profiles(kb), Profiles(kb, merge_campaigns=False)
    settings: list[SettingResult] = []
    cal: list[Calibration] = []
    fitted: dict[str, float] = {}
    if "P1" in wanted:
        for software in (False, True):
            for prof, label in ((direct, "direct"), (merged, "+campaigns")):
                name = f"{'+software' if software else 'techniques'}, {label}"
                say(f"P1 {name}")
                settings.append(run_setting(prof, "P1", name, "group", list(p1_queries(prof, software)), fns,
                                            _target(name, "P1")))
        for software in (False, True):
            name = f"{'+software' if software else 'techniques'}, +campaigns"
            cal.append(calibration(merged, f"P1 {name}", "group", list(p1_queries(merged, software)), params,
                                   ECE_TARGET))
    if "P2" in wanted:
        for k, noisy, software in ((3, True, False), (5, True, False), (10, True, False), (5, False, False),
                                   (5, True, True)):
            name = f"k={k} {'noisy' if noisy else 'clean'}" + (" +1 software" if software else "")
            say(f"P2 {name}")
            queries = p2_queries(merged, k, noisy=noisy, software=software)
            extra = {"protocol ceiling": oracle(max(1, round(k / 3)))} if noisy and not software else {}
            settings.append(run_setting(merged, "P2", name, "group", queries, {**fns, **extra}, _target(name, "P2")))
        say("calibration")
        fitted = fit_temperatures(merged, params)
        held = [calibration(merged, f"P2-noisy held-out, {_PLURAL[kind]} ({_MIX[kind != 'software']})", kind,
                            p2_mix(merged, TEST_SEED, kind), params, ECE_TARGET) for kind in KINDS]
        cal[:0] = held
    if "P3" in wanted:
        say("P3 k=5")
        settings.append(run_setting(merged, "P3", "k=5", "software", p3_queries(merged, 5), fns))
    return EvalReport(schema_version=EVAL_SCHEMA_VERSION, attack_version=kb.version, attack_source=kb.source,
                      method=Attributor(kb, params).method, params=params, dev_seed=DEV_SEED, test_seed=TEST_SEED,
                      fitted_temperatures=fitted, settings=settings, calibration=cal, targets=_checks(settings))


def _checks(settings: list[SettingResult]) -> list[TargetCheck]:
    out = []
    for proto, name, measure, target, baseline in TARGETS:
        for s in settings:
            if s.protocol == proto and s.setting == name:
                ours = next(r for r in s.scorers if r.scorer == "afteraction")
                value = getattr(ours, measure)
                out.append(TargetCheck(proto, name, measure, target, value.value, value.low, value.high,
                                       value.value >= target, baseline))
    return out


__all__ = ["ECE_TARGET", "EVAL_SCHEMA_VERSION", "TARGETS", "EvalReport", "TargetCheck", "fit_temperatures", "p2_mix",
           "run_evaluation"]
