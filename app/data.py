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
import os
import threading
from pathlib import Path
from typing import NamedTuple
from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import shapely
import streamlit as st

from app import metrics
from coverage import store
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
        scenario = cache_dir() / "app" / "demo-scenario"
        say("demo scenario")
        demo.write_demo(scenario, seed=42, data_dir=folder)
        return store.build(scenario, demo_store_dir(), data_dir=folder, progress=say, force=True)


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
def sites(key: StoreRef) -> gpd.GeoDataFrame | None:
    """Mobile sites when the store has them (``sites.parquet``), else None."""
    path = Path(key.path) / "sites.parquet"
    return gpd.read_parquet(path) if path.is_file() else None


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


def village_subset(key: StoreRef, scheme: str, province: str, columns: list[str]) -> pd.DataFrame:
    """The villages of one province (in either scheme), only the asked columns (not the geometry)."""
    v = _village_attributes(key)
    return v.loc[v[f"province_{scheme}"] == province, columns]


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
