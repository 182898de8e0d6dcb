"""National view, for ministry planners: every province against the chosen target.

The map's polygons and tooltips are built once per (scheme, indicator, target, layer, language)
and cached as GeoJSON text; a click on a province is the only map event that comes back to
Python, and it opens that province's page in the run the click starts (a callback, not a second
run).
"""

from __future__ import annotations

from functools import partial
from html import escape

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from app import data, fmt, layout, maps, metrics, state
from app.i18n import tr

MAP_KEY = "national_map"
MAP_HEIGHT = 620


def render(ctx: state.Ctx) -> None:
    """Headline numbers, the choropleth with its legend, the ranking, the 5G smart-city status."""
    sel, target = ctx.selection, ctx.target
    tables = [f"provinces_{sel.scheme}"]
    layout.banners(ctx, tables)
    provinces = data.measured(ctx.key, "province", sel)
    totals = metrics.totals(provinces, target, sel.indicator)
    st.subheader(ctx.t("national.heading", n=len(provinces)))
    st.caption(layout.target_caption(ctx))
    _headline(ctx, totals)

    left, right = st.columns([3, 2], gap="medium")
    with left:
        layout.legend(ctx, float(target["threshold"]), target["comparison"])
        _map(ctx, tables)
        st.caption(ctx.t("map.click_hint"))
    with right:
        st.markdown(f"**{ctx.t('ranking.title')}**")
        st.html(_ranking(ctx.key, sel, ctx.lang))

    _five_g(ctx)
    with layout.lazy_expander(ctx.t("table.provinces"), key="provinces_table") as is_open:
        if is_open:
            frame, decimals = layout.unit_table(ctx, provinces, rank=True)
            st.dataframe(layout.styled(frame, ctx.lang, decimals), hide_index=True, width="stretch")
            layout.downloads(frame, f"provinces_{sel.scheme}_{sel.layer}", ctx, key="dl-provinces")
    layout.sources(ctx, tables)


def _headline(ctx: state.Ctx, totals: dict) -> None:
    units_met = (ctx.t("metric.units_met"), f"{totals['units_met']} / {totals['units']}", None)
    layout.metric_row([*layout.coverage_metrics(ctx, totals), units_met])


@st.cache_data(show_spinner=False, max_entries=64)
def _features(key: data.StoreRef, sel: metrics.Selection, lang: str) -> str:
    """GeoJSON text of the provinces with fill colour and preformatted tooltip texts."""
    measured = data.measured(key, "province", sel)
    shapes = data.display_shapes(key, "province", sel.scheme)
    return maps.feature_collection(shapes, tooltip_props(measured, sel.indicator, lang), digits=3)


def tooltip_props(measured: pd.DataFrame, indicator: str, lang: str) -> pd.DataFrame:
    """Per unit: name, indicator, households and villages covered/total, gap (texts) and colour."""
    unit = tr("unit.villages" if indicator == "villages" else "unit.households", lang)
    not_met = tr("metric.not_met", lang)
    gap_text = [
        tr("metric.met", lang) if met else tr("tooltip.gap_text", lang, status=not_met, gap=fmt.number(gap, lang),
                                               unit=unit, pp=fmt.points(pp, lang, signed=False))
        for met, gap, pp in zip(measured["met"], measured["gap"], measured["gap_pp"])
    ]
    return pd.DataFrame({
        "code": measured["code"], "n": measured["name"],
        "v": [fmt.percent(v, lang) for v in measured["value"]],
        "h": [fmt.ratio(c, t, lang) for c, t in zip(measured["households_covered"], measured["households"])],
        "l": [fmt.ratio(c, t, lang) for c, t in zip(measured["villages_covered"], measured["villages"])],
        "g": gap_text, "colour": measured["colour"],
    })


TOOLTIP_FIELDS = ["n", "v", "h", "l", "g"]


def tooltip_aliases(ctx: state.Ctx) -> list[str]:
    return [ctx.t("tooltip.name"), ctx.t(f"indicator.{ctx.selection.indicator}"), ctx.t("tooltip.households"),
            ctx.t("tooltip.villages"), ctx.t("tooltip.gap")]


def _map(ctx: state.Ctx, tables: list[str]) -> None:
    """The choropleth; a click on a province opens its page (see :func:`_open_clicked`)."""
    fig = maps.base_map(maps.VIETNAM_BOUNDS, view_key="national",
                        attribution=layout.attribution(ctx, tables, short=True))
    group = maps.choropleth(_features(ctx.key, ctx.selection, ctx.lang), TOOLTIP_FIELDS, tooltip_aliases(ctx),
                            name="provinces")
    st_folium(fig, key=MAP_KEY, height=MAP_HEIGHT, use_container_width=True, feature_group_to_add=group,
              returned_objects=["last_object_clicked"], on_change=partial(_open_clicked, ctx.key, ctx.selection.scheme))


def _open_clicked(key: data.StoreRef, scheme: str) -> None:
    """Before the run a map click starts: switch to the clicked province's page, so that run draws
    it (opening it after drawing this page took a second run)."""
    click = state.new_click(MAP_KEY, (st.session_state.get(MAP_KEY) or {}).get("last_object_clicked"))
    code = data.locate(key, scheme, click["lat"], click["lng"]) if click else None
    if code is not None:
        st.session_state["view"] = "province"
        st.session_state["province"] = code


@st.cache_data(show_spinner=False, max_entries=64)
def _ranking(key: data.StoreRef, sel: metrics.Selection, lang: str) -> str:
    """The ranking of the provinces for a choice (see :func:`ranking_html`), made once per choice."""
    target = next(x for x in data.manifest(key)["targets"] if x["id"] == sel.target_id)
    return ranking_html(data.measured(key, "province", sel), float(target["threshold"]), lang)


def ranking_html(measured: pd.DataFrame, threshold: float, lang: str) -> str:
    """Bars of the indicator per province, best first, with the target as a dashed line.

    Plain HTML and CSS rather than a chart library: a Vega-Lite chart made the browser load and
    run 0.85 MB of scripts before the map could show, about 0.4 s of the national page's first
    paint. Hovering a bar (or the line) tells its province and value (or the target).
    """
    frame = measured[["name", "value", "colour"]].sort_values("value", ascending=False, na_position="last",
                                                               kind="stable")
    low = float(min(frame["value"].min(skipna=True), threshold))
    lo = max(0.0, (low - 5) // 10 * 10)  # zoom in on the range that matters, in steps of 10 %

    def position(value: float) -> float:  # % of the bars' width
        return 0.0 if pd.isna(value) else round(100 * (min(max(value, lo), 100.0) - lo) / (100.0 - lo), 2)

    rows = "".join(
        f'<div class="vnbb-bar" title="{escape(fmt.short_name(name))}: {escape(fmt.percent(value, lang))}">'
        f'<span>{escape(fmt.short_name(name))}</span><b><i style="width:{position(value)}%;background:{colour}">'
        "</i></b></div>"
        for name, value, colour in frame.itertuples(index=False))
    span = 100.0 - lo
    step = 2 if span <= 20 else 5 if span <= 50 else 10
    values = range(int(lo), 101, step)
    ticks = "".join(f'<i style="left:{position(v)}%">{fmt.number(v, lang)}</i>' for v in values)
    grid = "".join(f'<u style="left:{position(v)}%"></u>' for v in values)
    target = f"{tr('ranking.target', lang)}: {fmt.percent(threshold, lang, 0)}"
    height = max(MAP_HEIGHT, 13 * len(frame))  # a readable label per bar
    return f"""<div class="vnbb-ranking" style="--rows:{len(frame)};height:{height}px">
<div class="vnbb-bars">{grid}{rows}
<div class="vnbb-target" style="left:{position(threshold)}%" title="{escape(target)}"></div></div>
<div class="vnbb-axis">{ticks}</div><div class="vnbb-axis-title">{escape(tr('ranking.value', lang))}</div></div>
<style>
.vnbb-ranking{{display:flex;flex-direction:column;font-size:9px;color:#555;padding-right:8px}}
.vnbb-bars{{position:relative;flex:1;display:grid;grid-template-rows:repeat(var(--rows),1fr);margin-left:110px}}
.vnbb-bar{{position:relative;display:flex;align-items:center;min-height:0}}
.vnbb-bar span{{position:absolute;right:100%;width:106px;padding-right:4px;text-align:right;white-space:nowrap;
overflow:hidden;text-overflow:ellipsis}}
.vnbb-bar b{{display:block;width:100%;height:80%}} .vnbb-bar i{{display:block;height:100%}}
.vnbb-bar:hover i{{filter:brightness(0.85)}} .vnbb-bar:hover span{{color:#111}}
.vnbb-bars u{{position:absolute;top:0;bottom:0;width:0;border-left:1px solid #eee}}
.vnbb-target{{position:absolute;top:0;bottom:0;width:0;border-left:1.5px dashed #111;margin-left:-1px}}
.vnbb-target::before{{content:"";position:absolute;top:0;bottom:0;left:-4px;width:8px}}
.vnbb-axis{{position:relative;height:14px;margin-left:110px;border-top:1px solid #888}}
.vnbb-axis i{{position:absolute;top:2px;transform:translateX(-50%);font-style:normal}}
.vnbb-axis-title{{margin-left:110px;text-align:center;font-size:11px;padding-top:4px}}
</style>"""


def _five_g(ctx: state.Ctx) -> None:
    """The smart-city 5G target and 5G presence per province (from national.json)."""
    nat = data.national(ctx.key)
    smart = nat.get("smart_cities")
    names = data.table(ctx.key, "province", "63").set_index("code")["name"].to_dict()
    targets = {t["indicator"]: t for t in ctx.manifest["targets"]}
    st.markdown(f"**{ctx.t('smart.title')}**")
    left, right = st.columns([1, 3], gap="medium")
    scheme = ctx.selection.scheme if f"provinces_with_5g_{ctx.selection.scheme}" in nat else "63"
    if f"provinces_with_5g_{scheme}" in nat:
        total = len(data.table(ctx.key, "province", scheme))
        with left:
            st.metric(ctx.t("five_g.provinces", n=total), f"{nat[f'provinces_with_5g_{scheme}']} / {total}")
            if "provinces_with_5g" in targets:
                five = targets["provinces_with_5g"]
                st.caption(f"{layout.target_label(five, ctx.lang)}. {five['source']}")
    if smart and "smart_cities_with_5g" in targets:
        target = targets["smart_cities_with_5g"]
        with right:
            status = ctx.t("metric.met") if smart.get("met") else ctx.t("metric.not_met")
            st.caption(ctx.t("smart.summary", count=smart.get("cities_with_5g", 0),
                             needed=fmt.number(target["threshold"], ctx.lang), status=status,
                             rule=smart.get("rule", "")) + f" ({target['source']})")
            rows = [{ctx.t("smart.region"): ctx.t(f"region.{region}"),
                     ctx.t("smart.candidates"): ", ".join(fmt.short_name(names.get(c, c))
                                                          for c in info.get("candidates", [])),
                     ctx.t("smart.with_5g"): ", ".join(fmt.short_name(names.get(c, c))
                                                       for c in info.get("with_5g", [])) or ctx.t("smart.none")}
                    for region, info in smart.get("regions", {}).items()]
            layout.markdown_table(pd.DataFrame(rows))
