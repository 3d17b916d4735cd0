"""Regenerate ``docs/schemas/review.schema.json`` and ``index.schema.json`` from the result types.

    python -m afteraction.analyze.review.schemas [DIR]   # default: docs/schemas
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from afteraction.analyze.review.model import json_schemas


def main(argv: list[str]) -> None:
    """Write every schema into the directory given (default ``docs/schemas``)."""
    target = Path(argv[0] if argv else "docs/schemas")
    for file_name, schema in json_schemas().items():
        (target / file_name).write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
