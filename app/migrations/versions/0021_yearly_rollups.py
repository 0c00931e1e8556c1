"""Yearly rollups per machine, contributor and product, filled from the monthly ones.

Totals over years read one row per owner and year instead of one per owner and
month. New tables only: no table is rebuilt, no trigger is touched.

Revision ID: 0021
Revises: 0020
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import app.db
from app.lab.rollup_years import rebuild_years

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INTEGER, FLOAT = sa.Integer, sa.Float
MEASURES: dict[str, list[tuple[str, type[sa.types.TypeEngine[Any]]]]] = {
    "machine": [("runs", INTEGER), ("busy_s", FLOAT), ("wall_s", FLOAT), ("energy_wh", FLOAT),
                ("material", FLOAT), ("finished", INTEGER), ("failed", INTEGER),
                ("cancelled", INTEGER), ("interrupted", INTEGER), ("offline", INTEGER),
                ("abandoned", INTEGER)],
    "contributor": [("sessions", INTEGER), ("labour_s", FLOAT), ("operated_runs", INTEGER),
                    ("operated_busy_s", FLOAT), ("machine_credit_s", FLOAT)],
    "product": [("labour_s", FLOAT), ("machine_s", FLOAT)],
}  # fmt: skip
REFERENCED = {"machine", "contributor"}  # products live in accounting: no foreign key


def upgrade() -> None:
    """Apply this revision."""
    for owner, measures in MEASURES.items():
        table, owner_id = f"{owner}_year", f"{owner}_id"
        constraints: list[sa.Constraint] = [sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}"))]
        if owner in REFERENCED:
            constraints.append(
                sa.ForeignKeyConstraint(
                    [owner_id], [f"{owner}.id"], name=op.f(f"fk_{table}_{owner_id}_{owner}")
                )
            )
        op.create_table(
            table,
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("year", app.db.UTCDateTime(timezone=True), nullable=False),
            sa.Column(owner_id, sa.Integer(), nullable=False),
            *(sa.Column(name, kind(), nullable=False) for name, kind in measures),
            *constraints,
        )
        op.create_index(f"ix_{table}_year_{owner}", table, ["year", owner_id], unique=True)
        op.create_index(f"ix_{table}_{owner}_year", table, [owner_id, "year"])
    rebuild_years(op.get_bind())


def downgrade() -> None:
    """Revert this revision."""
    for table in ("product_year", "contributor_year", "machine_year"):
        op.drop_table(table)
