"""Shared fixtures for the playbook tests: the bundled knowledge base, loaded once."""

from __future__ import annotations

import pytest

from afteraction.attack import load_kb
from afteraction.attack.kb import KnowledgeBase


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return load_kb("bundled")
