"""Run the generator: build incidents from the plan and stream them to export files and ``truth.json``.

Layout of the output directory::

    DIR/export/incidents-00001.json ...   Graph list pages (--format pages), newest first, 1 page per file
    DIR/export/incidents.ndjson           or one incident per line (--format ndjson)
    DIR/truth.json                        what was planted (see afteraction.synth.truth)

The exports are kept in their own folder so that ``afteraction ingest DIR/export`` reads exactly them.
Memory stays flat: a few chunks of about a thousand incidents are in memory at a time; the plan holds a few
numbers per incident. Big runs build incidents in several processes; chunks are written in order, so the
output does not depend on the number of processes.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from afteraction.errors import UsageError
from afteraction.synth import export
from afteraction.synth import truth as t
from afteraction.synth.alerts import dt
from afteraction.synth.hostile import HOSTILE_STRINGS
from afteraction.synth.incident import Built, build
from afteraction.synth.plan import GENERATOR_VERSION, TREND_TYPES, Options, Plan
from afteraction.synth.scenario import INCIDENT_TYPES

if TYPE_CHECKING:
    from afteraction.attack import KnowledgeBase

EXPORT_DIR = "export"
TRUTH_FILE = "truth.json"
PARALLEL_MIN = 20_000
NDJSON_CHUNK = 1000
PAGE_CHUNK = 1000
_encoder = msgspec.json.Encoder()
NEXT_LINK = "https://graph.microsoft.com/v1.0/security/incidents?$expand=alerts&$top={top}&$skip={skip}"


@dataclass
class Result:
    """What a run wrote."""

    out_dir: Path
    export_dir: Path
    truth_path: Path
    files: list[Path] = field(default_factory=list)
    incidents: int = 0
    alerts: int = 0
    evidence: int = 0
    workers: int = 1


def default_workers(incidents: int) -> int:
    """Processes to build incidents with: 1 below :data:`PARALLEL_MIN` incidents, else one per core (at most 4)."""
    if incidents < PARALLEL_MIN:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 4))


def generate(
    options: Options,
    out_dir: str | Path,
    kb: KnowledgeBase,
    *,
    force: bool = False,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Result:
    """Generate ``options.incidents`` incidents into ``out_dir``; ``progress`` gets the running count.

    ``workers`` > 1 builds incidents in that many processes; the output is the same byte for byte.
    """
    plan = Plan(options, kb)
    out = Path(out_dir)
    n = options.incidents
    result = Result(out, out / EXPORT_DIR, out / TRUTH_FILE, workers=workers or default_workers(n))
    _prepare(result, force)
    order = range(n - 1, -1, -1)  # newest first, as the API lists them
    if options.format == "ndjson":
        names = [result.export_dir / "incidents.ndjson"]
        step = NDJSON_CHUNK
    else:
        pages = (n + options.page_size - 1) // options.page_size
        width = max(5, len(str(pages)))
        names = [result.export_dir / f"incidents-{p + 1:0{width}d}.json" for p in range(pages)]
        step = options.page_size * max(1, PAGE_CHUNK // options.page_size)
    tasks = [(k, order[k:k + step]) for k in range(0, n, step)]
    stats = _Stats()
    done = 0
    ndjson = names[0].open("wb") if options.format == "ndjson" else None
    try:
        with result.truth_path.open("wb") as tf:
            writer = t.TruthWriter(tf, truth_head(plan))
            for blobs, truths, part in _run(plan, kb, tasks, result.workers):
                if ndjson is not None:
                    ndjson.write(blobs[0])
                else:
                    for blob in blobs:
                        names[len(result.files)].write_bytes(blob)
                        result.files.append(names[len(result.files)])
                for line in truths:
                    writer.add_encoded(line)
                stats.merge(part)
                done += len(truths)
                if progress:
                    progress(done)
            if ndjson is not None:
                result.files = names
            writer.finish(stats.truth(plan, [f.relative_to(out).as_posix() for f in result.files]))
    finally:
        if ndjson is not None:
            ndjson.close()
    result.incidents, result.alerts, result.evidence = n, stats.alerts, stats.evidence
    return result


Chunk = tuple[list[bytes], list[bytes], "_Stats"]


def render(plan: Plan, start: int, indices: Sequence[int]) -> Chunk:
    """Build incidents ``indices`` (export positions from ``start``): export blobs, truth lines, stats."""
    encode = _encoder.encode
    stats = _Stats()
    built = [build(plan, i) for i in indices]
    truths = []
    for b in built:
        stats.add(b)
        truths.append(encode(b.truth))
    if plan.options.format == "ndjson":
        blob = bytearray()
        for b in built:
            blob += encode(export.incident(b.incident))
            blob += b"\n"
        return [bytes(blob)], truths, stats
    size, n = plan.options.page_size, plan.options.incidents
    blobs = []
    for k in range(0, len(built), size):
        skip = start + k + size
        link = NEXT_LINK.format(top=size, skip=skip) if skip < n else None
        blobs.append(encode(export.page([b.incident for b in built[k:k + size]], link)))
    return blobs, truths, stats


def _run(plan: Plan, kb: KnowledgeBase, tasks: list[tuple[int, range]], workers: int) -> Iterator[Chunk]:
    if workers <= 1 or len(tasks) < 2:
        for start, indices in tasks:
            yield render(plan, start, indices)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                             initargs=(plan.options, kb)) as pool:
        pending: deque[Future[Chunk]] = deque()
        queue = iter(tasks)
        for task in queue:  # keep a bounded number of chunks in flight, results in order
            pending.append(pool.submit(_render_in_worker, *task))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


_worker_plan: Plan | None = None


def _init_worker(options: Options, kb: KnowledgeBase) -> None:
    global _worker_plan
    _worker_plan = Plan(options, kb)


def _render_in_worker(start: int, indices: range) -> Chunk:
    assert _worker_plan is not None
    return render(_worker_plan, start, indices)


def _prepare(result: Result, force: bool) -> None:
    existing = result.truth_path.exists() or (result.export_dir.exists() and any(result.export_dir.iterdir()))
    if existing and not force:
        raise UsageError(f"{result.out_dir} already holds generated data; use --force to replace it")
    if result.export_dir.exists():
        shutil.rmtree(result.export_dir)
    result.truth_path.unlink(missing_ok=True)
    result.export_dir.mkdir(parents=True)


class _Stats:
    """Counts over the run, for ``truth.json``'s ``stats``."""

    def __init__(self) -> None:
        self.alerts = self.evidence = 0
        self.kinds: Counter[str] = Counter()
        self.types: Counter[str] = Counter()
        self.status: Counter[str] = Counter()
        self.steps: Counter[str] = Counter()
        self.detected: Counter[str] = Counter()
        self.detectors: dict[str, Counter[str]] = {}

    def merge(self, other: _Stats) -> None:
        self.alerts += other.alerts
        self.evidence += other.evidence
        for mine, theirs in ((self.kinds, other.kinds), (self.types, other.types), (self.status, other.status),
                             (self.steps, other.steps), (self.detected, other.detected)):
            mine.update(theirs)
        for key, counts in other.detectors.items():
            self.detectors.setdefault(key, Counter()).update(counts)

    def add(self, built: Built) -> None:
        tr = built.truth
        self.alerts += len(built.incident.alerts)
        self.evidence += built.evidence
        self.kinds[tr.kind] += 1
        self.status[tr.status] += 1
        self.types[tr.incident_type] += 1
        if tr.kind == "true_positive":
            for s in tr.steps:
                self.steps[s.technique] += 1
                self.detected[s.technique] += s.detected
        elif tr.detector:
            self.detectors.setdefault(tr.detector, Counter())[tr.kind] += 1

    def truth(self, plan: Plan, files: list[str]) -> t.Stats:
        return t.Stats(
            incidents=sum(self.kinds.values()), alerts=self.alerts, evidence=self.evidence,
            by_kind={k: self.kinds[k] for k in ("true_positive", "benign_positive", "false_positive")},
            by_type={k: self.types[k] for k in INCIDENT_TYPES},
            by_status={k: self.status[k] for k in sorted(self.status)},
            techniques={k: t.TechniqueStat(steps=self.steps[k], detected=self.detected[k]) for k in sorted(self.steps)},
            detectors={
                d.detector_id: t.DetectorStat(
                    alerts=sum(self.detectors.get(d.detector_id, Counter()).values()),
                    false_positives=self.detectors.get(d.detector_id, Counter())["false_positive"],
                    benign_positives=self.detectors.get(d.detector_id, Counter())["benign_positive"])
                for d in plan.noisy
            },
            files=files,
        )


def truth_head(plan: Plan) -> dict[str, object]:
    """Every ``truth.json`` field that is known before incidents are built."""
    from afteraction import __version__

    o, cat = plan.options, plan.cat

    def actor_ref(a: object) -> t.ActorRef:
        return t.ActorRef(kind=a.kind, id=a.id, name=a.name)  # type: ignore[attr-defined]

    def soft(ids: tuple[str, ...]) -> list[t.SoftwareRef]:
        return [t.SoftwareRef(id=s, name=cat.software[s].name) for s in ids]

    return {
        "format": t.TRUTH_FORMAT,
        "generator": f"afteraction {__version__} synth/{GENERATOR_VERSION}",
        "seed": o.seed,
        "options": t.Options(incidents=o.incidents, weeks=o.weeks, seed=o.seed, end=plan.end,
                             format=o.format, page_size=o.page_size, hostile=o.hostile),  # type: ignore[arg-type]
        "period": t.Period(start=plan.start, end=plan.end, weeks=o.weeks),
        "attack": t.AttackRef(version=cat.kb.version, source=cat.kb.source),
        "tenant_id": plan.env.tenant_id,
        "analysts": list(plan.analysts),
        "incident_types": list(INCIDENT_TYPES),
        "detection_profile": [t.DetectionEntry(technique=k, probability=v)
                              for k, v in plan.profile.probability.items()],
        "undetected_techniques": list(plan.profile.undetected),
        "trends": [
            t.Trend(technique=tr.technique, name=cat.techniques[tr.technique].full_name,
                    direction=tr.direction, change_point=dt(tr.change_point),  # type: ignore[arg-type]
                    factor=round(tr.after / tr.before, 4), rate_before=tr.before, rate_after=tr.after,
                    incident_types=list(TREND_TYPES))
            for tr in plan.trends
        ],
        "skill_gaps": [
            t.SkillGap(technique=s, name=cat.techniques[s].full_name, ack_factor=plan.skill_ack,
                       resolve_factor=plan.skill_resolve, outcome_rates=dict(plan.skill_outcomes))
            for s in plan.skill
        ],
        "baseline_outcome_rates": dict(plan.base_outcomes),
        "noisy_detectors": [
            t.NoisyDetector(id=d.detector_id, key=d.spec.key, title=d.spec.title, technique=d.technique,
                            service_source=_source(d.spec.source).service,
                            detection_source=_source(d.spec.source).detection,
                            fp_share=d.spec.fp_share, volume_share=d.spec.weight)
            for d in plan.noisy
        ],
        "clusters": [
            t.Cluster(id=c.id, actor=actor_ref(c.actor), incident_type=c.itype,
                      incident_ids=[plan.incident_id(i) for i in c.members], software=soft(c.software),
                      ips=list(c.ips), domains=list(c.domains), first=dt(plan.times[c.members[0]]),
                      last=dt(plan.times[c.members[-1]]))
            for c in plan.clusters
        ],
        "hostile_strings": list(HOSTILE_STRINGS) if o.hostile else [],
    }


def _source(key: str):  # type: ignore[no-untyped-def]
    from afteraction.synth.detection import SOURCES

    return SOURCES[key]
