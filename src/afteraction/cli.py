"""The ``afteraction`` command line: thin commands over the library, with one error boundary."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from afteraction import __version__
from afteraction.errors import AfteractionError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class AppContext:
    """Lazily opened store and knowledge base shared by the commands of one invocation."""

    def __init__(self, db: str | None, attack: str | None) -> None:
        self.db = db
        self.attack = attack
        self._kb: Any = None

    def kb(self) -> Any:
        if self._kb is None:
            from afteraction.attack import load_kb

            self._kb = load_kb(self.attack)
        return self._kb

    def store(self, *, read_only: bool = False) -> Any:
        from afteraction.store import Store

        return Store(self.db, read_only=read_only)


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="afteraction")
@click.option("--db", type=click.Path(dir_okay=False), envvar="AFTERACTION_DB", show_envvar=True,
              help="DuckDB store file. [default: afteraction.duckdb in the user data directory]")
@click.option("--attack", "attack", metavar="PATH", envvar="AFTERACTION_ATTACK", show_envvar=True,
              help="ATT&CK data: a STIX 2.0/2.1 bundle (.json or .json.gz) or 'bundled'. "
                   "[default: the one set by 'attack update', else the bundled v18.1]")
@click.pass_context
def cli(ctx: click.Context, db: str | None, attack: str | None) -> None:
    """afteraction: post-incident review for security teams, mapped to MITRE ATT&CK.

    Ingest Microsoft Defender XDR incidents and alerts into a local store, then review them.
    """
    ctx.obj = AppContext(db, attack)


def main() -> None:
    """Console entry point: the single place where errors become messages and exit codes."""
    try:
        cli.main(prog_name="afteraction", standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):  # click turns Ctrl-C into Abort
        click.echo("interrupted: the file being read was not stored; files finished before it were", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except AfteractionError as exc:
        from afteraction.render.terminal import safe

        click.echo(f"error: {safe(exc)}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:
        if os.environ.get("AFTERACTION_DEBUG"):
            raise
        from afteraction.render.terminal import safe

        click.echo(
            f"internal error: {type(exc).__name__}: {safe(exc)}\n"
            "This is a bug in afteraction; rerun with AFTERACTION_DEBUG=1 for a traceback and report it.",
            err=True,
        )
        sys.exit(70)


def _register() -> None:
    from afteraction.commands import (
        actions_cmd,
        annotate_cmd,
        attack_cmd,
        attribute_cmd,
        coverage_cmd,
        demo_cmd,
        generate_cmd,
        ingest_cmd,
        playbook_cmd,
        program_cmd,
        review_cmd,
    )

    cli.add_command(ingest_cmd.ingest)
    cli.add_command(ingest_cmd.incidents)
    cli.add_command(attack_cmd.attack)
    cli.add_command(generate_cmd.generate)
    cli.add_command(review_cmd.review)
    cli.add_command(review_cmd.report)
    cli.add_command(annotate_cmd.annotate)
    cli.add_command(annotate_cmd.annotations)
    cli.add_command(actions_cmd.actions)
    cli.add_command(demo_cmd.demo)
    cli.add_command(coverage_cmd.coverage)
    cli.add_command(attribute_cmd.attribute)
    cli.add_command(attribute_cmd.clusters)
    cli.add_command(attribute_cmd.eval_group)
    cli.add_command(program_cmd.trends)
    cli.add_command(program_cmd.skills)
    cli.add_command(program_cmd.process)
    cli.add_command(playbook_cmd.playbook)
    cli.add_command(playbook_cmd.check_playbook)


_register()


__all__ = ["AppContext", "cli", "main"]

if __name__ == "__main__":  # pragma: no cover
    main()
