"""Hypothesis strategies for canonical records, shared by the round-trip tests."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import strategies as st

from afteraction.model import (
    Alert,
    AlertStatus,
    Classification,
    Comment,
    Determination,
    Evidence,
    Incident,
    IncidentStatus,
    Severity,
    TechniqueRef,
    Verdict,
)

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)
opt_text = st.none() | st.text(min_size=1, max_size=20)
times = st.none() | st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


def enum_value(enum, field):
    """A canonical member, or OTHER with the raw unknown text (returned as (member, unmapped))."""
    members = [m for m in enum if m.value != "other" or field == "determination"]
    raws = st.sampled_from(["brandNewValue", "unknownFutureValue", "awaitingThing"])
    new = raws.map(lambda raw: (enum("other"), {field: raw}))
    return st.sampled_from(members).map(lambda m: (m, {})) | new


def _ev(type_, key_col, name_col=None):
    return st.builds(
        lambda v, created, verdict: Evidence(
            type=type_, key=v, name=v, created=created, verdict=verdict, **{key_col: v}
        ),
        st.text(min_size=1, max_size=12), times, st.sampled_from([m for m in Verdict if m.value != "other"]),
    )


evidence = st.one_of(_ev("ip", "ip_address"), _ev("url", "url"), _ev("device", "device_id"))
techniques = st.lists(st.from_regex(r"\AT1[0-9]{3}(\.00[1-9])?\Z"), max_size=3).map(
    lambda ids: tuple(TechniqueRef(raw=i, id=i) for i in ids)
)
comments = st.lists(st.builds(Comment, text=text, author=opt_text, created=times), max_size=2).map(tuple)


@st.composite
def alerts(draw, incident_id):
    sev, u1 = draw(enum_value(Severity, "severity"))
    status, u2 = draw(enum_value(AlertStatus, "status"))
    det, u3 = draw(enum_value(Determination, "determination"))
    if draw(st.booleans()):
        det, u3 = None, {}
    cls = draw(st.none() | st.sampled_from([m for m in Classification if m.value != "other"]))
    return Alert(
        id=draw(st.text(min_size=1, max_size=16)),
        incident_id=incident_id,
        title=draw(text),
        description=draw(opt_text),
        severity=sev,
        status=status,
        classification=cls,
        determination=det,
        service_source=draw(st.none() | st.sampled_from(["microsoftDefenderForEndpoint", "microsoftSentinel"])),
        detection_source=draw(st.none() | st.sampled_from(["antivirus", "customTi"])),
        categories=tuple(draw(st.lists(text, max_size=2))),
        techniques=draw(techniques),
        created=draw(times),
        last_updated=draw(times),
        resolved=draw(times),
        first_activity=draw(times),
        last_activity=draw(times),
        comments=draw(comments),
        evidence=tuple(draw(st.lists(evidence, max_size=3))),
        unmapped={**u1, **u2, **u3},
    )


@st.composite
def incidents(draw):
    incident_id = str(draw(st.integers(1, 10**9)))
    sev, u1 = draw(enum_value(Severity, "severity"))
    status, u2 = draw(enum_value(IncidentStatus, "status"))
    return Incident(
        id=incident_id,
        title=draw(text),
        severity=sev,
        status=status,
        assigned_to=draw(opt_text),
        priority_score=draw(st.none() | st.integers(0, 100)),
        created=draw(times),
        last_updated=draw(times),
        custom_tags=tuple(draw(st.lists(text, max_size=2))),
        comments=draw(comments),
        alerts=tuple(draw(st.lists(alerts(incident_id), max_size=3, unique_by=lambda a: a.id))),
        unmapped={**u1, **u2},
    )
