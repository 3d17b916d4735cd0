"""Coverage gap analysis (``afteraction coverage``): a typed :class:`Coverage` per period and scope."""

from afteraction.analyze.coverage.build import TOP_GAPS, coverage
from afteraction.analyze.coverage.model import CATEGORIES, COVERAGE_SCHEMA_VERSION, Coverage

__all__ = ["CATEGORIES", "COVERAGE_SCHEMA_VERSION", "TOP_GAPS", "Coverage", "coverage"]
