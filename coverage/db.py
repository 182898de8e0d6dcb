"""The project's database: where it is, bringing it to the newest schema, sessions, the audit log.

One URL setting, ``VNBB_DB_URL``: a PostgreSQL server for shared deployments
(``postgresql+psycopg://user:pass@host/db``, PostGIS used when installed), and by default a
SQLite file ``vnbb.sqlite3`` in the state folder (:func:`geodata.settings.state_dir`), so the
app needs nothing installed or started to run.

:func:`connect` returns an engine whose database has been migrated (Alembic, to the newest
revision) exactly once per process and URL.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from coverage.models import AuditEntry
from geodata.errors import VnbbError
from geodata.settings import state_dir

DB_URL_ENV = "VNBB_DB_URL"
_MIGRATIONS = Path(__file__).with_name("migrations")
_ENGINES: dict[str, Engine] = {}
_LOCK = threading.Lock()


class DatabaseError(VnbbError):
    """The database cannot be reached, or is at a schema this version does not know."""


def default_url() -> str:
    """``VNBB_DB_URL`` if set, else the embedded SQLite file in the state folder."""
    return os.environ.get(DB_URL_ENV) or f"sqlite:///{state_dir() / 'vnbb.sqlite3'}"


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


def _on_sqlite_connect(dbapi_conn, _record) -> None:  # noqa: ANN001 - DB-API connection
    """SQLite: enforce foreign keys, wait for a writer instead of failing at once, and let
    readers go on while someone writes (WAL)."""
    cur = dbapi_conn.cursor()
    cur.execute("pragma foreign_keys = on")
    cur.execute("pragma busy_timeout = 10000")
    cur.execute("pragma journal_mode = wal")
    cur.close()


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 10})
        sa.event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` (idempotent)."""
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Undo migrations down to ``revision`` (``"base"`` removes every table)."""
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def revision(engine: Engine) -> str | None:
    """The schema revision the database is at (None for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head() -> str:
    """The newest schema revision this version of the project knows."""
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def connect(url: str | None = None) -> Engine:
    """An engine on the database at ``url`` (default :func:`default_url`), migrated to the newest
    schema. Engines are shared per URL within the process."""
    url = url or default_url()
    with _LOCK:
        engine = _ENGINES.get(url)
        if engine is not None:
            return engine
        engine = _make_engine(url)
        try:
            upgrade(engine)
        except sa.exc.OperationalError as exc:
            engine.dispose()
            raise DatabaseError(f"cannot open the database {_safe(url)}: {exc.orig}") from exc
        except Exception as exc:  # e.g. a revision newer than this code ("Can't locate revision")
            engine.dispose()
            raise DatabaseError(f"cannot bring the database {_safe(url)} to schema {head()}: {exc}") from exc
        _ENGINES[url] = engine
        return engine


def dispose(url: str | None = None) -> None:
    """Close the pooled connections of one URL (or all), e.g. before a test drops its database."""
    with _LOCK:
        for key in [url or default_url()] if url else list(_ENGINES):
            engine = _ENGINES.pop(key, None)
            if engine is not None:
                engine.dispose()


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    return sa.engine.make_url(url).render_as_string(hide_password=True)


@contextmanager
def session(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits when the block ends normally and rolls back on any error."""
    maker = sessionmaker(engine or connect(), expire_on_commit=False)
    with maker.begin() as s:
        yield s


def audit(s: Session, actor: str, action: str, object_type: str = "", object_id: object = "",
          **detail: object) -> None:
    """Record an action in the audit log, in the caller's transaction (it lands with the change)."""
    s.add(AuditEntry(actor=actor, action=action, object_type=object_type, object_id=str(object_id),
                     detail={k: v for k, v in detail.items() if v is not None}))


def audit_log(engine: Engine | None = None, limit: int = 200, action: str | None = None) -> list[AuditEntry]:
    """The newest audit entries first (optionally of one action)."""
    with session(engine) as s:
        q = sa.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if action:
            q = q.where(AuditEntry.action == action)
        return list(s.scalars(q))
