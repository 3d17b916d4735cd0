"""Candidate profiles as sparse feature matrices: ATT&CK groups, campaigns and software.

A group's profile is its direct ``uses`` plus the ``uses`` of its attributed campaigns (STIX does not
merge them; see ``docs/attribution.md``). Evaluations rebuild the group matrix without the campaign under
test (:meth:`Profiles.without_campaign`).

Features are technique ids at the level ATT&CK records them (sub-technique where there is one) and software
ids, in two separate vocabularies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Literal

import numpy as np
from scipy import sparse

if TYPE_CHECKING:
    from afteraction.attack.kb import KnowledgeBase

Kind = Literal["group", "campaign", "software"]
#: a candidate's name, technique ids and software ids
Member = tuple[str, tuple[str, ...], tuple[str, ...]]
KINDS: tuple[Kind, ...] = ("group", "campaign", "software")


def parent_of(tid: str) -> str:
    """``T1059.001`` -> ``T1059``; a parent id is its own parent."""
    return tid.split(".", 1)[0]


class Vocabulary:
    """Technique and software ids of the knowledge base, each mapped to a column."""

    def __init__(self, kb: KnowledgeBase) -> None:
        techs = sorted({t.id for t in kb.techniques.values() if t.active} | _used_techniques(kb))
        self.techniques: list[str] = techs
        self.tech_index = {t: i for i, t in enumerate(techs)}
        parents = sorted({parent_of(t) for t in techs})
        self.parents: list[str] = parents
        self.parent_index = {p: i for i, p in enumerate(parents)}
        #: column of each technique's parent
        self.tech_parent = np.array([self.parent_index[parent_of(t)] for t in techs], dtype=np.int32)
        #: number of techniques in each parent's family (the parent plus its sub-techniques)
        self.family_size = np.bincount(self.tech_parent, minlength=len(parents)).astype(np.float64)
        self.software: list[str] = sorted(kb.software)
        self.soft_index = {s: i for i, s in enumerate(self.software)}
        #: software x technique 0/1 matrix (what each tool or malware does)
        self.software_techniques = binary_matrix(
            [self.technique_row(kb.software[s].techniques) for s in self.software], len(techs))

    def technique_row(self, techniques: Iterable[str]) -> list[int]:
        """Columns of the known techniques (unknown ids carry no evidence and are skipped)."""
        return sorted({self.tech_index[t] for t in techniques if t in self.tech_index})

    def software_row(self, software: Iterable[str]) -> list[int]:
        """Columns of the known software ids."""
        return sorted({self.soft_index[s] for s in software if s in self.soft_index})


def _used_techniques(kb: KnowledgeBase) -> set[str]:
    out: set[str] = set()
    for table in (kb.groups, kb.campaigns, kb.software):
        for obj in table.values():
            out.update(obj.techniques)
    return out


def binary_matrix(rows: list[list[int]], width: int) -> sparse.csr_matrix:
    """A CSR 0/1 matrix from column lists."""
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(r) for r in rows])
    indices = np.fromiter((c for r in rows for c in r), dtype=np.int32, count=int(indptr[-1]))
    data = np.ones(len(indices), dtype=np.float64)
    return sparse.csr_matrix((data, indices, indptr), shape=(len(rows), width))


class CandidateSet:
    """One kind of candidate (groups, campaigns or software): ids, names and feature matrices."""

    def __init__(self, kind: Kind, vocab: Vocabulary, members: Mapping[str, Member]):
        self.kind = kind
        self.ids: list[str] = sorted(members)
        self.names = [members[i][0] for i in self.ids]
        self.techniques = binary_matrix([vocab.technique_row(members[i][1]) for i in self.ids], len(vocab.techniques))
        self.software = binary_matrix([vocab.software_row(members[i][2]) for i in self.ids], len(vocab.software))
        self.index = {c: i for i, c in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)


class Profiles:
    """Groups (with their campaigns), campaigns and software of one knowledge base as feature matrices."""

    def __init__(self, kb: KnowledgeBase, *, merge_campaigns: bool = True, exclude_campaign: str | None = None):
        self.kb = kb
        self.vocab = Vocabulary(kb)
        self.merge_campaigns = merge_campaigns
        self.excluded = exclude_campaign
        self.sets: dict[Kind, CandidateSet] = {
            "group": CandidateSet("group", self.vocab, group_members(kb, merge_campaigns, exclude_campaign)),
            "campaign": CandidateSet("campaign", self.vocab, {
                c.id: (c.name, c.techniques, c.software) for c in kb.campaigns.values() if c.id != exclude_campaign}),
            "software": CandidateSet("software", self.vocab, {
                s.id: (s.name, s.techniques, (s.id,)) for s in kb.software.values()}),
        }

    def without_campaign(self, campaign: str) -> Profiles:
        """The same profiles with ``campaign`` left out of groups and campaigns (leave-one-out evaluation)."""
        return Profiles(self.kb, merge_campaigns=self.merge_campaigns, exclude_campaign=campaign)


def group_members(kb: KnowledgeBase, merge: bool, exclude: str | None) -> dict[str, Member]:
    """Each group's name, techniques and software: direct uses, plus attributed campaigns when ``merge``."""
    out = {}
    for g in kb.groups.values():
        techs, soft = set(g.techniques), set(g.software)
        if merge:
            for cid in g.campaigns:
                camp = kb.campaigns.get(cid)
                if camp is not None and cid != exclude:
                    techs.update(camp.techniques)
                    soft.update(camp.software)
        out[g.id] = (g.name, tuple(sorted(techs)), tuple(sorted(soft)))
    return out


__all__ = ["KINDS", "CandidateSet", "Kind", "Member", "Profiles", "Vocabulary", "binary_matrix", "group_members",
           "parent_of"]
