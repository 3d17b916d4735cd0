"""Compiled-model cache: msgpack files keyed by the source's content hash.

Layout under ``cache_dir()`` (env ``AFTERACTION_CACHE_DIR``, else
``platformdirs.user_cache_dir("afteraction")``), in the ``attack/`` subfolder:

* ``kb-<key>.msgpack``: one compiled :class:`KBData`; ``key`` = sha256 of (source content hash, compiler
  version, version override);
* ``stat-index.json``: ``{absolute path: [size, mtime_ns, sha256]}`` so warm loads need no hashing.

All writes are atomic (temporary file + ``os.replace``). Unreadable or corrupt cache files are ignored
(and replaced on the next compile); the cache never raises for its own problems.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

import msgspec
import platformdirs

from afteraction.attack.model import COMPILER_VERSION, KBData

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(KBData)


def cache_dir() -> Path:
    """Root of afteraction's ATT&CK cache."""
    root = os.environ.get("AFTERACTION_CACHE_DIR") or platformdirs.user_cache_dir("afteraction")
    return Path(root) / "attack"


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class StatIndex:
    """(path, size, mtime_ns) -> sha256, persisted as JSON in the cache folder."""

    def __init__(self, root: Path | None = None) -> None:
        self.path = (root or cache_dir()) / "stat-index.json"
        self._entries: dict[str, list[object]] | None = None
        self._dirty = False

    def _load(self) -> dict[str, list[object]]:
        if self._entries is None:
            try:
                raw = json.loads(self.path.read_bytes())
                self._entries = raw if isinstance(raw, dict) else {}
            except (OSError, ValueError):
                self._entries = {}
        return self._entries

    @staticmethod
    def _stat(path: Path) -> tuple[str, int, int] | None:
        try:
            st = path.stat()
        except OSError:
            return None
        return str(path.resolve()), st.st_size, st.st_mtime_ns

    def lookup(self, path: Path) -> str | None:
        """The recorded sha256 of ``path`` if its size and mtime are unchanged, else None."""
        key = self._stat(path)
        if key is None:
            return None
        entry = self._load().get(key[0])
        if isinstance(entry, list) and len(entry) == 3 and entry[0] == key[1] and entry[1] == key[2]:
            return str(entry[2])
        return None

    def record(self, path: Path, sha256: str) -> None:
        """Remember ``path``'s current stat and hash (call :meth:`save` to persist)."""
        key = self._stat(path)
        if key is not None:
            self._load()[key[0]] = [key[1], key[2], sha256]
            self._dirty = True

    def hash_file(self, path: Path) -> str:
        """sha256 of ``path``, from the index when its stat is unchanged."""
        known = self.lookup(path)
        if known:
            return known
        with path.open("rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
        self.record(path, digest)
        return digest

    def save(self) -> None:
        """Persist the index if it changed; errors are ignored (it is only a cache)."""
        if self._dirty and self._entries is not None:
            with contextlib.suppress(OSError):
                atomic_write(self.path, json.dumps(self._entries, sort_keys=True).encode())
            self._dirty = False


def cache_key(source_hash: str, version_override: str | None = None) -> str:
    """Key of one compiled model."""
    text = f"{source_hash}\0{COMPILER_VERSION}\0{version_override or ''}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def cache_file(key: str, root: Path | None = None) -> Path:
    """Path of the compiled model for ``key``."""
    return (root or cache_dir()) / f"kb-{key}.msgpack"


def load(key: str, root: Path | None = None) -> KBData | None:
    """The cached model for ``key``, or None when absent, unreadable, corrupt or from another compiler."""
    try:
        data = _decoder.decode(cache_file(key, root).read_bytes())
    except (OSError, msgspec.DecodeError):
        return None
    return data if data.compiler_version == COMPILER_VERSION else None


def store(key: str, data: KBData, root: Path | None = None) -> Path | None:
    """Write the compiled model; returns its path, or None if the cache folder is not writable."""
    path = cache_file(key, root)
    try:
        atomic_write(path, _encoder.encode(data))
    except OSError:
        return None
    return path
