"""Parse rendered HTML with the standard library and collect what the safety tests assert on."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

URL_ATTRS = {"href", "src", "xlink:href", "action", "formaction", "poster", "data", "background", "srcset"}
# terminal.UNSAFE_CHARS without the newline (HTML may contain newlines): C0/C1 controls, separators, bidi.
RAW_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class Page(HTMLParser):
    """Every start tag with its attributes, and the text of each script element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def link_ok(url: str) -> bool:
    """http(s) URLs, in-page anchors and relative page links only."""
    if url.startswith("#"):
        return True
    parts = urlsplit(url)
    if parts.scheme:
        return parts.scheme in ("http", "https") and bool(parts.netloc)
    return not url.startswith(("/", "\\")) and ":" not in url.split("/", 1)[0] and not parts.netloc


def assert_safe(html: str, *, scripts: int) -> Page:
    """The common HTML assertions: script count, no event handlers, no unsafe URLs or characters."""
    page = parse(html)
    assert [t for t, _ in page.tags].count("script") == scripts
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name, value)
            if name in URL_ATTRS:
                assert value is not None, (tag, name)
                assert link_ok(value), (tag, name, value)
            assert name != "style" or "url(" not in (value or ""), (tag, value)
        assert tag not in ("iframe", "frame", "object", "embed", "img", "link", "base", "form"), tag
        assert tag != "meta" or (attrs.get("http-equiv") or "").lower() != "refresh", attrs
    assert not RAW_UNSAFE.search(html), repr(RAW_UNSAFE.search(html))
    return page
