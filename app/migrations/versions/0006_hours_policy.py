"""Hours: timeless event fingerprints, session limits and review flags.

Revision ID: 0006
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | tuple[str, ...] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("device_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fingerprint", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_device_event_fingerprint"), ["fingerprint"])
        # Runs fold in (time, arrival) order: the row id, not the hashed event id.
        batch_op.drop_index("ix_device_event_machine_order")
        batch_op.create_index("ix_device_event_machine_order", ["machine_id", "at", "id"])

    # Plain ADD COLUMN, never a batch: a batch could rebuild lab_session on SQLite and
    # lose the contribution_pending triggers that migration 0011 put on it.
    op.add_column(
        "lab_session",
        sa.Column("flagged", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("lab_session", sa.Column("flag_reason", sa.String(length=200), nullable=True))
    op.add_column("machine", sa.Column("max_session_s", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    op.drop_column("machine", "max_session_s")
    # Plain DROP COLUMN (SQLite 3.35+): a batch would rebuild lab_session and lose the
    # contribution_pending triggers that migration 0011 put on it.
    op.drop_column("lab_session", "flag_reason")
    op.drop_column("lab_session", "flagged")
    with op.batch_alter_table("device_event", schema=None) as batch_op:
        batch_op.drop_index("ix_device_event_machine_order")
        batch_op.create_index("ix_device_event_machine_order", ["machine_id", "at", "event_id"])
        batch_op.drop_index(batch_op.f("ix_device_event_fingerprint"))
        batch_op.drop_column("fingerprint")
