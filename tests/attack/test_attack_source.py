"""Compiled cache, source resolution order, import and update (never using the network)."""

from __future__ import annotations

import io
import json
import os
import urllib.error
from pathlib import Path

import pytest

from afteraction.attack import cache, import_file, installed_default, load_kb, source, update_from_url
from afteraction.errors import AttackDataError, NetworkError


def _kb_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache" / "attack").glob("kb-*.msgpack"))


def test_cache_miss_then_hit(bundle_file, tmp_path, monkeypatch):
    path = bundle_file()
    first = load_kb(path)
    (cached,) = _kb_files(tmp_path)
    assert (tmp_path / "cache" / "attack" / "stat-index.json").is_file()

    def boom(*_a, **_k):
        raise AssertionError("compiled again on a warm load")

    monkeypatch.setattr(source, "compile_objects", boom)
    monkeypatch.setattr(source, "parse_bundle", boom)
    # warm load: the stat index answers the content hash without re-hashing the file
    assert cache.StatIndex().lookup(path) == first.source_hash
    second = load_kb(path)
    assert second.counts() == first.counts()
    assert second.source_hash == first.source_hash
    assert _kb_files(tmp_path) == [cached]


def test_cache_keyed_by_content(bundle_file, tmp_path, make_bundle):
    path = bundle_file()
    assert load_kb(path).version == "17.0"
    bundle = make_bundle(collection="18.0")
    path.write_text(json.dumps(bundle))
    os.utime(path, ns=(1, 1))  # stat changes -> rehash -> new key
    assert load_kb(path).version == "18.0"
    assert len(_kb_files(tmp_path)) == 2


@pytest.mark.parametrize("garbage", [b"", b"\x00\x01garbage", b"\x81\xa3foo\x01"])
def test_corrupt_cache_is_ignored_and_rebuilt(bundle_file, tmp_path, garbage):
    path = bundle_file()
    load_kb(path)
    (cached,) = _kb_files(tmp_path)
    cached.write_bytes(garbage)
    kb = load_kb(path)
    assert kb.technique("T1059.001") is not None
    assert cached.read_bytes() != garbage  # rewritten


def test_corrupt_stat_index_is_ignored(bundle_file, tmp_path):
    path = bundle_file()
    load_kb(path)
    (tmp_path / "cache" / "attack" / "stat-index.json").write_text("{broken")
    assert load_kb(path).version == "17.0"


def test_unwritable_cache_still_loads(bundle_file, tmp_path, monkeypatch):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    monkeypatch.setenv("AFTERACTION_CACHE_DIR", str(blocker))
    assert load_kb(bundle_file()).version == "17.0"


def test_atomic_write_leaves_no_temp_files(tmp_path):
    target = tmp_path / "x" / "f.bin"
    cache.atomic_write(target, b"abc")
    cache.atomic_write(target, b"def")
    assert target.read_bytes() == b"def"
    assert [p.name for p in target.parent.iterdir()] == ["f.bin"]


def test_resolution_order(bundle_file, tmp_path, monkeypatch, make_bundle):
    assert source.choose_source() == "bundled"
    imported = bundle_file(name="imported.json")
    record = import_file(imported)
    assert source.choose_source() == record.path  # recorded default beats bundled
    assert load_kb().version == "17.0"
    other = tmp_path / "env.json"
    other.write_text(json.dumps(make_bundle(collection="16.0")))
    monkeypatch.setenv("AFTERACTION_ATTACK", str(other))
    assert load_kb().version == "16.0"  # env beats recorded default
    assert load_kb(imported).version == "17.0"  # argument beats env
    monkeypatch.setenv("AFTERACTION_ATTACK", "bundled")
    assert source.choose_source() == "bundled"
    assert source.choose_source("some/path.json") == "some/path.json"


def test_import_file_records_default(bundle_file, tmp_path):
    src = bundle_file(gz=True)
    record = import_file(src)
    stored = Path(record.path)
    assert stored.is_file()
    assert stored.parent == tmp_path / "data" / "attack" / "bundles"
    assert stored.name.startswith("enterprise-attack-17.0-")
    assert stored.name.endswith(".json.gz")
    assert stored.read_bytes() == src.read_bytes()
    assert record.version == "17.0"
    assert record.origin == str(src.resolve())
    assert installed_default() == record
    assert load_kb().source == record.path


def test_import_bad_file_keeps_previous_default(bundle_file, tmp_path):
    good = import_file(bundle_file())
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    with pytest.raises(AttackDataError, match=r"bad\.json"):
        import_file(bad)
    assert installed_default() == good


def test_corrupt_pointer_raises(tmp_path):
    pointer = tmp_path / "data" / "attack" / "default.json"
    pointer.parent.mkdir(parents=True)
    pointer.write_text("{nope")
    with pytest.raises(AttackDataError, match=r"default\.json"):
        load_kb()


def test_update_from_file_url(bundle_file):
    src = bundle_file(spec="2.1")
    record = update_from_url(src.resolve().as_uri())
    assert record.origin == src.resolve().as_uri()
    assert record.version == "17.0"
    assert Path(record.path).read_bytes() == src.read_bytes()
    assert load_kb().source == record.path
    assert not [p for p in Path(record.path).parent.parent.iterdir() if p.name.startswith(".download")]


def test_update_uses_monkeypatched_opener(bundle_file, monkeypatch):
    payload = bundle_file().read_bytes()
    seen = {}

    def fake_open(url, timeout):
        seen["url"], seen["timeout"] = url, timeout
        return io.BytesIO(payload)

    monkeypatch.setattr(source, "_urlopen", fake_open)
    record = update_from_url(timeout=5)
    assert seen == {"url": source.DEFAULT_URL, "timeout": 5}
    assert record.version == "17.0"


def test_update_network_failure(monkeypatch):
    def fail(url, timeout):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(source, "_urlopen", fail)
    with pytest.raises(NetworkError, match="no route to host"):
        update_from_url("https://example.invalid/x.json")
    assert installed_default() is None


def test_update_missing_file_url(tmp_path):
    with pytest.raises(NetworkError):
        update_from_url((tmp_path / "missing.json").as_uri())


def test_update_rejects_non_bundle(tmp_path):
    junk = tmp_path / "junk.html"
    junk.write_text("<html>rate limited</html>")
    with pytest.raises(AttackDataError, match=r"junk\.html"):
        update_from_url(junk.as_uri())
    assert installed_default() is None
    leftovers = list((tmp_path / "data" / "attack").glob(".download-*"))
    assert leftovers == []
