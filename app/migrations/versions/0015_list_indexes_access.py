"""List page indexes for the access lists, badges, unknown scans by reader, unattributed runs.

Inductions had no index on their order (granted_at, id), so a page sorted the
whole table (1.4 s at a million rows); denied scans, unknown scans, power
commands and badges filtered by one column and sorted what matched (on
PostgreSQL a single-column index does not keep its duplicates in id order).
Each gets its order indexed alone and after each filter its list offers,
replacing the single-column indexes these start with. Unattributed runs get a
partial index in list order, so `unattributed=true` pages by keyset without
walking the attributed runs.
Plain CREATE/DROP INDEX: no table is rebuilt, no trigger is touched.

Revision ID: 0015
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNATTRIBUTED = sa.text("operator_id IS NULL")


def upgrade() -> None:
    """Apply this revision."""
    op.create_index("ix_induction_page", "induction", ["granted_at", "id"])
    op.create_index(
        "ix_induction_contributor_page", "induction", ["contributor_id", "granted_at", "id"]
    )
    for column in ("at", "reader_id", "machine_id", "contributor_id"):
        op.drop_index(f"ix_denied_scan_{column}", table_name="denied_scan")
    op.create_index("ix_denied_scan_page", "denied_scan", ["at", "id"])
    for column in ("reader_id", "machine_id", "contributor_id"):
        name = f"ix_denied_scan_{column.removesuffix('_id')}_page"
        op.create_index(name, "denied_scan", [column, "at", "id"])
    op.drop_index("ix_unknown_scan_reader_id", table_name="unknown_scan")
    op.create_index("ix_unknown_scan_reader_page", "unknown_scan", ["reader_id", "at", "id"])
    op.drop_index("ix_power_command_machine_id", table_name="power_command")
    op.create_index("ix_power_command_machine_page", "power_command", ["machine_id", "id"])
    op.drop_index("ix_badge_contributor_id", table_name="badge")
    op.create_index("ix_badge_contributor_page", "badge", ["contributor_id", "id"])
    op.create_index(
        "ix_machine_run_unattributed_page",
        "machine_run",
        ["started_at", "id"],
        sqlite_where=_UNATTRIBUTED,
        postgresql_where=_UNATTRIBUTED,
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_machine_run_unattributed_page", table_name="machine_run")
    op.drop_index("ix_badge_contributor_page", table_name="badge")
    op.create_index("ix_badge_contributor_id", "badge", ["contributor_id"])
    op.drop_index("ix_power_command_machine_page", table_name="power_command")
    op.create_index("ix_power_command_machine_id", "power_command", ["machine_id"])
    op.drop_index("ix_unknown_scan_reader_page", table_name="unknown_scan")
    op.create_index("ix_unknown_scan_reader_id", "unknown_scan", ["reader_id"])
    for column in ("reader_id", "machine_id", "contributor_id"):
        name = f"ix_denied_scan_{column.removesuffix('_id')}_page"
        op.drop_index(name, table_name="denied_scan")
    op.drop_index("ix_denied_scan_page", table_name="denied_scan")
    for column in ("at", "reader_id", "machine_id", "contributor_id"):
        op.create_index(f"ix_denied_scan_{column}", "denied_scan", [column])
    op.drop_index("ix_induction_contributor_page", table_name="induction")
    op.drop_index("ix_induction_page", table_name="induction")
