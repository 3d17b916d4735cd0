"""afteraction: post-incident review for security teams, mapped to MITRE ATT&CK.

The curated public API. Names are imported lazily so that ``import afteraction`` (and the CLI's start)
stays fast; ``__all__`` is pinned by a test.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("afteraction")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

_EXPORTS: dict[str, str] = {
    "AfteractionError": "afteraction.errors",
    "Alert": "afteraction.model",
    "AlertStatus": "afteraction.model",
    "AttackDataError": "afteraction.errors",
    "Classification": "afteraction.model",
    "Comment": "afteraction.model",
    "Determination": "afteraction.model",
    "Evidence": "afteraction.model",
    "FormatError": "afteraction.errors",
    "Incident": "afteraction.model",
    "IncidentStatus": "afteraction.model",
    "InputError": "afteraction.errors",
    "KnowledgeBase": "afteraction.attack",
    "Location": "afteraction.errors",
    "READERS": "afteraction.ingest",
    "RecordError": "afteraction.errors",
    "RejectedRecordsError": "afteraction.errors",
    "RemediationStatus": "afteraction.model",
    "Severity": "afteraction.model",
    "Store": "afteraction.store",
    "StoreError": "afteraction.errors",
    "TechniqueRef": "afteraction.model",
    "TechniqueStatus": "afteraction.model",
    "UsageError": "afteraction.errors",
    "Verdict": "afteraction.model",
    "ingest_paths": "afteraction.store.loader",
    "load_incident": "afteraction.store.read",
    "load_kb": "afteraction.attack",
    "read_path": "afteraction.ingest",
    "sniff": "afteraction.ingest",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'afteraction' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
