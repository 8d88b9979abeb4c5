"""outbox totals kept in one row, so GetOutboxStatus never counts the whole outbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Updated in the release and acknowledge statements themselves; releases are serialized
    # by an advisory lock, so the row is no hot spot. Exact once every replica runs this
    # revision's code (replicas of the previous code release without counting).
    op.execute(
        """
        CREATE TABLE feedback_outbox_totals (
            id SMALLINT PRIMARY KEY CHECK (id = 1),
            released BIGINT NOT NULL,
            acknowledged BIGINT NOT NULL
        )
        """
    )
    op.execute(
        """
        INSERT INTO feedback_outbox_totals (id, released, acknowledged)
        SELECT 1, count(sequence), count(acknowledged_at) FROM feedback_outbox
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS feedback_outbox_totals")
