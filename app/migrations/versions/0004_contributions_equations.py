"""Contributions (derived from sessions and runs, or entered by hand) and value-equation versions.

Revision ID: 0004
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0004"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "contribution",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contributor_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("role", sa.String(length=50), nullable=True),
        sa.Column("machine_id", sa.Integer(), nullable=True),
        sa.Column("machine_kind", sa.String(length=16), nullable=True),
        sa.Column("revision", sa.String(length=500), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("note", sa.String(length=4000), nullable=False),
        sa.Column("occurred_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_contribution_quantity_not_negative")),
        sa.ForeignKeyConstraint(
            ["contributor_id"],
            ["contributor.id"],
            name=op.f("fk_contribution_contributor_id_contributor"),
        ),
        sa.ForeignKeyConstraint(
            ["machine_id"], ["machine.id"], name=op.f("fk_contribution_machine_id_machine")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["product.id"], name=op.f("fk_contribution_product_id_product")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contribution")),
        sa.UniqueConstraint("source", "source_id", name=op.f("uq_contribution_source_source_id")),
    )
    with op.batch_alter_table("contribution", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contribution_contributor_id"), ["contributor_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_contribution_status"), ["status"], unique=False)
        batch_op.create_index(
            "ix_contribution_product_counted",
            ["product_id", "status", "occurred_at"],
            unique=False,
        )

    op.create_table(
        "value_equation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("effective_from", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("cap_currency", sa.String(length=3), nullable=True),
        sa.Column("note", sa.String(length=4000), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["product_id"], ["product.id"], name=op.f("fk_value_equation_product_id_product")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_value_equation")),
        sa.UniqueConstraint(
            "product_id", "version", name=op.f("uq_value_equation_product_id_version")
        ),
    )
    with op.batch_alter_table("value_equation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_value_equation_product_id"), ["product_id"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("value_equation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_value_equation_product_id"))
    op.drop_table("value_equation")
    with op.batch_alter_table("contribution", schema=None) as batch_op:
        batch_op.drop_index("ix_contribution_product_counted")
        batch_op.drop_index(batch_op.f("ix_contribution_status"))
        batch_op.drop_index(batch_op.f("ix_contribution_contributor_id"))
    op.drop_table("contribution")
