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
* Small payloads, quick reruns: polygons are simplified upstream (:func:`app.data.display_shapes`);
  feature properties carry only the preformatted tooltip texts and a colour; the GeoJSON is
  written once as compact text (cached by the pages) and pasted into a small Leaflet layer that
  styles features in the browser, instead of folium's GeoJson, which re-serialised the data and
  wrote a style table on every rerun.
* Clicks that land: the map takes the keyboard focus without scrolling the page (see
  :class:`_FocusWithoutScroll`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

import folium
import xyzservices
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import xstatic.pkg.leaflet as _xleaflet
from branca.element import Element, MacroElement
from jinja2 import Template
from streamlit.components import v1 as components

OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
# A provider object, not the URL: given a string, folium searches every xyzservices provider for
# it on each map built (about 5 % of a rerun's time under load).
_OSM_PROVIDER = xyzservices.TileProvider(name="OpenStreetMap", url=OSM_TILES, attribution=OSM_ATTRIBUTION)
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


class _Fit(MacroElement):
    """Fit the new map to its area at once. (folium's ``fit_bounds`` animates the zoom from the
    map's starting zoom; that animation ended after a data layer's own view had been set, and put
    the whole country back: a province page opened from the sidebar showed all of Vietnam.)"""

    _template = Template("""
{% macro script(this, kwargs) %}
{{ this._parent.get_name() }}.fitBounds({{ this.bounds|tojson }}, {animate: false});
{% endmacro %}
""")

    def __init__(self, bounds: tuple[tuple[float, float], tuple[float, float]]) -> None:
        super().__init__()
        self._name = "Fit"
        self.bounds = [list(bounds[0]), list(bounds[1])]


class _ViewMemory(MacroElement):
    """Keeps the reader's last centre and zoom of a map in the tab's session storage, under the
    map's current view key (a :func:`view` in the data layers may change it)."""

    _template = Template("""
{% macro script(this, kwargs) %}
(function (map, key) {
  map.vnbbViewKey = key;
  try {
    var saved = JSON.parse(window.sessionStorage.getItem(key) || 'null');
    if (saved) { map.setView([saved.lat, saved.lng], saved.zoom, {animate: false}); }
  } catch (e) {}
  map.on('moveend', function () {
    try {
      var c = map.getCenter();
      window.sessionStorage.setItem(map.vnbbViewKey, JSON.stringify({lat: c.lat, lng: c.lng, zoom: map.getZoom()}));
    } catch (e) {}
  });
})({{ this._parent.get_name() }}, {{ this.key|tojson }});
{% endmacro %}
""")

    def __init__(self, key: str) -> None:
        super().__init__()
        self._name = "ViewMemory"
        self.key = key


class _View(MacroElement):
    """Part of a data layer: shows an area on an existing map (its remembered view if the reader
    has been there in this tab, else the area fitted), so one map can show one area after another
    without being rebuilt."""

    _template = Template("""
{% macro script(this, kwargs) %}
(function (map, key, bounds) {
  map.vnbbViewKey = key;
  var saved = null;
  try { saved = JSON.parse(window.sessionStorage.getItem(key) || 'null'); } catch (e) {}
  if (saved) { map.setView([saved.lat, saved.lng], saved.zoom, {animate: false}); }
  else { map.fitBounds(bounds, {animate: false}); }
})({{ this._parent._parent.get_name() }}, {{ this.key|tojson }}, {{ this.bounds|tojson }});
{% endmacro %}
""")

    def __init__(self, bounds: tuple[tuple[float, float], tuple[float, float]], key: str) -> None:
        super().__init__()
        self._name = "View"
        self.bounds = [list(bounds[0]), list(bounds[1])]
        self.key = key


def view(group: folium.FeatureGroup, bounds: tuple[tuple[float, float], tuple[float, float]],
         view_key: str) -> folium.FeatureGroup:
    """``group`` (a data layer passed as ``feature_group_to_add``) made to also show ``bounds``:
    the map stays, so choosing another area swaps the layers in place instead of reloading the
    map's frame. The reader's view of each area is remembered under ``view_key``."""
    group.add_child(_View(bounds, f"vnbb-view:{view_key}"))
    return group


class _FocusWithoutScroll(MacroElement):
    """Leaflet focuses the map on mousedown (for its keyboard controls). Focusing an element in a
    frame scrolls the page until the whole frame shows, so on a screen shorter than the page a
    click on a map whose bottom is out of view moved the map under the pointer, and the click
    was lost. The map is focused without scrolling instead."""

    _template = Template("""
{% macro script(this, kwargs) %}
(function (map) {
  var keyboard = map.keyboard;
  if (!keyboard) { return; }
  keyboard.disable();
  keyboard._onMouseDown = function () {
    if (!this._focused) { this._map._container.focus({preventScroll: true}); }
  };
  keyboard.enable();
})({{ this._parent.get_name() }});
{% endmacro %}
""")

    def __init__(self) -> None:
        super().__init__()
        self._name = "FocusWithoutScroll"


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
        tiles = folium.TileLayer(_OSM_PROVIDER, attr=OSM_ATTRIBUTION, name="OpenStreetMap", max_zoom=19)
        tiles.add_to(m)
        m.add_child(_TileFallback(tiles))
    if attribution:
        m.add_child(_Attribution(attribution))
    m.add_child(_Fit(bounds))
    m.add_child(_ViewMemory(f"vnbb-view:{view_key}"))
    m.add_child(_FocusWithoutScroll())
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


def feature_collection(shapes: gpd.GeoDataFrame, props: pd.DataFrame, digits: int = 4) -> str:
    """GeoJSON text of ``shapes`` (code, geometry) joined to ``props`` (code + display columns),
    coordinates written with ``digits`` decimals (4: ~10 m) to keep the payload small.

    Each feature's id is its code. Written once as compact text (GEOS writes the geometries), so
    a cache hands it over without rebuilding nested lists, and the map element pastes it as is.
    """
    joined = shapes.merge(props, on="code", how="inner")
    geoms = shapely.transform(joined.geometry.to_numpy(), lambda xy: np.round(xy, digits))
    texts = shapely.to_geojson(geoms)
    records = joined[list(props.columns)].to_dict("records")
    features = [f'{{"type":"Feature","id":{_json(rec["code"])},"geometry":{text or "null"},'
                f'"properties":{_json(rec)}}}' for rec, text in zip(records, texts)]
    return _collection(features)


def point_collection(ids: Iterable, lon: Iterable[float], lat: Iterable[float], props: pd.DataFrame,
                     digits: int = 5) -> str:
    """GeoJSON text of points (one per row of ``props``, in the same order), ~1 m precision."""
    records = props.to_dict("records")
    features = [f'{{"type":"Feature","id":{_json(i)},"geometry":{{"type":"Point","coordinates":'
                f'[{round(float(x), digits)},{round(float(y), digits)}]}},"properties":{_json(rec)}}}'
                for i, x, y, rec in zip(ids, lon, lat, records)]
    return _collection(features)


def feature_count(data: str) -> int:
    """How many features a collection written here holds (for tests and summaries)."""
    return len(json.loads(data)["features"])


def _collection(features: list[str]) -> str:
    # "</" could end a <script> if the map is ever saved as an HTML page
    return ('{"type":"FeatureCollection","features":[' + ",".join(features) + "]}").replace("</", "<\\/")


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_plain)


def _plain(value: object) -> object:
    """numpy scalars (and anything else with ``item``) as plain Python values."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {value!r}")


# Tooltip of a feature: a table of aliases and property texts (escaped), as folium's was.
_TOOLTIP_JS = """function (layer) {
    var p = layer.feature.properties, rows = '';
    var esc = function (s) { return String(s).replace(/[&<>"]/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}[c]; }); };
    for (var i = 0; i < fields.length; i++) {
      var v = p[fields[i]];
      rows += '<tr><th>' + esc(aliases[i]) + '</th><td>' + esc(v === null || v === undefined ? '' : v) + '</td></tr>';
    }
    return '<table>' + rows + '</table>';
  }"""


class _GeoJsonLayer(MacroElement):
    """A Leaflet GeoJSON layer from GeoJSON text, styled in the browser from each feature's
    properties: rendering it is pasting the text (folium's GeoJson re-serialises the data and
    writes a style table on every run), and the same text is cached between runs."""

    _template = Template("""
{% macro script(this, kwargs) %}
(function (group) {
  var fields = {{ this.fields|tojson }}, aliases = {{ this.aliases|tojson }};
  var style = {{ this.style|tojson }}, hover = {{ this.hover|tojson }};
  var options = {interactive: {{ this.interactive|tojson }}, smoothFactor: {{ this.smooth|tojson }}};
  {% if this.kind == "points" %}
  options.pointToLayer = function (f, latlng) {
    var p = f.properties;
    return L.circleMarker(latlng, Object.assign({}, style, {radius: p.radius || 4, fillColor: p.colour,
                                                            color: p.stroke || style.color}));
  };
  {% else %}
  options.style = function (f) {
    return Object.assign({}, style, f.properties.colour ? {fillColor: f.properties.colour} : {});
  };
  {% endif %}
  {% if this.hover %}
  options.onEachFeature = function (f, l) {
    l.on({mouseover: function (e) { e.target.setStyle(hover); },
          mouseout: function (e) { layer.resetStyle(e.target); }});
  };
  {% endif %}
  var layer = L.geoJson({{ this.data }}, options);
  if (fields.length) { layer.bindTooltip(""" + _TOOLTIP_JS + """, {sticky: true, className: 'vnbb-tooltip'}); }
  layer.addTo(group);
})({{ this._parent.get_name() }});
{% endmacro %}
""")

    def __init__(self, data: str, kind: str, style: dict, hover: dict | None = None, fields: Iterable[str] = (),
                 aliases: Iterable[str] = (), interactive: bool = True, smooth: float = 1.0) -> None:
        super().__init__()
        self._name = "GeoJsonLayer"
        self.data, self.kind, self.style, self.hover = data, kind, style, hover or {}
        self.fields, self.aliases = list(fields), list(aliases)
        self.interactive, self.smooth = interactive, smooth

    def render(self, **kwargs: object) -> None:
        """As branca's, but the script goes into the figure as text: branca wraps a macro's output
        in an ``Element``, which compiles it as a Jinja template, and for a layer holding up to
        0.2 MB of GeoJSON that compilation was a fifth of the server's time per run under load
        (streamlit-folium renders the layer on every run, then uses the macro's output alone)."""
        script = self._template.module.__dict__["script"](self, kwargs)
        self.get_root().script.add_child(_Text(script), name=self.get_name())
        for child in self._children.values():
            child.render(**kwargs)


class _Text(Element):
    """Text added to a figure as it is."""

    _template = Template("{{ this.text }}")

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


def _group(name: str, layer: _GeoJsonLayer) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name=name)
    group.add_child(layer)
    return group


def outlines(data: str, name: str) -> folium.FeatureGroup:
    """Unit outlines without fill, for context under another layer (not clickable)."""
    style = {"color": "#555555", "weight": 1.2, "fillOpacity": 0.04, "fillColor": "#888888"}
    return _group(name, _GeoJsonLayer(data, "polygons", style, interactive=False))


def choropleth(data: str, fields: list[str], aliases: list[str], name: str) -> folium.FeatureGroup:
    """Units filled by their ``colour`` property, with a tooltip of the given fields."""
    style = {"color": "#4d4d4d", "weight": 0.7, "fillOpacity": 0.78}
    hover = {"weight": 2.5, "color": "#111111", "fillOpacity": 0.9}
    return _group(name, _GeoJsonLayer(data, "polygons", style, hover, fields, aliases, smooth=0.5))


def points(data: str, fields: Iterable[str], aliases: Iterable[str], name: str) -> folium.FeatureGroup:
    """Point features as circle markers (drawn on a canvas when the map prefers one), filled by
    their ``colour``, outlined by their ``stroke``, sized by their ``radius`` property."""
    style = {"color": "#333333", "weight": 0.6, "fill": True, "fillOpacity": 0.9}
    return _group(name, _GeoJsonLayer(data, "points", style, fields=fields, aliases=aliases))
