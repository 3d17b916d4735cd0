""":func:`load_rules`: walk files and folders, detect each file's rule format, read it into an inventory."""

from __future__ import annotations

import os
import stat
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from afteraction.attack.kb import KnowledgeBase
from afteraction.rules import elastic, inventory, sentinel, sigma, splunk
from afteraction.rules.base import Context, decode, yaml_documents
from afteraction.rules.model import FORMATS, STATUSES, Rule, RuleInventory, SkippedFile

#: Files larger than this are skipped (with a reason): no real rule file comes close.
MAX_FILE_BYTES = 8 * 1024 * 1024
RULE_SUFFIXES = frozenset({".yml", ".yaml", ".toml", ".csv"})
#: Folders holding retired rules (SigmaHQ ``deprecated/`` and ``unsupported/``, Elastic ``_deprecated/``).
DEPRECATED_DIRS = frozenset({"deprecated", "_deprecated", "unsupported"})


def load_rules(
    paths: Iterable[str | Path],
    kb: KnowledgeBase,
    *,
    include_deprecated: bool = False,
    on_file: Callable[[Path], None] | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> RuleInventory:
    """Read detection rules from files and folders (recursively) into a :class:`RuleInventory`.

    Folders are walked in sorted order, hidden folders (``.git``) are ignored, symlinked folders are
    followed once (loops are safe) and each file is read once. Formats are detected per file: Sigma,
    Sentinel and Splunk YAML, Elastic TOML, and homegrown CSV/YAML inventories; other files are listed in
    ``skipped``. A malformed rule or file is recorded in ``errors`` and the scan goes on. Deprecated rules
    and deprecated folders are left out unless ``include_deprecated``. ``on_file`` is called before each
    file is read (for progress).
    """
    ctx = Context(kb, include_deprecated=include_deprecated)
    rules: list[Rule] = []
    skipped: list[SkippedFile] = []
    files_read = 0
    for path, reason in _walk(paths, include_deprecated):
        if reason is not None:
            skipped.append(SkippedFile(str(path), reason))
            continue
        if on_file is not None:
            on_file(path)
        files_read += 1
        why_not = _read_file(ctx, path, rules, max_bytes)
        if why_not is not None:
            skipped.append(SkippedFile(str(path), why_not))
    by_format = Counter(r.format for r in rules)
    by_status = Counter(r.status for r in rules)
    return RuleInventory(
        rules=tuple(rules), errors=tuple(ctx.errors), skipped=tuple(skipped), attack_version=kb.version,
        files_read=files_read, deprecated_skipped=ctx.deprecated_skipped,
        by_format={f: by_format[f] for f in FORMATS if by_format[f]},
        by_status={s: by_status[s] for s in STATUSES if by_status[s]},
        redirected=dict(sorted(ctx.redirected.items())), unknown_techniques=tuple(sorted(ctx.unknown)),
        retired_techniques=tuple(sorted(ctx.retired)),
    )


def _walk(paths: Iterable[str | Path], include_deprecated: bool) -> Iterator[tuple[Path, str | None]]:
    """``(file, None)`` for each candidate file, ``(path, reason)`` for what is skipped."""
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[tuple[int, int]] = set()

    def visit(path: Path, top: bool) -> Iterator[tuple[Path, str | None]]:
        try:
            st = path.stat()
        except OSError as exc:
            yield path, f"cannot be read: {exc.strerror or exc}"
            return
        key = (st.st_dev, st.st_ino)
        if stat.S_ISDIR(st.st_mode):
            if key in seen_dirs:
                return  # a symlink loop or the same folder twice
            seen_dirs.add(key)
            if not top and path.name.lower() in DEPRECATED_DIRS and not include_deprecated:
                yield path, "deprecated rules folder (include_deprecated to read it)"
                return
            try:
                entries = sorted(os.scandir(path), key=lambda e: e.name)
            except OSError as exc:
                yield path, f"folder cannot be listed: {exc.strerror or exc}"
                return
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                yield from visit(Path(entry.path), False)
            return
        if not stat.S_ISREG(st.st_mode):
            yield path, "not a regular file"
            return
        if key in seen_files:
            yield path, "same file already read"
            return
        seen_files.add(key)
        if path.suffix.lower() not in RULE_SUFFIXES:
            yield path, "not a rule file (extension)"
            return
        yield path, None

    for root in paths:
        yield from visit(Path(root), True)


def _read_file(ctx: Context, path: Path, rules: list[Rule], max_bytes: int) -> str | None:
    """Read one candidate file into ``rules``; returns a skip reason when it holds no rule format."""
    name = str(path)
    try:
        with path.open("rb") as fh:
            if os.fstat(fh.fileno()).st_size > max_bytes:
                return f"larger than the size limit ({_size(max_bytes)})"
            data = fh.read()
    except OSError as exc:
        ctx.error(name, f"cannot be read: {exc.strerror or exc}")
        return None
    if not data.strip():
        return "empty file"
    try:
        source = decode(data)
    except UnicodeDecodeError as exc:
        ctx.error(name, f"not UTF-8 text (byte {exc.start})")
        return None
    suffix = path.suffix.lower()
    if suffix == ".toml":
        return _read_toml(ctx, name, source, rules)
    if suffix == ".csv":
        if not inventory.csv_header_ok(source):
            return "CSV without technique and rule columns"
        rules.extend(inventory.read_csv(ctx, name, source))
        return None
    return _read_yaml(ctx, name, source, rules)


def _size(n: int) -> str:
    return f"{n // 1048576} MiB" if n % 1048576 == 0 else f"{n:,} bytes"


def _read_toml(ctx: Context, name: str, source: str, rules: list[Rule]) -> str | None:
    try:
        doc = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        ctx.error(name, f"invalid TOML: {exc}", line=getattr(exc, "lineno", None))
        return None
    except RecursionError:
        ctx.error(name, "invalid TOML: nested too deeply")
        return None
    if not elastic.is_rule(doc):
        return "TOML without a [rule] table"
    rules.extend(elastic.read(ctx, name, doc))
    return None


def _read_yaml(ctx: Context, name: str, source: str, rules: list[Rule]) -> str | None:
    errors_before = len(ctx.errors)
    docs = list(yaml_documents(ctx, name, source))
    maps: list[Any] = [d for _, _, d in docs if isinstance(d, dict)]
    if any("detection" in d or "logsource" in d or d.get("action") == "global" for d in maps):
        rules.extend(sigma.read(ctx, name, docs))
    elif any(sentinel.is_rule(d) for d in maps):
        rules.extend(sentinel.read(ctx, name, docs))
    elif any(splunk.is_rule(d) for d in maps):
        rules.extend(splunk.read(ctx, name, docs))
    elif docs and (rows := inventory.yaml_rows(docs[0][2])) is not None:
        rules.extend(inventory.read_yaml(ctx, name, rows, docs[0][1]))
    elif len(ctx.errors) == errors_before:
        return "YAML that is not a known rule format"
    return None
