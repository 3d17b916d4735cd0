"""``afteraction playbook`` (write a remediation playbook) and ``afteraction check-playbook`` (validate one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from afteraction.commands.ingest_cmd import _db_option
from afteraction.commands.review_cmd import write_text
from afteraction.errors import InputError, Location, UsageError

_SCHEMAS_HELP = ("Directory of the official OASIS CACAO 2.0 JSON schemas (oasis-open/cacao-json-schemas) to "
                 "validate against as well, offline. [env: AFTERACTION_CACAO_SCHEMAS]")


@click.command()
@click.argument("incident_id", required=False, metavar="[INCIDENT_ID]")
@click.option("--source", default="defender", show_default=True, help="Source the incident was ingested from.")
@click.option("--techniques", multiple=True, metavar="T1566.001,T1078",
              help="Build a playbook for these technique ids instead of a stored incident (comma-separated; "
                   "repeatable).")
@click.option("--type", "incident_type", metavar="TYPE",
              help="Incident-type template: phishing, identity_compromise, ransomware, "
                   "business_email_compromise (also malware); alone, or with --techniques.")
@click.option("--format", "fmt", type=click.Choice(["cacao", "logicapp", "powerautomate", "md", "html"]),
              default="cacao", show_default=True,
              help="cacao: OASIS CACAO 2.0 JSON; logicapp: ARM template with the Logic Apps workflow (a "
                   "Sentinel playbook); powerautomate: Power Automate import package (zip; needs --out); "
                   "md/html: the runbook for people.")
@click.option("--automation/--manual", default=False, show_default=True,
              help="CACAO only: typed http-api commands (Microsoft Graph, Defender for Endpoint) for the steps "
                   "that have them, instead of manual commands everywhere.")
@click.option("--schemas", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help=_SCHEMAS_HELP)
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write to this file instead of stdout.")
@_db_option
@click.pass_obj
def playbook(app: Any, incident_id: str | None, source: str, techniques: tuple[str, ...],
             incident_type: str | None, fmt: str, automation: bool, schemas: Path | None, out: str | None,
             db_path: str | None) -> None:
    """Remediation playbook for a stored incident, a technique set or an incident type.

    Containment, eradication, recovery and hardening steps drawn from the incident's evidence, its ATT&CK
    techniques and its type's template, with the ATT&CK mitigations of the techniques. Every CACAO playbook
    is validated before it is written.
    """
    from afteraction.playbooks.derive import plan_for_review, plan_for_techniques, plan_for_type
    from afteraction.playbooks.export import playbook_text

    techs = [part.strip() for v in techniques for part in v.split(",") if part.strip()]
    if sum(bool(x) for x in (incident_id, techs or incident_type)) != 1:
        raise UsageError("give either INCIDENT_ID, or --techniques and/or --type")
    if fmt == "powerautomate" and out in (None, "-"):
        raise UsageError("--format powerautomate writes a zip file: give --out FILE.zip")
    kb = app.kb()
    if incident_id:
        from afteraction.analyze.review import review_incident

        app.db = db_path or app.db
        with app.store(read_only=True) as store:
            plan = plan_for_review(review_incident(store, kb, incident_id, source=source), kb)
    elif techs:
        plan = plan_for_techniques(techs, kb, incident_type=incident_type or "other")
    else:
        assert incident_type is not None
        plan = plan_for_type(incident_type, kb)
    if fmt == "powerautomate":
        from afteraction.playbooks.logicapp import power_automate_package
        from afteraction.render.output import write_output

        assert out is not None
        write_output(out, power_automate_package(plan))
    else:
        write_text(playbook_text(plan, fmt, automation=automation, schemas=schemas), out)
    if out:
        click.echo(f"wrote {out}", err=True)


@click.command("check-playbook")
@click.argument("path", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--schemas", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help=_SCHEMAS_HELP)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: one line per problem; json: the validation result.")
def check_playbook(path: Path, schemas: Path | None, fmt: str) -> None:
    """Validate a CACAO 2.0 playbook file: structure, ids, references, exclusive pointers, commands.

    Exits 0 when valid (warnings allowed), 3 when the file has errors.
    """
    import json

    from afteraction.playbooks.validate import schema_dir_from_env, validate_playbook
    from afteraction.render.terminal import safe

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not a JSON file: {exc}", Location(file=str(path))) from exc
    result = validate_playbook(data, schemas=schemas or schema_dir_from_env())
    errors = sum(p.severity == "error" for p in result.problems)
    if fmt == "json":
        from afteraction.render.json import to_json

        click.echo(to_json(result))
    else:
        for p in result.problems:
            click.echo(f"{p.severity}: {safe(p.pointer or '/')}: {safe(p.message)} [{p.check}]")
        checked = " and the OASIS schemas" if result.schema_checked else ""
        click.echo(f"{safe(path)}: {'valid' if result.ok else 'invalid'} ({errors} error(s), "
                   f"{len(result.problems) - errors} warning(s); own checks{checked})")
    if not result.ok:
        raise InputError(f"{errors} validation error(s)", Location(file=str(path)))
