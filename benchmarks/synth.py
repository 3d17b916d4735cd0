"""Sample-data generator throughput: ``afteraction generate`` against plain msgspec encoding, same run.

Times, in a fresh child process, ``afteraction generate --format ndjson`` for about N alerts (the
number of incidents comes from a small calibration run: the generator makes about two alerts per
incident), with its peak RSS summed over its worker processes. The baseline is the floor any generator
in Python pays: msgspec encoding the same number of already-built records (incidents from the
generated file, decoded to dicts beforehand) and writing them to a file on the same disk.

Target (issue 3): 1M alerts in a few minutes, with flat memory.

    python benchmarks/synth.py                   # 1,000,000 alerts, default workers
    python benchmarks/synth.py --alerts 100000   # quicker
    python benchmarks/synth.py --workers 1       # one process
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec


def _peak_rss(cmd: list[str], env: dict[str, str]) -> float:
    """Run ``cmd``; the peak of its RSS plus its descendants' (MB), sampled every 0.1 s."""
    import psutil

    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    root = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        total = 0
        with contextlib.suppress(psutil.Error):
            for p in (root, *root.children(recursive=True)):
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
        peak = max(peak, total)
        time.sleep(0.1)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, cmd)
    return peak / 1e6


def _stats(truth: Path) -> dict[str, object]:
    """The ``stats`` object at the end of a (large) truth.json, without reading the whole file."""
    with truth.open("rb") as f:
        f.seek(max(0, truth.stat().st_size - (1 << 20)))
        tail = f.read()
    return json.loads(tail[tail.rindex(b'"stats":') + 8:].rstrip()[:-1])


def _calibrate(work: Path, env: dict[str, str]) -> float:
    out = work / "calibration"
    subprocess.run([sys.executable, "-m", "afteraction.cli", "generate", "--incidents", "2000", "--seed", "1",
                    "--out", str(out), "--force"], check=True, env=env, capture_output=True)
    stats = _stats(out / "truth.json")
    shutil.rmtree(out)
    return stats["alerts"] / stats["incidents"]  # type: ignore[operator]


def _baseline(sample: Path, alerts: int, target: Path) -> float:
    """Seconds to encode and write pre-built records holding ``alerts`` alerts (cycling over a sample)."""
    records = []
    with sample.open("rb") as f:
        for _, line in zip(range(2000), f, strict=False):
            records.append(msgspec.json.decode(line))
    encode = msgspec.json.Encoder().encode
    written = 0
    start = time.perf_counter()
    with target.open("wb") as out:
        while written < alerts:
            for record in records:
                out.write(encode(record))
                out.write(b"\n")
                written += len(record["alerts"])
                if written >= alerts:
                    break
    elapsed = time.perf_counter() - start
    target.unlink()
    return elapsed


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=None, help="generator processes [default: its own]")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="afteraction-synth-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "AFTERACTION_CACHE_DIR": str(work / "cache")}
    ratio = _calibrate(work, env)
    incidents = math.ceil(args.alerts / ratio)
    out = work / "out"
    cmd = [sys.executable, "-m", "afteraction.cli", "generate", "--incidents", str(incidents), "--seed", "1",
           "--format", "ndjson", "--out", str(out), "--force"]
    if args.workers:
        cmd += ["--workers", str(args.workers)]
    print(f"generating {incidents:,} incidents (~{ratio:.2f} alerts each): {' '.join(cmd[2:])}", flush=True)
    start = time.perf_counter()
    rss = _peak_rss(cmd, env)
    ours = time.perf_counter() - start
    stats = _stats(out / "truth.json")
    alerts = int(stats["alerts"])  # type: ignore[call-overload]
    data = out / "export" / "incidents.ndjson"
    size_mb = data.stat().st_size / 1e6
    truth_mb = (out / "truth.json").stat().st_size / 1e6
    theirs = _baseline(data, alerts, work / "baseline.ndjson")

    print(f"\nmachine: {os.cpu_count()} cores, {_cpu_model()}, Python {platform.python_version()}, "
          f"msgspec {msgspec.__version__}")
    print(f"output: {incidents:,} incidents, {alerts:,} alerts, {stats['evidence']:,} evidence; "
          f"NDJSON {size_mb:,.0f} MB, truth.json {truth_mb:,.0f} MB")
    print("| run | seconds | alerts/s | MB/s | peak RSS (all processes) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(f"| afteraction generate | {ours:.1f} | {alerts / ours:,.0f} | {size_mb / ours:,.1f} | {rss:,.0f} MB |")
    print(f"| msgspec encode + write of pre-built records (baseline) | {theirs:.1f} | {alerts / theirs:,.0f} | "
          f"{size_mb / theirs:,.1f} | |")
    print(f"\ngenerate / baseline time = {ours / theirs:.1f}x; 1M alerts would take "
          f"{1_000_000 / (alerts / ours) / 60:.1f} min")
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
