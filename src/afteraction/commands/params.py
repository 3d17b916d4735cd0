"""Click parameter types shared by the commands."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click


class UtcTime(click.ParamType):
    """An ISO-8601 date or time (``2026-11-02``, ``2026-11-02T00:00:00Z``); no offset means UTC."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(str(value).strip())
        except ValueError:
            self.fail(f"{value!r} is not an ISO-8601 date or time such as 2026-11-02T00:00:00Z", param, ctx)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


__all__ = ["UtcTime"]
