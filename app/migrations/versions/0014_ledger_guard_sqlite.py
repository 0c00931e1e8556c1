"""Ledger: append-only at the database level on SQLite too (triggers refuse UPDATE and DELETE).

PostgreSQL has had its guard trigger since 0003; this gives SQLite the same. SQLite
has no TRUNCATE, and `DELETE FROM ledger_entry` without WHERE fires the row trigger.

Revision ID: 0014
Revises: 0005
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_TRIGGERS = (
    """
CREATE TRIGGER ledger_entry_no_update BEFORE UPDATE ON ledger_entry
BEGIN SELECT RAISE(ABORT, 'ledger_entry is append-only: UPDATE refused'); END
""",
    """
CREATE TRIGGER ledger_entry_no_delete BEFORE DELETE ON ledger_entry
BEGIN SELECT RAISE(ABORT, 'ledger_entry is append-only: DELETE refused'); END
""",
)


def upgrade() -> None:
    """Apply this revision."""
    if op.get_bind().dialect.name == "sqlite":
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)


def downgrade() -> None:
    """Revert this revision."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS ledger_entry_no_delete")
        op.execute("DROP TRIGGER IF EXISTS ledger_entry_no_update")
