"""Generated stores for the program analyses (trends, skills, process), built once per test session.

``generated(kb, seed, incidents, weeks)`` returns the store path and the planted truth; the data for a
given argument tuple is generated and ingested once per session (a temporary directory), then reused.
Open the store read-only in each test: ``Store(path, read_only=True)``.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path

from afteraction.attack.kb import KnowledgeBase
from afteraction.store import Store
from afteraction.store.loader import ingest_paths
from afteraction.synth import Options, Truth, generate, load_truth

_ROOT = Path(tempfile.mkdtemp(prefix="aa-program-"))
atexit.register(shutil.rmtree, _ROOT, True)


@cache
def _generated(seed: int, incidents: int, weeks: int, kb_key: str, kb: KnowledgeBase) -> tuple[Path, Truth]:
    root = _ROOT / f"s{seed}-n{incidents}-w{weeks}"
    result = generate(Options(incidents=incidents, weeks=weeks, seed=seed), root / "sample", kb)
    path = root / "store.duckdb"
    with Store(path) as store:
        assert ingest_paths(store, [str(result.export_dir)], kb).rejected == 0
    return path, load_truth(result.truth_path)


def generated(kb: KnowledgeBase, seed: int, incidents: int = 1500, weeks: int = 26) -> tuple[Path, Truth]:
    """(store path, truth) of generated data, built once per session for these arguments."""
    return _generated(seed, incidents, weeks, kb.source_hash, kb)
