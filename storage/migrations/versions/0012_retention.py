"""retention and data subject requests (issue 15, minors' data)

- attachments.received_sha256: the SHA-256 of a photo as it was received. The stored original is now
  a copy without location and camera metadata, so its own hash (attachments.sha256, the media key)
  differs; this one proves which file the teacher sent and recognises the same photo sent twice.
  Rows written before stored the bytes as received, so both hashes are the same there.
- cases.anonymised_at, students.anonymised_at: when the retention job or an erasure request removed
  the personal details, keeping the counts past monthly reports were made of (docs/retention.md).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("attachments") as batch:
        batch.add_column(sa.Column("received_sha256", sa.String(length=64), nullable=True))
        batch.create_index(batch.f("ix_attachments_received_sha256"), ["received_sha256"], unique=False)
    op.execute("UPDATE attachments SET received_sha256 = sha256 WHERE received_sha256 IS NULL")
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("anonymised_at", storage.types.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("students") as batch:
        batch.add_column(sa.Column("anonymised_at", storage.types.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("students") as batch:
        batch.drop_column("anonymised_at")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("anonymised_at")
    with op.batch_alter_table("attachments") as batch:
        batch.drop_index(batch.f("ix_attachments_received_sha256"))
        batch.drop_column("received_sha256")
