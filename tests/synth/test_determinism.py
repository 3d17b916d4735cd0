"""Same seed and options: byte-identical output, whatever the number of worker processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from afteraction.attack import KnowledgeBase
from afteraction.errors import UsageError
from afteraction.synth import DEFAULT_END, Options, Result, generate


def _files(result: Result) -> dict[str, bytes]:
    return {p.relative_to(result.out_dir).as_posix(): p.read_bytes()
            for p in sorted(result.out_dir.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes(tmp_path: Path, kb: KnowledgeBase) -> None:
    options = Options(incidents=60, seed=3, page_size=25)
    a = _files(generate(options, tmp_path / "a", kb))
    b = _files(generate(options, tmp_path / "b", kb))
    assert a == b
    assert sorted(a) == ["export/incidents-00001.json", "export/incidents-00002.json",
                         "export/incidents-00003.json", "truth.json"]


def test_different_seed_gives_different_data(tmp_path: Path, kb: KnowledgeBase) -> None:
    a = _files(generate(Options(incidents=40, seed=1), tmp_path / "a", kb))
    b = _files(generate(Options(incidents=40, seed=2), tmp_path / "b", kb))
    assert a["export/incidents-00001.json"] != b["export/incidents-00001.json"]
    assert a["truth.json"] != b["truth.json"]


def test_worker_processes_do_not_change_the_output(tmp_path: Path, kb: KnowledgeBase) -> None:
    options = Options(incidents=50, seed=4, page_size=5)
    serial = generate(options, tmp_path / "serial", kb, workers=1)
    parallel = generate(options, tmp_path / "parallel", kb, workers=2)
    assert parallel.workers == 2
    assert _files(serial) == _files(parallel)


def test_pages_and_ndjson_hold_the_same_incidents(tmp_path: Path, kb: KnowledgeBase) -> None:
    pages = generate(Options(incidents=45, seed=8, page_size=20), tmp_path / "p", kb)
    lines = generate(Options(incidents=45, seed=8, format="ndjson"), tmp_path / "n", kb)
    from_pages = [i for f in pages.files for i in json.loads(f.read_bytes())["value"]]
    from_lines = [json.loads(line) for line in lines.files[0].read_bytes().splitlines()]
    assert from_pages == from_lines
    assert [i["id"] for i in from_lines] == [str(1001 + k) for k in range(44, -1, -1)]  # newest first
    first = json.loads(pages.files[0].read_bytes())
    assert first["@odata.nextLink"].endswith("$top=20&$skip=20")
    assert "@odata.nextLink" not in json.loads(pages.files[-1].read_bytes())


def test_period_end_is_fixed_not_today(tmp_path: Path, kb: KnowledgeBase) -> None:
    result = generate(Options(incidents=5, seed=1), tmp_path / "o", kb)
    truth = json.loads(result.truth_path.read_bytes())
    assert truth["period"] == {"start": "2026-05-04T00:00:00Z", "end": "2026-11-02T00:00:00Z", "weeks": 26}
    assert DEFAULT_END.isoformat() == "2026-11-02T00:00:00+00:00"


def test_refuses_to_overwrite_without_force(tmp_path: Path, kb: KnowledgeBase) -> None:
    generate(Options(incidents=30, seed=1, page_size=10), tmp_path / "o", kb)
    with pytest.raises(UsageError, match="--force"):
        generate(Options(incidents=5, seed=1), tmp_path / "o", kb)
    result = generate(Options(incidents=5, seed=1), tmp_path / "o", kb, force=True)
    assert [f.name for f in result.export_dir.iterdir()] == ["incidents-00001.json"]  # old pages removed


@pytest.mark.parametrize("bad", [Options(incidents=0), Options(weeks=0), Options(page_size=0), Options(seed=-1),
                                 Options(format="csv")])
def test_bad_options_are_usage_errors(tmp_path: Path, kb: KnowledgeBase, bad: Options) -> None:
    with pytest.raises(UsageError):
        generate(bad, tmp_path / "o", kb)
