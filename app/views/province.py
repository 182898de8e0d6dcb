"""Province view, for a province checking its gap: its figures against every target, its rank,
its communes on the map, and the villages still to cover (the list to work through).

Villages are drawn only for the chosen province (about a thousand points; tens of thousands
for the country would slow the browser), on a canvas, uncovered ones always, covered ones on
request.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from app import data, fmt, layout, maps, metrics, state
from app.i18n import comparison, target_title
from app.views.national import TOOLTIP_FIELDS, tooltip_aliases, tooltip_props
from coverage.access import LOCAL, Principal

MAP_HEIGHT = 560
MAP_KEY = "province_map"
_UNCOVERED, _COVERED, _SITE = "#d7191c", "#1a9641", "#7b3294"


def render(ctx: state.Ctx) -> None:
    """Headline, gaps per target, the map of communes and villages, the two tables."""
    sel = ctx.selection
    code = st.session_state["province"]
    tables = [f"provinces_{sel.scheme}", f"communes_{sel.scheme}"]
    layout.banners(ctx, tables)
    provinces = data.measured(ctx.key, "province", sel)
    row = provinces.loc[provinces["code"] == code].iloc[0]
    st.subheader(ctx.t("province.heading", name=row["name"]))
    st.caption(layout.target_caption(ctx))
    _headline(ctx, provinces, row)

    st.markdown(f"**{ctx.t('province.gaps')}**")
    _gaps_table(ctx, code)

    show_covered = st.checkbox(ctx.t("province.show_covered"), key="show_covered")
    visible_sites = data.sites(ctx.key, ctx.who)
    has_sites = visible_sites is not None and len(visible_sites) > 0
    show_sites = st.checkbox(ctx.t("province.show_sites"), key="show_sites", disabled=not has_sites,
                             help=None if has_sites else ctx.t("province.no_sites"))
    layout.legend(ctx, float(ctx.target["threshold"]), ctx.target["comparison"])
    _map(ctx, code, tables, show_covered, show_sites and has_sites)
    st.caption(ctx.t("province.villages_legend"))

    communes = data.measured(ctx.key, "commune", sel, parent=code)
    st.markdown(f"**{ctx.t('province.communes')}** ({len(communes)})")
    frame, decimals = layout.unit_table(ctx, communes)
    st.dataframe(layout.styled(frame, ctx.lang, decimals), hide_index=True, width="stretch", height=320)
    layout.downloads(frame, f"communes_{sel.scheme}_{code}_{sel.layer}", ctx, key="dl-communes")

    _uncovered(ctx, code)
    layout.sources(ctx, tables)


def _headline(ctx: state.Ctx, provinces: pd.DataFrame, row: pd.Series) -> None:
    rank = metrics.ranks(provinces)[row["code"]]
    rank_spec = (ctx.t("metric.rank", indicator=ctx.t(f"indicator.{ctx.selection.indicator}")),
                 ctx.t("metric.rank_value", rank=rank, n=len(provinces)), None)
    layout.metric_row([*layout.coverage_metrics(ctx, row), rank_spec])


def _gaps_table(ctx: state.Ctx, code: str) -> None:
    """The province's gap to every households/villages target, as the store computed it."""
    table = data.table(ctx.key, "province", ctx.selection.scheme)
    gaps = metrics.target_gaps(table.loc[table["code"] == code].iloc[0], ctx.manifest)
    lang = ctx.lang
    frame = pd.DataFrame({
        ctx.t("col.target"): [target_title(t, lang) for t in _targets(ctx, gaps["id"])],
        ctx.t("col.threshold"): [f"{comparison(c)} {fmt.percent(v, lang, 0)}"
                                 for c, v in zip(gaps["comparison"], gaps["threshold"])],
        ctx.t("col.deadline"): [fmt.date(d, lang) for d in gaps["deadline"]],
        ctx.t("col.network"): [ctx.t(f"tech.{x}") for x in gaps["technology"]],
        ctx.t("col.value"): [fmt.percent(v, lang) for v in gaps["value"]],
        ctx.t("col.met"): [ctx.t("yes") if m else ctx.t("no") for m in gaps["met"]],
        ctx.t("col.gap_pp"): [fmt.points(v, lang, signed=False) for v in gaps["gap_pp"]],
        ctx.t("col.gap_households"): [fmt.number(g, lang) if u == "households" else "–"
                                      for g, u in zip(gaps["gap"], gaps["unit"])],
        ctx.t("col.gap_villages"): [fmt.number(g, lang) if u == "villages" else "–"
                                    for g, u in zip(gaps["gap"], gaps["unit"])],
        ctx.t("col.source"): gaps["source"].to_numpy(),
    })
    st.dataframe(frame, hide_index=True, width="stretch")


def _targets(ctx: state.Ctx, ids: pd.Series) -> list[dict]:
    by_id = {t["id"]: t for t in ctx.manifest["targets"]}
    return [by_id[i] for i in ids]


@st.cache_data(show_spinner=False, max_entries=64)
def _commune_features(key: data.StoreRef, sel: metrics.Selection, code: str, lang: str) -> str:
    measured = data.measured(key, "commune", sel, parent=code)
    shapes = data.display_shapes(key, "commune", sel.scheme, parent=code)
    return maps.feature_collection(shapes, tooltip_props(measured, sel.indicator, lang))


@st.cache_data(show_spinner=False, max_entries=64)
def _village_features(key: data.StoreRef, scheme: str, code: str, layer: str, covered: bool,
                      lang: str, who: Principal = LOCAL) -> str:
    """Villages of the province as GeoJSON points, uncovered (or covered) by a layer."""
    commune_col = "commune_code" if scheme == "63" else "commune_34"
    v = data.village_subset(key, scheme, code, ["village_id", "name", commune_col, "households", "operators",
                                                "lon", "lat", f"cov__{layer}"], who)
    v = v.loc[v[f"cov__{layer}"].astype(bool) == covered]
    communes = data.table(key, "commune", scheme).set_index("code")["name"]
    colour, radius = (_COVERED, 3) if covered else (_UNCOVERED, 5)
    props = pd.DataFrame({"n": v["name"].to_numpy(),
                          "c": v[commune_col].map(communes).fillna(v[commune_col]).to_numpy(),
                          "h": [fmt.number(hh, lang) for hh in v["households"]],
                          "o": v["operators"].astype(int).to_numpy(), "colour": colour, "radius": radius,
                          "stroke": "#ffffff"})
    return maps.point_collection(v["village_id"], v["lon"], v["lat"], props)


@st.cache_data(show_spinner=False, max_entries=32)
def _site_features(key: data.StoreRef, scheme: str, code: str, technology: str, operator: str,
                   who: Principal = LOCAL) -> str:
    sites = data.sites(key, who)
    s = sites.loc[sites[f"province_{scheme}"] == code]
    if technology in ("4G", "5G"):
        s = s.loc[s["technology"] == technology]
    if operator != metrics.ALL:
        s = s.loc[s["operator"] == operator]
    props = pd.DataFrame({"n": s["site_id"].astype(str).to_numpy(), "o": s["operator"].to_numpy(),
                          "t": s["technology"].to_numpy(), "r": [f"{int(r)} m" for r in s["radius_m"]],
                          "colour": _SITE, "radius": 3, "stroke": _SITE})
    return maps.point_collection(s["site_id"].astype(str), s.geometry.x, s.geometry.y, props)


def _map(ctx: state.Ctx, code: str, tables: list[str], show_covered: bool, show_sites: bool) -> None:
    """Communes and villages of the province. The map itself is the same for every province:
    another province (or layer) swaps the layers and the view in place, without reloading it."""
    sel = ctx.selection
    shapes = data.display_shapes(ctx.key, "province", sel.scheme)
    bounds = maps.bounds_of(shapes.loc[shapes["code"] == code])
    fig = maps.base_map(maps.VIETNAM_BOUNDS, view_key="province", canvas=True,
                        attribution=layout.attribution(ctx, tables, short=True))
    communes = maps.choropleth(_commune_features(ctx.key, sel, code, ctx.lang), TOOLTIP_FIELDS,
                               tooltip_aliases(ctx), name="communes")
    groups = [maps.view(communes, bounds, f"province:{sel.scheme}:{code}")]
    village_fields = ["n", "c", "h", "o"]
    village_aliases = [ctx.t("col.name"), ctx.t("col.commune"), ctx.t("col.households"), ctx.t("col.operators")]
    if show_covered:
        groups.append(maps.points(_village_features(ctx.key, sel.scheme, code, sel.layer, True, ctx.lang, ctx.who),
                                  village_fields, village_aliases, name="covered"))
    if show_sites:
        groups.append(maps.points(_site_features(ctx.key, sel.scheme, code, sel.technology, sel.operator, ctx.who),
                                  ["n", "o", "t", "r"], [ctx.t("col.site"), ctx.t("operator.label"),
                                                         ctx.t("tech.label"), ctx.t("col.radius")], name="sites"))
    groups.append(maps.points(_village_features(ctx.key, sel.scheme, code, sel.layer, False, ctx.lang, ctx.who),
                              village_fields, village_aliases, name="uncovered"))
    st_folium(fig, key=MAP_KEY, height=MAP_HEIGHT, use_container_width=True, feature_group_to_add=groups,
              returned_objects=[])


def _uncovered(ctx: state.Ctx, code: str) -> None:
    """The villages still to cover for the chosen layer, largest first; downloadable."""
    sel = ctx.selection
    commune_col = "commune_code" if sel.scheme == "63" else "commune_34"
    v = data.village_subset(ctx.key, sel.scheme, code, ["village_id", "name", commune_col, "households",
                                                        "operators", "lon", "lat", f"cov__{sel.layer}"], ctx.who)
    if ctx.who.role == "province" and v.empty:
        st.info(ctx.t("auth.detail_own_only"))
        return
    todo = metrics.uncovered_villages(v, sel.layer)
    communes = data.table(ctx.key, "commune", sel.scheme).set_index("code")["name"]
    st.markdown(f"**{ctx.t('province.uncovered', layer=layout.layer_label(sel, ctx.lang))}**")
    if todo.empty:
        st.success(ctx.t("province.none_uncovered"))
        return
    st.caption(ctx.t("province.uncovered_count", n=fmt.number(len(todo), ctx.lang),
                     hh=fmt.number(todo["households"].sum(), ctx.lang)))
    frame = pd.DataFrame({
        ctx.t("col.village_id"): todo["village_id"].to_numpy(), ctx.t("col.name"): todo["name"].to_numpy(),
        ctx.t("col.code"): todo[commune_col].to_numpy(),
        ctx.t("col.commune"): todo[commune_col].map(communes).to_numpy(),
        ctx.t("col.households"): todo["households"].to_numpy(),
        ctx.t("col.operators"): todo["operators"].to_numpy(),
        ctx.t("col.lon"): todo["lon"].to_numpy(), ctx.t("col.lat"): todo["lat"].to_numpy(),
    })
    st.dataframe(layout.styled(frame, ctx.lang, {ctx.t("col.households"): 0, ctx.t("col.lon"): 5,
                                                 ctx.t("col.lat"): 5}),
                 hide_index=True, width="stretch", height=320)
    layout.downloads(frame, f"uncovered_villages_{sel.scheme}_{code}_{sel.layer}", ctx, key="dl-villages")
