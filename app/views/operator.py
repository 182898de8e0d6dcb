"""Operator view: a gap layer (uncovered villages, uncovered household clusters, coverage) for
chosen provinces, technology and operator, previewed on the map and downloaded in the same
files ``vnbb export`` writes (both go through :mod:`coverage.export`)."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely
import streamlit as st
from streamlit_folium import st_folium

from app import data, fmt, layout, maps, metrics, state
from coverage import export
from coverage.access import LOCAL, AccessDenied, Principal
from geodata.errors import VnbbError

MAP_HEIGHT = 520
PREVIEW_LIMIT = 3000  # features drawn in the preview; the download always has all of them
_TECHS = ("any", "fixed", "mobile", "4G", "5G")
_GAP = "#d7191c"


def render(ctx: state.Ctx) -> None:
    """Choices, a summary and preview of the layer, and the download."""
    scheme = ctx.selection.scheme
    st.subheader(ctx.t("export.heading"))
    layout.banners(ctx, [f"provinces_{scheme}", f"communes_{scheme}"])
    names = _province_names(ctx.key, scheme)
    ss = st.session_state
    if any(p not in names for p in ss.get("op_provinces", [])):
        ss["op_provinces"] = [p for p in ss["op_provinces"] if p in names]
    ss.setdefault("op_provinces", [])  # the whole country until the operator narrows it
    techs = [t for t in _TECHS if f"{t}__{metrics.ALL}" in ctx.manifest.get("layers", [])]
    if ss.get("op_tech") not in techs:
        ss["op_tech"] = techs[0]
    ops = metrics.operators_for(ctx.manifest, ss["op_tech"])
    if ss.get("op_operator") not in ops:
        ss["op_operator"] = ops[0]

    a, b, c = st.columns([3, 1, 1])
    provinces = a.multiselect(ctx.t("export.provinces"), list(names), key="op_provinces",
                              format_func=names.__getitem__)
    technology = b.selectbox(ctx.t("tech.label"), techs, key="op_tech", format_func=lambda x: ctx.t(f"tech.{x}"))
    operator = c.selectbox(ctx.t("operator.label"), ops, key="op_operator",
                           format_func=lambda o: layout.operator_label(o, ctx.lang))
    layer = st.radio(ctx.t("export.layer"), export.EXPORT_LAYERS, key="op_layer", horizontal=True,
                     format_func=lambda x: ctx.t(f"export.layer.{x}"))

    choice = (layer, tuple(sorted(provinces)), scheme, technology, operator)
    try:
        gdf = _gap_layer(ctx.key, *choice, ctx.who)
    except AccessDenied as exc:  # e.g. a province asking for villages outside its own province
        st.warning(ctx.t("auth.denied", message=str(exc)))
        return
    _summary(ctx, gdf, layer)
    if gdf.attrs.get("metadata", {}).get("non_commercial") and ctx.who.role == "operator":
        st.warning(ctx.t("auth.non_commercial", licences=gdf.attrs["metadata"]["licences"]))
    if len(gdf):
        _preview(ctx, gdf, choice)
    _download(ctx, gdf, layer, provinces, technology, operator, scheme)
    layout.sources(ctx, [f"provinces_{scheme}", f"communes_{scheme}"])


@st.cache_data(show_spinner=False)
def _province_names(key: data.StoreRef, scheme: str) -> dict[str, str]:
    table = data.table(key, "province", scheme)
    return dict(zip(table["code"], table["name"]))


@st.cache_resource(show_spinner=False, max_entries=32)
def _gap_layer(key: data.StoreRef, layer: str, provinces: tuple[str, ...], scheme: str, technology: str,
               operator: str, who: Principal = LOCAL) -> gpd.GeoDataFrame:
    """The export layer itself (shared read-only; cached per reader, as the export function
    applies the reader's role)."""
    return export.gap_layer(key.path, layer, provinces=list(provinces) or None, scheme=scheme,
                            technology=technology, operator=operator, who=who)


@st.cache_data(show_spinner=False, max_entries=32)
def _file(key: data.StoreRef, layer: str, provinces: tuple[str, ...], scheme: str, technology: str,
          operator: str, fmt_name: str, who: Principal = LOCAL) -> bytes:
    return export.to_bytes(_gap_layer(key, layer, provinces, scheme, technology, operator, who), fmt_name)


def _summary(ctx: state.Ctx, gdf: gpd.GeoDataFrame, layer: str) -> None:
    if not len(gdf):
        st.info(ctx.t("export.empty"))
    elif "households_uncovered" in gdf:
        st.caption(ctx.t("export.summary", n=fmt.number(len(gdf), ctx.lang),
                         hh=fmt.number(gdf["households_uncovered"].sum(), ctx.lang)))
    else:
        st.caption(ctx.t("export.summary_units", n=fmt.number(len(gdf), ctx.lang)))


def _preview(ctx: state.Ctx, gdf: gpd.GeoDataFrame, choice: tuple) -> None:
    """The layer on the map (the largest features first when there are many)."""
    layer, provinces, scheme = choice[:3]
    if len(gdf) > PREVIEW_LIMIT:
        st.caption(ctx.t("export.preview_limit", shown=fmt.number(PREVIEW_LIMIT, ctx.lang),
                         n=fmt.number(len(gdf), ctx.lang)))
    outlines = data.display_shapes(ctx.key, "province", scheme)
    if provinces:
        outlines = outlines.loc[outlines["code"].isin(provinces)]
    fig = maps.base_map(maps.bounds_of(outlines), view_key=f"operator:{scheme}:{','.join(provinces)}",
                        canvas=True, attribution=layout.attribution(ctx, [f"provinces_{scheme}", f"communes_{scheme}"],
                                                       short=True))
    context = maps.outlines(_outline_features(ctx.key, scheme, provinces), name="provinces")
    st_folium(fig, key="operator_map", height=MAP_HEIGHT, use_container_width=True,
              feature_group_to_add=[context, _layer_group(ctx, _preview_features(ctx.key, *choice, ctx.lang, ctx.who), layer)],
              returned_objects=[])


@st.cache_data(show_spinner=False, max_entries=16)
def _outline_features(key: data.StoreRef, scheme: str, provinces: tuple[str, ...]) -> str:
    outlines = data.display_shapes(key, "province", scheme)
    if provinces:
        outlines = outlines.loc[outlines["code"].isin(provinces)]
    return maps.feature_collection(outlines, outlines[["code"]], digits=3)


@st.cache_data(show_spinner=False, max_entries=32)
def _preview_features(key: data.StoreRef, layer: str, provinces: tuple[str, ...], scheme: str, technology: str,
                      operator: str, lang: str, who: Principal = LOCAL) -> str:
    """GeoJSON text of the previewed features (the largest ones when there are too many)."""
    gdf = _gap_layer(key, layer, provinces, scheme, technology, operator, who)
    if len(gdf) > PREVIEW_LIMIT:
        order = "households_uncovered" if "households_uncovered" in gdf else "households"
        gdf = gdf.sort_values(order, ascending=False).head(PREVIEW_LIMIT)
    if layer == "uncovered-villages":
        props = pd.DataFrame({"n": gdf["name"], "h": [fmt.number(x, lang) for x in gdf["households_uncovered"]],
                              "colour": _GAP, "radius": 5, "stroke": "#ffffff"})
        return _geojson(gdf, props)
    if layer == "uncovered-households":
        props = pd.DataFrame({"n": gdf["cluster_id"].astype(str),
                              "h": [fmt.number(x, lang) for x in gdf["households_uncovered"]], "colour": _GAP})
        return _geojson(gdf, props, simplify=True)
    target = metrics.targets_for(data.manifest(key), "households")[0]
    pct = gdf["households_pct"].to_numpy(float)
    distance = pct - float(target["threshold"])
    met = metrics.target_of(target).met(pct)
    props = pd.DataFrame({"n": gdf["name"], "h": [fmt.percent(x, lang) for x in pct],
                          "colour": metrics.colours(distance, met)})
    return _geojson(gdf, props, simplify=True)


def _layer_group(ctx: state.Ctx, text: str, layer: str):
    if layer == "uncovered-villages":
        return maps.points(text, ["n", "h"], [ctx.t("col.name"), ctx.t("col.households")], name=layer)
    if layer == "uncovered-households":
        return maps.choropleth(text, ["n", "h"], ["#", ctx.t("col.households")], name=layer)
    return maps.choropleth(text, ["n", "h"], [ctx.t("col.name"), ctx.t("col.households_pct")], name=layer)


def _geojson(gdf: gpd.GeoDataFrame, props: pd.DataFrame, simplify: bool = False) -> str:
    geoms = gdf.geometry.to_numpy()
    if simplify:
        geoms = shapely.simplify(geoms, 0.0005, preserve_topology=True)
    shapes = gpd.GeoDataFrame({"code": [f"f{i}" for i in range(len(gdf))]}, geometry=geoms, crs=gdf.crs)
    return maps.feature_collection(shapes, props.reset_index(drop=True).assign(code=shapes["code"]))


def _audit_download(who: Principal, file_name: str, meta: dict) -> None:
    """Every export leaves an audit entry: who took which layer, with which licences."""
    from coverage import db

    try:
        with db.session() as s:
            db.audit(s, who.name, "export", "layer", file_name, role=who.role, layer=meta.get("layer"),
                     technology=meta.get("technology"), operator=meta.get("operator"),
                     provinces=meta.get("provinces"), licences=meta.get("licences"),
                     non_commercial=bool(meta.get("non_commercial")))
    except VnbbError:  # the download itself has happened; a database problem is not the reader's
        pass


def _download(ctx: state.Ctx, gdf: gpd.GeoDataFrame, layer: str, provinces: list[str], technology: str,
              operator: str, scheme: str) -> None:
    """One format at a time: the file is made only for the format asked for (then cached)."""
    left, right = st.columns([1, 2])
    fmt_name = left.selectbox(ctx.t("export.format"), export.FORMATS, key="op_format",
                              format_func=lambda f: ctx.t(f"export.format.{f}"))
    area = "-".join(sorted(provinces)) if provinces else "VN"
    stem = f"vnbb_{layer}_{technology}_{operator}_{scheme}_{area}"
    payload = _file(ctx.key, layer, tuple(sorted(provinces)), scheme, technology, operator, fmt_name, ctx.who)
    right.download_button(ctx.t("export.download", layer=ctx.t(f"export.layer.{layer}"), fmt=fmt_name.upper()),
                          payload, file_name=stem + export.SUFFIXES[fmt_name], mime=export.MEDIA_TYPES[fmt_name],
                          key="op_download", type="primary", width="stretch", on_click=_audit_download,
                          args=(ctx.who, stem + export.SUFFIXES[fmt_name], gdf.attrs.get("metadata", {})))
    right.caption(ctx.t("export.same_as_cli"))
