"""Write a plan in every playbook format, validating the CACAO playbook before it leaves the library."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from afteraction.errors import AfteractionError
from afteraction.playbooks.cacao import to_cacao
from afteraction.playbooks.model import Plan
from afteraction.playbooks.validate import Validation, schema_dir_from_env, validate_playbook

FORMATS = ("cacao", "logicapp", "md", "html")


class InvalidPlaybookError(AfteractionError):
    """afteraction produced a playbook its own validator rejects (a bug); ``validation`` has the details."""

    def __init__(self, validation: Validation) -> None:
        self.validation = validation
        shown = "; ".join(f"{p.pointer or '/'}: {p.message}" for p in validation.problems if p.severity == "error")
        super().__init__(f"the generated CACAO playbook is not valid ({shown[:800]}); this is a bug in afteraction")


def checked_cacao(plan: Plan, *, automation: bool = False, schemas: Path | None = None) -> dict[str, Any]:
    """The plan as a CACAO 2.0 playbook that passed validation (own checks, plus the official OASIS
    schemas when ``schemas`` or ``AFTERACTION_CACAO_SCHEMAS`` names them)."""
    playbook = to_cacao(plan, automation=automation)
    validation = validate_playbook(playbook, schemas=schemas or schema_dir_from_env())
    if not validation.ok:
        raise InvalidPlaybookError(validation)
    return playbook


def playbook_text(plan: Plan, fmt: str, *, automation: bool = False, schemas: Path | None = None) -> str:
    """The plan as text: ``cacao`` (CACAO 2.0 JSON), ``logicapp`` (ARM template with the Logic Apps
    workflow), ``md`` or ``html`` (the runbook)."""
    import json

    if fmt == "cacao":
        return json.dumps(checked_cacao(plan, automation=automation, schemas=schemas), indent=2,
                          ensure_ascii=False) + "\n"
    if fmt == "logicapp":
        from afteraction.playbooks.logicapp import arm_template

        return json.dumps(arm_template(plan), indent=2, ensure_ascii=False) + "\n"
    if fmt == "md":
        from afteraction.render.playbook import render_runbook_markdown

        return render_runbook_markdown(plan)
    if fmt == "html":
        from afteraction.render.playbook import render_runbook_html

        return render_runbook_html(plan)
    raise ValueError(f"unknown playbook format {fmt!r}")


__all__ = ["FORMATS", "InvalidPlaybookError", "checked_cacao", "playbook_text"]
