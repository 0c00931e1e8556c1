"""Daily rollups per machine, contributor and product, filled from the hourly ones.

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db
from app.lab.rollup_days import rebuild_days
from app.lab.rollups import RunHour, SessionHour

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REASONS = ["finished", "failed", "cancelled", "interrupted", "offline", "abandoned"]


def _day() -> sa.Column[object]:
    return sa.Column("day", app.db.UTCDateTime(timezone=True), nullable=False)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "machine_day",
        sa.Column("id", sa.Integer(), nullable=False),
        _day(),
        sa.Column("machine_id", sa.Integer(), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("busy_s", sa.Float(), nullable=False),
        sa.Column("wall_s", sa.Float(), nullable=False),
        sa.Column("energy_wh", sa.Float(), nullable=False),
        sa.Column("material", sa.Float(), nullable=False),
        *(sa.Column(reason, sa.Integer(), nullable=False) for reason in REASONS),
        sa.ForeignKeyConstraint(
            ["machine_id"], ["machine.id"], name=op.f("fk_machine_day_machine_id_machine")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_machine_day")),
    )
    op.create_index("ix_machine_day_day_machine", "machine_day", ["day", "machine_id"], unique=True)
    op.create_index("ix_machine_day_machine_day", "machine_day", ["machine_id", "day"])
    op.create_table(
        "contributor_day",
        sa.Column("id", sa.Integer(), nullable=False),
        _day(),
        sa.Column("contributor_id", sa.Integer(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("labour_s", sa.Float(), nullable=False),
        sa.Column("operated_runs", sa.Integer(), nullable=False),
        sa.Column("operated_busy_s", sa.Float(), nullable=False),
        sa.Column("machine_credit_s", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contributor_id"],
            ["contributor.id"],
            name=op.f("fk_contributor_day_contributor_id_contributor"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contributor_day")),
    )
    op.create_index(
        "ix_contributor_day_day_contributor",
        "contributor_day",
        ["day", "contributor_id"],
        unique=True,
    )
    op.create_index(
        "ix_contributor_day_contributor_day", "contributor_day", ["contributor_id", "day"]
    )
    op.create_table(
        "product_day",
        sa.Column("id", sa.Integer(), nullable=False),
        _day(),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("labour_s", sa.Float(), nullable=False),
        sa.Column("machine_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_day")),
    )
    op.create_index("ix_product_day_day_product", "product_day", ["day", "product_id"], unique=True)
    op.create_index("ix_product_day_product_day", "product_day", ["product_id", "day"])
    rebuild_days(
        op.get_bind(),
        RunHour.__table__,  # type: ignore[attr-defined]
        SessionHour.__table__,  # type: ignore[attr-defined]
        months=False,  # the monthly tables come in 0020, which fills them
    )


def downgrade() -> None:
    """Revert this revision."""
    for table in ("product_day", "contributor_day", "machine_day"):
        op.drop_table(table)
