"""Runbook (a remediation plan for people): content, order, sign-off, and hostile plan text kept inert."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import msgspec
import pytest
from html_checks import RAW_UNSAFE, assert_safe
from markdown_checks import assert_tables_keep_columns, to_html
from review_fixture import BAD_URLS, ESC, JS_URL, PAYLOAD, RLO, SCRIPT

from afteraction.attack import load_kb
from afteraction.attack.kb import KnowledgeBase
from afteraction.playbooks.derive import plan_for_techniques, plan_for_type
from afteraction.playbooks.model import PHASE_TITLES, PHASES, Condition, MitigationRef, Plan, Target, TechniqueRef
from afteraction.render.playbook import render_runbook_html, render_runbook_markdown

DEVICE = "a" * 40
OTHER_DEVICE = "b" * 40
FORMULA_CMD = "=cmd|' /C calc'!A0"
HOSTILE = (f"{PAYLOAD} </td></tr></table> | pipe | `tick` ``` [x](javascript:alert(1)) {FORMULA_CMD} "
           "\x00\x07\u2066 \r\n## injected heading\n- [x] fake step")
MDE = "https://api.securitycenter.microsoft.com"
FENCED = re.compile(r"^( *)(`{3,})json\n.*?\n\1\2$", re.M | re.S)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_kb("bundled")


@pytest.fixture(scope="module")
def phishing(kb: KnowledgeBase) -> Plan:
    return plan_for_type("phishing", kb)


@pytest.fixture(scope="module")
def techniques(kb: KnowledgeBase) -> Plan:
    return plan_for_techniques(["T1566.001", "T1059.001", "T1486", "T1078"], kb)


def with_targets(plan: Plan, action: str, *targets: Target) -> Plan:
    steps = tuple(msgspec.structs.replace(s, targets=targets) if s.action == action else s for s in plan.steps)
    return msgspec.structs.replace(plan, steps=steps)


def hostile_plan(plan: Plan) -> Plan:
    """Every text field a hostile string, hostile targets on every step, bad URLs on the references."""
    targets = (Target(kind="device", value=HOSTILE, label=HOSTILE, entity=HOSTILE),
               Target(kind=HOSTILE, value=FORMULA_CMD, label=FORMULA_CMD, api_ready=False),
               Target(kind="user", value=HOSTILE, label=HOSTILE))
    steps = tuple(msgspec.structs.replace(
        s, title=HOSTILE, instructions=HOSTILE, reason=HOSTILE, targets=targets[: 1 + 2 * (i % 2)],
        techniques=(*s.techniques, HOSTILE), mitigations=(*s.mitigations, HOSTILE),
        condition=Condition(variable=HOSTILE, question=HOSTILE, expect=bool(i % 2)))
        for i, s in enumerate(plan.steps))
    techs = (*(msgspec.structs.replace(t, name=HOSTILE, url=BAD_URLS[i % len(BAD_URLS)])
               for i, t in enumerate(plan.techniques)), TechniqueRef(id=HOSTILE, name=HOSTILE, url=JS_URL))
    mits = (*plan.mitigations, MitigationRef(id=HOSTILE, name=HOSTILE, url=JS_URL, techniques=(HOSTILE,)))
    return msgspec.structs.replace(
        plan, name=HOSTILE, description=HOSTILE, scope="incident", source=HOSTILE, incident_id=HOSTILE,
        incident_title=HOSTILE, incident_type_label=HOSTILE, severity=HOSTILE, attack_version=HOSTILE,
        notes=(HOSTILE, HOSTILE), steps=steps, techniques=techs, mitigations=mits)


class Balance(HTMLParser):
    """Fails on an end tag that does not close the innermost open element (void elements excepted)."""

    VOID = frozenset({"meta", "input", "br", "hr", "img", "link", "wbr", "col", "area", "source"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack, tag
        assert self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()


def assert_well_formed(html: str) -> None:
    checker = Balance()
    checker.feed(html)
    checker.close()
    assert checker.stack == [], checker.stack


def assert_markdown_inert(text: str) -> None:
    assert "<" not in text  # data's < is an entity (or \u003c in JSON); the renderer writes no raw HTML
    assert ESC not in text
    assert RLO not in text
    assert not RAW_UNSAFE.search(text)
    assert "\r" not in text
    prose = FENCED.sub("", text)  # request bodies are fenced code: literal text, checked through rendering below
    for target in re.findall(r"(?<!\\)\]\(([^)]*)\)", prose):
        assert target.startswith(("https://", "http://")), target
    assert "\n## injected" not in text
    assert "\n# heading" not in text
    assert "\n- [x] fake" not in text
    assert "\n=cmd" not in text
    assert "| =cmd" not in text
    rendered = to_html(text)
    assert_safe(rendered, scripts=0)
    assert "<script" not in rendered
    assert "<img" not in rendered
    assert "javascript:" not in re.sub(r">[^<]*<", "><", rendered)
    assert "injected heading</h2>" not in rendered
    assert rendered.count('<pre><code class="language-json">') == len(FENCED.findall(text))


# ------------------------------------------------------------------------------------------------ content

def test_markdown_phases_numbering_and_sign_off(techniques: Plan) -> None:
    text = render_runbook_markdown(techniques)
    assert_markdown_inert(text)
    assert_tables_keep_columns(text)
    heads = [f"\n## {PHASE_TITLES[p]}\n" for p in PHASES]
    positions = [text.index(h) for h in heads]
    assert positions == sorted(positions)
    assert text.index("## Before you start") < positions[0] < text.index("## ATT&CK techniques")
    assert text.index("## ATT&CK techniques") < text.index("## ATT&CK mitigations")
    numbers = [int(n) for n in re.findall(r"^### (\d+)\. ", text, re.M)]
    assert numbers == list(range(1, len(techniques.steps) + 1))
    assert text.count("- [ ] **Step ") == len(techniques.steps)
    assert "**Review every step before running it.**" in text
    assert "## ATT&CK techniques" in text
    assert "[T1486](https://attack.mitre.org/techniques/T1486)" in text
    assert re.search(r"\| \[M1049\]\(https://attack\.mitre\.org/mitigations/M1049\) \| Antivirus/Antimalware \|", text)
    assert not re.search(r"\n{3,}", text)


def test_html_phases_numbering_and_sign_off(techniques: Plan) -> None:
    html = render_runbook_html(techniques)
    page = assert_safe(html, scripts=0)
    assert_well_formed(html)
    positions = [html.index(f'<section class="section" id="{p}">') for p in PHASES]
    assert positions == sorted(positions)
    ids = [a["id"] for t, a in page.tags if t == "article"]
    assert ids == [f"step-{n}" for n in range(1, len(techniques.steps) + 1)]
    boxes = [a for t, a in page.tags if t == "input"]
    assert len(boxes) == len(techniques.steps)
    assert all(a.get("type") == "checkbox" for a in boxes)
    assert html.count("Done by<span") == len(techniques.steps)
    assert "Review every step before running it." in html
    hrefs = {a.get("href") for t, a in page.tags if t == "a"}
    assert "https://attack.mitre.org/techniques/T1486" in hrefs
    assert "https://attack.mitre.org/mitigations/M1049" in hrefs
    assert 'id="techniques"' in html
    assert 'id="mitigations"' in html


def test_header_names_the_incident(phishing: Plan) -> None:
    plan = msgspec.structs.replace(phishing, scope="incident", source="defender", incident_id="51007",
                                   incident_title="Phish from payroll", severity="high")
    text = render_runbook_markdown(plan)
    assert "- **Incident:** defender:51007 · Phish from payroll" in text
    assert "- **Incident type:** Phishing" in text
    assert "- **Severity:** High" in text
    assert f"- **ATT&CK:** {phishing.attack_version}" in text
    assert "- **Generated:** " in text
    html = render_runbook_html(plan)
    assert "Phish from payroll" in html
    assert "51007" in html
    assert "sev-high" in html
    assert f"ATT&amp;CK <b>{phishing.attack_version}</b>" in html


def test_conditions_and_decisions(phishing: Plan) -> None:
    question = "Did any recipient click the link or enter credentials?"
    text = render_runbook_markdown(phishing)
    assert f"**Only if:** {question} — answer **Yes**" in text
    gated = [i for i, s in enumerate(phishing.steps, 1) if s.condition and s.condition.question == question]
    assert len(gated) == 2
    assert f"{question} — Yes runs steps {gated[0]}, {gated[1]}." in text
    assert text.split("### Decisions to take")[1].split("###")[0].count("☐ Yes") == len(
        {s.condition.variable for s in phishing.steps if s.condition})
    # a "no" branch
    steps = tuple(msgspec.structs.replace(s, condition=msgspec.structs.replace(s.condition, expect=False))
                  if s.key == "eradication.reset_password" and s.condition else s for s in phishing.steps)
    flipped = msgspec.structs.replace(phishing, steps=steps)
    number = next(i for i, s in enumerate(steps, 1) if s.key == "eradication.reset_password")
    text = render_runbook_markdown(flipped)
    assert f"**Only if:** {question} — answer **No**" in text
    assert f"No runs step {number}" in text
    html = render_runbook_html(flipped)
    assert f"<b>Only if:</b> {question} — answer <b>No</b>" in html
    assert f"<b>Only if:</b> {question} — answer <b>Yes</b>" in html


def test_automate_url_fills_a_single_target(techniques: Plan) -> None:
    one = with_targets(techniques, "isolate_device", Target(kind="device", value=DEVICE, label="WS-0042"))
    text = render_runbook_markdown(one)
    url = f"{MDE}/api/machines/{DEVICE}/isolate"
    assert f"- **Automate:** `POST {url}`" in text
    assert "permission `Machine.Isolate`" in text
    assert "[Microsoft docs](https://learn.microsoft.com/defender-endpoint/api/isolate-machine)" in text
    assert "| Device | WS-0042 | " + DEVICE + " |" in text
    html = render_runbook_html(one)
    assert f"POST {url}</code>" in html
    assert 'href="https://learn.microsoft.com/defender-endpoint/api/isolate-machine"' in html
    # two targets: the request runs once per target, the placeholder stays
    two = with_targets(techniques, "isolate_device", Target(kind="device", value=DEVICE, label="WS-0042"),
                       Target(kind="device", value=OTHER_DEVICE, label="WS-0043"))
    text = render_runbook_markdown(two)
    assert f"`POST {MDE}/api/machines/{{target}}/isolate`" in text
    assert "Send it once per target" in text
    assert f"{MDE}/api/machines/{{target}}/isolate" in render_runbook_html(two)


def test_automate_body_fills_the_target_and_url_is_encoded(techniques: Plan) -> None:
    plan = with_targets(techniques, "block_url", Target(kind="url", value="https://evil.example/a b", label="x"))
    text = render_runbook_markdown(plan)
    assert f"`POST {MDE}/api/indicators`" in text
    assert '"indicatorValue": "https://evil.example/a b"' in text
    assert '"indicatorType": "Url"' in text
    assert "`{comment}`: a comment for the audit trail" in text
    user = Target(kind="device", value="id with/slash", label="x")
    html = render_runbook_html(with_targets(techniques, "isolate_device", user))
    assert f"{MDE}/api/machines/id%20with%2Fslash/isolate" in html


def test_permissions_grouped_by_service(techniques: Plan, phishing: Plan) -> None:
    text = render_runbook_markdown(techniques)
    before = text.split("## Before you start")[1].split("\n## ")[0]
    assert "- **Microsoft Defender for Endpoint API** (`https://api.securitycenter.microsoft.com`)" in before
    assert "- **Microsoft Graph** (`https://graph.microsoft.com`)" in before
    assert "  - `Machine.Isolate`: step 1" in before
    assert "`User.RevokeSessions.All`" in before
    assert "`Machine.Scan`" in before
    assert before.count("**Microsoft Graph**") == 1
    html = render_runbook_html(phishing)
    start = html.split('id="start"')[1].split("</section>")[0]
    for permission in ("User.RevokeSessions.All", "Ti.ReadWrite", "Policy.ReadWrite.ConditionalAccess",
                       "MailboxSettings.Read"):
        assert f"<code>{permission}</code>" in start
    assert start.count("<code>Ti.ReadWrite</code>") == 1  # URL and domain blocking share the permission


def test_manual_steps_have_no_automate_detail(phishing: Plan) -> None:
    manual = msgspec.structs.replace(phishing, steps=tuple(msgspec.structs.replace(s, automated=False)
                                                           for s in phishing.steps))
    text = render_runbook_markdown(manual)
    assert "**Automate:**" not in text
    assert "No step is automated" in text
    html = render_runbook_html(manual)
    assert "rb-part rb-auto" not in html
    assert "No step is automated" in html


def test_targets_not_api_ready_are_flagged(techniques: Plan) -> None:
    plan = with_targets(techniques, "isolate_device", Target(kind="device", value="WS-0042", label="WS-0042",
                                                             api_ready=False))
    plan = msgspec.structs.replace(plan, steps=tuple(
        msgspec.structs.replace(s, automated=False) if s.action == "isolate_device" else s for s in plan.steps))
    text = render_runbook_markdown(plan)
    assert "| Device | WS-0042 | WS-0042 **(identify manually)** |" in text
    html = render_runbook_html(plan)
    assert "identify manually" in html
    assert '<tr class="flag">' in html


def test_empty_plan_says_nothing_to_do(phishing: Plan) -> None:
    empty = msgspec.structs.replace(phishing, steps=(), notes=("No evidence to act on.",))
    text = render_runbook_markdown(empty)
    assert "_Nothing to do: this plan has no remediation step._" in text
    assert "- [ ]" not in text
    assert "## Containment" not in text
    assert "- No evidence to act on." in text
    html = render_runbook_html(empty)
    assert_safe(html, scripts=0)
    assert_well_formed(html)
    assert "Nothing to do" in html
    assert 'type="checkbox"' not in html


def test_related_links_only_safe_hrefs(phishing: Plan) -> None:
    links = {"review": "incident-defender-1004.html", "cacao": "playbook-1004.cacao.json",
             "logicapp": "https://example.org/x.arm.json", "bad": JS_URL, "abs": "/etc/passwd",
             "other": BAD_URLS[3]}
    html = render_runbook_html(phishing, links=links)
    page = assert_safe(html, scripts=0)
    hrefs = [a.get("href") for t, a in page.tags if t == "a"]
    assert "incident-defender-1004.html" in hrefs
    assert "playbook-1004.cacao.json" in hrefs
    assert "https://example.org/x.arm.json" in hrefs
    assert "CACAO 2.0 playbook (JSON)" in html
    assert "← Incident review" in html
    assert not any(h and ("javascript" in h.lower() or h.startswith(("/", "data:"))) for h in hrefs)


def test_output_is_deterministic(techniques: Plan) -> None:
    assert render_runbook_markdown(techniques) == render_runbook_markdown(techniques)
    assert render_runbook_html(techniques) == render_runbook_html(techniques)


# ------------------------------------------------------------------------------------------ hostile values

@pytest.mark.parametrize("source", ["phishing", "techniques"])
def test_hostile_plan_markdown_is_inert(source: str, request: pytest.FixtureRequest) -> None:
    plan = hostile_plan(request.getfixturevalue(source))
    text = render_runbook_markdown(plan)
    assert_markdown_inert(text)
    assert_tables_keep_columns(text)
    assert "\\[x\\](javascript:alert(1))" in text
    assert "\\=cmd\\|" in text
    assert "\\`tick\\`" in text
    assert "&lt;/td&gt;" in text
    assert "\\| pipe \\|" in text
    assert "\\u0000" in text
    assert "\\u202e" in text
    assert "(identify manually)" in text
    numbers = [int(n) for n in re.findall(r"^### (\d+)\. ", text, re.M)]
    assert numbers == list(range(1, len(plan.steps) + 1))  # injected headings did not add steps
    assert text.count("\n- [ ] ") == len(plan.steps)  # nor sign-off boxes
    assert text.count("\n- [x]") == 0


@pytest.mark.parametrize("source", ["phishing", "techniques"])
def test_hostile_plan_html_is_inert(source: str, request: pytest.FixtureRequest) -> None:
    plan = hostile_plan(request.getfixturevalue(source))
    html = render_runbook_html(plan, links={"review": JS_URL, "cacao": HOSTILE, "logicapp": "ok.arm.json"})
    page = assert_safe(html, scripts=0)
    assert_well_formed(html)
    assert SCRIPT not in html
    assert "&lt;script&gt;" in html
    assert "&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;" in html
    assert "\\u202e" in html
    assert "\\u0000" in html
    hrefs = [a.get("href") for t, a in page.tags if t == "a"]
    assert "ok.arm.json" in hrefs
    for href in hrefs:
        assert href
        assert href.startswith(("https://", "http://", "#", "ok.arm.json")), href
    assert len([a for t, a in page.tags if t == "article"]) == len(plan.steps)
    assert [t for t, _ in page.tags].count("table") == html.count("<table>")


def test_hostile_target_in_automate_url_is_encoded(techniques: Plan) -> None:
    plan = hostile_plan(techniques)
    html = render_runbook_html(plan)
    urls = re.findall(r'<code class="url">([^<]*)</code>', html)
    assert urls
    for code in urls:
        method, url = code.split(" ", 1)
        assert method in ("POST", "GET", "PATCH")
        assert re.fullmatch(r"https://[A-Za-z0-9.]+/[A-Za-z0-9%@/.{}_~-]+", url), url
    text = render_runbook_markdown(plan)
    spans = re.findall(r"\*\*Automate:\*\* `(POST|GET|PATCH) ([^`]*)`", text)
    assert len(spans) == len(urls)
    for _, url in spans:
        assert re.fullmatch(r"https://[A-Za-z0-9.]+/[A-Za-z0-9%@/.{}_~-]+", url), url
