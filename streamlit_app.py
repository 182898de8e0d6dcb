"""Entry point of the app: ``streamlit run streamlit_app.py``."""

from __future__ import annotations

import folium
import streamlit as st
from streamlit_folium import st_folium

from app.layers import current_data_folder, province_layer
from geodata.boundaries import ATTRIBUTION_APPROXIMATE, ATTRIBUTION_OFFICIAL

st.set_page_config(page_title="VN broadband coverage", layout="wide")
st.title("Vietnam broadband coverage and gaps")

scheme = st.sidebar.radio("Scheme", ["63", "34"], format_func=lambda s: f"{s} provincial units",
                          help="63 units: the map the 2025 targets were set on. 34 units: from 1 July 2025.")
folder = current_data_folder()
layer = province_layer(scheme, folder)
approximate = (layer["source"] == "approximate").any()
if approximate:
    st.warning("Boundaries are **approximate** (built from commune centres; no data folder found). "
               "Set VNBB_DATA_DIR or run `vnbb data fetch` for the official layer.", icon="⚠️")

m = folium.Map(location=[16.0, 106.0], zoom_start=5, tiles=None, prefer_canvas=True)
folium.GeoJson(
    layer[["code", "name", "area_km2", "geometry"]].to_json(),
    name="provinces",
    style_function=lambda _: {"color": "#555", "weight": 1, "fillColor": "#9ecae1", "fillOpacity": 0.6},
    tooltip=folium.GeoJsonTooltip(fields=["code", "name", "area_km2"], aliases=["Code", "Name", "Area (km²)"]),
).add_to(m)
st_folium(m, height=650, use_container_width=True, returned_objects=[])

st.dataframe(layer.drop(columns="geometry"), hide_index=True, use_container_width=True)
st.caption(ATTRIBUTION_APPROXIMATE if approximate else ATTRIBUTION_OFFICIAL)
