"""Turn canonical records into Arrow column batches for the store's staging tables.

Records are transposed with ``msgspec.structs.astuple`` and ``zip`` (both in C); building a batch
still costs tens of microseconds per alert, mostly in Arrow's conversion of Python values. The Arrow
schema is derived from the model's own type hints, so a field added to :mod:`afteraction.model`
reaches the staging tables without a second list to edit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import pyarrow as pa

from afteraction.model import Alert, Comment, Evidence, Incident, TechniqueRef

_TS = pa.timestamp("us", tz="UTC")
_json = msgspec.json.Encoder(order="sorted")

# Fields that are not columns of the record's own table (children, or handled apart).
_INCIDENT_SKIP = frozenset({"comments", "alerts"})
_ALERT_SKIP = frozenset({"techniques", "comments", "evidence"})


def _arrow_type(info: msgspec.inspect.Type) -> pa.DataType:
    if isinstance(info, msgspec.inspect.UnionType):
        (inner,) = [t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)]
        return _arrow_type(inner)
    if isinstance(info, msgspec.inspect.StrType | msgspec.inspect.EnumType | msgspec.inspect.DictType):
        return pa.string()  # dicts (``unmapped``) are stored as JSON text
    if isinstance(info, msgspec.inspect.IntType):
        return pa.int64()
    if isinstance(info, msgspec.inspect.DateTimeType):
        return _TS
    if isinstance(info, msgspec.inspect.VarTupleType):
        return pa.list_(_arrow_type(info.item_type))
    raise TypeError(f"no Arrow type for {info}")  # pragma: no cover - guards model changes


def _layout(cls: type[msgspec.Struct], skip: frozenset[str]) -> tuple[list[int], list[pa.Field]]:
    """Positions (in ``astuple`` order) and Arrow fields of the columns of ``cls``."""
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    positions, fields = [], []
    for index, field in enumerate(info.fields):
        if field.name not in skip:
            positions.append(index)
            fields.append(pa.field(field.name, _arrow_type(field.type)))
    return positions, fields


_INCIDENT = _layout(Incident, _INCIDENT_SKIP)
_ALERT = _layout(Alert, _ALERT_SKIP)
_EVIDENCE = _layout(Evidence, frozenset())
_TECHNIQUE = _layout(TechniqueRef, frozenset())
_COMMENT = _layout(Comment, frozenset())

_PARENT_FIELDS = {
    "incident": [pa.field("seq", pa.int64())],
    "alert": [pa.field("source", pa.string()), pa.field("seq", pa.int64())],
    "child": [pa.field("source", pa.string()), pa.field("parent_id", pa.string()),
              pa.field("seq", pa.int32()), pa.field("batch_seq", pa.int64())],
}


def _cell(value: Any) -> Any:
    if isinstance(value, dict):
        return _json.encode(value).decode() if value else None
    return value


def _columns(rows: Sequence[tuple[Any, ...]], layout: tuple[list[int], list[pa.Field]]) -> list[pa.Array]:
    positions, fields = layout
    if not rows:
        return [pa.array([], type=f.type) for f in fields]
    transposed = list(zip(*rows, strict=True))
    arrays = []
    for position, field in zip(positions, fields, strict=True):
        column = transposed[position]
        if column.count(None) == len(column):  # sparse evidence columns: most are empty for a type
            arrays.append(pa.nulls(len(column), type=field.type))
            continue
        if field.name == "unmapped":
            column = [_cell(v) for v in column]
        arrays.append(pa.array(column, type=field.type))
    return arrays


class Batch:
    """Records waiting to be staged.

    ``seq`` numbers records across all batches of a file (start a batch where the previous one ended):
    it tells the last of equal duplicates and ties children to their parent record.
    """

    def __init__(self, start_seq: int = 0) -> None:
        self.incidents: list[Incident] = []
        self.incident_seq: list[int] = []
        self.alerts: list[Alert] = []
        self.alert_source: list[str] = []
        self.alert_seq: list[int] = []
        self.seq = start_seq

    def __len__(self) -> int:
        return len(self.incidents) + len(self.alerts)

    def add_incident(self, incident: Incident) -> None:
        self.seq += 1
        self.incidents.append(incident)
        self.incident_seq.append(self.seq)
        for alert in incident.alerts:
            if alert.incident_id is None:
                alert = msgspec.structs.replace(alert, incident_id=incident.id)
            self.add_alert(alert, incident.source)

    def add_alert(self, alert: Alert, source: str = "defender") -> None:
        self.seq += 1
        self.alerts.append(alert)
        self.alert_source.append(source)
        self.alert_seq.append(self.seq)

    def tables(self) -> dict[str, pa.Table]:
        """The batch as Arrow tables, one per staging table."""
        astuple = msgspec.structs.astuple
        incidents = _table(
            [*_columns([astuple(i) for i in self.incidents], _INCIDENT), pa.array(self.incident_seq, pa.int64())],
            _INCIDENT[1] + _PARENT_FIELDS["incident"],
        )
        alerts = _table(
            [
                *_columns([astuple(a) for a in self.alerts], _ALERT),
                pa.array(self.alert_source, pa.string()),
                pa.array(self.alert_seq, pa.int64()),
            ],
            _ALERT[1] + _PARENT_FIELDS["alert"],
        )
        return {
            "stg_incidents": incidents,
            "stg_alerts": alerts,
            "stg_techniques": self._children("techniques", _TECHNIQUE),
            "stg_evidence": self._children("evidence", _EVIDENCE),
            "stg_comments": self._comments(),
        }

    def _children(self, attr: str, layout: tuple[list[int], list[pa.Field]]) -> pa.Table:
        astuple = msgspec.structs.astuple
        rows: list[tuple[Any, ...]] = []
        source: list[str] = []
        parent: list[str] = []
        seq: list[int] = []
        batch_seq: list[int] = []
        for alert, src, bseq in zip(self.alerts, self.alert_source, self.alert_seq, strict=True):
            children = getattr(alert, attr)
            if not children:
                continue
            n = len(children)
            rows.extend(astuple(c) for c in children)
            source.extend([src] * n)
            parent.extend([alert.id] * n)
            seq.extend(range(n))
            batch_seq.extend([bseq] * n)
        extra = [pa.array(source, pa.string()), pa.array(parent, pa.string()),
                 pa.array(seq, pa.int32()), pa.array(batch_seq, pa.int64())]
        return _table(_columns(rows, layout) + extra, layout[1] + _PARENT_FIELDS["child"])

    def _comments(self) -> pa.Table:
        astuple = msgspec.structs.astuple
        rows: list[tuple[Any, ...]] = []
        meta: list[tuple[str, str, str, int, int]] = []
        for incident, bseq in zip(self.incidents, self.incident_seq, strict=True):
            for i, comment in enumerate(incident.comments):
                rows.append(astuple(comment))
                meta.append((incident.source, "incident", incident.id, i, bseq))
        for alert, src, bseq in zip(self.alerts, self.alert_source, self.alert_seq, strict=True):
            for i, comment in enumerate(alert.comments):
                rows.append(astuple(comment))
                meta.append((src, "alert", alert.id, i, bseq))
        cols = list(zip(*meta, strict=True)) if meta else [(), (), (), (), ()]
        extra = [pa.array(cols[0], pa.string()), pa.array(cols[1], pa.string()), pa.array(cols[2], pa.string()),
                 pa.array(cols[3], pa.int32()), pa.array(cols[4], pa.int64())]
        fields = [pa.field("source", pa.string()), pa.field("parent_kind", pa.string()),
                  pa.field("parent_id", pa.string()), pa.field("seq", pa.int32()),
                  pa.field("batch_seq", pa.int64())]
        return _table(_columns(rows, _COMMENT) + extra, _COMMENT[1] + fields)


def _table(arrays: list[pa.Array], fields: list[pa.Field]) -> pa.Table:
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def column_names(table: str) -> list[str]:
    """The model-derived column names of a staged record table (for the merge's SQL)."""
    layout = {"incidents": _INCIDENT, "alerts": _ALERT, "evidence": _EVIDENCE,
              "alert_techniques": _TECHNIQUE, "comments": _COMMENT}[table]
    return [f.name for f in layout[1]]

