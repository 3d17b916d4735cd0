"""Fixtures for the ATT&CK knowledge-base tests: isolated dirs, STIX bundle builder, shared data."""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from afteraction.attack import KnowledgeBase, load_kb
from stix_fixtures import SHARED_BUNDLE, build_bundle, write_bundle


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the real user cache/data dirs; no ambient source override."""
    monkeypatch.setenv("AFTERACTION_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AFTERACTION_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("AFTERACTION_ATTACK", raising=False)


@pytest.fixture
def bundle_file(tmp_path: Path) -> Callable[..., Path]:
    """Factory: write the fixture bundle (``spec``, ``gz``, ``collection``, ``name``) and return its path."""

    def make(
        spec: str = "2.1", gz: bool = False, collection: str | None = "17.0", name: str | None = None
    ) -> Path:
        fname = name or f"bundle-{spec}{'.json.gz' if gz else '.json'}"
        return write_bundle(tmp_path / fname, build_bundle(spec, collection), gz)

    return make


@pytest.fixture
def kb(bundle_file: Callable[..., Path]) -> KnowledgeBase:
    """The fixture bundle (STIX 2.1) loaded."""
    return load_kb(bundle_file())


@pytest.fixture(scope="session")
def bundled_kb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    """The bundled default, compiled once per session into a session temp cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AFTERACTION_CACHE_DIR", str(tmp_path_factory.mktemp("bundled-cache")))
        yield load_kb("bundled")


@pytest.fixture(scope="session")
def shared_bundle() -> Path:
    """The official v18.1 bundle from ../shared, or skip."""
    path = SHARED_BUNDLE.resolve()
    if not path.is_file():
        pytest.skip(f"shared ATT&CK bundle not found at {path}")
    return path


@pytest.fixture(scope="session")
def official_kb(shared_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    """The official v18.1 bundle loaded by afteraction (session temp cache)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AFTERACTION_CACHE_DIR", str(tmp_path_factory.mktemp("official-cache")))
        yield load_kb(shared_bundle)


@pytest.fixture(scope="session")
def mitre_data(shared_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """mitreattack-python's MitreAttackData on the same bundle (about 16 s: built once per session)."""
    mitreattack = pytest.importorskip("mitreattack.stix20")
    plain = tmp_path_factory.mktemp("mitre") / "enterprise-attack.json"
    with gzip.open(shared_bundle, "rb") as src, plain.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return mitreattack.MitreAttackData(stix_filepath=str(plain))


@pytest.fixture
def make_bundle() -> Callable[..., dict[str, Any]]:
    """Factory returning the fixture bundle as a dict (to modify before writing)."""
    return build_bundle
