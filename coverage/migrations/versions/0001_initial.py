"""Snapshots, challenges and the audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_log = logging.getLogger(__name__)
_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "snapshots",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("series", sa.String(200), nullable=False, index=True),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("label", sa.String(200), nullable=False, server_default=""),
        sa.Column("synthetic", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("store_path", sa.Text, nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("built_at", _TZ, nullable=False),
        sa.Column("registered_at", _TZ, nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.UniqueConstraint("series", "as_of", name="uq_snapshots_series_as_of"),
    )
    op.create_table(
        "challenges",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("series", sa.String(200), nullable=False, index=True),
        sa.Column("snapshot_id", sa.Integer, sa.ForeignKey("snapshots.id", ondelete="SET NULL"), nullable=True),
        sa.Column("filed_by", sa.String(200), nullable=False),
        sa.Column("organisation", sa.String(200), nullable=False, server_default=""),
        sa.Column("filed_at", _TZ, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("unit_level", sa.String(20), nullable=False, server_default="village"),
        sa.Column("unit_code", sa.String(40), nullable=False, index=True),
        sa.Column("unit_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("province_code", sa.String(10), nullable=False, server_default="", index=True),
        sa.Column("technology", sa.String(20), nullable=False, server_default="any"),
        sa.Column("operator", sa.String(60), nullable=False, server_default="all"),
        sa.Column("claim", sa.Text, nullable=False, server_default=""),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("evidence_text", sa.Text, nullable=False, server_default=""),
        sa.Column("evidence_file", sa.Text, nullable=True),
        sa.Column("evidence_sha256", sa.String(64), nullable=True),
        sa.Column("lon", sa.Float, nullable=True),
        sa.Column("lat", sa.Float, nullable=True),
        sa.Column("households", sa.Integer, nullable=True),
        sa.Column("status", sa.String(20), nullable=False, server_default="open", index=True),
        sa.Column("reviewer", sa.String(200), nullable=True),
        sa.Column("decided_at", _TZ, nullable=True),
        sa.Column("decision_note", sa.Text, nullable=False, server_default=""),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.CheckConstraint("status in ('open', 'accepted', 'rejected', 'withdrawn')", name="ck_challenges_status"),
        sa.CheckConstraint("kind in ('not_covered', 'covered', 'missing_village', 'wrong_location')",
                           name="ck_challenges_kind"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", _TZ, nullable=False, index=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(60), nullable=False, index=True),
        sa.Column("object_type", sa.String(40), nullable=False, server_default=""),
        sa.Column("object_id", sa.String(80), nullable=False, server_default=""),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    _postgis_point()


def _postgis_point() -> None:
    """On PostgreSQL with PostGIS, challenges also get a point geometry (kept in step with
    lon/lat by the database itself) and a spatial index, so GIS clients can read them directly."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    available = bind.execute(sa.text("select 1 from pg_available_extensions where name = 'postgis'")).first()
    if not available:
        _log.warning("PostGIS is not installed on this server: challenges keep lon/lat columns only")
        return
    op.execute("create extension if not exists postgis")
    op.execute("alter table challenges add column geom geometry(Point, 4326) generated always as "
               "(case when lon is null or lat is null then null "
               "else ST_SetSRID(ST_MakePoint(lon, lat), 4326) end) stored")
    op.execute("create index ix_challenges_geom on challenges using gist (geom)")


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("challenges")
    op.drop_table("snapshots")
