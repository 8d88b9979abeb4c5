"""outbox rows keep their released event as serialized protobuf, so a pull reads bytes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The FeedbackEvent (sequence included) written by the release transaction; NULL for
    # rows released before this revision (or by older replicas): PullOutboxEvents builds
    # those from the feedback row as before. Adding a nullable column without a default
    # rewrites nothing.
    op.execute("ALTER TABLE feedback_outbox ADD COLUMN payload BYTEA NULL")


def downgrade() -> None:
    op.execute("ALTER TABLE feedback_outbox DROP COLUMN IF EXISTS payload")
