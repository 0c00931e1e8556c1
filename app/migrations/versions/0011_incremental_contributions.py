"""Incremental derivation of contributions: a queue of changed sessions and runs, fed by triggers.

Every insert or update of a closed session or an ended run adds its id to
`contribution_pending`, whatever code made the change; deriving contributions
then reads only the queue instead of scanning all history. Existing closed
sessions and ended runs are queued once, so nothing is missed on upgrade.

Revision ID: 0011
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | tuple[str, ...] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_TRIGGERS = (
    "CREATE TRIGGER lab_session_pending_insert AFTER INSERT ON lab_session "
    "WHEN NEW.closed_at IS NOT NULL BEGIN INSERT INTO contribution_pending "
    "(source, source_id) VALUES ('session', NEW.id); END",
    "CREATE TRIGGER lab_session_pending_update AFTER UPDATE ON lab_session "
    "WHEN NEW.closed_at IS NOT NULL BEGIN INSERT INTO contribution_pending "
    "(source, source_id) VALUES ('session', NEW.id); END",
    "CREATE TRIGGER machine_run_pending_insert AFTER INSERT ON machine_run "
    "WHEN NEW.ended_at IS NOT NULL BEGIN INSERT INTO contribution_pending "
    "(source, source_id) VALUES ('run', NEW.id); END",
    "CREATE TRIGGER machine_run_pending_update AFTER UPDATE ON machine_run "
    "WHEN NEW.ended_at IS NOT NULL BEGIN INSERT INTO contribution_pending "
    "(source, source_id) VALUES ('run', NEW.id); END",
)
_SQLITE_DROP = (
    "DROP TRIGGER lab_session_pending_insert",
    "DROP TRIGGER lab_session_pending_update",
    "DROP TRIGGER machine_run_pending_insert",
    "DROP TRIGGER machine_run_pending_update",
)
_POSTGRESQL_TRIGGERS = (
    "CREATE FUNCTION lab_session_pending() RETURNS trigger AS $$ BEGIN "
    "INSERT INTO contribution_pending (source, source_id) VALUES ('session', NEW.id); "
    "RETURN NULL; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER lab_session_pending AFTER INSERT OR UPDATE ON lab_session "
    "FOR EACH ROW WHEN (NEW.closed_at IS NOT NULL) EXECUTE FUNCTION lab_session_pending()",
    "CREATE FUNCTION machine_run_pending() RETURNS trigger AS $$ BEGIN "
    "INSERT INTO contribution_pending (source, source_id) VALUES ('run', NEW.id); "
    "RETURN NULL; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER machine_run_pending AFTER INSERT OR UPDATE ON machine_run "
    "FOR EACH ROW WHEN (NEW.ended_at IS NOT NULL) EXECUTE FUNCTION machine_run_pending()",
)
_POSTGRESQL_DROP = (
    "DROP TRIGGER lab_session_pending ON lab_session",
    "DROP FUNCTION lab_session_pending()",
    "DROP TRIGGER machine_run_pending ON machine_run",
    "DROP FUNCTION machine_run_pending()",
)
_QUEUE_EXISTING = (
    "INSERT INTO contribution_pending (source, source_id) "
    "SELECT 'session', id FROM lab_session WHERE closed_at IS NOT NULL ORDER BY id",
    "INSERT INTO contribution_pending (source, source_id) "
    "SELECT 'run', id FROM machine_run WHERE ended_at IS NOT NULL ORDER BY id",
)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "contribution_pending",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contribution_pending")),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRESQL_TRIGGERS if postgresql else _SQLITE_TRIGGERS:
        op.execute(statement)
    for statement in _QUEUE_EXISTING:
        op.execute(statement)


def downgrade() -> None:
    """Revert this revision."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRESQL_DROP if postgresql else _SQLITE_DROP:
        op.execute(statement)
    op.drop_table("contribution_pending")
