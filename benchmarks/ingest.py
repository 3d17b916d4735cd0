"""Ingest throughput and memory: ``afteraction ingest`` against DuckDB's own ``read_json``, same file, same run.

Generates N alerts in Microsoft Graph shape (NDJSON, one incident per line with nested alerts and
evidence), then times, each in a fresh child process:

* ``afteraction ingest`` of the file into a new store (full normalisation, technique resolution,
  evidence, idempotent merge), and its peak RSS;
* DuckDB ``read_json`` of the same file with explicit columns, materialised into a table (the
  baseline: parsing and storing with no normalisation);
* two floors that bound any ingest of this file into this store from below, unless ``--no-floors``:
  DuckDB parsing every field the Graph readers read (not materialised), and DuckDB inserting the
  normalised rows afteraction stored (copied from its store) into a new store in one transaction.

Targets (issue 2): afteraction >= 0.5x DuckDB's alerts/s, peak RSS <= 1.5 GB.

    python benchmarks/ingest.py                 # 1,000,000 alerts
    python benchmarks/ingest.py --alerts 100000 # quicker
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

TECHNIQUES = ["T1059.001", "T1027", "T1105", "T1003.001", "T1021.002", "T1566.001", "T1078.004",
              "T1071.001", "T1055", "T1547.001", "T1086", "T1486", "T1490", "T1114.003", "T9999"]
SOURCES = [("microsoftDefenderForEndpoint", "microsoftDefenderForEndpoint"),
           ("microsoftDefenderForEndpoint", "antivirus"),
           ("microsoftDefenderForIdentity", "microsoftDefenderForIdentity"),
           ("microsoftDefenderForOffice365", "microsoftDefenderForOffice365"),
           ("azureAdIdentityProtection", "azureAdIdentityProtection")]
SEVERITIES = ["low", "medium", "high", "informational"]


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _evidence(rng: random.Random, i: int, t: str) -> list[dict[str, object]]:
    base = {"createdDateTime": t, "verdict": "suspicious", "remediationStatus": "none",
            "remediationStatusDetails": None, "roles": [], "detailedRoles": [], "tags": []}
    device_id = f"{rng.getrandbits(160):040x}"
    return [
        {**base, "@odata.type": "#microsoft.graph.security.deviceEvidence", "mdeDeviceId": device_id,
         "deviceDnsName": f"ws-{i % 5000:04d}.corp.contoso.com", "hostName": f"ws-{i % 5000:04d}",
         "osPlatform": "Windows11", "riskScore": "high", "healthStatus": "active", "roles": ["compromised"]},
        {**base, "@odata.type": "#microsoft.graph.security.processEvidence", "processId": rng.randint(100, 9999),
         "parentProcessId": rng.randint(100, 9999), "mdeDeviceId": device_id,
         "processCommandLine": "powershell.exe -nop -w hidden -enc " + "A" * rng.randint(20, 200),
         "processCreationDateTime": t,
         "imageFile": {"fileName": "powershell.exe", "sha256": f"{rng.getrandbits(256):064x}"},
         "userAccount": {"accountName": f"user{i % 900}", "domainName": "CONTOSO"}},
        {**base, "@odata.type": "#microsoft.graph.security.ipEvidence", "verdict": "malicious",
         "ipAddress": f"203.0.113.{i % 250}", "countryLetterCode": "NL"},
    ]


def generate(path: Path, alerts: int, seed: int = 7) -> int:
    """Write ``alerts`` alerts as Graph NDJSON incidents; returns the number of incidents."""
    rng = random.Random(seed)
    enc = msgspec.json.Encoder()
    start = datetime(2024, 1, 1, tzinfo=UTC)
    written = incidents = 0
    with path.open("wb") as out:
        while written < alerts:
            n = min(rng.randint(1, 7), alerts - written)
            created = start + timedelta(minutes=incidents * 3)
            items = []
            for k in range(n):
                aid = f"da{written + k:018d}_{rng.getrandbits(31)}"
                first = created - timedelta(minutes=rng.randint(1, 600))
                svc, det = rng.choice(SOURCES)
                t = _ts(created + timedelta(seconds=k))
                items.append({
                    "@odata.type": "#microsoft.graph.security.alert", "id": aid, "providerAlertId": aid,
                    "incidentId": str(incidents + 1), "status": "resolved", "severity": rng.choice(SEVERITIES),
                    "classification": "truePositive", "determination": "malware", "serviceSource": svc,
                    "detectionSource": det, "detectorId": f"{rng.getrandbits(128):032x}",
                    "title": f"Suspicious activity {rng.randint(1, 400)}", "description": "Generated alert.",
                    "category": "Execution", "categories": ["Execution"], "assignedTo": "soc@contoso.com",
                    "mitreTechniques": rng.sample(TECHNIQUES, rng.randint(1, 3)),
                    "createdDateTime": t, "lastUpdateDateTime": t, "resolvedDateTime": t,
                    "firstActivityDateTime": _ts(first), "lastActivityDateTime": _ts(first + timedelta(minutes=5)),
                    "threatFamilyName": rng.choice([None, "CobaltStrike", "Mimikatz"]), "comments": [],
                    "evidence": _evidence(rng, written + k, t),
                })
            incidents += 1
            written += n
            out.write(enc.encode({
                "@odata.type": "#microsoft.graph.security.incident", "id": str(incidents),
                "displayName": f"Incident {incidents}", "createdDateTime": _ts(created),
                "lastUpdateDateTime": _ts(created + timedelta(hours=2)), "status": "resolved",
                "severity": "high", "classification": "truePositive", "determination": "malware",
                "assignedTo": "soc@contoso.com", "customTags": [], "systemTags": [],
                "comments": [{"comment": "closed", "createdByDisplayName": "soc", "createdDateTime": _ts(created)}],
                "alerts": items,
            }))
            out.write(b"\n")
    return incidents


DUCKDB_BASELINE = r"""
import duckdb, sys, time
path, alerts = sys.argv[1], int(sys.argv[2])
con = duckdb.connect(sys.argv[3])
evidence = ("STRUCT(\"@odata.type\" VARCHAR, createdDateTime TIMESTAMPTZ, verdict VARCHAR, "
            "remediationStatus VARCHAR, roles VARCHAR[], mdeDeviceId VARCHAR, deviceDnsName VARCHAR, "
            "hostName VARCHAR, osPlatform VARCHAR, processId BIGINT, processCommandLine VARCHAR, "
            "ipAddress VARCHAR)[]")
alert = ("STRUCT(id VARCHAR, incidentId VARCHAR, status VARCHAR, severity VARCHAR, classification VARCHAR, "
         "determination VARCHAR, serviceSource VARCHAR, detectionSource VARCHAR, detectorId VARCHAR, "
         "title VARCHAR, category VARCHAR, categories VARCHAR[], mitreTechniques VARCHAR[], "
         "createdDateTime TIMESTAMPTZ, lastUpdateDateTime TIMESTAMPTZ, resolvedDateTime TIMESTAMPTZ, "
         "firstActivityDateTime TIMESTAMPTZ, lastActivityDateTime TIMESTAMPTZ, threatFamilyName VARCHAR, "
         f"evidence {evidence})[]")
columns = {"id": "VARCHAR", "displayName": "VARCHAR", "createdDateTime": "TIMESTAMPTZ",
           "lastUpdateDateTime": "TIMESTAMPTZ", "status": "VARCHAR", "severity": "VARCHAR",
           "classification": "VARCHAR", "determination": "VARCHAR", "assignedTo": "VARCHAR", "alerts": alert}
t, c = time.perf_counter(), time.process_time()
con.execute("CREATE TABLE incidents AS SELECT * FROM read_json(?, format='newline_delimited', columns=?)",
            [path, columns])
n = con.execute("SELECT sum(len(alerts)) FROM incidents").fetchone()[0]
elapsed, cpu = time.perf_counter() - t, time.process_time() - c
assert n == alerts, (n, alerts)
print(elapsed, cpu)
"""


PARSE_FLOOR = r"""
import duckdb, json, sys, time
path, columns = sys.argv[1], json.loads(sys.argv[2])
con = duckdb.connect()
con.execute("SET memory_limit = '1GB'")
t, c = time.perf_counter(), time.process_time()
con.execute("SELECT sum(hash(COLUMNS(*))) FROM read_json(?, format='newline_delimited', records=true, columns=?)",
            [path, columns]).fetchall()
print(time.perf_counter() - t, time.process_time() - c)
"""

WRITE_FLOOR = r"""
import duckdb, sys, time
from afteraction.store.schema import DATA_TABLES, migrate
source, target = sys.argv[1], sys.argv[2]
con = duckdb.connect(target)
con.execute("SET memory_limit = '1GB'")
migrate(con)
con.execute("ATTACH ? AS src (READ_ONLY)", [source])
t, c = time.perf_counter(), time.process_time()
con.execute("BEGIN TRANSACTION")
for table in DATA_TABLES:
    con.execute(f"INSERT INTO {table} SELECT * FROM src.{table}")
con.execute("COMMIT")
print(time.perf_counter() - t, time.process_time() - c)
"""


def reader_columns() -> dict[str, str]:
    """DuckDB column types for every field the Graph NDJSON reader decodes (evidence kept as JSON text)."""
    from afteraction.ingest.wire import WIncident

    def sql_type(info: msgspec.inspect.Type) -> str:
        if isinstance(info, msgspec.inspect.UnionType):
            kinds = [t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)]
            return sql_type(kinds[0]) if len(kinds) == 1 else "VARCHAR"  # str | int ids
        if isinstance(info, msgspec.inspect.ListType):
            return sql_type(info.item_type) + "[]"
        if isinstance(info, msgspec.inspect.StructType):
            return "STRUCT(" + ", ".join(f'"{f.encode_name}" {sql_type(f.type)}' for f in info.fields) + ")"
        if isinstance(info, msgspec.inspect.IntType):
            return "BIGINT"
        if isinstance(info, msgspec.inspect.DictType | msgspec.inspect.RawType):
            return "JSON"
        return "VARCHAR"

    info = msgspec.inspect.type_info(WIncident)
    assert isinstance(info, msgspec.inspect.StructType)
    return {f.encode_name: sql_type(f.type) for f in info.fields}


def _timed(script: str, *args: str) -> tuple[float, float]:
    """Run a timing script in a fresh process; its (wall, CPU) seconds for the measured part."""
    out = subprocess.run([sys.executable, "-c", script, *args], check=True, capture_output=True, text=True)
    wall, cpu = out.stdout.split()[-2:]
    return float(wall), float(cpu)


def _floors(data: Path, store: Path, work: Path) -> tuple[tuple[float, float], tuple[float, float]]:
    """(wall, CPU) seconds to parse every field the readers read, and to write the stored rows anew."""
    parse = _timed(PARSE_FLOOR, str(data), json.dumps(reader_columns()))
    target = work / "floor.duckdb"
    target.unlink(missing_ok=True)
    write = _timed(WRITE_FLOOR, str(store), str(target))
    target.unlink(missing_ok=True)
    return parse, write


def _children_cpu() -> float:
    """CPU seconds of every finished child process (and their children), where the OS tells."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not Unix
        return float("nan")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run_sampling_rss(cmd: list[str], env: dict[str, str]) -> float:
    """Run ``cmd``; return the peak of the summed RSS of it and its descendants (MB), sampled every 0.1 s.

    Summing matters: large NDJSON files are read by one process per core.
    """
    import psutil

    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    parent = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            procs = [parent, *parent.children(recursive=True)]
            total = 0
            for p in procs:
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
            peak = max(peak, total)
        except psutil.Error:
            pass
        time.sleep(0.1)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, cmd)
    return peak / 1e6


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=None, help="where to put the file and stores")
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    parser.add_argument("--reuse", action="store_true", help="reuse a file generated earlier in --workdir")
    parser.add_argument("--no-floors", action="store_true", help="skip the parse and store-write floors")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="afteraction-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / f"graph-{args.alerts}.ndjson"
    t = time.perf_counter()
    if not (args.reuse and data.exists()):
        incidents = generate(data, args.alerts)
        print(f"generated {args.alerts:,} alerts in {incidents:,} incidents "
              f"in {time.perf_counter() - t:.1f} s", flush=True)
    size_mb = data.stat().st_size / 1e6
    print(f"input: {data} ({size_mb:,.0f} MB)", flush=True)

    env = {**os.environ, "AFTERACTION_CACHE_DIR": str(work / "cache")}
    exe = [sys.executable, "-m", "afteraction.cli"]
    subprocess.run([*exe, "attack", "info"], check=True, env=env, capture_output=True)  # warm the ATT&CK cache
    store = work / "bench.duckdb"
    store.unlink(missing_ok=True)
    t, cpu = time.perf_counter(), _children_cpu()
    ours_rss = _run_sampling_rss([*exe, "--db", str(store), "ingest", str(data), "--summary", "json"], env)
    ours, ours_cpu = time.perf_counter() - t, _children_cpu() - cpu

    base_db = work / "baseline.duckdb"
    base_db.unlink(missing_ok=True)
    theirs, theirs_cpu = _timed(DUCKDB_BASELINE, str(data), str(args.alerts), str(base_db))

    floors = None if args.no_floors else _floors(data, store, work)

    from afteraction.store.parallel import workers

    cpu = _cpu_model()
    print(f"\nmachine: {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}")
    print(f"ingest reader processes (AFTERACTION_INGEST_WORKERS or one per core): {workers()}")
    print("| run | seconds | CPU seconds | alerts/s | MB/s | peak RSS (all processes) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    print(f"| afteraction ingest | {ours:.1f} | {ours_cpu:.1f} | {args.alerts / ours:,.0f} | {size_mb / ours:,.1f} | "
          f"{ours_rss:,.0f} MB |")
    print(f"| DuckDB read_json (baseline) | {theirs:.1f} | {theirs_cpu:.1f} | {args.alerts / theirs:,.0f} | "
          f"{size_mb / theirs:,.1f} | |")
    if floors:
        (parse, parse_cpu), (write, write_cpu) = floors
        print(f"| floor: DuckDB parses every field the readers read | {parse:.1f} | {parse_cpu:.1f} | "
              f"{args.alerts / parse:,.0f} | {size_mb / parse:,.1f} | |")
        print(f"| floor: DuckDB writes the stored rows into a new store | {write:.1f} | {write_cpu:.1f} | "
              f"{args.alerts / write:,.0f} | | |")
        print(f"\nfloor ratio DuckDB / (parse floor + write floor): {theirs / (parse + write):.2f} in seconds, "
              f"{theirs_cpu / (parse_cpu + write_cpu):.2f} in CPU seconds (an ingest that parses this file and "
              "writes these rows with DuckDB cannot do better)")
    print(f"CPU ratio DuckDB / afteraction = {theirs_cpu / ours_cpu:.2f} (the throughput ratio if both used the "
          "cores equally well; steadier than seconds on a shared machine)")
    ratio = theirs / ours
    print(f"\nthroughput ratio afteraction / DuckDB = {ratio:.2f} (target >= 0.50): "
          f"{'met' if ratio >= 0.5 else 'NOT met'}")
    print(f"peak RSS {ours_rss:,.0f} MB, all processes (target <= 1536 MB): "
          f"{'met' if ours_rss <= 1536 else 'NOT met'}")
    if not args.keep and args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
