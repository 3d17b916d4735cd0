"""A plain-language summary built only from facts the review already established."""

from __future__ import annotations

from datetime import datetime

from afteraction.analyze.review.model import Chain, Detection, Entity, Header, IncidentType, Metrics


def duration_text(secs: float | None) -> str:
    """Seconds as '3 d 4 h', '2 h 14 min', '5 min' or '40 s'."""
    if secs is None:
        return "unknown"
    sign = "-" if secs < 0 else ""
    s = round(abs(secs))
    days, rem = divmod(s, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, sec = divmod(rem, 60)
    if days:
        text = f"{days} d {hours} h" if hours else f"{days} d"
    elif hours:
        text = f"{hours} h {minutes} min" if minutes else f"{hours} h"
    elif minutes:
        text = f"{minutes} min"
    else:
        text = f"{sec} s"
    return sign + text


_NOUNS: dict[str, tuple[str, str]] = {
    "device": ("device", "devices"), "user": ("user", "users"), "mailbox": ("mailbox", "mailboxes"),
    "ip": ("IP address", "IP addresses"), "url": ("URL", "URLs"), "file": ("file", "files"),
    "process": ("process", "processes"), "analyzedMessage": ("email message", "email messages"),
    "registryKey": ("registry key", "registry keys"), "registryValue": ("registry value", "registry values"),
    "cloudApplication": ("cloud app", "cloud apps"), "mailboxConfiguration": ("mailbox rule", "mailbox rules"),
    "cloudLogonSession": ("sign-in session", "sign-in sessions"), "oauthApplication": ("OAuth app", "OAuth apps"),
    "dns": ("domain", "domains"), "malware": ("malware family", "malware families"),
}


def _at(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "an unknown time"


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def summarize(header: Header, kind: IncidentType, metrics: Metrics, chain: Chain, entities: tuple[Entity, ...],
              detection: Detection) -> tuple[str, ...]:
    """Three to five short paragraphs: what, how it was detected, how it ended, what is left."""
    out: list[str] = []
    kinds = {}
    for e in entities:
        kinds[e.type] = kinds.get(e.type, 0) + 1
    involved = ", ".join(_plural(n, *_NOUNS.get(t, (t,))) for t, n in
                         sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))[:4])
    first = (f"{kind.label} incident ({header.severity} severity). Activity was first recorded at "
             f"{_at(metrics.first_activity)}")
    first += f" and involved {involved}." if involved else "."
    out.append(first)
    observed = [s.tactic for s in chain.stages if s.observed]
    sources = len(detection.sources)
    text = (f"Defender raised {_plural(metrics.alerts, 'alert')} from {_plural(sources, 'detection source')}, "
            f"mapped to {_plural(metrics.techniques, 'ATT&CK technique')} across "
            f"{_plural(metrics.tactics, 'tactic')}")
    text += f" ({' → '.join(observed)})." if observed else "."
    if metrics.time_to_detect is not None:
        text += f" The first alert fired {duration_text(metrics.time_to_detect)} after the first recorded activity"
        text += (f", at the {chain.first_detected_stage} stage." if chain.first_detected_stage else ".")
    out.append(text)
    if chain.skipped:
        out.append(f"No alert covers {_plural(len(chain.skipped), 'stage')} between the first and last observed "
                   f"stages ({', '.join(s.tactic for s in chain.skipped)}).")
    classified = (f"classified as {header.classification}"
                  + (f" ({header.determination})" if header.determination else "")) if header.classification else ""
    if metrics.resolved is not None and metrics.time_to_resolve is not None:
        out.append("The incident was " + (classified + " and " if classified else "")
                   + f"resolved {duration_text(metrics.time_to_resolve)} after the first alert.")
    elif metrics.resolved is not None:
        out.append("The incident was " + (classified + " and " if classified else "")
                   + f"resolved at {_at(metrics.resolved)}.")
    else:
        out.append(f"The incident is {header.status}" + (f", {classified}." if classified else
                                                           " and not yet classified."))
    open_entities = sum(e.unremediated for e in entities)
    if open_entities:
        out.append(f"{_plural(open_entities, 'entity', 'entities')} marked malicious or suspicious "
                   f"{'is' if open_entities == 1 else 'are'} recorded as not remediated.")
    return tuple(out)


__all__ = ["duration_text", "summarize"]
