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

    with op.batch_alter_table("lab_session", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("flagged", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("flag_reason", sa.String(length=200), nullable=True))
    with op.batch_alter_table("machine", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_session_s", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("machine", schema=None) as batch_op:
        batch_op.drop_column("max_session_s")
    with op.batch_alter_table("lab_session", schema=None) as batch_op:
        batch_op.drop_column("flag_reason")
        batch_op.drop_column("flagged")
    with op.batch_alter_table("device_event", schema=None) as batch_op:
        batch_op.drop_index("ix_device_event_machine_order")
        batch_op.create_index("ix_device_event_machine_order", ["machine_id", "at", "event_id"])
        batch_op.drop_index(batch_op.f("ix_device_event_fingerprint"))
        batch_op.drop_column("fingerprint")
