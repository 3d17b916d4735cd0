"""Writing an output file the way a user expects: atomically, UTF-8, with the usual file mode."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_output(path: str | os.PathLike[str], text: str | bytes) -> Path:
    """Write ``text`` (UTF-8) or bytes to ``path`` (temp file in the same folder, then rename); returns the path.

    A reader never sees a half-written file, and the file gets the mode the umask gives (mkstemp's 0600
    would hide a report meant to be shared).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        if isinstance(text, bytes):
            with os.fdopen(fd, "wb") as binary:
                binary.write(text)
        else:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


__all__ = ["write_output"]
