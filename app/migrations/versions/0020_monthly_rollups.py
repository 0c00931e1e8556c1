"""Monthly rollups per machine, contributor and product, filled from the daily ones.

Year and month totals over years read one row per owner and month instead of
one per owner and day. New tables only: no table is rebuilt, no trigger is touched.

Revision ID: 0020
Revises: 0019
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db
from app.lab.rollup_months import rebuild_months

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REASONS = ["finished", "failed", "cancelled", "interrupted", "offline", "abandoned"]


def _month() -> sa.Column[object]:
    return sa.Column("month", app.db.UTCDateTime(timezone=True), nullable=False)


def _indexes(table: str, owner: str) -> None:
    short = owner.removesuffix("_id")
    op.create_index(f"ix_{table}_month_{short}", table, ["month", owner], unique=True)
    op.create_index(f"ix_{table}_{short}_month", table, [owner, "month"])


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "machine_month",
        sa.Column("id", sa.Integer(), nullable=False),
        _month(),
        sa.Column("machine_id", sa.Integer(), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("busy_s", sa.Float(), nullable=False),
        sa.Column("wall_s", sa.Float(), nullable=False),
        sa.Column("energy_wh", sa.Float(), nullable=False),
        sa.Column("material", sa.Float(), nullable=False),
        *(sa.Column(reason, sa.Integer(), nullable=False) for reason in REASONS),
        sa.ForeignKeyConstraint(
            ["machine_id"], ["machine.id"], name=op.f("fk_machine_month_machine_id_machine")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_machine_month")),
    )
    _indexes("machine_month", "machine_id")
    op.create_table(
        "contributor_month",
        sa.Column("id", sa.Integer(), nullable=False),
        _month(),
        sa.Column("contributor_id", sa.Integer(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("labour_s", sa.Float(), nullable=False),
        sa.Column("operated_runs", sa.Integer(), nullable=False),
        sa.Column("operated_busy_s", sa.Float(), nullable=False),
        sa.Column("machine_credit_s", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contributor_id"],
            ["contributor.id"],
            name=op.f("fk_contributor_month_contributor_id_contributor"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contributor_month")),
    )
    _indexes("contributor_month", "contributor_id")
    op.create_table(
        "product_month",
        sa.Column("id", sa.Integer(), nullable=False),
        _month(),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("labour_s", sa.Float(), nullable=False),
        sa.Column("machine_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_month")),
    )
    _indexes("product_month", "product_id")
    rebuild_months(op.get_bind())


def downgrade() -> None:
    """Revert this revision."""
    for table in ("product_month", "contributor_month", "machine_month"):
        op.drop_table(table)
