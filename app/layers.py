"""Cached loading of what the pages show (Streamlit reruns the script on every click)."""

from __future__ import annotations

import geopandas as gpd
import streamlit as st

from geodata import boundaries
from geodata.settings import data_dir


@st.cache_data(show_spinner="Loading boundaries…")
def province_layer(scheme: str, data_folder: str | None) -> gpd.GeoDataFrame:
    """Province polygons with their area, simplified for display (topology kept per feature)."""
    layer = boundaries.load(scheme, "province", data_dir=data_folder)
    layer["area_km2"] = boundaries.areas_km2(layer).round(0)
    layer["geometry"] = layer.geometry.simplify(0.005, preserve_topology=True)
    return layer


def current_data_folder() -> str | None:
    """The configured reference data folder as a string (a hashable cache key)."""
    folder = data_dir()
    return str(folder) if folder else None
