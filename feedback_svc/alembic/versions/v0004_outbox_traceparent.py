"""outbox rows keep the submission's W3C trace context, carried in the released event

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: rewrites nothing; rows inserted before carry no trace.
    op.execute("ALTER TABLE feedback_outbox ADD COLUMN traceparent TEXT NULL")


def downgrade() -> None:
    op.execute("ALTER TABLE feedback_outbox DROP COLUMN IF EXISTS traceparent")
