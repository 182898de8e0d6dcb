"""Progress view, for planners tracking quarters of reports against deadlines.

For the whole country or one province (either scheme): household and village coverage over the
snapshots of a series, with the target lines, the deadlines and a projection at the recent pace
(the rule is :data:`coverage.progress.RULE`, shown on the page); the provinces projected to miss
each deadline; and what changed between two snapshots (villages newly covered or lost, per
technology and operator) as a map and tables.

Snapshots live in the database and in frozen stores on disk; everything read from them is cached
per snapshot id and registration time, so a replaced snapshot is read again. With the demo
(no ``VNBB_STORE``), the demo's SYNTHETIC quarterly history is built on the first visit.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import NamedTuple

import altair as alt
import geopandas as gpd
import numpy as np
import pandas as pd
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError
from streamlit_folium import st_folium

from app import data, fmt, layout, maps, state
from app.i18n import comparison, target_title, tr
from coverage import progress, snapshots
from coverage.engine import TECHS
from coverage.models import Snapshot
from geodata.errors import VnbbError

NATION = progress.NATION
MAP_HEIGHT = 520
_GAINED, _LOST = "#1a9641", "#d7191c"
_NET_COLOURS = ((-np.inf, -0.5, "#d7191c"), (-0.5, 0.5, "#f7f7f7"), (0.5, 10.5, "#c2e699"),
                (10.5, 50.5, "#78c679"), (50.5, 200.5, "#31a354"), (200.5, np.inf, "#006837"))


class SnapRef(NamedTuple):
    """A snapshot as a hashable cache key: it changes when the snapshot is replaced."""

    id: int
    registered_at: str
    path: str
    as_of: str
    label: str
    synthetic: bool


def _ref(snap: Snapshot) -> SnapRef:
    return SnapRef(snap.id, str(snap.registered_at), str(snapshots.path_of(snap)), snap.as_of.isoformat(),
                   snap.label, bool(snap.synthetic))


def _snap(ref: SnapRef) -> Snapshot:
    """A detached snapshot row for the reading functions (they need its id, date and folder)."""
    return Snapshot(id=ref.id, as_of=dt.date.fromisoformat(ref.as_of), store_path=ref.path, label=ref.label,
                    synthetic=ref.synthetic)


@st.cache_resource(show_spinner=False, max_entries=16)
def _figures(refs: tuple[SnapRef, ...], scheme: str) -> pd.DataFrame:
    """Counts of every province and the nation in every snapshot (read-only, shared)."""
    return snapshots.figures([_snap(r) for r in refs], scheme)


@st.cache_resource(show_spinner=False, max_entries=8)
def _targets(ref: SnapRef) -> list:
    return snapshots.targets_of(_snap(ref))


@st.cache_data(show_spinner=False, max_entries=32)
def _outlook(refs: tuple[SnapRef, ...], scheme: str) -> pd.DataFrame:
    return progress.outlook(_figures(refs, scheme), _targets(refs[-1]))


@st.cache_resource(show_spinner=False, max_entries=8)
def _changes(before: SnapRef, after: SnapRef) -> gpd.GeoDataFrame:
    """Villages gained and lost between two snapshots, every layer (read-only, shared)."""
    return snapshots.changes(_snap(before), _snap(after))


@st.cache_data(show_spinner=False, max_entries=8)
def _list_changes(before: SnapRef, after: SnapRef) -> dict[str, int]:
    return snapshots.village_list_changes(_snap(before), _snap(after))


def render(ctx: state.Ctx) -> None:
    """Series and area, the charts with the projection, the misses, and what changed."""
    st.subheader(ctx.t("progress.heading"))
    refs = _series(ctx)
    if refs is None:
        return
    scheme = ctx.selection.scheme
    figures = _figures(refs, scheme)
    if any(r.synthetic for r in refs):
        st.warning(ctx.t("progress.synthetic"), icon=":material/warning:")
    st.caption(ctx.t("progress.snapshots", n=len(refs), first=fmt.date(refs[0].as_of, ctx.lang),
                     last=fmt.date(refs[-1].as_of, ctx.lang)))

    names = _names(figures, ctx.lang)
    _repair(ctx, names, figures)
    left, mid, right = st.columns(3)
    left.selectbox(ctx.t("progress.area"), list(names), key="pg_area", format_func=names.__getitem__)
    layers = _layers(figures)
    mid.selectbox(ctx.t("tech.label"), [t for t in TECHS if f"{t}__all" in layers], key="pg_tech",
                  format_func=lambda x: ctx.t(f"tech.{x}"))
    ops = ["all", *sorted({k.split("__", 1)[1] for k in layers if k.startswith(f"{st.session_state['pg_tech']}__")}
                          - {"all"})]
    if st.session_state.get("pg_op") not in ops:
        st.session_state["pg_op"] = "all"
    right.selectbox(ctx.t("operator.label"), ops, key="pg_op", format_func=lambda o: layout.operator_label(o, ctx.lang))
    area, tech, op = st.session_state["pg_area"], st.session_state["pg_tech"], st.session_state["pg_op"]
    layer = f"{tech}__{op}"

    outlook = _outlook(refs, scheme)
    _charts(ctx, figures, refs, area, layer, names[area])
    _area_outlook(ctx, outlook, refs, area)
    _misses(ctx, outlook, refs, scheme)
    _what_changed(ctx, refs, area, names, layer)


# -- series -----------------------------------------------------------------------------------
def _series(ctx: state.Ctx) -> tuple[SnapRef, ...] | None:
    """The snapshots of the chosen series (the demo's history built first when missing)."""
    try:
        if data.configured_store() is None and data.demo_history_missing():
            with st.status(ctx.t("progress.building"), expanded=True) as status:
                data.build_demo_history(progress=lambda step: status.write(ctx.t("build.step", step=step)))
                status.update(label=ctx.t("progress.built"), state="complete", expanded=False)
        names = snapshots.series_names()
    except (VnbbError, SQLAlchemyError) as exc:  # the maps work without the database; this page cannot
        st.error(ctx.t("progress.db_problem", message=str(exc)))
        return None
    current = snapshots.series_of(ctx.manifest)
    if current not in names:  # the results shown elsewhere were never kept as snapshots
        st.info(ctx.t("progress.none", series=current))
        if not names:
            return None
    options = sorted(names, key=lambda s: (s != current, s))
    if st.session_state.get("pg_series") not in options:
        st.session_state["pg_series"] = options[0]
    if len(options) > 1:
        st.selectbox(ctx.t("progress.series"), options, key="pg_series")
    series = st.session_state["pg_series"]
    return tuple(_ref(s) for s in snapshots.list_snapshots(series))


def _names(figures: pd.DataFrame, lang: str) -> dict[str, str]:
    """Nation first, then the provinces of the latest snapshot by name."""
    latest = figures.loc[(figures["snapshot_id"] == figures["snapshot_id"].iloc[-1]) & (figures["code"] != NATION)]
    provinces = sorted(zip(latest["code"], latest["name"]), key=lambda item: _sort_key(item[1]))
    return {NATION: tr("progress.nation", lang), **dict(provinces)}


def _sort_key(name: str) -> str:
    name = fmt.short_name(str(name)).replace("Đ", "D\uffff").replace("đ", "d\uffff")
    return "".join(c for c in unicodedata.normalize("NFD", name) if not unicodedata.combining(c)).casefold()


def _layers(figures: pd.DataFrame) -> set[str]:
    return {c.removeprefix("hh_cov__") for c in figures.columns if c.startswith("hh_cov__")}


def _repair(ctx: state.Ctx, names: dict[str, str], figures: pd.DataFrame) -> None:
    """Valid choices before the widgets are drawn (a province follows a scheme switch)."""
    ss = st.session_state
    area = ss.get("pg_area")
    if area not in names:
        other = "34" if ctx.selection.scheme == "63" else "63"
        mapped = data.province_crosswalk(ctx.key).get(other, {}).get(area) if area else None
        ss["pg_area"] = mapped if mapped in names else NATION
    if ss.get("pg_tech") not in {k.split("__", 1)[0] for k in _layers(figures)}:
        ss["pg_tech"] = "any"


# -- charts -----------------------------------------------------------------------------------
def _charts(ctx: state.Ctx, figures: pd.DataFrame, refs: tuple[SnapRef, ...], area: str, layer: str,
            area_name: str) -> None:
    traj = progress.trajectory(figures.loc[figures["code"] == area], layer)
    tech, op = layer.split("__", 1)
    targets = [t for t in progress.targets_on(_targets(refs[-1])) if op == "all" and progress.target_layer(t) == layer]
    layer_name = f"{ctx.t(f'tech.{tech}')}, {layout.operator_label(op, ctx.lang)}"
    st.markdown(f"**{ctx.t('progress.chart_title', area=area_name, layer=layer_name)}**")
    columns = st.columns(2)
    for column, indicator in zip(columns, progress.INDICATORS):
        chart = _chart(ctx, traj, indicator, [t for t in targets if t.indicator == indicator])
        column.altair_chart(chart, width="stretch")
    st.caption(ctx.t("progress.chart_legend"))
    if op != "all":
        st.caption(ctx.t("progress.targets_all_operators"))


def _chart(ctx: state.Ctx, traj: pd.DataFrame, indicator: str, targets: list) -> alt.LayerChart:
    """Observed values, the projection at the recent pace, target lines and deadline rules."""
    value = f"{indicator}_pct"
    obs = traj[["as_of", value]].rename(columns={value: "value"}).dropna()
    obs["text"] = [fmt.percent(v, ctx.lang, 2) for v in obs["value"]]
    obs["date"] = [fmt.date(d.isoformat(), ctx.lang) for d in obs["as_of"]]
    title = ctx.t(f"progress.chart_{indicator}")
    p = progress.pace(traj["code"].to_numpy(), traj["as_of"].to_numpy(), traj[value].to_numpy())
    latest = obs["as_of"].max() if len(obs) else pd.Timestamp.today()
    deadlines = [pd.Timestamp(t.deadline) for t in targets]
    horizon = max([latest + pd.DateOffset(years=1), *[d for d in deadlines if d > latest]])
    lines = []
    if len(p) and np.isfinite(p["pace"].iloc[0]):
        when = pd.date_range(latest, horizon, periods=25)
        proj = pd.DataFrame({"as_of": when, "value": [float(progress.project(p, w).iloc[0]) for w in when]})
        proj["text"] = [fmt.percent(v, ctx.lang, 2) for v in proj["value"]]
        proj["date"] = [fmt.date(d.isoformat(), ctx.lang) for d in proj["as_of"]]
        lines.append(alt.Chart(proj).mark_line(strokeDash=[6, 4], color="#e66101").encode(
            x="as_of:T", y="value:Q",
            tooltip=[alt.Tooltip("date:N", title=ctx.t("progress.axis_date")),
                     alt.Tooltip("text:N", title=ctx.t("progress.projected"))]))
    lows = [*obs["value"].tolist(), *[t.threshold for t in targets]]
    lo = max(0.0, min(lows) - 2) if lows else 0.0
    lo = float(np.floor(lo))
    x = alt.X("as_of:T", title=ctx.t("progress.axis_date"), axis=alt.Axis(format="%m/%Y"),
              scale=alt.Scale(domain=[(obs["as_of"].min() if len(obs) else latest).isoformat(), horizon.isoformat()]))
    y = alt.Y("value:Q", title=title, scale=alt.Scale(domain=[lo, 100], clamp=True))
    base = alt.Chart(obs).encode(
        x=x, y=y, tooltip=[alt.Tooltip("date:N", title=ctx.t("progress.axis_date")),
                           alt.Tooltip("text:N", title=ctx.t("progress.observed"))])
    layers = [base.mark_line(color="#2166ac", point=True, strokeWidth=2.5)] + lines
    if targets:
        rules = pd.DataFrame({"value": [t.threshold for t in targets],
                              "label": [f"{target_title(_dict(t), ctx.lang)} ({comparison(t.comparison)} "
                                        f"{fmt.percent(t.threshold, ctx.lang, 0)}, {fmt.date(t.deadline.isoformat(), ctx.lang)})"
                                        for t in targets]})
        layers.append(alt.Chart(rules).mark_rule(color="#111", strokeDash=[3, 3]).encode(
            y="value:Q", tooltip=[alt.Tooltip("label:N", title=ctx.t("col.target"))]))
        marks = pd.DataFrame({"as_of": deadlines, "label": [ctx.t("progress.deadline", date=fmt.date(
            d.date().isoformat(), ctx.lang)) for d in deadlines]}).drop_duplicates("as_of")
        layers.append(alt.Chart(marks).mark_rule(color="#b2182b", strokeWidth=1.5).encode(
            x="as_of:T", tooltip=[alt.Tooltip("label:N", title=ctx.t("col.deadline"))]))
        layers.append(alt.Chart(marks).mark_text(align="left", dx=4, dy=-6, color="#b2182b", fontSize=11).encode(
            x="as_of:T", y=alt.value(10), text="label:N"))
    return alt.layer(*layers).properties(height=300, title=title)


def _dict(target) -> dict:  # noqa: ANN001 - coverage.targets.Target
    return {"id": target.id, "title": target.title}


# -- outlook ----------------------------------------------------------------------------------
def _reached_text(ctx: state.Ctx, row: pd.Series) -> str:
    if row["met_now"]:
        return ctx.t("progress.already_met")
    if not np.isfinite(row["pace"]):
        return ctx.t("progress.no_pace")
    if pd.isna(row["reached_on"]):
        return ctx.t("progress.never")
    return fmt.date(pd.Timestamp(row["reached_on"]).date().isoformat(), ctx.lang)


def _outlook_frame(ctx: state.Ctx, rows: pd.DataFrame, by_id: dict, with_target: bool,
                   with_name: bool) -> pd.DataFrame:
    """The outlook rows as a table in the reader's language."""
    lang = ctx.lang
    out = {}
    if with_name:
        out[ctx.t("col.name")] = rows["name"].to_numpy()
    if with_target:
        out[ctx.t("col.target")] = [target_title(_dict(by_id[i]), lang) if i in by_id else i for i in rows["target_id"]]
        out[ctx.t("col.threshold")] = [f"{comparison(c)} {fmt.percent(v, lang, 0)}"
                                       for c, v in zip(rows["comparison"], rows["threshold"])]
        out[ctx.t("col.deadline")] = [fmt.date(d.date().isoformat(), lang) for d in rows["deadline"]]
    out[ctx.t("col.latest")] = [fmt.percent(v, lang, 2) for v in rows["latest"]]
    out[ctx.t("col.pace")] = [fmt.points(v, lang, 2) if np.isfinite(v) else "–" for v in rows["pace"]]
    out[ctx.t("col.reached_on")] = [_reached_text(ctx, r) for _, r in rows.iterrows()]
    out[ctx.t("col.at_deadline")] = [
        ctx.t("progress.observed_value", value=fmt.percent(v, lang, 2)) if passed else fmt.percent(v, lang, 2)
        for v, passed in zip(rows["at_deadline"], rows["deadline_passed"])]
    out[ctx.t("col.will_meet")] = ["–" if not np.isfinite(v) else ctx.t("yes") if m else ctx.t("no")
                                   for m, v in zip(rows["will_meet"], rows["at_deadline"])]
    out[ctx.t("col.shortfall")] = [fmt.points(v, lang, 2, signed=False) if v > 0 else "–" for v in rows["shortfall_pp"]]
    return pd.DataFrame(out)


def _area_outlook(ctx: state.Ctx, outlook: pd.DataFrame, refs: tuple[SnapRef, ...], area: str) -> None:
    """When the area reaches each target at the recent pace."""
    st.markdown(f"**{ctx.t('progress.outlook')}**")
    rows = outlook.loc[outlook["code"] == area]
    if rows.empty:
        st.info(ctx.t("progress.no_targets"))
    else:
        by_id = {t.id: t for t in _targets(refs[-1])}
        st.dataframe(_outlook_frame(ctx, rows, by_id, with_target=True, with_name=False), hide_index=True,
                     width="stretch")
    with st.expander(ctx.t("progress.rule_title")):
        st.markdown(ctx.t("progress.rule", window=progress.DEFAULT_WINDOW))


def _misses(ctx: state.Ctx, outlook: pd.DataFrame, refs: tuple[SnapRef, ...], scheme: str) -> None:
    """The provinces projected to miss the chosen target's deadline."""
    st.markdown(f"**{ctx.t('progress.misses')}**")
    targets = {t.id: t for t in progress.targets_on(_targets(refs[-1]))}
    ids = [i for i in dict.fromkeys(outlook["target_id"]) if i in targets]
    if not ids:
        st.info(ctx.t("progress.no_targets"))
        return
    if st.session_state.get("pg_target") not in ids:  # first the target some province will miss
        provinces = outlook.loc[outlook["code"] != NATION]
        ids_missed = [i for i in ids if len(progress.misses(provinces, i))]
        st.session_state["pg_target"] = (ids_missed or ids)[0]
    st.selectbox(ctx.t("target.label"), ids, key="pg_target",
                 format_func=lambda i: layout.target_label(_manifest_target(targets[i]), ctx.lang))
    target = targets[st.session_state["pg_target"]]
    provinces = outlook.loc[(outlook["target_id"] == target.id) & (outlook["code"] != NATION)]
    missing = progress.misses(provinces, target.id)
    deadline = fmt.date(target.deadline.isoformat(), ctx.lang)
    if missing.empty:
        st.success(ctx.t("progress.misses_none"))
        return
    st.caption(ctx.t("progress.misses_count", n=len(missing), total=len(provinces), deadline=deadline))
    frame = _outlook_frame(ctx, missing, targets, with_target=False, with_name=True)
    frame.insert(0, ctx.t("col.code"), missing["code"].to_numpy())
    st.dataframe(frame, hide_index=True, width="stretch", height=min(420, 38 + 35 * len(frame)))
    layout.downloads(frame, f"misses_{scheme}_{target.id}", ctx, key="dl-misses")


def _manifest_target(t) -> dict:  # noqa: ANN001 - coverage.targets.Target
    return {"id": t.id, "title": t.title, "comparison": t.comparison, "threshold": t.threshold, "unit": t.unit,
            "deadline": t.deadline.isoformat()}


# -- what changed -----------------------------------------------------------------------------
def _what_changed(ctx: state.Ctx, refs: tuple[SnapRef, ...], area: str, names: dict[str, str], layer: str) -> None:
    """Villages newly covered or lost between two snapshots: per layer, on a map, in tables."""
    st.markdown(f"**{ctx.t('progress.changes')}**")
    if len(refs) < 2:
        st.info(ctx.t("progress.one_snapshot"))
        return
    by_id = {r.id: r for r in refs}
    ids = list(by_id)
    ss = st.session_state
    if ss.get("pg_from") not in ids:
        ss["pg_from"] = ids[-2]
    if ss.get("pg_to") not in ids:
        ss["pg_to"] = ids[-1]
    label = lambda i: _snapshot_label(ctx, by_id[i])  # noqa: E731
    left, right = st.columns(2)
    left.selectbox(ctx.t("progress.from"), ids, key="pg_from", format_func=label)
    right.selectbox(ctx.t("progress.to"), ids, key="pg_to", format_func=label)
    before, after = by_id[ss["pg_from"]], by_id[ss["pg_to"]]
    if before.id == after.id:
        st.info(ctx.t("progress.same_snapshot"))
        return
    scheme = ctx.selection.scheme
    changed = _changes(before, after)
    if area != NATION:
        changed = changed.loc[changed[f"province_{scheme}"] == area]
    lists = _list_changes(before, after)
    if lists["only_before"] or lists["only_after"]:
        st.caption(ctx.t("progress.village_lists_differ", a=fmt.number(lists["only_before"], ctx.lang),
                         b=fmt.number(lists["only_after"], ctx.lang)))

    st.markdown(ctx.t("progress.changes_summary", area=names[area]))
    summary = _summary_frame(ctx, snapshots.change_summary(changed, scheme, by_province=False))
    st.dataframe(layout.styled(summary, ctx.lang, _whole(summary)), hide_index=True, width="stretch")

    tech, op = layer.split("__", 1)
    layer_name = f"{ctx.t(f'tech.{tech}')}, {layout.operator_label(op, ctx.lang)}"
    st.markdown(f"**{ctx.t('progress.changes_layer', layer=layer_name)}**")
    one = changed.loc[changed["layer"] == layer]
    if area == NATION:
        per_province = snapshots.change_summary(one, scheme)
        _nation_map(ctx, per_province, scheme)
        st.caption(ctx.t("progress.changes_nation_legend"))
        frame = _province_frame(ctx, per_province, names)
        stem = f"changes_{scheme}_{layer}_{before.as_of}_{after.as_of}"
    else:
        _province_map(ctx, one, area, scheme)
        st.caption(ctx.t("progress.changes_legend"))
        frame = _village_frame(ctx, one, scheme)
        stem = f"changes_{scheme}_{area}_{layer}_{before.as_of}_{after.as_of}"
    if frame.empty:
        st.success(ctx.t("progress.changes_none"))
        return
    decimals = _whole(frame) | {ctx.t("col.lon"): 5, ctx.t("col.lat"): 5}
    st.dataframe(layout.styled(frame, ctx.lang, decimals), hide_index=True, width="stretch",
                 height=min(420, 38 + 35 * len(frame)))
    layout.downloads(frame, stem, ctx, key="dl-changes")


def _whole(frame: pd.DataFrame) -> dict[str, int]:
    """Whole-number columns of a table, shown with the language's thousands separator."""
    return {c: 0 for c in frame.columns if pd.api.types.is_integer_dtype(frame[c])}


def _snapshot_label(ctx: state.Ctx, ref: SnapRef) -> str:
    tag = f" ({ctx.t('progress.synthetic_tag')})" if ref.synthetic else ""
    return f"{fmt.date(ref.as_of, ctx.lang)}{tag}"


def _summary_frame(ctx: state.Ctx, summary: pd.DataFrame) -> pd.DataFrame:
    order = {t: i for i, t in enumerate(TECHS)}
    s = summary.assign(_t=summary["technology"].map(order), _o=summary["operator"] != "all").sort_values(
        ["_t", "_o", "operator"])
    return pd.DataFrame({
        ctx.t("tech.label"): [ctx.t(f"tech.{t}") for t in s["technology"]],
        ctx.t("operator.label"): [layout.operator_label(o, ctx.lang) for o in s["operator"]],
        ctx.t("col.gained"): s["gained"].astype(int).to_numpy(), ctx.t("col.lost"): s["lost"].astype(int).to_numpy(),
        ctx.t("col.net"): s["net"].astype(int).to_numpy(),
        ctx.t("col.households_gained"): s["households_gained"].round(0).astype(int).to_numpy(),
        ctx.t("col.households_lost"): s["households_lost"].round(0).astype(int).to_numpy(),
    })


def _province_frame(ctx: state.Ctx, per_province: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    p = per_province.sort_values(["net", "province"], ascending=[False, True])
    return pd.DataFrame({
        ctx.t("col.code"): p["province"].to_numpy(),
        ctx.t("col.name"): [names.get(c, c) for c in p["province"]],
        ctx.t("col.gained"): p["gained"].astype(int).to_numpy(), ctx.t("col.lost"): p["lost"].astype(int).to_numpy(),
        ctx.t("col.net"): p["net"].astype(int).to_numpy(),
        ctx.t("col.households_gained"): p["households_gained"].round(0).astype(int).to_numpy(),
        ctx.t("col.households_lost"): p["households_lost"].round(0).astype(int).to_numpy(),
    })


def _village_frame(ctx: state.Ctx, one: pd.DataFrame, scheme: str) -> pd.DataFrame:
    commune_col = "commune_code" if scheme == "63" else "commune_34"
    v = one.sort_values(["change", "households"], ascending=[True, False])
    return pd.DataFrame({
        ctx.t("col.village_id"): v["village_id"].to_numpy(), ctx.t("col.name"): v["name"].to_numpy(),
        ctx.t("col.code"): v[commune_col].to_numpy(),
        ctx.t("col.households"): v["households"].astype(int).to_numpy(),
        ctx.t("col.change"): [ctx.t(f"change.{c}") for c in v["change"]],
        ctx.t("col.lon"): v["lon"].to_numpy(), ctx.t("col.lat"): v["lat"].to_numpy(),
    })


def _net_colour(net: float) -> str:
    return next(c for lo, hi, c in _NET_COLOURS if lo <= net < hi)


def _nation_map(ctx: state.Ctx, per_province: pd.DataFrame, scheme: str) -> None:
    """Provinces coloured by their net villages gained for the layer."""
    shapes = data.display_shapes(ctx.key, "province", scheme)
    p = per_province.set_index("province")
    codes = shapes["code"].to_numpy()
    gained = p["gained"].reindex(codes).fillna(0).to_numpy()
    lost = p["lost"].reindex(codes).fillna(0).to_numpy()
    names = data.table(ctx.key, "province", scheme).set_index("code")["name"]
    props = pd.DataFrame({"code": codes, "n": names.reindex(codes).fillna("").to_numpy(),
                          "g": [fmt.number(x, ctx.lang) for x in gained], "l": [fmt.number(x, ctx.lang) for x in lost],
                          "colour": [_net_colour(x) for x in gained - lost]})
    fig = maps.base_map(maps.VIETNAM_BOUNDS, view_key="progress:nation",
                        attribution=layout.attribution(ctx, [f"provinces_{scheme}"], short=True))
    group = maps.choropleth(maps.feature_collection(shapes, props, digits=3), ["n", "g", "l"],
                            [ctx.t("tooltip.name"), ctx.t("col.gained"), ctx.t("col.lost")], name="changes")
    st_folium(fig, key=f"progress_map_{scheme}", height=MAP_HEIGHT, use_container_width=True,
              feature_group_to_add=group, returned_objects=[])


def _province_map(ctx: state.Ctx, one: pd.DataFrame, code: str, scheme: str) -> None:
    """The province's communes as outlines and its changed villages as points."""
    shapes = data.display_shapes(ctx.key, "commune", scheme, parent=code)
    provinces = data.display_shapes(ctx.key, "province", scheme)
    bounds = maps.bounds_of(provinces.loc[provinces["code"] == code])
    fig = maps.base_map(bounds, view_key=f"progress:{scheme}:{code}", canvas=True,
                        attribution=layout.attribution(ctx, [f"communes_{scheme}"], short=True))
    outline = maps.outlines(maps.feature_collection(shapes, pd.DataFrame({"code": shapes["code"]}), digits=4),
                            name="communes")
    features = [
        {"type": "Feature", "id": f"{vid}:{change}", "geometry": {"type": "Point",
                                                                  "coordinates": [round(x, 5), round(y, 5)]},
         "properties": {"n": name, "h": fmt.number(hh, ctx.lang), "c": ctx.t(f"change.{change}"),
                        "colour": _GAINED if change == snapshots.CHANGE_GAINED else _LOST, "radius": 5,
                        "stroke": "#ffffff"}}
        for vid, name, hh, change, x, y in zip(one["village_id"], one["name"], one["households"], one["change"],
                                               one["lon"], one["lat"])
    ]
    points = maps.points({"type": "FeatureCollection", "features": features}, ["n", "h", "c"],
                         [ctx.t("col.name"), ctx.t("col.households"), ctx.t("col.change")], name="changes")
    st_folium(fig, key=f"progress_map_{scheme}_{code}", height=MAP_HEIGHT, use_container_width=True,
              feature_group_to_add=[outline, points], returned_objects=[])
