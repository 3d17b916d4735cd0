"""Helpers for the CLI tests: invoking commands in-process, and through the real entry point."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from afteraction.cli import cli, main

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "defender-incidents.json"


def run(*args: str) -> Result:
    """Invoke ``afteraction ARGS`` in-process; the command must succeed."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def run_main(args: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """Through the real entry point, so the error boundary is exercised; returns the exit code."""
    monkeypatch.setattr("sys.argv", ["afteraction", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return int(exit_info.value.code or 0)
