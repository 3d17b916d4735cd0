"""Regenerate ``docs/schemas/review.schema.json``, ``index.schema.json``, ``coverage.schema.json``,
``attribution.schema.json``, ``clusters.schema.json``, ``attribution-eval.schema.json``,
``trends.schema.json``, ``skills.schema.json`` and ``process.schema.json`` from the result types.

    python -m afteraction.analyze.review.schemas [DIR]   # default: docs/schemas
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import msgspec

from afteraction.analyze.review.model import json_schemas


def attribution_schemas() -> dict[str, dict[str, object]]:
    """JSON Schemas (2020-12) of ``afteraction attribute`` and ``afteraction clusters`` (and the site's
    ``attribution.json``), generated from :mod:`afteraction.analyze.attribution.model`."""
    from afteraction.analyze.attribution.model import SCHEMA_VERSION, Attribution, Clusters
    from afteraction.analyze.attribution.suite import EvalReport

    out: dict[str, dict[str, object]] = {}
    for name, kind, title in (("attribution", Attribution, "afteraction attribution"),
                              ("clusters", Clusters, "afteraction incident clusters"),
                              ("attribution-eval", EvalReport, "afteraction eval attribution")):
        out[f"{name}.schema.json"] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": title,
            "description": f"Output of afteraction (schema_version {SCHEMA_VERSION}); generated from "
                           "afteraction.analyze.attribution.model by `python -m afteraction.analyze.review.schemas`.",
            **msgspec.json.schema(kind),
        }
    return out


def program_schemas() -> dict[str, dict[str, object]]:
    """JSON Schemas of ``afteraction trends``, ``skills`` and ``process`` (and the site's twins)."""
    from afteraction.analyze.program import process_model, skills_model, trends_model

    return {f"{name}.schema.json": module.json_schema()
            for name, module in (("trends", trends_model), ("skills", skills_model), ("process", process_model))}


def main(argv: list[str]) -> None:
    """Write every schema into the directory given (default ``docs/schemas``)."""
    target = Path(argv[0] if argv else "docs/schemas")
    for file_name, schema in {**json_schemas(), **attribution_schemas(), **program_schemas()}.items():
        (target / file_name).write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
