"""Where the project finds its reference data and keeps its caches.

The reference data folder (official boundaries, crosswalk, census) is optional: it comes from
``VNBB_DATA_DIR`` or an explicit argument. Without it the project falls back on approximations
built from the ``vietnamadminunits`` package and says so.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

DATA_DIR_ENV = "VNBB_DATA_DIR"
CACHE_DIR_ENV = "VNBB_CACHE_DIR"


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The reference data folder, or ``None`` when none is configured or it does not exist.

    Order: the explicit argument, ``VNBB_DATA_DIR``, then the folder ``vnbb data fetch``
    fills in the user's cache.
    """
    value = explicit if explicit is not None else os.environ.get(DATA_DIR_ENV)
    if not value:
        fetched = cache_dir() / "data"  # where `vnbb data fetch` writes by default
        return fetched if (fetched / "boundaries").is_dir() else None
    path = Path(value).expanduser()
    return path if path.is_dir() else None


def cache_dir() -> Path:
    """The user's cache folder for built layers and downloads (created on demand)."""
    value = os.environ.get(CACHE_DIR_ENV)
    path = Path(value).expanduser() if value else Path(platformdirs.user_cache_dir("vnbb"))
    path.mkdir(parents=True, exist_ok=True)
    return path


STATE_DIR_ENV = "VNBB_STATE_DIR"


def state_dir() -> Path:
    """The folder for what the project keeps between runs (created on demand): the embedded
    SQLite database and the snapshots' frozen result stores.

    Unlike the reference data folder it is written to, and unlike the cache it must not be
    cleared: ``VNBB_STATE_DIR``, else the user's data folder.
    """
    value = os.environ.get(STATE_DIR_ENV)
    path = Path(value).expanduser() if value else Path(platformdirs.user_data_dir("vnbb"))
    path.mkdir(parents=True, exist_ok=True)
    return path
