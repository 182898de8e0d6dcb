"""Shared fixtures: a private cache folder, and the reference data folder.

The reference data (``VNBB_DATA_DIR``, default ``../shared/data``) is required under CI: tests
that need it fail there when it is missing, and are skipped on a machine without it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
