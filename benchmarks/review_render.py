"""Review rendering: HTML and Markdown of a 1,000-alert incident against its JSON dump, same run.

Builds one review with 1,000 alerts (plus a comment every 25th alert, 300 entities, 40 detectors) from
the hand-made fixture of the renderer tests, then times, in this process:

* the JSON output of the same review (``afteraction.render.json.to_json``, the baseline);
* ``render_review_html`` cold (first call: templates loaded and compiled) and warm (median of N);
* ``render_review_markdown`` cold and warm.

Target (issue 3): the review of a 1,000-alert incident renders in under a second.

    python benchmarks/review_render.py
    python benchmarks/review_render.py --alerts 5000 --repeat 5
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "render"))

from review_fixture import big_timeline, sample_review

from afteraction.analyze.review.model import DetectorUse, Entity, Review


def build(alerts: int) -> Review:
    """A review with ``alerts`` alerts and proportionally many entities and detectors."""
    review = sample_review(timeline_entries=big_timeline(alerts))
    entities = tuple(
        Entity(type=("device", "user", "ip", "file", "process")[i % 5], key=f"k{i}", name=f"entity-{i}.contoso.local",
               roles=("related",), verdict=("malicious", "suspicious", "unknown")[i % 3],
               remediation_status=("remediated", "none")[i % 2], unremediated=i % 7 == 0, alert_ids=(f"a{i}",),
               details={"os": "Windows 11", "sha256": "0" * 64})
        for i in range(max(5, alerts * 3 // 10))
    )
    detectors = tuple(
        DetectorUse(service_source="microsoftDefenderForEndpoint", detection_source="antivirus", detector_id=f"d{i}",
                    title=f"Detector {i}", alerts=alerts // 40, false_positives=i % 3, true_positives=alerts // 40)
        for i in range(40)
    )
    return msgspec.structs.replace(review, entities=entities,
                                   detection=msgspec.structs.replace(review.detection, detectors=detectors))


def timed(fn: Callable[[], str], repeat: int) -> tuple[float, float, int]:
    """(first call in ms, median of ``repeat`` further calls in ms, output size in bytes)."""
    start = time.perf_counter()
    out = fn()
    first = (time.perf_counter() - start) * 1000
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    return first, statistics.median(runs), len(out.encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()

    review = build(args.alerts)
    from afteraction.render.json import to_json

    t0 = time.perf_counter()
    from afteraction.render.html import render_review_html
    from afteraction.render.markdown import render_review_markdown

    import_ms = (time.perf_counter() - t0) * 1000

    rows = [
        ("JSON (`to_json`, baseline)", timed(lambda: to_json(review), args.repeat)),
        ("HTML (`render_review_html`)", timed(lambda: render_review_html(review), args.repeat)),
        ("Markdown (`render_review_markdown`)", timed(lambda: render_review_markdown(review), args.repeat)),
    ]
    base = rows[0][1][1]
    print(f"machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}")
    print(f"review: {args.alerts:,} alerts, {len(review.timeline):,} timeline entries, "
          f"{len(review.entities):,} entities, {len(review.detection.detectors)} detectors")
    print(f"renderer modules import: {import_ms:.1f} ms")
    print(f"| output | first call (ms) | warm, median of {args.repeat} (ms) | x JSON (warm) | size |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, (first, warm, size) in rows:
        print(f"| {name} | {first:,.1f} | {warm:,.1f} | {warm / base:.1f}x | {size / 1024:,.0f} KiB |")
    worst = max(first for _, (first, _, _) in rows[1:])
    print(f"target < 1,000 ms for {args.alerts:,} alerts (slowest first call): "
          f"{'met' if worst < 1000 else 'NOT met'} ({worst:,.0f} ms)")


if __name__ == "__main__":
    main()
