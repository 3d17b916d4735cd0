"""``--hostile``: attacker-controlled text planted into some incidents, to test that every output stays inert.

A hostile incident gets a ``<script>`` element in its title, a CSV formula at the start of its first
alert's title and in a tag, terminal escapes, a right-to-left override and an HTML event handler in a
comment, ``javascript:`` URLs as its portal links and as URL evidence. Evidence built for hostile
incidents also gets right-to-left-override file names and terminal escapes in command lines at times
(see :mod:`afteraction.synth.artifacts`). Ingest must accept all of it unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from afteraction.model import Comment, Evidence, Incident, RemediationStatus, Verdict

if TYPE_CHECKING:
    from afteraction.synth.artifacts import Ctx

SCRIPT = "<script>alert(1)</script>"
JS_URL = "javascript:alert(document.domain)"
FORMULA = '=HYPERLINK("https://evil.example/x","Click here")'
ESCAPE = "\x1b[31m"
RLO = "\u202e"
EVENT_HANDLER = '<img src=x onerror="alert(2)">'
HOSTILE_STRINGS = (SCRIPT, JS_URL, FORMULA, ESCAPE, RLO, EVENT_HANDLER)


def harden(ctx: Ctx, incident: Incident) -> Incident:
    """The incident with hostile strings in its title, tags, comments, links, first alert and evidence."""
    replace = msgspec.structs.replace
    first, *rest = incident.alerts
    evidence = (*first.evidence, Evidence(type="url", url=JS_URL, created=first.created, verdict=Verdict.MALICIOUS,
                                          remediation_status=RemediationStatus.NONE))
    ctx.evidence += 1
    first = replace(first, title=f"{FORMULA} {first.title}", web_url=JS_URL, evidence=evidence,
                    description=f"{first.description} {EVENT_HANDLER}")
    note = Comment(text=f"{ESCAPE}URGENT\x1b[0m call the {RLO}OEC back {EVENT_HANDLER}",
                   author=incident.assigned_to or ctx.plan.analysts[0], created=incident.created)
    comments = tuple(sorted((*incident.comments, note), key=lambda c: c.created))
    return replace(incident, title=f"{incident.title} {SCRIPT}", web_url=JS_URL, alerts=(first, *rest),
                   custom_tags=(*incident.custom_tags, FORMULA), comments=comments)
