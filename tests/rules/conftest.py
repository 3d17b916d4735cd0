"""Shared fixtures for the rule-inventory tests: the bundled knowledge base, loaded once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from afteraction.attack import load_kb
from afteraction.attack.kb import KnowledgeBase
from afteraction.rules import RuleInventory, load_rules


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return load_kb("bundled")


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str | bytes], Path]:
    """Write a file under tmp_path (parents created) and return its path."""

    def _write(rel: str, content: str | bytes) -> Path:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return _write


@pytest.fixture
def load(kb: KnowledgeBase) -> Callable[..., RuleInventory]:
    """``load(path, ...)`` = ``load_rules([path], kb, ...)``."""

    def _load(*paths: Path, **kwargs: object) -> RuleInventory:
        return load_rules(list(paths), kb, **kwargs)  # type: ignore[arg-type]

    return _load
