"""Campaign clusters: incidents that look like one actor's campaign, with what they share and who it fits.

Method (the rule, with its constants, is also printed in :attr:`Clusters.method`):

1. Features per incident: the ATT&CK software named in its alerts (the attribution evidence rule,
   :func:`~afteraction.analyze.attribution.evidence.from_incidents`), its ATT&CK techniques, and its
   external infrastructure from alert evidence: IP addresses (``ipAddress``, the sender IP of mail,
   the host of a URL when it is an address) and domains (``domain``, the host of a URL, the sender's
   mail domain). Private (RFC 1918, CGNAT, IPv6 unique-local), loopback, link-local, multicast,
   unspecified and reserved addresses are dropped. The documentation ranges (TEST-NET-1/2/3) are kept:
   they stand for public addresses in examples and in sample data.
2. Rarity: an IP, domain or malware item seen in more than :data:`COMMON_SHARE` of all incidents read
   (benign ones included) and in at least :data:`COMMON_MIN` of them is common (shared hosting, a popular
   tool) and never links incidents. The organisation's own mail domains (of user principal names,
   mailboxes and recipients in the evidence) are not external infrastructure. ATT&CK *tools* (PsExec,
   cmd, schtasks...) are public or built in and never link; only *malware* does.
3. Incidents classified false positive or benign positive are skipped unless ``include_benign``.
4. Two incidents are linked when their activity lies within :data:`WINDOW` of each other (gap between
   their activity intervals) and (a) they share a rare external IP or domain, or (b) they share two rare
   malware items, or one and their technique similarity is at least :data:`SOFTWARE_SIMILARITY` (one
   malware family is used by many actors: measured on generated data, a single shared family mostly
   links unrelated incidents), or (c) both have at least :data:`SIMILAR_MIN_TECHNIQUES` techniques and
   their technique similarity is at least :data:`TECHNIQUE_SIMILARITY`. Technique similarity is the
   cosine of IDF-weighted technique sets (idf = ln((N + 1) / (df + 1)) + 1 over the incidents
   considered). Incidents without any time are never linked.
5. Clusters are the connected components of at least two incidents. Each cluster is attributed as one
   piece of evidence (:func:`~afteraction.analyze.attribution.build.attributor`).

Shared indicators are computed with inverted indexes (indicator -> incidents, linked along time) and
technique similarity with sparse matrix products in row blocks, so there is no pairwise Python loop.
Values come from alerts and are attacker-influenced: they are kept as they are; renderers escape them.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from afteraction.analyze.attribution.build import attributor
from afteraction.analyze.attribution.evidence import from_incidents
from afteraction.analyze.attribution.model import SCHEMA_VERSION, Cluster, ClusterIncident, Clusters, SharedIndicator
from afteraction.model import Classification

if TYPE_CHECKING:
    from afteraction.attack.kb import KnowledgeBase
    from afteraction.model import Incident
    from afteraction.store.db import Store

#: an indicator in more than this share of incidents (and in at least COMMON_MIN) is common infrastructure
COMMON_SHARE = 0.05
COMMON_MIN = 3
#: linked incidents are at most this far apart (gap between their activity intervals)
WINDOW = timedelta(days=45)
#: IDF-weighted cosine similarity of technique sets that links two incidents on its own
TECHNIQUE_SIMILARITY = 0.95
#: technique similarity that, with one shared rare malware item, links two incidents
SOFTWARE_SIMILARITY = 0.8
#: techniques each incident needs before technique similarity may link it
SIMILAR_MIN_TECHNIQUES = 6
#: incidents read from the store per round of queries; rows per block of the similarity product
CHUNK = 250
BLOCK = 1024
BENIGN = frozenset({Classification.FALSE_POSITIVE, Classification.INFORMATIONAL_EXPECTED_ACTIVITY})
METHOD = ("linked when within {window} days of each other and sharing a rare external IP or domain, two rare "
          "ATT&CK malware items, or one with IDF-weighted technique cosine similarity >= {ssim}, or with technique "
          "similarity >= {sim} (both with >= {mint} techniques); rare: in at most {share:.0%} of incidents or "
          "fewer than {cmin}; private, loopback, link-local and reserved addresses, the organisation's own mail "
          "domains and ATT&CK tools ignored; clusters = connected components of >= 2 incidents")
_PRIVATE = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
                                                   "fc00::/7", "fec0::/10"))
_KIND_ORDER = {"software": 0, "ip": 1, "domain": 2, "technique": 3}


@dataclass(slots=True)
class _Features:
    id: str
    source: str
    title: str
    severity: str
    first: datetime | None
    last: datetime | None
    benign: bool
    software: dict[str, str]
    techniques: dict[str, str]
    ips: frozenset[str]
    domains: frozenset[str]
    own: frozenset[str]
    malware: frozenset[str]


def external_ip(text: str | None) -> str | None:
    """The address in canonical form if it is a usable external IP, else None."""
    try:
        addr = ipaddress.ip_address((text or "").strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if (addr.is_loopback or addr.is_link_local or addr.is_multicast or addr.is_unspecified or addr.is_reserved
            or any(addr.version == n.version and addr in n for n in _PRIVATE)):
        return None
    return str(addr)


#: a DNS name of at least two labels (letters, digits, hyphens; IDNs in their xn-- form)
_HOSTNAME = re.compile(r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$")
#: suffixes of internal names, never external infrastructure
_INTERNAL_SUFFIXES = (".local", ".internal", ".lan", ".corp", ".home", ".home.arpa", ".localdomain", ".intranet")


def _domain(text: str | None) -> str | None:
    """A lower-cased external DNS name, or None for anything else (single labels, internal suffixes, junk)."""
    value = (text or "").strip().rstrip(".").lower()
    if not _HOSTNAME.match(value) or value.endswith(_INTERNAL_SUFFIXES):
        return None
    return value


def _infrastructure(incident: Incident) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    ips: set[str] = set()
    domains: set[str] = set()
    own: set[str] = set()
    for alert in incident.alerts:
        for ev in alert.evidence:
            for addr in (ev.user_principal_name, ev.mailbox_address, ev.recipient):
                if addr and "@" in addr and (d := _domain(addr.rsplit("@", 1)[1])):
                    own.add(d)
            hosts: list[str | None] = [ev.domain]
            for raw in (ev.ip_address, ev.sender_ip):
                if (ip := external_ip(raw)) is not None:
                    ips.add(ip)
            if ev.url:
                with contextlib.suppress(ValueError):
                    hosts.append(urlsplit(ev.url.strip()).hostname)
            if ev.sender and "@" in ev.sender:
                hosts.append(ev.sender.rsplit("@", 1)[1])
            for host in hosts:
                if external_ip(host) is not None:
                    ips.add(external_ip(host))  # type: ignore[arg-type]
                elif host and _domain(host) and not _is_address(host):
                    domains.add(_domain(host))  # type: ignore[arg-type]
    return frozenset(ips), frozenset(domains), frozenset(own)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return False
    return True


def _features(kb: KnowledgeBase, incident: Incident) -> _Features:
    ev = from_incidents(kb, [incident])
    ips, domains, own = _infrastructure(incident)
    times = [t for a in incident.alerts for t in (a.first_activity, a.last_activity, a.created) if t is not None]
    first = incident.first_activity or min(times, default=None) or incident.created
    last = incident.last_activity or max(times, default=None) or first
    return _Features(id=incident.id, source=incident.source, title=incident.title, severity=str(incident.severity),
                     first=first, last=last, benign=incident.classification in BENIGN,
                     software={s.id: s.name for s in ev.software}, techniques={t.id: t.name for t in ev.techniques},
                     ips=ips, domains=domains, own=own,
                     malware=frozenset(s.id for s in ev.software if s.kind == "malware"))


def _indicators(f: _Features) -> Iterator[tuple[str, str]]:
    yield from (("software", s) for s in f.malware)
    yield from (("ip", v) for v in f.ips)
    yield from (("domain", v) for v in f.domains)


def _postings(feats: list[_Features], rare: set[tuple[str, str]]) -> dict[tuple[str, str], list[int]]:
    postings: dict[tuple[str, str], list[int]] = {}
    for i, f in enumerate(feats):  # feats are in time order, so every posting list is too
        for key in _indicators(f):
            if key in rare:
                postings.setdefault(key, []).append(i)
    return postings


def _chain(members: list[int], start: np.ndarray, end: np.ndarray, window: float) -> Iterator[tuple[int, int]]:
    """Link each incident to the earlier one that ends last: same components as every pair within the window."""
    best = -1
    for j in members:
        if best >= 0 and start[j] - end[best] <= window:
            yield best, j
        if best < 0 or end[j] > end[best]:
            best = j


def _pairs(members: list[int], start: np.ndarray, end: np.ndarray, window: float) -> Iterator[tuple[int, int]]:
    for a, i in enumerate(members):
        for j in members[a + 1:]:
            if start[j] - end[i] > window and start[j] - start[i] > window:
                break
            if max(start[j] - end[i], start[i] - end[j]) <= window:
                yield i, j


def _technique_matrix(feats: list[_Features]) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Rows: each incident's IDF-weighted, L2-normalised technique set; and each incident's technique count."""
    vocab: dict[str, int] = {}
    rows = [[vocab.setdefault(t, len(vocab)) for t in f.techniques] for f in feats]
    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    x = sparse.csr_matrix((np.ones(int(lengths.sum())), np.fromiter((c for r in rows for c in r), dtype=np.int64),
                           np.concatenate([[0], np.cumsum(lengths)])), shape=(len(rows), max(len(vocab), 1)))
    df = np.asarray((x > 0).sum(axis=0)).ravel()
    x = x.multiply((np.log((len(rows) + 1) / (df + 1)) + 1)[None, :]).tocsr()
    norm = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    return sparse.diags(np.divide(1.0, norm, out=np.zeros_like(norm), where=norm > 0)) @ x, lengths


def _edges_similar(x: sparse.csr_matrix, lengths: np.ndarray, start: np.ndarray, end: np.ndarray, window: float
                   ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    eligible = lengths >= SIMILAR_MIN_TECHNIQUES
    for lo in range(0, x.shape[0], BLOCK):
        sim = (x[lo:lo + BLOCK] @ x.T).tocoo()
        i, j = sim.row + lo, sim.col
        gap = np.maximum(start[j] - end[i], start[i] - end[j])
        keep = (sim.data >= TECHNIQUE_SIMILARITY - 1e-9) & (i < j) & eligible[i] & eligible[j] & (gap <= window)
        yield i[keep], j[keep]


def _link(feats: list[_Features], rare: set[tuple[str, str]]) -> list[list[int]]:
    n = len(feats)
    start = np.array([f.first.timestamp() if f.first else np.nan for f in feats])
    end = np.fmax(np.array([f.last.timestamp() if f.last else np.nan for f in feats]), start)
    window = WINDOW.total_seconds()
    x, lengths = _technique_matrix(feats)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    soft: dict[tuple[int, int], int] = {}
    for (kind, _), members in _postings(feats, rare).items():
        if kind == "software":
            for pair in _pairs(members, start, end, window):
                soft[pair] = soft.get(pair, 0) + 1
        else:
            linked = list(_chain(members, start, end, window))
            rows.append(np.array([p[0] for p in linked], dtype=np.int64))
            cols.append(np.array([p[1] for p in linked], dtype=np.int64))
    if soft:
        i = np.array([p[0] for p in soft], dtype=np.int64)
        j = np.array([p[1] for p in soft], dtype=np.int64)
        cos = np.asarray(x[i].multiply(x[j]).sum(axis=1)).ravel()
        keep = (np.array(list(soft.values())) >= 2) | (cos >= SOFTWARE_SIMILARITY - 1e-9)
        rows.append(i[keep])
        cols.append(j[keep])
    for i, j in _edges_similar(x, lengths, start, end, window):
        rows.append(i)
        cols.append(j)
    r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    graph = sparse.csr_matrix((np.ones(len(r)), (r, c)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    groups: dict[int, list[int]] = {}
    for i, label in enumerate(labels.tolist()):
        groups.setdefault(label, []).append(i)
    return [g for g in groups.values() if len(g) >= 2]


def _cluster(kb: KnowledgeBase, feats: list[_Features], rare: set[tuple[str, str]],
             load: Callable[[list[_Features]], list[Incident]], now: datetime | None) -> Cluster:
    ids = sorted(f"{f.source}/{f.id}" for f in feats)
    counts: dict[tuple[str, str], list[Any]] = {}
    for f in feats:
        named = [*((("software", k), v) for k, v in f.software.items()),
                 *((("technique", k), v) for k, v in f.techniques.items()),
                 *(((kind, v), "") for kind, v in _indicators(f) if kind != "software")]
        for key, name in named:
            counts.setdefault(key, [name, 0])[1] += 1
    shared = sorted((SharedIndicator(kind=k, value=v, name=name, incidents=n)  # type: ignore[arg-type]
                     for (k, v), (name, n) in counts.items()
                     if n >= 2 and (k == "technique" or (k, v) in rare)),
                    key=lambda s: (_KIND_ORDER[s.kind], -s.incidents, s.value))
    firsts = [f.first for f in feats if f.first is not None]
    lasts = [f.last for f in feats if f.last is not None]
    first, last = min(firsts, default=None), max(lasts, default=None)
    return Cluster(
        id="cluster-" + hashlib.sha256("\n".join(ids).encode()).hexdigest()[:12],
        incidents=tuple(ClusterIncident(id=f.id, title=f.title, first_activity=f.first, severity=f.severity,
                                               source=f.source)
                        for f in feats),
        first=first, last=last, shared=tuple(shared), statement=_statement(len(feats), first, shared),
        attribution=attributor(kb).attribute(from_incidents(kb, load(feats)), now=now))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _statement(n: int, first: datetime | None, shared: list[SharedIndicator]) -> str:
    soft = [s.name or s.value for s in shared if s.kind == "software"]
    parts = soft[:3] + ([f"{len(soft) - 3} more software items"] if len(soft) > 3 else [])
    for kind, word in (("ip", "external IP"), ("domain", "domain")):
        if k := sum(s.kind == kind for s in shared):
            parts.append(_plural(k, word))
    if not parts:
        parts.append(_plural(sum(s.kind == "technique" for s in shared), "ATT&CK technique"))
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    since = f" since {first.date().isoformat()}" if first is not None else ""
    return f"These {n} incidents{since} are likely one campaign: they share {listed}."


def _rare(feats: Iterable[_Features], total: int) -> set[tuple[str, str]]:
    counts: dict[tuple[str, str], int] = {}
    own: set[str] = set()
    for f in feats:
        own.update(f.own)
        for key in _indicators(f):
            counts[key] = counts.get(key, 0) + 1
    return {k for k, n in counts.items()
            if not (n > COMMON_SHARE * total and n >= COMMON_MIN) and not (k[0] == "domain" and k[1] in own)}


def _build(kb: KnowledgeBase, feats: list[_Features], include_benign: bool,
           load: Callable[[list[_Features]], list[Incident]], now: datetime | None) -> Clusters:
    rare = _rare(feats, len(feats))
    kept = sorted((f for f in feats if include_benign or not f.benign),
                  key=lambda f: (f.first is None, f.first or datetime.min, f.id))
    clusters = [_cluster(kb, [kept[i] for i in group], rare, load, now) for group in _link(kept, rare)]
    clusters.sort(key=lambda c: (c.first is None, c.first.isoformat() if c.first else "", c.id))
    method = METHOD.format(window=WINDOW.days, share=COMMON_SHARE, cmin=COMMON_MIN, sim=TECHNIQUE_SIMILARITY,
                           ssim=SOFTWARE_SIMILARITY, mint=SIMILAR_MIN_TECHNIQUES)
    return Clusters(schema_version=SCHEMA_VERSION, attack_version=kb.version, incidents=len(kept),
                    clusters=tuple(clusters), method=method)


def cluster_incidents(kb: KnowledgeBase, incidents: Iterable[Incident], *, now: datetime | None = None,
                      include_benign: bool = False) -> Clusters:
    """Clusters among ``incidents`` (see the module docstring for the rule)."""
    by_key: dict[tuple[str, str], Incident] = {}
    feats = []
    for inc in incidents:
        by_key[(inc.source, inc.id)] = inc
        feats.append(_features(kb, inc))
    return _build(kb, feats, include_benign, lambda fs: [by_key[(f.source, f.id)] for f in fs], now)


def clusters_from_store(store: Store, kb: KnowledgeBase, *, since: datetime | None = None,
                        until: datetime | None = None, now: datetime | None = None) -> Clusters:
    """Clusters among the stored incidents whose first activity (else creation) is in ``[since, until)``.

    Incidents are read :data:`CHUNK` at a time and only their features are kept; cluster members are
    read again for attribution.
    """
    from afteraction.store.read import load_incidents

    sql = "SELECT source, id FROM incidents WHERE NOT is_stub"
    params: list[Any] = []
    if since is not None:
        sql += " AND coalesce(first_activity, created) >= ?"
        params.append(since)
    if until is not None:
        sql += " AND coalesce(first_activity, created) < ?"
        params.append(until)
    keys = store.con.execute(sql + " ORDER BY source, id", params).fetchall()
    feats: list[_Features] = []
    for lo in range(0, len(keys), CHUNK):
        feats.extend(_features(kb, inc) for inc in _load(store, keys[lo:lo + CHUNK], load_incidents))

    def load(members: list[_Features]) -> list[Incident]:
        return _load(store, [(f.source, f.id) for f in members], load_incidents)

    return _build(kb, feats, False, load, now)


def _load(store: Store, keys: list[tuple[str, str]], load_incidents: Callable[..., dict[str, Incident]]
          ) -> list[Incident]:
    out: list[Incident] = []
    for source in sorted({s for s, _ in keys}):
        found = load_incidents(store, [i for s, i in keys if s == source], source)
        out.extend(found[i] for s, i in keys if s == source and i in found)
    return out


__all__ = ["COMMON_MIN", "COMMON_SHARE", "SIMILAR_MIN_TECHNIQUES", "SOFTWARE_SIMILARITY", "TECHNIQUE_SIMILARITY",
           "WINDOW", "cluster_incidents", "clusters_from_store", "external_ip"]
