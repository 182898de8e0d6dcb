"""Folium maps that work offline and stay quick under Streamlit's rerun-on-every-click model.

* Offline: folium asks CDNs for Leaflet (and jQuery, Bootstrap, Font Awesome, none of which these
  maps need). streamlit-folium collects each element's ``default_js``/``default_css`` and has its
  component page load them, so the maps' lists are replaced by Leaflet 1.9.3 from the
  ``xstatic-leaflet`` package, served by Streamlit itself: declaring that package's folder as a
  (never rendered) component makes the server answer ``/component/<name>/leaflet.js``.
* Basemap: OpenStreetMap tiles when the browser reaches them; if tiles fail before any loads,
  the layer is removed and the plain background stays (``VNBB_BASEMAP=none`` turns tiles off).
* No remounts: the base map (tiles, bounds) is the component's identity; the data layers travel
  as ``feature_group_to_add``, which streamlit-folium swaps in place, so changing a filter keeps
  the reader's pan and zoom. The last view of each map is also kept in the browser's session
  storage, so coming back to a page restores it.
* Small payloads: polygons are simplified upstream (:func:`app.data.display_shapes`), and
  feature properties carry only the preformatted tooltip texts and a colour.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

import folium
import geopandas as gpd
import pandas as pd
import xstatic.pkg.leaflet as _xleaflet
from branca.element import Element, MacroElement
from jinja2 import Template
from streamlit.components import v1 as components

OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
BASEMAP_ENV = "VNBB_BASEMAP"
VIETNAM_BOUNDS = ((8.3, 102.1), (23.4, 109.6))  # south-west, north-east (lat, lon), the mainland

# Registers the xstatic folder with Streamlit's component server; the component is never drawn.
_ASSETS = components.declare_component("leaflet_assets", path=_xleaflet.BASE_DIR)
# streamlit-folium's page lives at <base>/component/streamlit_folium.st_folium/index.html, so a
# relative link reaches the assets under any server base path.
ASSET_URL = f"../{_ASSETS.name}/"
LEAFLET_JS = [("leaflet", ASSET_URL + "leaflet.js")]
LEAFLET_CSS = [("leaflet_css", ASSET_URL + "leaflet.css")]
_CSS = """<style>
.leaflet-container { background: #e9eef2; font: 13px/1.35 "Source Sans Pro", sans-serif; }
.leaflet-tooltip table { border-collapse: collapse; }
.leaflet-tooltip th { text-align: left; padding-right: 8px; font-weight: 600; }
.leaflet-container .leaflet-control-attribution { font-size: 10px; line-height: 1.3; max-width: 70%; }
</style>"""


class _TileFallback(MacroElement):
    """Removes a tile layer whose tiles fail before any loads (no internet): plain background."""

    _template = Template("""
{% macro script(this, kwargs) %}
(function (map, layer) {
  var loaded = 0, failed = 0;
  layer.on('tileload', function () { loaded += 1; });
  layer.on('tileerror', function () {
    failed += 1;
    if (loaded === 0 && failed >= 2 && map.hasLayer(layer)) {
      map.removeLayer(layer);
      map.getContainer().classList.add('vnbb-no-basemap');
    }
  });
})({{ this._parent.get_name() }}, {{ this.layer.get_name() }});
{% endmacro %}
""")

    def __init__(self, layer: folium.TileLayer) -> None:
        super().__init__()
        self._name = "TileFallback"
        self.layer = layer


class _ViewMemory(MacroElement):
    """Keeps the reader's last centre and zoom of a map in the tab's session storage."""

    _template = Template("""
{% macro script(this, kwargs) %}
(function (map, key) {
  try {
    var saved = JSON.parse(window.sessionStorage.getItem(key) || 'null');
    if (saved) { map.setView([saved.lat, saved.lng], saved.zoom, {animate: false}); }
  } catch (e) {}
  map.on('moveend', function () {
    try {
      var c = map.getCenter();
      window.sessionStorage.setItem(key, JSON.stringify({lat: c.lat, lng: c.lng, zoom: map.getZoom()}));
    } catch (e) {}
  });
})({{ this._parent.get_name() }}, {{ this.key|tojson }});
{% endmacro %}
""")

    def __init__(self, key: str) -> None:
        super().__init__()
        self._name = "ViewMemory"
        self.key = key


def basemap_enabled() -> bool:
    """Whether to try online tiles (``VNBB_BASEMAP=none`` switches them off)."""
    return os.environ.get(BASEMAP_ENV, "osm").lower() not in ("none", "off", "0")


def base_map(bounds: tuple[tuple[float, float], tuple[float, float]], view_key: str,
             canvas: bool = False, attribution: str = "") -> folium.Map:
    """An empty map fitted to ``bounds`` with local Leaflet, an optional OSM basemap, the boundary
    attribution, and view memory under ``view_key``."""
    (s, w), (n, e) = bounds
    m = folium.Map(location=[(s + n) / 2, (w + e) / 2], zoom_start=6, tiles=None, prefer_canvas=canvas,
                   control_scale=True, zoom_snap=0.5, zoom_delta=0.5)
    m.default_js = list(LEAFLET_JS)  # instead of CDN links (see the module docstring)
    m.default_css = list(LEAFLET_CSS)
    m.get_root().header.add_child(Element(_CSS))
    if basemap_enabled():
        tiles = folium.TileLayer(OSM_TILES, attr=OSM_ATTRIBUTION, name="OpenStreetMap", max_zoom=19)
        tiles.add_to(m)
        m.add_child(_TileFallback(tiles))
    if attribution:
        m.add_child(_Attribution(attribution))
    m.fit_bounds([[s, w], [n, e]])
    m.add_child(_ViewMemory(f"vnbb-view:{view_key}"))
    return m


class _Attribution(MacroElement):
    """A text in Leaflet's attribution corner (boundary sources belong on the map itself)."""

    _template = Template("""
{% macro script(this, kwargs) %}
{{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.text|tojson }});
{% endmacro %}
""")

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "Attribution"
        self.text = text


def bounds_of(gdf: gpd.GeoDataFrame) -> tuple[tuple[float, float], tuple[float, float]]:
    """(south, west), (north, east) of a layer, for fitting a map."""
    w, s, e, n = gdf.total_bounds
    return (float(s), float(w)), (float(n), float(e))


def feature_collection(shapes: gpd.GeoDataFrame, props: pd.DataFrame, digits: int = 4) -> dict:
    """GeoJSON of ``shapes`` (code, geometry) joined to ``props`` (code + display columns),
    coordinates written with ``digits`` decimals (4: ~10 m) to keep the payload small.

    Each feature's id is its code, so folium's style map and click handling can name it.
    """
    joined = shapes.merge(props, on="code", how="inner")
    data = json.loads(joined.to_json(drop_id=True))
    for feature in data["features"]:
        feature["id"] = feature["properties"]["code"]
        if feature["geometry"]:
            feature["geometry"]["coordinates"] = _rounded(feature["geometry"]["coordinates"], digits)
    return data


def _rounded(coords: list, digits: int) -> list:
    if coords and isinstance(coords[0], (int, float)):
        return [round(c, digits) for c in coords]
    return [_rounded(c, digits) for c in coords]


def outlines(data: dict, name: str) -> folium.FeatureGroup:
    """Unit outlines without fill, for context under another layer (not clickable)."""
    group = folium.FeatureGroup(name=name)
    folium.GeoJson(data, name=name, interactive=False,
                   style_function=lambda _f: {"color": "#555555", "weight": 1.2, "fillOpacity": 0.04,
                                              "fillColor": "#888888"}).add_to(group)
    return group


def _polygon_style(feature: dict) -> dict:
    return {"fillColor": feature["properties"]["colour"], "color": "#4d4d4d", "weight": 0.7,
            "fillOpacity": 0.78}


def _highlight(_feature: dict) -> dict:
    return {"weight": 2.5, "color": "#111111", "fillOpacity": 0.9}


def choropleth(data: dict, fields: list[str], aliases: list[str], name: str) -> folium.FeatureGroup:
    """Units filled by their ``colour`` property, with a tooltip of the given fields."""
    group = folium.FeatureGroup(name=name)
    folium.GeoJson(data, name=name, style_function=_polygon_style, highlight_function=_highlight,
                   tooltip=folium.GeoJsonTooltip(fields=fields, aliases=aliases, sticky=True),
                   smooth_factor=0.5).add_to(group)
    return group


def _point_style(feature: dict) -> dict:
    p = feature["properties"]
    return {"fillColor": p["colour"], "color": p.get("stroke", "#333333"), "weight": 0.6,
            "fillOpacity": 0.9, "radius": p.get("radius", 4)}


def points(data: dict, fields: Iterable[str], aliases: Iterable[str], name: str) -> folium.FeatureGroup:
    """Point features as circle markers (drawn on a canvas when the map prefers one)."""
    group = folium.FeatureGroup(name=name)
    if data["features"]:
        folium.GeoJson(data, name=name, style_function=_point_style,
                       marker=folium.CircleMarker(radius=4, weight=0.6, fill=True),
                       tooltip=folium.GeoJsonTooltip(fields=list(fields), aliases=list(aliases))).add_to(group)
    return group
