"""The database layer on SQLite and on a real PostgreSQL server: migrations, sessions, audit log."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from coverage import db
from coverage.models import Challenge, Snapshot


def _tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"spatial_ref_sys"}  # PostGIS's own


def test_connect_migrates_to_head_and_back(db_url: str) -> None:
    engine = db.connect(db_url)
    assert db.revision(engine) == db.head()
    assert {"snapshots", "challenges", "audit_log", "alembic_version"} <= _tables(engine)
    db.downgrade(engine, "base")
    assert _tables(engine) <= {"alembic_version"} and db.revision(engine) is None
    db.upgrade(engine)
    assert db.revision(engine) == db.head()


def test_postgis_point_follows_lon_lat(db_url: str) -> None:
    engine = db.connect(db_url)
    with db.session(engine) as s:
        s.add(Challenge(series="s", filed_by="Sơn La", kind="not_covered", unit_code="V1", lon=104.0, lat=21.3))
    columns = {c["name"] for c in sa.inspect(engine).get_columns("challenges")}
    if engine.dialect.name == "sqlite":
        assert "geom" not in columns
        return
    assert "geom" in columns, "PostGIS is installed by ./dev test; the migration must add the point"
    with engine.connect() as conn:
        wkt, srid = conn.execute(sa.text("select ST_AsText(geom), ST_SRID(geom) from challenges")).one()
    assert (wkt, srid) == ("POINT(104 21.3)", 4326)


def test_audit_entry_lands_with_its_change_or_not_at_all(db_url: str) -> None:
    engine = db.connect(db_url)
    with db.session(engine) as s:
        snap = Snapshot(series="demo", as_of=dt.date(2024, 12, 31), store_path="/x", manifest_sha256="0" * 64,
                        built_at=dt.datetime(2025, 1, 2, tzinfo=dt.timezone.utc), summary={"a": 1})
        s.add(snap)
        s.flush()
        db.audit(s, "tester", "snapshot.register", "snapshot", snap.id, as_of="2024-12-31")
    with pytest.raises(RuntimeError), db.session(engine) as s:
        db.audit(s, "tester", "snapshot.delete", "snapshot", 1)
        raise RuntimeError("the change failed")
    log = db.audit_log(engine)
    assert [(e.actor, e.action, e.object_id, e.detail) for e in log] == [
        ("tester", "snapshot.register", "1", {"as_of": "2024-12-31"})]
    assert log[0].at.tzinfo is not None or engine.dialect.name == "sqlite"


def test_unusable_database_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(db.DatabaseError, match="cannot open the database"):
        db.connect(f"sqlite:///{tmp_path / 'missing-folder' / 'x.sqlite3'}")
    url = f"sqlite:///{tmp_path / 'newer.sqlite3'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("create table alembic_version (version_num varchar(32) primary key)"))
        conn.execute(sa.text("insert into alembic_version values ('9999')"))
    with pytest.raises(db.DatabaseError, match=f"schema {db.head()}"):
        db.connect(url)


def test_default_url_is_sqlite_in_the_state_folder(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv(db.DB_URL_ENV, raising=False)
    monkeypatch.setenv("VNBB_STATE_DIR", str(tmp_path / "state"))
    assert db.default_url() == f"sqlite:///{tmp_path / 'state' / 'vnbb.sqlite3'}"
    monkeypatch.setenv(db.DB_URL_ENV, "postgresql+psycopg://u@h/d")
    assert db.default_url() == "postgresql+psycopg://u@h/d"
