"""The relational schema: snapshots' metadata, challenges and their decisions, and the audit log.

The tables are created and changed only by the Alembic migrations in ``coverage/migrations``
(:func:`coverage.db.connect` brings a database to the newest one); these classes describe the
newest schema for the ORM. Results themselves (unit tables, villages) stay in the snapshots'
GeoParquet stores on disk; the database says which stores exist, what date they stand for, and
what was claimed and decided about them.

Times are stored in UTC. Types are portable: the same schema runs on SQLite (the embedded
default) and PostgreSQL (shared deployments; PostGIS adds a point geometry to challenges).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> dt.datetime:
    """Now, in UTC (the one clock every row uses)."""
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    """Declarative base of the project's tables."""


class Snapshot(Base):
    """A build of a scenario kept as a dated snapshot: its as-of date is that of its inputs.

    ``series`` groups the snapshots of one scenario (the demo's synthetic history is one series,
    a ministry's real quarterly reports another) so that charts never mix them.
    """

    __tablename__ = "snapshots"
    __table_args__ = (UniqueConstraint("series", "as_of", name="uq_snapshots_series_as_of"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    series: Mapped[str] = mapped_column(String(200), index=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    label: Mapped[str] = mapped_column(String(200), default="")
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    store_path: Mapped[str] = mapped_column(Text)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    built_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    registered_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    summary: Mapped[dict] = mapped_column(JSON, default=dict)


CHALLENGE_KINDS = ("not_covered", "covered", "missing_village", "wrong_location")
CHALLENGE_STATUSES = ("draft", "open", "accepted", "rejected", "withdrawn")  # draft: seen by its filer only


class Challenge(Base):
    """A claim that a figure is wrong, from a province or an operator, and its decision.

    ``version`` counts changes: a decision is written only if the row is still at the version
    the reviewer saw (and still open), so two reviewers deciding at once cannot both win.
    """

    __tablename__ = "challenges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    series: Mapped[str] = mapped_column(String(200), index=True)
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshots.id", ondelete="SET NULL"), nullable=True)
    filed_by: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    filed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    unit_level: Mapped[str] = mapped_column(String(20), default="village")
    unit_code: Mapped[str] = mapped_column(String(40), index=True)
    unit_name: Mapped[str] = mapped_column(String(200), default="")
    province_code: Mapped[str] = mapped_column(String(10), default="", index=True)  # 63-unit scheme
    province_code_34: Mapped[str] = mapped_column(String(10), default="", index=True)  # 34-unit scheme
    technology: Mapped[str] = mapped_column(String(20), default="any")
    operator: Mapped[str] = mapped_column(String(60), default="all")
    claim: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    evidence_text: Mapped[str] = mapped_column(Text, default="")
    evidence_file: Mapped[str | None] = mapped_column(Text, nullable=True)
    evidence_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    households: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    reviewer: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decision_note: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)


class AuditEntry(Base):
    """One thing someone did that others may need to trace: who, when, what, on which object."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60), index=True)
    object_type: Mapped[str] = mapped_column(String(40), default="")
    object_id: Mapped[str] = mapped_column(String(80), default="")
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class User(Base):
    """A person who signs in: a role, and the province or operator they act for.

    Only an Argon2id hash of the password is kept.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    province_code: Mapped[str] = mapped_column(String(10), default="")
    province_scheme: Mapped[str] = mapped_column(String(2), default="34")
    operator: Mapped[str] = mapped_column(String(60), default="")
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class UserSession(Base):
    """A sign-in: the SHA-256 of its token (never the token), when it ends, whether it was ended."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
