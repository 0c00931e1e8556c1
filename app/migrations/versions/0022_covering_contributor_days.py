"""The contributor days' unique index covers their measures on PostgreSQL.

"Contributors by day" over a month reads ~12,000 `contributor_day` rows in
(day, contributor) order; on PostgreSQL they lie on as many heap pages (each
refresh deletes and inserts its rows), and fetching those pages was most of
the call at a million sessions. With the measures INCLUDEd in the index an
index-only scan answers it. SQLite has no INCLUDE: the index is the same there.
Only the index is rebuilt: no table, no trigger.

Revision ID: 0022
Revises: 0021
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = "ix_contributor_day_day_contributor"
_MEASURES = ["sessions", "labour_s", "operated_runs", "operated_busy_s", "machine_credit_s"]


def upgrade() -> None:
    """Apply this revision."""
    op.drop_index(_NAME, table_name="contributor_day")
    op.create_index(
        _NAME, "contributor_day", ["day", "contributor_id"], unique=True,
        postgresql_include=_MEASURES,
    )  # fmt: skip


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(_NAME, table_name="contributor_day")
    op.create_index(_NAME, "contributor_day", ["day", "contributor_id"], unique=True)
