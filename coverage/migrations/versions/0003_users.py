"""Users (Argon2id password hashes), sign-in sessions (token hashes with expiry), and draft
challenges (a province's corrections are its own until submitted).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("province_code", sa.String(10), nullable=False, server_default=""),
        sa.Column("province_scheme", sa.String(2), nullable=False, server_default="34"),
        sa.Column("operator", sa.String(60), nullable=False, server_default=""),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.CheckConstraint("role in ('ministry', 'province', 'operator')", name="ck_users_role"),
    )
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("expires_at", _TZ, nullable=False),
        sa.Column("revoked_at", _TZ, nullable=True),
    )


    _statuses("('draft', 'open', 'accepted', 'rejected', 'withdrawn')")


def _statuses(allowed: str) -> None:
    with op.batch_alter_table("challenges") as batch:
        batch.drop_constraint("ck_challenges_status", type_="check")
        batch.create_check_constraint("ck_challenges_status", f"status in {allowed}")


def downgrade() -> None:
    op.execute("update challenges set status = 'withdrawn' where status = 'draft'")
    _statuses("('open', 'accepted', 'rejected', 'withdrawn')")
    op.drop_table("user_sessions")
    op.drop_table("users")
