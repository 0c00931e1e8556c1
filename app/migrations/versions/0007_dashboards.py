"""Dashboards: machine downtime windows, hourly run and session rollups, browser sessions,
and a contributor's opt-in to show their name publicly.

Revision ID: 0007
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0007"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "session_hour",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hour", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("contributor_id", sa.Integer(), nullable=False),
        sa.Column("machine_id", sa.Integer(), nullable=True),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=50), nullable=True),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contributor_id"],
            ["contributor.id"],
            name=op.f("fk_session_hour_contributor_id_contributor"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_hour")),
    )
    with op.batch_alter_table("session_hour", schema=None) as batch_op:
        batch_op.create_index(
            "ix_session_hour_contributor_hour", ["contributor_id", "hour"], unique=False
        )
        batch_op.create_index(
            "ix_session_hour_hour_contributor", ["hour", "contributor_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_session_hour_machine_id"), ["machine_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_session_hour_product_id"), ["product_id"], unique=False
        )

    op.create_table(
        "web_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_key.id"], name=op.f("fk_web_session_key_id_api_key")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_session_token_hash")),
    )
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_session_key_id"), ["key_id"], unique=False)

    op.create_table(
        "machine_downtime",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("machine_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=4000), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["machine_id"], ["machine.id"], name=op.f("fk_machine_downtime_machine_id_machine")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_machine_downtime")),
    )
    with op.batch_alter_table("machine_downtime", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_machine_downtime_machine_id"), ["machine_id"], unique=False
        )

    op.create_table(
        "run_hour",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hour", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("machine_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=50), nullable=True),
        sa.Column("end_reason", sa.String(length=16), nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("busy_s", sa.Float(), nullable=False),
        sa.Column("wall_s", sa.Float(), nullable=False),
        sa.Column("energy_wh", sa.Float(), nullable=False),
        sa.Column("material", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["machine_id"], ["machine.id"], name=op.f("fk_run_hour_machine_id_machine")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_hour")),
    )
    with op.batch_alter_table("run_hour", schema=None) as batch_op:
        batch_op.create_index("ix_run_hour_hour_machine", ["hour", "machine_id"], unique=False)
        batch_op.create_index("ix_run_hour_machine_hour", ["machine_id", "hour"], unique=False)
        batch_op.create_index(batch_op.f("ix_run_hour_operator_id"), ["operator_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_run_hour_product_id"), ["product_id"], unique=False)

    with op.batch_alter_table("contributor", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("name_public", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    with op.batch_alter_table("lab_session", schema=None) as batch_op:
        batch_op.create_index(
            "ix_lab_session_contributor_closed", ["contributor_id", "closed_at"], unique=False
        )

    with op.batch_alter_table("machine_run", schema=None) as batch_op:
        batch_op.create_index(
            "ix_machine_run_machine_ended", ["machine_id", "ended_at"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("machine_run", schema=None) as batch_op:
        batch_op.drop_index("ix_machine_run_machine_ended")

    with op.batch_alter_table("lab_session", schema=None) as batch_op:
        batch_op.drop_index("ix_lab_session_contributor_closed")

    with op.batch_alter_table("contributor", schema=None) as batch_op:
        batch_op.drop_column("name_public")

    with op.batch_alter_table("run_hour", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_run_hour_product_id"))
        batch_op.drop_index(batch_op.f("ix_run_hour_operator_id"))
        batch_op.drop_index("ix_run_hour_machine_hour")
        batch_op.drop_index("ix_run_hour_hour_machine")

    op.drop_table("run_hour")
    with op.batch_alter_table("machine_downtime", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_machine_downtime_machine_id"))

    op.drop_table("machine_downtime")
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_session_key_id"))

    op.drop_table("web_session")
    with op.batch_alter_table("session_hour", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_hour_product_id"))
        batch_op.drop_index(batch_op.f("ix_session_hour_machine_id"))
        batch_op.drop_index("ix_session_hour_hour_contributor")
        batch_op.drop_index("ix_session_hour_contributor_hour")
    op.drop_table("session_hour")
