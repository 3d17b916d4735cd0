"""docs/cli.md documents every command and every option the CLI has, and nothing it lacks."""

from __future__ import annotations

import re
from pathlib import Path

import click

from afteraction.cli import cli

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _commands(group: click.Group, prefix: str = "afteraction") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = [(prefix, group)]
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found.extend(_commands(command, path))
        else:
            found.append((path, command))
    return found


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^#{2,3} `([^`]+)`\s*$", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def test_every_command_has_a_section_listing_its_options() -> None:
    sections = _sections(DOC.read_text(encoding="utf-8"))
    for path, command in _commands(cli):
        assert path in sections, f"docs/cli.md has no section for `{path}`"
        for param in command.params:
            if not isinstance(param, click.Option):
                continue
            longest = max(param.opts, key=len)
            if longest == "--help":
                continue
            assert longest in sections[path], f"`{path}` option {longest} is not documented"


def test_docs_have_no_commands_the_cli_lacks() -> None:
    sections = _sections(DOC.read_text(encoding="utf-8"))
    known = {path for path, _ in _commands(cli)}
    assert set(sections) <= known, f"documented but missing: {sorted(set(sections) - known)}"


def test_help_texts_render_for_every_command() -> None:
    from click.testing import CliRunner

    runner = CliRunner()
    for path, _ in _commands(cli):
        args = [*path.split()[1:], "--help"]
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output
