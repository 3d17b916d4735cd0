"""Vectorised scorers: the smoothed-likelihood scorer afteraction uses, and the baselines it is measured against.

The default scorer (``docs/attribution.md`` has the derivation) treats each observed technique as drawn
either from the candidate's profile or, with probability ``lam``, from the techniques *outside* it in
proportion to their popularity (how many ATT&CK candidates use them), and backs off from a sub-technique
to its parent's family with weight ``beta``:

    q(t|c)   = (1 - beta) * [t in c] / |c|  +  beta * [parent(t) in parents(c)] / (|parents(c)| * family(t))
    n(t|c)   = [t not in c] * bg(t) / (1 - sum of bg over c)          (``noise="complement"``, the default)
    p(t|c)   = (1 - lam) * q(t|c) + lam * n(t|c)
    score(c) = sum over observed t of log(p(t|c) / bg(t))  +  w_s * (the same for observed software)

``noise="background"`` uses ``n(t|c) = bg(t)`` instead (the plain smoothed likelihood).

Scores are log-likelihood ratios against the background ("an actor that is none of these"), in nats, so
every observed item's contribution can be shown. Absence is not evidence: only observed items are summed.
A query is a sparse 0/1 row, so scoring many incidents is one sparse-dense matrix product.
"""

from __future__ import annotations

from typing import Literal

import msgspec
import numpy as np
from scipy import sparse

from afteraction.analyze.attribution.profiles import CandidateSet, Vocabulary

Mat = sparse.csr_matrix


class Params(msgspec.Struct, frozen=True):
    """Scorer hyperparameters, chosen on the P2-noisy development protocol only (see ``docs/attribution.md``)."""

    lam: float = 0.3
    #: where unexplained observations come from: popular techniques outside the profile, or the background
    noise: Literal["complement", "background"] = "complement"
    #: fixed by design, not tuned: P2 queries are sub-techniques of the profile, so it cannot measure back-off
    beta: float = 0.05
    #: weight of the techniques of the candidate's software (a group can do what its tools do)
    gamma: float = 0.0
    lam_software: float = 0.02
    software_weight: float = 1.0
    #: softmax temperatures that turn scores into calibrated probabilities, one per candidate kind, each
    #: fitted on the P2-noisy protocol of that kind (``afteraction eval attribution`` refits and prints them)
    temperature: float = 0.876
    temperature_campaign: float = 0.822
    temperature_software: float = 0.938

    def temperature_of(self, kind: str) -> float:
        """The softmax temperature for candidates of ``kind``."""
        return {"campaign": self.temperature_campaign, "software": self.temperature_software}.get(kind,
                                                                                                 self.temperature)


DEFAULT_PARAMS = Params()


def _row_sums(m: sparse.csr_matrix) -> np.ndarray:
    return np.asarray(m.sum(axis=1), dtype=np.float64).ravel()


def background(counts: sparse.csr_matrix) -> np.ndarray:
    """Add-one smoothed share of candidates using each feature (popularity)."""
    df = np.asarray((counts > 0).sum(axis=0), dtype=np.float64).ravel() + 1.0
    return df / df.sum()


class LikelihoodScorer:
    """Per-feature log-likelihood ratios for one candidate set, precomputed as dense matrices."""

    def __init__(self, cands: CandidateSet, vocab: Vocabulary, params: Params = DEFAULT_PARAMS) -> None:
        self.params = params
        self.cands = cands
        a = cands.techniques
        size = _row_sums(a)
        inv = np.divide(1.0, size, out=np.zeros_like(size), where=size > 0)
        exact = a.multiply(inv[:, None]).toarray()
        # parent families each candidate touches
        fam = sparse.csr_matrix((np.ones(len(vocab.tech_parent)), (np.arange(len(vocab.tech_parent)),
                                 vocab.tech_parent)), shape=(len(vocab.techniques), len(vocab.parents)))
        touched = ((a @ fam) > 0).astype(np.float64)
        n_par = _row_sums(touched)
        inv_par = np.divide(1.0, n_par, out=np.zeros_like(n_par), where=n_par > 0)
        back = (touched.multiply(inv_par[:, None]).toarray() / vocab.family_size[None, :])[:, vocab.tech_parent]
        q = (1 - params.beta - params.gamma) * exact + params.beta * back
        if params.gamma:
            q = q + params.gamma * _software_techniques(cands, vocab)
        self.bg_tech = background(a)
        mix = (1 - params.lam) * q + params.lam * _noise(a, self.bg_tech, params.noise)
        self.tech_llr = np.log(mix) - np.log(self.bg_tech)[None, :]
        s = cands.software
        ssize = _row_sums(s)
        sinv = np.divide(1.0, ssize, out=np.zeros_like(ssize), where=ssize > 0)
        self.bg_soft = background(s)
        qs = s.multiply(sinv[:, None]).toarray()
        smix = (1 - params.lam_software) * qs + params.lam_software * _noise(s, self.bg_soft, params.noise)
        self.soft_llr = params.software_weight * (np.log(smix) - np.log(self.bg_soft)[None, :])
        #: how many candidates of this set use each technique / software (for explanations)
        self.tech_df = np.asarray((a > 0).sum(axis=0)).ravel()
        self.soft_df = np.asarray((s > 0).sum(axis=0)).ravel()

        # feature-major copies: a sparse row block times a C-contiguous dense matrix is several times faster
        self._tech_t = np.ascontiguousarray(self.tech_llr.T)
        self._soft_t = np.ascontiguousarray(self.soft_llr.T)

    def score(self, q_tech: sparse.spmatrix, q_soft: sparse.spmatrix | None = None) -> np.ndarray:
        """Scores (queries x candidates) for 0/1 query matrices."""
        out = np.asarray(q_tech @ self._tech_t)
        if q_soft is not None and q_soft.nnz:
            out += np.asarray(q_soft @ self._soft_t)
        return out

    def log_normaliser(self, scores: np.ndarray) -> np.ndarray:
        """Per row, ``logsumexp(scores / temperature)``: a candidate's probability is
        ``exp(score / temperature - log_normaliser)``."""
        z = scores / self.params.temperature_of(self.cands.kind)
        if z.shape[1] == 0:
            return np.full(z.shape[0], -np.inf)
        top = z.max(axis=1, keepdims=True)
        return (top + np.log(np.exp(z - top).sum(axis=1, keepdims=True))).ravel()

    def probabilities(self, scores: np.ndarray) -> np.ndarray:
        """Softmax of ``scores / temperature`` over the candidates, row by row."""
        return softmax(scores / self.params.temperature_of(self.cands.kind))


def _noise(members: sparse.csr_matrix, bg: np.ndarray, kind: str) -> np.ndarray:
    """The noise distribution per candidate: the background, or the background outside the profile."""
    if kind == "background":
        return np.broadcast_to(bg[None, :], members.shape)
    inside = (members > 0).toarray()
    outside_mass = 1.0 - (inside * bg[None, :]).sum(axis=1, keepdims=True)
    # a candidate that uses every feature has no outside: its noise falls back to the background
    return np.where(outside_mass > 1e-12, np.where(inside, 0.0, bg[None, :] / np.maximum(outside_mass, 1e-12)),
                    bg[None, :])


def _software_techniques(cands: CandidateSet, vocab: Vocabulary) -> np.ndarray:
    """Each candidate's software's techniques as a distribution (uniform over the union)."""
    uses = (cands.software @ vocab.software_techniques) > 0
    m = uses.astype(np.float64)
    size = _row_sums(m)
    inv = np.divide(1.0, size, out=np.zeros_like(size), where=size > 0)
    return m.multiply(inv[:, None]).toarray()


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, numerically stable (an empty row stays empty)."""
    if z.size == 0:
        return z.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def jaccard_scores(cands: CandidateSet, q_tech: Mat, q_soft: Mat | None = None) -> np.ndarray:
    """Jaccard similarity |Q n C| / |Q u C| over technique (and software) features: the baseline."""
    a, q = cands.techniques, q_tech
    if q_soft is not None:
        a, q = sparse.hstack([a, cands.software]).tocsr(), sparse.hstack([q_tech, q_soft]).tocsr()
    inter = np.asarray((q @ a.T).todense())
    union = _row_sums(q)[:, None] + _row_sums(a)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def idf_cosine_scores(cands: CandidateSet, q_tech: Mat, q_soft: Mat | None = None) -> np.ndarray:
    """IDF-weighted cosine, idf(f) = ln((N + 1) / (df + 1)) + 1: the reference's robust baseline."""
    a, q = cands.techniques, q_tech
    if q_soft is not None:
        a, q = sparse.hstack([a, cands.software]).tocsr(), sparse.hstack([q_tech, q_soft]).tocsr()
    n = a.shape[0]
    df = np.asarray((a > 0).sum(axis=0)).ravel()
    idf = np.log((n + 1) / (df + 1)) + 1
    aw, qw = a.multiply(idf[None, :]).tocsr(), q.multiply(idf[None, :]).tocsr()
    an = np.sqrt(_row_sums(aw.multiply(aw)))
    qn = np.sqrt(_row_sums(qw.multiply(qw)))
    dots = np.asarray((qw @ aw.T).todense())
    denom = qn[:, None] * an[None, :]
    return np.divide(dots, denom, out=np.zeros_like(dots), where=denom > 0)


__all__ = ["DEFAULT_PARAMS", "LikelihoodScorer", "Params", "background", "idf_cosine_scores", "jaccard_scores",
           "softmax"]
