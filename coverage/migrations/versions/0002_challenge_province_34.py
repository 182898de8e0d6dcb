"""Challenges: the province in the 34-unit scheme too, so lists filter in either scheme.

``province_code`` holds the 63-scheme province (the scheme the 2025 targets were set on);
provinces have worked on the 34-unit map since 1 July 2025, so a province reviewing its own
challenges filters on ``province_code_34``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("challenges", sa.Column("province_code_34", sa.String(10), nullable=False, server_default=""))
    op.create_index("ix_challenges_province_code_34", "challenges", ["province_code_34"])


def downgrade() -> None:
    op.drop_index("ix_challenges_province_code_34", table_name="challenges")
    with op.batch_alter_table("challenges") as batch:
        batch.drop_column("province_code_34")
