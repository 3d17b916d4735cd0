"""Benchmark: ATT&CK knowledge-base cold compile and warm (cached) load vs mitreattack-python.

    python benchmarks/attack_load.py [BUNDLE] [--runs N]

BUNDLE defaults to ../shared/data/attack/enterprise-attack-18.1.json.gz (relative to the repo). Uses a fresh
temporary cache dir. Targets: warm load <= 50 ms; >= 100x faster than MitreAttackData construction.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BUNDLE = REPO / ".." / "shared" / "data" / "attack" / "enterprise-attack-18.1.json.gz"


def _timed(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", nargs="?", default=str(DEFAULT_BUNDLE))
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="aa-bench-"))
    os.environ["AFTERACTION_CACHE_DIR"] = str(tmp / "cache")
    from afteraction.attack import load_kb

    rows: list[tuple[str, float]] = []
    sources = [("bundled", "bundled")]
    bundle = Path(args.bundle).resolve()
    if bundle.is_file():
        sources.append(("official bundle", str(bundle)))
    else:
        print(f"note: {bundle} not found: official bundle and mitreattack-python comparison skipped")
    warm_official = None
    for label, src in sources:
        cold, kb = _timed(lambda src=src: load_kb(src))
        warm = statistics.median(_timed(lambda src=src: load_kb(src))[0] for _ in range(args.runs))
        rows += [(f"{label}: cold compile", cold), (f"{label}: warm load (median of {args.runs})", warm)]
        if label == "official bundle":
            warm_official = warm
        print(f"{label}: ATT&CK {kb.version}, {kb.counts().techniques} techniques", file=sys.stderr)
    if warm_official is not None:
        try:
            from mitreattack.stix20 import MitreAttackData
        except ImportError:
            print("note: mitreattack-python not installed: comparison skipped")
        else:
            plain = tmp / "enterprise-attack.json"
            with gzip.open(bundle, "rb") as fin, plain.open("wb") as fout:
                shutil.copyfileobj(fin, fout)
            mad, _ = _timed(lambda: MitreAttackData(stix_filepath=str(plain)))
            rows.append(("mitreattack-python MitreAttackData()", mad))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")
    width = max(len(r[0]) for r in rows)
    for name, secs in rows:
        print(f"{name:<{width}}  {secs * 1000:10.1f} ms")
    if warm_official is not None and rows[-1][0].startswith("mitreattack"):
        print(f"ratio MitreAttackData / afteraction warm load: {rows[-1][1] / warm_official:,.0f}x "
              "(target >= 100x)")
    print("target warm load <= 50 ms:", all(s <= 0.05 for n, s in rows if "warm" in n))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
