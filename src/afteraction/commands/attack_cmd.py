"""``afteraction attack info|lookup|update``: the ATT&CK knowledge base."""

from __future__ import annotations

from typing import Any

import click
import msgspec

from afteraction.render.json import to_json
from afteraction.render.terminal import safe


@click.group()
def attack() -> None:
    """Inspect and update the ATT&CK data afteraction maps alerts to."""


@attack.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_obj
def info(app: Any, fmt: str) -> None:
    """Show the ATT&CK version and source in use, and object counts."""
    kb = app.kb()
    counts = _plain(kb.counts())
    if fmt == "json":
        click.echo(to_json({"version": kb.version, "source": kb.source, "source_hash": kb.source_hash,
                            "counts": counts}))
        return
    click.echo(f"ATT&CK version: {safe(kb.version)}")
    click.echo(f"Source: {safe(kb.source)}")
    click.echo(f"Source hash: {kb.source_hash}")
    for key, value in counts.items():
        click.echo(f"  {key.replace('_', ' ')}: {value}")


@attack.command()
@click.argument("query")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_obj
def lookup(app: Any, query: str, fmt: str) -> None:
    """Look up an ATT&CK object by id (T1059.001, TA0011, G0016, S0002, M1042...), name or alias."""
    kb = app.kb()
    hits = [_details(kb, _plain(hit)) for hit in kb.lookup(query)]
    if fmt == "json":
        click.echo(to_json({"query": query, "attack_version": kb.version, "results": hits}))
        return
    if not hits:
        click.echo(f"nothing in ATT&CK {kb.version} matches {safe(query)!r}")
        return
    for hit in hits:
        click.echo(_hit_line(hit))


def _details(kb: Any, hit: dict[str, Any]) -> dict[str, Any]:
    """Add what a reader needs next: replacement, tactics, parent, aliases, description."""
    kind, ident = hit["kind"], hit["id"]
    if kind == "technique":
        technique = kb.techniques.get(ident)
        resolution = kb.resolve(ident)
        if resolution.status == "revoked":
            hit["redirected_to"] = resolution.id
        if technique is not None:
            hit["tactics"] = list(technique.tactics)
            hit["platforms"] = list(technique.platforms)
            hit["description"] = technique.description
    elif kind in ("group", "campaign", "software"):
        table = {"group": kb.groups, "campaign": kb.campaigns, "software": kb.software}[kind]
        obj = table.get(ident)
        if obj is not None:
            hit["aliases"] = [a for a in obj.aliases if a != obj.name]
            hit["description"] = obj.description
    return hit


def _hit_line(hit: dict[str, Any]) -> str:
    parts = [str(hit.get(k)) for k in ("kind", "id", "name") if hit.get(k)]
    line = " · ".join(safe(p) for p in parts)
    for key in ("status", "redirected_to", "tactics", "platforms", "aliases", "url", "description"):
        value = hit.get(key)
        if value:
            text = ", ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
            line += f"\n    {key.replace('_', ' ')}: {safe(text)}"
    return line


@attack.command()
@click.option("--url", default=None, help="Bundle URL. [default: MITRE's latest enterprise-attack.json]")
@click.option("--from", "from_file", type=click.Path(exists=True, dir_okay=False),
              help="Import a local bundle file instead of downloading (air-gapped machines).")
def update(url: str | None, from_file: str | None) -> None:
    """Download (or import) an official ATT&CK STIX bundle and make it the default."""
    from afteraction.attack import DEFAULT_URL, import_file, update_from_url
    from afteraction.errors import UsageError

    if url and from_file:
        raise UsageError("give either --url or --from, not both")
    installed = import_file(from_file) if from_file else update_from_url(url or DEFAULT_URL)
    click.echo(f"ATT&CK {safe(installed.version)} from {safe(installed.origin)} is now the default")
    click.echo(f"  stored at {safe(installed.path)} (sha256 {installed.sha256[:16]}…)")


def _plain(value: Any) -> Any:
    if isinstance(value, msgspec.Struct):
        return msgspec.to_builtins(value)
    return value
