"""The store's tables and their migrations.

Times are ``TIMESTAMPTZ`` read back in UTC. Lists are DuckDB ``VARCHAR[]``. Every data table is keyed
by ``source`` plus the record's own id so that several products can share one store. Incidents and
alerts carry that key as a primary key; the child tables (techniques, evidence, comments) are unique by
(source, parent, seq) through the merge, without an index: a primary-key index there doubled the cost
of storing them and no query looks rows up by it (schema version 2).

``annotations`` (schema version 3) holds what analysts record about an incident, such as techniques
found during the investigation that raised no alert. It is user data: ingest never writes or deletes it.
A read-only open never migrates, so readers of an older store must expect it to be missing.

``action_items`` (schema version 4) holds tracked follow-ups: the review's suggested items adopted by a
user and the ones users add (``afteraction actions``). It is user data too, keyed by an id drawn from
the ``action_item_ids`` sequence; ``suggestion_key`` makes adopting a review's suggestions idempotent.
"""

from __future__ import annotations

import duckdb

from afteraction.errors import StoreError

SCHEMA_VERSION = 5

_EVIDENCE_TEXT_COLUMNS = (
    "key", "name", "verdict", "remediation_status", "remediation_details",
    "device_id", "aad_device_id", "host_name", "device_dns_name", "os_platform", "risk_score",
    "health_status", "rbac_group", "account_name", "domain_name", "user_sid", "aad_user_id",
    "user_principal_name", "display_name", "mailbox_address", "file_name", "file_path", "sha1", "sha256",
    "md5", "command_line", "ip_address", "country", "url", "domain", "network_message_id",
    "internet_message_id", "subject", "sender", "sender_ip", "recipient", "delivery_action",
    "registry_key", "registry_value_name", "registry_value", "app_id", "session_id", "configuration_type",
    "extra", "unmapped",
)  # fmt: skip

_INCIDENT_DDL = """
CREATE TABLE IF NOT EXISTS incidents (
    source VARCHAR NOT NULL, id VARCHAR NOT NULL, tenant_id VARCHAR, title VARCHAR, description VARCHAR,
    summary VARCHAR, severity VARCHAR, status VARCHAR, classification VARCHAR, determination VARCHAR,
    assigned_to VARCHAR, last_modified_by VARCHAR, resolving_comment VARCHAR, redirect_incident_id VARCHAR,
    web_url VARCHAR, priority_score INTEGER, created TIMESTAMPTZ, last_updated TIMESTAMPTZ,
    first_activity TIMESTAMPTZ, last_activity TIMESTAMPTZ, resolved TIMESTAMPTZ,
    custom_tags VARCHAR[], system_tags VARCHAR[], unmapped VARCHAR,
    is_stub BOOLEAN NOT NULL DEFAULT false, content_hash VARCHAR, ingest_file_id BIGINT,
    PRIMARY KEY (source, id)
)"""

_ALERT_DDL = """
CREATE TABLE IF NOT EXISTS alerts (
    source VARCHAR NOT NULL, id VARCHAR NOT NULL, incident_id VARCHAR, provider_alert_id VARCHAR,
    tenant_id VARCHAR, title VARCHAR, description VARCHAR, recommended_actions VARCHAR, severity VARCHAR,
    status VARCHAR, classification VARCHAR, determination VARCHAR, service_source VARCHAR,
    detection_source VARCHAR, detector_id VARCHAR, product_name VARCHAR, category VARCHAR,
    categories VARCHAR[], actor_display_name VARCHAR, threat_display_name VARCHAR, threat_family_name VARCHAR,
    assigned_to VARCHAR, investigation_state VARCHAR, web_url VARCHAR, created TIMESTAMPTZ,
    last_updated TIMESTAMPTZ, resolved TIMESTAMPTZ, first_activity TIMESTAMPTZ, last_activity TIMESTAMPTZ,
    system_tags VARCHAR[], unmapped VARCHAR, content_hash VARCHAR, ingest_file_id BIGINT,
    PRIMARY KEY (source, id)
)"""

_TECHNIQUE_DDL = """
CREATE TABLE IF NOT EXISTS alert_techniques (
    source VARCHAR NOT NULL, alert_id VARCHAR NOT NULL, seq INTEGER NOT NULL, raw VARCHAR,
    technique_id VARCHAR, status VARCHAR, PRIMARY KEY (source, alert_id, seq)
)"""

_COMMENT_DDL = """
CREATE TABLE IF NOT EXISTS comments (
    source VARCHAR NOT NULL, parent_kind VARCHAR NOT NULL, parent_id VARCHAR NOT NULL, seq INTEGER NOT NULL,
    author VARCHAR, created TIMESTAMPTZ, text VARCHAR, PRIMARY KEY (source, parent_kind, parent_id, seq)
)"""

_EVIDENCE_DDL = (
    "CREATE TABLE IF NOT EXISTS evidence (source VARCHAR NOT NULL, alert_id VARCHAR NOT NULL, "
    "seq INTEGER NOT NULL, type VARCHAR, created TIMESTAMPTZ, "
    + ", ".join(f"{c} VARCHAR" for c in _EVIDENCE_TEXT_COLUMNS)
    + ", roles VARCHAR[], detailed_roles VARCHAR[], tags VARCHAR[], process_id BIGINT, "
    "parent_process_id BIGINT, PRIMARY KEY (source, alert_id, seq))"
)

_RUNS_DDL = """
CREATE SEQUENCE IF NOT EXISTS ingest_run_ids START 1;
CREATE SEQUENCE IF NOT EXISTS ingest_file_ids START 1;
CREATE TABLE IF NOT EXISTS ingest_runs (
    run_id BIGINT PRIMARY KEY, started TIMESTAMPTZ, finished TIMESTAMPTZ, afteraction_version VARCHAR,
    attack_version VARCHAR, attack_source VARCHAR, strict BOOLEAN, files INTEGER, status VARCHAR
);
CREATE TABLE IF NOT EXISTS ingest_files (
    file_id BIGINT PRIMARY KEY, run_id BIGINT, path VARCHAR, format VARCHAR, size_bytes BIGINT,
    started TIMESTAMPTZ, finished TIMESTAMPTZ, records_in BIGINT, incidents_new BIGINT,
    incidents_updated BIGINT, incidents_unchanged BIGINT, incidents_older BIGINT, alerts_new BIGINT,
    alerts_updated BIGINT, alerts_unchanged BIGINT, alerts_older BIGINT, evidence BIGINT, rejected BIGINT,
    status VARCHAR, error VARCHAR
);
CREATE TABLE IF NOT EXISTS rejected_records (
    file_id BIGINT, run_id BIGINT, path VARCHAR, record BIGINT, line BIGINT, pointer VARCHAR,
    reason VARCHAR, snippet VARCHAR
);
"""

_ANNOTATION_DDL = """
CREATE TABLE IF NOT EXISTS annotations (
    source VARCHAR NOT NULL, incident_id VARCHAR NOT NULL, technique_id VARCHAR NOT NULL, raw VARCHAR,
    kind VARCHAR NOT NULL, note VARCHAR, author VARCHAR, created TIMESTAMPTZ,
    PRIMARY KEY (source, incident_id, technique_id, kind)
)"""

_ACTION_ITEM_DDL = """
CREATE SEQUENCE IF NOT EXISTS action_item_ids START 1;
CREATE TABLE IF NOT EXISTS action_items (
    id BIGINT PRIMARY KEY, source VARCHAR, incident_id VARCHAR, what VARCHAR NOT NULL, why VARCHAR,
    owner VARCHAR, due DATE, status VARCHAR NOT NULL, priority VARCHAR NOT NULL, links VARCHAR[] NOT NULL,
    origin VARCHAR NOT NULL, suggestion_key VARCHAR UNIQUE, created TIMESTAMPTZ, updated TIMESTAMPTZ,
    closed TIMESTAMPTZ, note VARCHAR
);
"""
# Version 5: whether an item is about its own incident only (never "already known" elsewhere).
_ACTION_ITEM_SCOPE = "ALTER TABLE action_items ADD COLUMN IF NOT EXISTS scope VARCHAR DEFAULT 'general'"

_META_DDL = "CREATE TABLE IF NOT EXISTS store_meta (key VARCHAR PRIMARY KEY, value VARCHAR)"

def _without_key(table: str, ddl: str) -> tuple[str, ...]:
    """Rebuild ``table`` (created by ``ddl``) without its primary key, keeping its rows."""
    head, _, _ = ddl.rpartition(", PRIMARY KEY")
    create = head.replace("CREATE TABLE IF NOT EXISTS", "CREATE TABLE", 1) + ")"
    return (f"ALTER TABLE {table} RENAME TO {table}_v1", create,
            f"INSERT INTO {table} BY NAME SELECT * FROM {table}_v1",  # noqa: S608 - fixed table names
            f"DROP TABLE {table}_v1")


MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (_META_DDL, _INCIDENT_DDL, _ALERT_DDL, _TECHNIQUE_DDL, _COMMENT_DDL, _EVIDENCE_DDL, _RUNS_DDL),
    2: (*_without_key("alert_techniques", _TECHNIQUE_DDL), *_without_key("comments", _COMMENT_DDL),
        *_without_key("evidence", _EVIDENCE_DDL)),
    3: (_ANNOTATION_DDL,),
    4: (_ACTION_ITEM_DDL,),
    5: (_ACTION_ITEM_SCOPE,),
}

DATA_TABLES = ("incidents", "alerts", "alert_techniques", "comments", "evidence")
USER_TABLES = ("annotations", "action_items")  # written by analysts, never by ingest
AUDIT_TABLES = ("ingest_runs", "ingest_files", "rejected_records")


def has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    """Whether ``table`` has ``column`` (a read-only open of an older store may lack newer columns)."""
    row = con.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = ? AND column_name = ?", [table, column]
    ).fetchone()
    return bool(row and row[0])


def has_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether ``table`` exists (a read-only open of an older store lacks the newer tables)."""
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]
    ).fetchone()
    return bool(row and row[0])


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version recorded in the store, 0 for an empty database."""
    if not has_table(con, "store_meta"):
        return 0
    row = con.execute("SELECT value FROM store_meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Bring the schema up to :data:`SCHEMA_VERSION`; returns the version found before."""
    found = current_version(con)
    if found > SCHEMA_VERSION:
        raise StoreError(
            f"this store has schema version {found}, written by a newer afteraction; this one knows "
            f"version {SCHEMA_VERSION}: upgrade afteraction to use it"
        )
    for version in sorted(v for v in MIGRATIONS if v > found):
        con.execute("BEGIN TRANSACTION")
        for statement in MIGRATIONS[version]:
            con.execute(statement)
        con.execute(
            "INSERT OR REPLACE INTO store_meta VALUES ('schema_version', ?)", [str(version)]
        )
        con.execute("COMMIT")
    return found
