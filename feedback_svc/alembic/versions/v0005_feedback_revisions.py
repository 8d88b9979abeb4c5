"""feedback revisions: changed and retracted feedback travel through the outbox too

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UPGRADE = [
    # 1 for every existing row (a constant default rewrites nothing).
    "ALTER TABLE feedback ADD COLUMN revision INTEGER NOT NULL DEFAULT 1",
    # One outbox row per revision of a feedback, not per feedback: a change enqueues its
    # own event in the transaction that makes it.
    "ALTER TABLE feedback_outbox ADD COLUMN revision INTEGER NOT NULL DEFAULT 1",
    "ALTER TABLE feedback_outbox DROP CONSTRAINT feedback_outbox_pkey",
    "ALTER TABLE feedback_outbox ADD PRIMARY KEY (feedback_id, revision)",
    # What a retraction leaves: no user, no comment, tags or metadata; only what the
    # release needs to tell ingest which feedback (and which hour of which tenant) to
    # take out, at which revision.
    """
    CREATE TABLE feedback_retracted (
        id BIGINT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        feedback_type TEXT NOT NULL,
        revision INTEGER NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        retracted_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )
    """,
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS feedback_retracted")
    op.execute("ALTER TABLE feedback_outbox DROP CONSTRAINT feedback_outbox_pkey")
    op.execute("DELETE FROM feedback_outbox WHERE revision > 1")
    op.execute("ALTER TABLE feedback_outbox ADD PRIMARY KEY (feedback_id)")
    op.execute("ALTER TABLE feedback_outbox DROP COLUMN revision")
    op.execute("ALTER TABLE feedback DROP COLUMN revision")
