"""Render Markdown as a permissive viewer would, and check table shape, for the renderers' safety tests."""

from __future__ import annotations

import re

import pytest

markdown_it = pytest.importorskip("markdown_it")


def to_html(text: str) -> str:
    """Render like a permissive Markdown viewer: raw HTML allowed, GFM tables and strikethrough."""
    return markdown_it.MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(text)


def assert_tables_keep_columns(text: str) -> None:
    """Every row of every table has as many cells as its header, whatever the data."""
    for block in re.split(r"\n\n+", text):
        lines = [line for line in block.splitlines() if line.startswith("| ")]
        if len(lines) < 2:
            continue
        cells = [len(re.findall(r"(?<!\\)\|", line)) for line in lines]
        assert len(set(cells)) == 1, block
