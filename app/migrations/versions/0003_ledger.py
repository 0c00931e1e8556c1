"""Ledger: the append-only, hash-chained ledger_entry table (and its guard trigger on PostgreSQL).

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Refuses every UPDATE, DELETE and TRUNCATE of the ledger, unless the transaction has
# said `SET LOCAL labledger.allow_purge = 'on'` (the test suite does, to empty the table
# between tests; the hash chain still shows any edit made that way).
_GUARD_FUNCTION = """
CREATE FUNCTION ledger_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('labledger.allow_purge', true), '') = 'on' THEN
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'ledger_entry is append-only: % refused', TG_OP
        USING HINT = 'Post a correcting transaction instead.';
END;
$$
"""
_ROW_TRIGGER = """
CREATE TRIGGER ledger_entry_no_update_delete BEFORE UPDATE OR DELETE ON ledger_entry
FOR EACH ROW EXECUTE FUNCTION ledger_entry_append_only()
"""
_TRUNCATE_TRIGGER = """
CREATE TRIGGER ledger_entry_no_truncate BEFORE TRUNCATE ON ledger_entry
FOR EACH STATEMENT EXECUTE FUNCTION ledger_entry_append_only()
"""


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "ledger_entry",
        sa.Column("sequence", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("transaction_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("reference", sa.String(length=300), nullable=False),
        sa.Column("account", sa.String(length=120), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("memo", sa.String(length=500), nullable=False),
        sa.Column("occurred_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("sequence", name=op.f("pk_ledger_entry")),
        sa.UniqueConstraint("hash", name=op.f("uq_ledger_entry_hash")),
    )
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ledger_entry_account_currency", ["account", "currency"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ledger_entry_reference"), ["reference"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ledger_entry_transaction_id"), ["transaction_id"], unique=False
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_GUARD_FUNCTION)
        op.execute(_ROW_TRIGGER)
        op.execute(_TRUNCATE_TRIGGER)


def downgrade() -> None:
    """Revert this revision."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS ledger_entry_no_truncate ON ledger_entry")
        op.execute("DROP TRIGGER IF EXISTS ledger_entry_no_update_delete ON ledger_entry")
        op.execute("DROP FUNCTION IF EXISTS ledger_entry_append_only()")
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_entry_transaction_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_entry_reference"))
        batch_op.drop_index("ix_ledger_entry_account_currency")
    op.drop_table("ledger_entry")
