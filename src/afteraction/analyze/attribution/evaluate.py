"""Run the protocols against afteraction's scorer and the baselines, in one run, on the loaded ATT&CK data."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import msgspec
import numpy as np
from scipy import sparse
from scipy.optimize import minimize_scalar
from scipy.special import gammaln

from afteraction.analyze.attribution.metrics import (
    TIE_TOLERANCE,
    Proportion,
    ReliabilityBin,
    rank_outcome,
    reliability,
    wilson,
)
from afteraction.analyze.attribution.profiles import CandidateSet, Kind, Profiles, binary_matrix
from afteraction.analyze.attribution.protocols import (
    DEV_SEED,
    P2_MIN_TECHNIQUES,
    Query,
    p1_queries,
    p2_queries,
    p3_queries,
)
from afteraction.analyze.attribution.scoring import (
    DEFAULT_PARAMS,
    LikelihoodScorer,
    Mat,
    Params,
    idf_cosine_scores,
    jaccard_scores,
    softmax,
)

#: a scorer maps (profiles, candidate set, technique rows, software rows) to a score matrix
ScoreFn = Callable[[Profiles, CandidateSet, sparse.csr_matrix, sparse.csr_matrix | None], np.ndarray]

#: the held-out seed used to measure calibration (the temperature is fitted on ``DEV_SEED``)
TEST_SEED = 11
PROTOCOLS = ("P1", "P2", "P3")


class ScorerResult(msgspec.Struct, frozen=True):
    """One scorer on one setting: expected top-1/3/5 with Wilson intervals, and MRR."""

    scorer: str
    top1: Proportion
    top3: Proportion
    top5: Proportion
    mrr: float


class SettingResult(msgspec.Struct, frozen=True):
    """One protocol setting (for example P2 k=5 noisy) with every scorer on the same queries."""

    protocol: str
    setting: str
    candidates: str
    queries: int
    scorers: list[ScorerResult]
    #: the target and its measure when the issue sets one, e.g. ``("top5", 0.75)``
    target: tuple[str, float] | None = None


class Calibration(msgspec.Struct, frozen=True):
    """Reliability of the top candidate's probability on a query set."""

    setting: str
    queries: int
    ece: float
    bins: list[ReliabilityBin]
    target: float | None = None


def likelihood(params: Params) -> ScoreFn:
    """The afteraction scorer with ``params`` as a :data:`ScoreFn`."""
    def score(profiles: Profiles, cands: CandidateSet, qt: Mat, qs: Mat | None) -> np.ndarray:
        return LikelihoodScorer(cands, profiles.vocab, params).score(qt, qs)
    return score


def _jaccard(profiles: Profiles, cands: CandidateSet, qt: Mat, qs: Mat | None) -> np.ndarray:
    return jaccard_scores(cands, qt, qs)


def _cosine(profiles: Profiles, cands: CandidateSet, qt: Mat, qs: Mat | None) -> np.ndarray:
    return idf_cosine_scores(cands, qt, qs)


def scorers(params: Params = DEFAULT_PARAMS) -> dict[str, ScoreFn]:
    """afteraction's scorer and the two baselines, by name."""
    return {"afteraction": likelihood(params), "jaccard": _jaccard, "idf-cosine": _cosine}


def query_matrices(profiles: Profiles, queries: Sequence[Query]) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """0/1 technique and software matrices for ``queries``."""
    v = profiles.vocab
    return (binary_matrix([list(q.techniques) for q in queries], len(v.techniques)),
            binary_matrix([list(q.software) for q in queries], len(v.software)))


def score_queries(profiles: Profiles, kind: Kind, queries: Sequence[Query], fn: ScoreFn) -> list[np.ndarray]:
    """Score rows per query; leave-one-campaign-out queries get profiles rebuilt without their campaign."""
    out: list[np.ndarray] = []
    plain = [q for q in queries if q.exclude_campaign is None]
    if plain:
        qt, qs = query_matrices(profiles, plain)
        scores = fn(profiles, profiles.sets[kind], qt, qs if qs.nnz else None)
        rows = iter(scores)
    for q in queries:
        if q.exclude_campaign is None:
            out.append(next(rows))
            continue
        held = profiles.without_campaign(q.exclude_campaign)
        qt, qs = query_matrices(held, [q])
        out.append(fn(held, held.sets[kind], qt, qs if qs.nnz else None)[0])
    return out


def summarise(name: str, scores: Iterable[np.ndarray], queries: Sequence[Query]) -> ScorerResult:
    """Expected top-k (random tie-breaking) and MRR of one scorer over ``queries``."""
    outcomes = [rank_outcome(row, list(q.gold)) for row, q in zip(scores, queries, strict=True)]
    n = len(outcomes)

    def top(k: int) -> Proportion:
        return wilson(sum(o.hit(k) for o in outcomes) / n if n else 0.0, n)
    mrr = sum(o.reciprocal_rank() for o in outcomes) / n if n else 0.0
    return ScorerResult(name, top(1), top(3), top(5), round(mrr, 4))


def run_setting(profiles: Profiles, protocol: str, setting: str, kind: Kind, queries: list[Query],
                fns: dict[str, ScoreFn], target: tuple[str, float] | None = None) -> SettingResult:
    """Every scorer in ``fns`` on the same queries."""
    results = [summarise(name, score_queries(profiles, kind, queries, fn), queries) for name, fn in fns.items()]
    return SettingResult(protocol, setting, kind, len(queries), results, target)


def top_probability(profiles: Profiles, kind: Kind, queries: Sequence[Query],
                    params: Params) -> tuple[np.ndarray, np.ndarray]:
    """The calibrated probability of each query's top candidate, and whether it is a gold candidate."""
    if not queries:
        return np.zeros(0), np.zeros(0)
    rows = np.array(score_queries(profiles, kind, queries, likelihood(params)))
    probs = softmax(rows / params.temperature_of(kind))
    top = probs.max(axis=1)
    correct = []
    for row, q, p in zip(probs, queries, top, strict=True):  # a tie at the top counts 1/t (random tie-break)
        tied = np.flatnonzero(np.abs(row - p) <= TIE_TOLERANCE * max(p, 1e-300))
        correct.append(len(set(tied.tolist()) & set(q.gold)) / len(tied))
    return top, np.array(correct, dtype=np.float64)


def calibration(profiles: Profiles, setting: str, kind: Kind, queries: list[Query], params: Params,
                target: float | None = None) -> Calibration:
    """Expected calibration error and reliability bins of the top candidate's probability."""
    conf, correct = top_probability(profiles, kind, queries, params)
    ece, bins = reliability(conf, correct)
    return Calibration(setting, len(queries), ece, bins, target)


def fit_temperature(scores: np.ndarray, gold: np.ndarray) -> float:
    """The softmax temperature minimising the negative log-likelihood of the gold candidates."""
    rows = np.arange(len(gold))

    def nll(log_t: float) -> float:
        return float(-np.log(softmax(scores / np.exp(log_t))[rows, gold] + 1e-300).mean())
    return round(float(np.exp(minimize_scalar(nll, bounds=(-4.0, 4.0), method="bounded").x)), 3)


def oracle(noise: int) -> ScoreFn:
    """The (near) Bayes-optimal scorer *for P2-noisy itself*: it knows that the gold group has at least
    ``P2_MIN_TECHNIQUES`` techniques and that exactly ``noise`` observed techniques lie outside its profile,
    drawn by popularity (it treats that draw as with replacement). It cannot be used on real data; it
    measures the protocol's ceiling. Impossible candidates score ``-inf``."""
    def score(profiles: Profiles, cands: CandidateSet, qt: Mat, qs: Mat | None) -> np.ndarray:
        a = (cands.techniques > 0).astype(np.float64).tocsr()
        pop = np.asarray(a.sum(axis=0)).ravel()
        log_pop = np.log(np.where(pop > 0, pop, 1e-300))
        size = np.asarray(a.sum(axis=1)).ravel()
        out_mass = pop.sum() - np.asarray(a @ pop).ravel()
        k = np.asarray(qt.sum(axis=1)).ravel()
        inside = np.asarray((qt @ a.T).todense())
        noise_log = (np.asarray(qt @ log_pop).ravel()[:, None] - np.asarray((qt @ a.multiply(log_pop[None, :]).T)
                     .todense()) - noise * np.log(np.maximum(out_mass, 1e-300))[None, :])
        log_comb = gammaln(size + 1)[None, :] - gammaln(k - noise + 1)[:, None] - gammaln(
            np.maximum(size[None, :] - (k - noise)[:, None], 0) + 1)
        ok = (inside == (k - noise)[:, None]) & (size >= P2_MIN_TECHNIQUES)[None, :]
        return np.where(ok, noise_log - log_comb, -np.inf)
    return score


__all__ = [
    "DEV_SEED",
    "PROTOCOLS",
    "TEST_SEED",
    "Calibration",
    "ScoreFn",
    "ScorerResult",
    "SettingResult",
    "calibration",
    "fit_temperature",
    "likelihood",
    "oracle",
    "p1_queries",
    "p2_queries",
    "p3_queries",
    "query_matrices",
    "run_setting",
    "score_queries",
    "scorers",
    "summarise",
    "top_probability",
]
