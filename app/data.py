"""Where the app's results come from, and cached loading of them.

Streamlit reruns the whole script on every click, so every read of the store is cached: tables
with ``st.cache_resource`` (one shared, read-only copy; the pages never modify them) and derived
small frames with ``st.cache_data``. Cache keys carry the store's path *and* its build time, so a
rebuilt store is picked up without restarting the app.

The store is the one ``VNBB_STORE`` names; without it, the demo scenario is written and built
once into the user's cache folder and reused afterwards.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import shapely
import streamlit as st
from streamlit import config as st_config

from app import metrics
from coverage import access
from coverage.access import LOCAL, Principal
from coverage import imports, store
from coverage.scenario import ValidationReport, validate_file
from geodata import load_registry
from geodata._archive import max_bytes
from geodata.errors import VnbbError
from geodata.settings import cache_dir, data_dir

STORE_ENV = "VNBB_STORE"
_BUILD_LOCK = threading.Lock()  # two first visitors must not build the demo twice at once


class StoreRef(NamedTuple):
    """A store folder and its build time: a hashable cache key that changes on rebuild."""

    path: str
    built_at: str


class StoreProblem(VnbbError):
    """The configured store cannot be used (the message says why and what to do)."""


def demo_store_dir() -> Path:
    """Where the app keeps the demo results it builds for itself."""
    return cache_dir() / "app" / "demo-store"


def demo_scenario_dir() -> Path:
    """Where the app writes the demo scenario (files imported on the data page go there too)."""
    return cache_dir() / "app" / "demo-scenario"


def scenario_of(manifest: dict) -> Path | None:
    """The scenario files are imported into: the demo scenario for the app's own demo store,
    else the one the store was built from (the scenario itself, not the version folder its
    manifest records); None when that is gone or not a scenario."""
    if configured_store() is None:
        path = demo_scenario_dir()
    else:
        folder = manifest.get("scenario", {}).get("folder")
        if not folder:
            return None
        path = imports.scenario_of(folder)
    return path if (path / "scenario.toml").is_file() else None


def upload_limit_mb() -> int:
    """Largest upload in MB: ``VNBB_MAX_INPUT_MB`` (the limit `vnbb validate` and `vnbb build`
    apply), and never more than the server accepts (``server.maxUploadSize``)."""
    server = int(st_config.get_option("server.maxUploadSize"))
    return max(1, min(server, math.ceil(max_bytes() / 2**20)))


def save_upload(name: str, content: BinaryIO) -> Path:
    """An uploaded file on disk under its own name (in a folder of its own, which the import
    job removes); uploads older than a day, left by refused files, are removed first."""
    root = cache_dir() / "uploads"
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():
        if time.time() - old.stat().st_mtime > 86_400:
            shutil.rmtree(old, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=root))
    safe = re.sub(r"[^\w.\- ]", "_", Path(name).name).strip(". ") or "upload"
    path = folder / safe
    with open(path, "wb") as out:
        shutil.copyfileobj(content, out, 1 << 20)
    return path


@st.cache_data(show_spinner=False, max_entries=16)
def validate_upload(path: str, kind: str, crs: str | None, scenario: str, version: str) -> ValidationReport:
    """The validation report of an uploaded file (cached per file, kind, stated CRS and scenario
    version: villages and fixed tables are checked against the scenario's tables)."""
    del version  # cache key only
    report = validate_file(path, kind, load_registry(data_dir()), crs=crs or None,
                           scenario=scenario if kind in ("villages", "fixed") else None)
    return report.shown_as(path, Path(path).name)


def configured_store() -> Path | None:
    """The store ``VNBB_STORE`` points at, or None when the demo is to be used."""
    value = os.environ.get(STORE_ENV)
    return Path(value).expanduser() if value else None


def _manifest_or_none(path: Path) -> dict | None:
    try:
        return json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def ready_store() -> Path | None:
    """The store to show if it can be used without building anything, else None.

    Raises :class:`StoreProblem` when ``VNBB_STORE`` names a folder that is not a store.
    The demo store counts as ready only if it was built with the current reference data folder
    (official boundaries may have appeared since).
    """
    explicit = configured_store()
    if explicit is not None:
        if _manifest_or_none(explicit) is None:
            raise StoreProblem(f"{STORE_ENV}={explicit} is not a results store (no readable manifest.json). "
                               "Build one with `vnbb build --scenario SCENARIO --out STORE`.")
        return explicit
    path = demo_store_dir()
    manifest = _manifest_or_none(path)
    if manifest and manifest.get("key", {}).get("data_dir") == str(data_dir()):
        return path
    return None


def build_demo_store(progress: Callable[[str], None] | None = None) -> Path:
    """Write the demo scenario and build its store in the cache folder (a few seconds, once)."""
    from coverage import demo  # only a first start needs the demo generator (a second of imports)

    say = progress or (lambda _msg: None)
    with _BUILD_LOCK:
        ready = ready_store()
        if ready is not None:
            return ready
        folder = data_dir()
        scenario = demo_scenario_dir()
        if not imports.is_versioned(scenario):  # files imported into the demo are never overwritten
            say("demo scenario")
            demo.write_demo(scenario, seed=42, data_dir=folder)
        path = store.build(scenario, demo_store_dir(), data_dir=folder, progress=say, force=True)
        register_demo_snapshot(path)
        return path


def ref(path: Path) -> StoreRef:
    """The cache key of a store folder."""
    manifest = _manifest_or_none(path) or {}
    return StoreRef(str(path), str(manifest.get("built_at", "")))


@st.cache_resource(show_spinner=False, max_entries=4)
def manifest(key: StoreRef) -> dict:
    """The store's manifest (targets, layers, sources, boundary sources)."""
    return store.read_manifest(key.path)


@st.cache_resource(show_spinner=False, max_entries=4)
def national(key: StoreRef) -> dict:
    """national.json: the smart-city 5G status and 5G sites per province."""
    return json.loads((Path(key.path) / "national.json").read_text(encoding="utf-8"))


@st.cache_resource(show_spinner=False, max_entries=16)
def table(key: StoreRef, level: str, scheme: str) -> gpd.GeoDataFrame:
    """A unit table (shared and read-only: callers copy before changing anything)."""
    return store.read_table(key.path, level, scheme)


@st.cache_resource(show_spinner=False, max_entries=4)
def villages(key: StoreRef) -> gpd.GeoDataFrame:
    """All villages of the store, with their coverage per layer (read-only)."""
    return gpd.read_parquet(Path(key.path) / "villages.parquet")


@st.cache_resource(show_spinner=False, max_entries=4)
def _all_sites(key: StoreRef) -> gpd.GeoDataFrame | None:
    path = Path(key.path) / "sites.parquet"
    return gpd.read_parquet(path) if path.is_file() else None


def sites(key: StoreRef, who: Principal = LOCAL) -> gpd.GeoDataFrame | None:
    """Mobile sites when the store has them (``sites.parquet``), else None; only those the
    reader may see (:func:`coverage.access.sites`: an operator its own, a province none)."""
    table = _all_sites(key)
    return access.sites(who, table) if table is not None else None


@st.cache_resource(show_spinner=False, max_entries=32)
def display_shapes(key: StoreRef, level: str, scheme: str, parent: str | None = None) -> gpd.GeoDataFrame:
    """Unit polygons simplified for display: code and geometry only.

    Shared borders are simplified once for both neighbours (``coverage_simplify``), so no
    slivers or gaps open between provinces, and coordinates are rounded to ~100 m (national)
    or ~10 m (a province's communes). The national GeoJSON drops from ~4 MB to under 0.2 MB.
    """
    units = table(key, level, scheme)
    if parent is not None:
        units = units.loc[units["parent_code"] == parent]
    units = units.loc[units.geometry.notna(), ["code", "geometry"]]
    # ~1.6 km for provinces: under a pixel at the national zoom (about 2.4 km per pixel at zoom 6)
    tolerance, grid = (0.015, 1e-3) if level == "province" else (0.001, 1e-4)
    geoms = shapely.coverage_simplify(units.geometry.to_numpy(), tolerance)
    # Rounded vertex by vertex (shared vertices stay shared); unlike set_precision this never
    # collapses a sliver commune into nothing, so every unit keeps its shape on the map.
    geoms = shapely.transform(geoms, lambda xy: np.round(xy / grid) * grid)
    return gpd.GeoDataFrame({"code": units["code"].to_numpy()}, geometry=geoms, crs=units.crs)


@st.cache_data(show_spinner=False, max_entries=8)
def province_crosswalk(key: StoreRef) -> dict[str, dict[str, str]]:
    """For switching schemes with a province open: each province's counterpart in the other
    scheme (the one holding most of its households)."""
    # Three columns, not the villages table: the national page needs this on its first run.
    v = pd.read_parquet(Path(key.path) / "villages.parquet", columns=["province_63", "province_34", "households"])
    out: dict[str, dict[str, str]] = {}
    for src, dst in (("province_63", "province_34"), ("province_34", "province_63")):
        best = v.groupby([src, dst])["households"].sum().reset_index().sort_values("households")
        out[src[-2:]] = best.drop_duplicates(src, keep="last").set_index(src)[dst].to_dict()
    return out


def boundary_sources(key: StoreRef) -> dict[str, str]:
    """Boundary source (official or approximate) of each unit table, from the manifest."""
    return dict(manifest(key).get("boundaries", {}))


@st.cache_resource(show_spinner=False, max_entries=4)
def _village_attributes(key: StoreRef) -> pd.DataFrame:
    """The villages without their points (lon and lat are columns): a fifth of the reading time,
    which a first visit to a province page waits for (read-only)."""
    names = pq.read_schema(Path(key.path) / "villages.parquet").names
    columns = [c for c in names if c != "geometry" and not c.startswith("__index_level_")]
    return pd.read_parquet(Path(key.path) / "villages.parquet", columns=columns)


def village_subset(key: StoreRef, scheme: str, province: str, columns: list[str],
                   who: Principal = LOCAL) -> pd.DataFrame:
    """The villages of one province (in either scheme), only the asked columns (not the
    geometry), as the reader may see them (:func:`coverage.access.villages`: a province user its
    own villages only, an operator none of another operator's layer columns)."""
    v = _village_attributes(key)
    rows = v.loc[v[f"province_{scheme}"] == province]
    if not who.sees_everything:
        rows = access.villages(who, rows.loc[:, list(dict.fromkeys([*columns, f"province_{who.scheme}"]))])
    return rows.loc[:, [c for c in columns if c in rows.columns]]


@st.cache_data(show_spinner=False, max_entries=128)
def measured(key: StoreRef, level: str, sel: metrics.Selection, parent: str | None = None) -> pd.DataFrame:
    """The selection's figures per unit (see :func:`app.metrics.measure`), cached per choice."""
    units = table(key, level, sel.scheme)
    if parent is not None:
        units = units.loc[units["parent_code"] == parent]
    target = next(t for t in manifest(key)["targets"] if t["id"] == sel.target_id)
    return metrics.measure(units.drop(columns="geometry"), sel, target)


def locate(key: StoreRef, scheme: str, lat: float, lng: float) -> str | None:
    """The province (code) at a clicked point, on the full-resolution outlines; a click just off
    a simplified coastline goes to the nearest province within ~5 km."""
    provinces = table(key, "province", scheme)
    point = shapely.Point(lng, lat)
    hits = provinces.sindex.query(point, predicate="intersects")
    if len(hits):
        return str(provinces["code"].iloc[hits[0]])
    near = provinces.sindex.nearest(point, max_distance=0.05, return_all=False)
    return str(provinces["code"].iloc[near[1][0]]) if near.shape[1] else None


# -- snapshots: the demo's synthetic history (progress page) -----------------------------------
DEMO_HISTORY_QUARTERS = 5  # the demo's quarter and the four before it, all SYNTHETIC
_HISTORY_LOCK = threading.Lock()


def register_demo_snapshot(path: Path) -> str | None:
    """Keep the demo results as the snapshot of their quarter. Returns why not when the
    database refuses: the map pages work without it, the progress page says so."""
    from coverage import snapshots  # noqa: PLC0415 - the map pages need no database

    try:
        snapshots.register(path, actor="app")
    except VnbbError as exc:
        return str(exc)
    return None


def demo_history_missing() -> list:
    """Quarters of the demo history with no snapshot yet (all of them before the first start)."""
    from coverage import demo, snapshots  # noqa: PLC0415 - the generator loads in about a second

    manifest = _manifest_or_none(demo_store_dir())
    if manifest is None:
        return demo.quarter_ends(DEMO_HISTORY_QUARTERS)
    have = {s.as_of for s in snapshots.list_snapshots(snapshots.series_of(manifest))}
    return [day for day in demo.quarter_ends(DEMO_HISTORY_QUARTERS) if day not in have]


def build_demo_history(progress: Callable[[str], None] | None = None) -> str:
    """Build and register the quarters of the demo's SYNTHETIC history that are missing (about
    15 s each, once); returns the series. The current quarter is the demo store itself."""
    import shutil  # noqa: PLC0415

    from coverage import demo, snapshots  # noqa: PLC0415

    say = progress or (lambda _msg: None)
    with _HISTORY_LOCK:
        current = build_demo_store(progress)
        series = snapshots.series_of(store.read_manifest(current))
        missing = demo_history_missing()
        latest = demo.quarter_ends(DEMO_HISTORY_QUARTERS)[-1]
        if latest in missing:
            snapshots.register(current, series=series, actor="app")
        earlier = [day for day in missing if day != latest]
        if not earlier:
            return series
        work = cache_dir() / "app" / "demo-history"
        folder = data_dir()
        say(f"synthetic history: {', '.join(day.isoformat() for day in earlier)}")
        written = demo.write_history(work / "scenarios", DEMO_HISTORY_QUARTERS, seed=42, data_dir=folder,
                                     only=set(earlier))
        for day, scenario in written:
            say(f"{day.isoformat()}: building")
            built = store.build(scenario, work / "stores" / day.isoformat(), data_dir=folder,
                                progress=lambda step, d=day: say(f"{d.isoformat()}: {step}"), force=True)
            snapshots.register(built, series=series, actor="app")
            shutil.rmtree(scenario, ignore_errors=True)  # the snapshot keeps its own copy
        shutil.rmtree(work / "stores", ignore_errors=True)
        return series
