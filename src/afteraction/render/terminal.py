"""Safe text for terminals: strings from alerts are hostile and may carry escape sequences."""

from __future__ import annotations

import re

# C0 controls except tab, DEL, C1 controls, line/paragraph separators, and the Unicode bidi marks,
# embeddings, overrides and isolates used to disguise text (Trojan Source), and the zero-width characters
# that hide text or split look-alike names (U+200B-U+200D, U+FEFF).
UNSAFE_CHARS = (
    "\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff"
)
_UNSAFE = re.compile(f"[{UNSAFE_CHARS}]")


def safe(value: object, max_len: int | None = None) -> str:
    """``value`` as one printable line: control and bidi characters become ``\\uXXXX`` escapes."""
    text = "" if value is None else str(value)
    text = _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    if max_len is not None and len(text) > max_len:
        text = text[: max_len - 1] + "…"
    return text
