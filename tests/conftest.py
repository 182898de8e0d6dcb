"""Shared fixtures: private cache and state folders, the reference data folder, and databases.

The reference data (``VNBB_DATA_DIR``, default ``../shared/data``) is required under CI: tests
that need it fail there when it is missing, and are skipped on a machine without it.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import _postgres

ROOT = Path(__file__).resolve().parents[1]


def _reference_dir() -> Path | None:
    value = os.environ.get("VNBB_DATA_DIR") or str(ROOT.parent / "shared" / "data")
    path = Path(value)
    return path if (path / "boundaries").is_dir() else None


REFERENCE_DIR = _reference_dir()


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep built layers of the test run out of the user's cache (shared across the session)."""
    os.environ["VNBB_CACHE_DIR"] = str(tmp_path_factory.mktemp("vnbb-cache"))
    os.environ["VNBB_STATE_DIR"] = str(tmp_path_factory.mktemp("vnbb-state"))
    os.environ.pop("VNBB_DB_URL", None)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The reference data folder; fails under CI and skips elsewhere when it is missing."""
    if REFERENCE_DIR is None:
        if os.environ.get("CI"):
            pytest.fail("reference data folder missing: set VNBB_DATA_DIR (CI expects ../shared/data)")
        pytest.skip("reference data folder not available (set VNBB_DATA_DIR)")
    return REFERENCE_DIR


@pytest.fixture()
def no_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A configuration with no reference data: what a fresh offline install sees."""
    empty = tmp_path / "no-data"
    monkeypatch.setenv("VNBB_DATA_DIR", str(empty))
    return empty


@pytest.fixture(scope="session")
def demo_store(_private_cache: None) -> Path:
    """The app's own demo results store, built once per test session the way the app builds it
    on first start (demo scenario + build into the private cache folder), then reused by the
    app tests, which find it there as a fresh install would after its first start."""
    if REFERENCE_DIR is None and os.environ.get("CI"):
        pytest.fail("reference data folder missing: set VNBB_DATA_DIR (CI expects ../shared/data)")
    from app import data as app_data

    os.environ.pop(app_data.STORE_ENV, None)
    steps: list[str] = []
    path = app_data.build_demo_store(progress=steps.append)
    assert (path / "manifest.json").is_file() and steps, "the demo store was not built"
    return path


@pytest.fixture(scope="session")
def challenge_store(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """A small hand-made results store for the challenge and correction tests
    (``tests/_challenge_store.py`` says what is in it)."""
    from tests import _challenge_store

    return _challenge_store.build(tmp_path_factory.mktemp("challenge-store"), data_dir)


@pytest.fixture(scope="session")
def demo_history(demo_store: Path) -> dict:
    """The demo's SYNTHETIC quarterly history, built once per session the way the app builds it:
    lazily, on the first visit of the progress page (AppTest). Returns what that first visit
    showed (status labels and written steps) and the series' snapshots."""
    from streamlit.testing.v1 import AppTest

    from app import data as app_data
    from coverage import snapshots, store

    os.environ.pop(app_data.STORE_ENV, None)
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=900).run()
    at = at.sidebar.radio(key="view").set_value("progress").run()
    assert not at.exception, [e.message for e in at.exception]
    series = snapshots.series_of(store.read_manifest(demo_store))
    return {"status": [s.label for s in at.status], "steps": [m.value for s in at.status for m in s.markdown],
            "series": series, "snapshots": snapshots.list_snapshots(series)}


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[_postgres.Server]:
    """A real PostgreSQL server on 127.0.0.1 for the whole run (see ``tests/_postgres.py``)."""
    server = _postgres.start()
    if isinstance(server, str):
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL could not start under CI: {server}")
        pytest.skip(f"PostgreSQL tests skipped: the server could not start here ({server})")
    try:
        yield server
    finally:
        server.stop()


_DB_NUMBER = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database, once on SQLite and once on PostgreSQL: each database test runs on both."""
    from coverage import db

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'vnbb.sqlite3'}"
        yield url
        db.dispose(url)
        return
    import sqlalchemy as sa

    server = request.getfixturevalue("postgres_server")
    name = f"vnbb_test_{os.getpid()}_{next(_DB_NUMBER)}"
    admin = sa.create_engine(server.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'create database "{name}"'))
    url = server.url(name)
    try:
        yield url
    finally:
        db.dispose(url)
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


@pytest.fixture()
def downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """Files handed to download buttons, by file name (AppTest keeps them in memory only)."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    files: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def capture(self, path_or_data, mimetype, kind, filename=None):  # noqa: ANN001
        if filename and isinstance(path_or_data, bytes):
            files[filename] = path_or_data
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", capture)
    return files
