"""What every page shares: the sidebar, the data-honesty banners, the sources, the legend,
tables formatted for the language, and download buttons."""

from __future__ import annotations

import inspect
import io
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
import streamlit as st

from app import data, fmt, metrics, state
from app.i18n import LANG_NAMES, LANGS, TEXTS, comparison, target_title, tr
from geodata.boundaries import ATTRIBUTION_APPROXIMATE, ATTRIBUTION_OFFICIAL

OFFICIAL = "official"


def language_switch() -> str:
    """The language radio, first in the sidebar (its label is bilingual on purpose)."""
    return st.sidebar.radio(tr("lang.label", "vi"), LANGS, key="lang", format_func=LANG_NAMES.__getitem__,
                            horizontal=True)


def sidebar(manifest: dict, lang: str, province_names: dict[str, dict[str, str]]) -> None:
    """Page, scheme and the filters the current page uses."""
    t = lambda k, **v: tr(k, lang, **v)  # noqa: E731
    sb = st.sidebar
    sb.radio(t("view.label"), state.VIEWS, key="view", format_func=lambda v: t(f"view.{v}"))
    sb.radio(t("scheme.label"), state.SCHEMES, key="scheme", format_func=lambda s: t(f"scheme.{s}"),
             help=t("scheme.help"))
    view = st.session_state["view"]
    if view in ("national", "province"):
        sb.selectbox(t("indicator.label"), metrics.indicators_available(manifest), key="indicator",
                     format_func=lambda i: t(f"indicator.{i}"), on_change=state.on_indicator_change,
                     args=(manifest,))
        targets = {x["id"]: x for x in metrics.targets_for(manifest, st.session_state["indicator"])}
        sb.selectbox(t("target.label"), list(targets), key="target", on_change=state.on_target_change,
                     args=(manifest,), format_func=lambda i: target_label(targets[i], lang))
        techs = metrics.technologies_for(manifest, st.session_state["indicator"])
        sb.selectbox(t("tech.label"), techs, key="tech", format_func=lambda x: t(f"tech.{x}"),
                     disabled=len(techs) == 1, help=t("tech.help"))
        ops = metrics.operators_for(manifest, st.session_state["tech"])
        sb.selectbox(t("operator.label"), ops, key="op", format_func=lambda o: operator_label(o, lang))
    if view == "province":
        names = province_names[st.session_state["scheme"]]
        sb.selectbox(t("province.label"), list(names), key="province", format_func=names.__getitem__)


def target_label(target: dict, lang: str) -> str:
    """"Title (> 80 %, 2025)": what a reader needs to tell targets apart."""
    unit = " %" if target.get("unit", "percent") == "percent" else ""
    return (f"{target_title(target, lang)} ({comparison(target['comparison'])} "
            f"{fmt.number(target['threshold'], lang)}{unit}, {str(target['deadline'])[:4]})")


def operator_label(op: str, lang: str) -> str:
    return tr("operator.all", lang) if op == metrics.ALL else op


def layer_label(sel: metrics.Selection, lang: str) -> str:
    """The network layer in words: "4G, Viettel"."""
    return f"{tr(f'tech.{sel.technology}', lang)}, {operator_label(sel.operator, lang)}"


def banners(ctx: state.Ctx, tables: list[str]) -> None:
    """Say plainly when data is synthetic and when any shown boundary is approximate."""
    scenario = ctx.manifest.get("scenario", {})
    if scenario.get("synthetic"):
        st.warning(ctx.t("banner.synthetic", name=scenario.get("name") or ""), icon=":material/warning:")
    sources = data.boundary_sources(ctx.key)
    approx = [ctx.t("layer.provinces" if name.startswith("provinces") else "layer.communes")
              for name in tables if sources.get(name, "approximate") != OFFICIAL]
    if approx:
        st.info(ctx.t("banner.approximate", layers=", ".join(dict.fromkeys(approx))), icon=":material/map:")


def attribution(ctx: state.Ctx, tables: list[str], short: bool = False) -> str:
    """Boundary attribution of the shown tables: in full for the sources, ``short`` for the map
    corner (the full text is on the same page)."""
    sources = data.boundary_sources(ctx.key)
    texts = []
    for name in tables:
        official = sources.get(name) == OFFICIAL
        if short:
            level = ctx.t("layer.provinces" if name.startswith("provinces") else "layer.communes")
            texts.append(ctx.t("map.attribution_official" if official else "map.attribution_approximate",
                               level=level))
        else:
            texts.append(ATTRIBUTION_OFFICIAL if official else ATTRIBUTION_APPROXIMATE)
    return "; ".join(dict.fromkeys(texts))


def sources(ctx: state.Ctx, tables: list[str]) -> None:
    """Where every figure on the page comes from: inputs, boundaries, targets, rules."""
    m = ctx.manifest
    scenario = m.get("scenario", {})
    st.divider()
    st.markdown(f"**{ctx.t('sources.title')}**")
    lines = [ctx.t("sources.scenario", name=scenario.get("name") or "–", as_of=scenario.get("as_of") or "–",
                   built_at=m.get("built_at", "–"))]
    for src in scenario.get("sources", []):
        prov = src.get("provenance", "")
        line = ctx.t("sources.item", file=src.get("file", ""), provenance=ctx.t(f"provenance.{prov}")
                     if f"provenance.{prov}" in TEXTS else prov, as_of=src.get("as_of", "–"),
                     citation=src.get("citation", ""))
        if src.get("note"):
            line += f" — {src['note']}"
        lines.append(line)
    lines.append(ctx.t("sources.boundaries", text=attribution(ctx, tables)))
    docs = dict.fromkeys(t["source"] for t in m.get("targets", []))
    lines.append(ctx.t("sources.targets", docs="; ".join(docs)))
    lines.append(ctx.t("sources.rule", rule=m.get("village_rule", "–")))
    lines.append(ctx.t("sources.basemap"))
    st.caption("  \n".join(f"• {line}" for line in lines))
    with st.expander(ctx.t("sources.method")):
        st.markdown(m.get("method", ""))
        st.caption(m.get("household_spread", ""))


def legend(ctx: state.Ctx, threshold: float, comparison_sign: str) -> None:
    """The choropleth's classes as a row of swatches with their % ranges."""
    sides: dict[bool, list[str]] = {False: [], True: []}
    for colour, lo, hi, met in metrics.legend(threshold):
        text = fmt.number(lo, ctx.lang) if lo == hi else f"{fmt.number(lo, ctx.lang)}–{fmt.number(hi, ctx.lang)}"
        sides[met].append(_swatch(colour, f"{text} %"))
    head = ctx.t("map.legend", cmp=comparison(comparison_sign), threshold=fmt.percent(threshold, ctx.lang, 0))
    st.html(f"""<div class="vnbb-legend"><b>{head}</b>
<span class="vnbb-side">{ctx.t('map.legend_below')}:</span>{''.join(sides[False])}
<span class="vnbb-side">{ctx.t('map.legend_met')}:</span>{''.join(sides[True])}
{_swatch(metrics.NO_DATA, ctx.t('map.no_data'))}</div>
<style>.vnbb-legend{{font-size:0.85rem;line-height:1.9}} .vnbb-key{{margin-right:10px;white-space:nowrap}}
.vnbb-key i{{display:inline-block;width:14px;height:12px;margin-right:4px;vertical-align:-1px;
border:1px solid #777}} .vnbb-side{{color:#555;margin:0 6px 0 4px}}</style>""")


# Recent Streamlit (1.67 here) can tell whether an expander is open (``on_change="rerun"``);
# older versions have no such parameter and draw a closed expander's content anyway.
_EXPANDER_TRACKS_STATE = "on_change" in inspect.signature(st.expander).parameters


@contextmanager
def lazy_expander(label: str, key: str) -> Iterator[bool]:
    """An expander whose content is made only while it is open (``with ... as is_open``).

    A closed expander's content still costs its server time and, in the browser, the code of
    every element in it (a data grid is about 1.5 MB of scripts): a page that shows a table
    only on request draws its map sooner without it. Opening it reruns the page.
    """
    if _EXPANDER_TRACKS_STATE:
        box = st.expander(label, key=key, on_change="rerun")
        with box:
            yield bool(box.open)
    else:
        with st.expander(label):
            yield True


def markdown_table(frame: pd.DataFrame) -> None:
    """A small table as Markdown: no data grid (and its scripts) for a few rows."""
    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ").strip() or " "

    lines = ["| " + " | ".join(cell(c) for c in frame.columns) + " |", "|" + " --- |" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    st.markdown("\n".join(lines))


def _swatch(colour: str, text: str) -> str:
    return f'<span class="vnbb-key"><i style="background:{colour}"></i>{text}</span>'


def styled(frame: pd.DataFrame, lang: str, decimals: dict[str, int]) -> pd.io.formats.style.Styler:
    """A table whose numbers show the language's separators but still sort as numbers."""
    thousands, decimal = (".", ",") if lang == "vi" else (",", ".")
    styler = frame.style
    for column, places in decimals.items():
        if column in frame:
            styler = styler.format(precision=places, thousands=thousands, decimal=decimal, subset=[column],
                                   na_rep="–")
    return styler


def downloads(frame: pd.DataFrame, stem: str, ctx: state.Ctx, key: str) -> None:
    """CSV (UTF-8 with BOM, so Excel shows Vietnamese letters) and XLSX of a table."""
    left, right = st.columns(2)
    left.download_button(ctx.t("download.csv"), _csv_bytes(frame), file_name=f"{stem}.csv",
                         mime="text/csv", key=f"{key}-csv", width="stretch")
    right.download_button(ctx.t("download.xlsx"), _xlsx_bytes(frame), file_name=f"{stem}.xlsx",
                          mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                          key=f"{key}-xlsx", width="stretch")


# The files are made once per table content (the cache key hashes the frame, a few ms), not on
# every rerun: an XLSX of a province's villages takes a large part of a second.
@st.cache_data(show_spinner=False, max_entries=64)
def _csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8-sig")


@st.cache_data(show_spinner=False, max_entries=64)
def _xlsx_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False, engine="openpyxl")
    return buffer.getvalue()


def status_line(ctx: state.Ctx, met: bool, value: float, gap_pp: float) -> str:
    """Under a gap figure: whether the target is met, the value and the points missing."""
    target = ctx.target
    if met:
        return ctx.t("metric.status_met", value=fmt.percent(value, ctx.lang), cmp=comparison(target["comparison"]),
                     threshold=fmt.percent(target["threshold"], ctx.lang, 0))
    return ctx.t("metric.status_gap", value=fmt.percent(value, ctx.lang),
                 pp=fmt.points(gap_pp, ctx.lang, 2 if 0 < gap_pp < 0.1 else 1, signed=False))


def target_caption(ctx: state.Ctx) -> str:
    """One line under a page title: the chosen target, its source and the layer shown."""
    target = ctx.target
    return ctx.t("target.caption", title=target_title(target, ctx.lang), cmp=comparison(target["comparison"]),
                 threshold=fmt.percent(target["threshold"], ctx.lang, 0),
                 deadline=fmt.date(target["deadline"], ctx.lang), source=target["source"],
                 layer=layer_label(ctx.selection, ctx.lang))


def coverage_metrics(ctx: state.Ctx, figures: pd.Series | dict) -> list[tuple[str, str, str | None]]:
    """Headline specs shared by the national and province pages: households and villages covered,
    and what is still to cover for the chosen target."""
    lang = ctx.lang
    unit = "villages" if ctx.selection.indicator == "villages" else "households"
    return [
        (ctx.t("metric.households"), fmt.percent(figures["households_pct"], lang),
         ctx.t("metric.of_total", covered=fmt.number(figures["households_covered"], lang),
               total=fmt.number(figures["households"], lang))),
        (ctx.t("metric.villages"), fmt.percent(figures["villages_pct"], lang),
         ctx.t("metric.of_total", covered=fmt.number(figures["villages_covered"], lang),
               total=fmt.number(figures["villages"], lang))),
        (ctx.t(f"metric.gap_{unit}"), fmt.number(figures["gap"], lang),
         status_line(ctx, bool(figures["met"]), figures["value"], figures["gap_pp"])),
    ]


def metric_row(specs: list[tuple[str, str, str | None]]) -> None:
    """A row of headline numbers: (label, value, caption under it) each."""
    for column, (label, value, caption) in zip(st.columns(len(specs)), specs):
        column.metric(label, value)
        if caption:
            column.caption(caption)


_DECIMALS = {"households": 0, "households_covered": 0, "households_pct": 1, "villages": 0,
             "villages_covered": 0, "villages_pct": 1, "gap": 0, "gap_pp": 1}


def unit_table(ctx: state.Ctx, measured: pd.DataFrame, rank: bool = False) -> tuple[pd.DataFrame, dict[str, int]]:
    """Figures per unit for tables and downloads, with translated headers; numbers stay numbers
    (so the table sorts) and the decimals to show per column come along."""
    frame = measured[["code", "name", "households", "households_covered", "households_pct", "villages",
                      "villages_covered", "villages_pct", "gap", "gap_pp", "met"]].copy()
    frame["households_covered"] = frame["households_covered"].round(0)
    frame["met"] = [ctx.t("yes") if m else ctx.t("no") for m in frame["met"]]
    if rank:
        frame.insert(0, "rank", metrics.ranks(measured).reindex(frame["code"]).to_numpy())
    names = {c: ctx.t(f"col.{c}") for c in frame.columns}
    names["gap"] = ctx.t("col.gap_villages" if ctx.selection.indicator == "villages" else "col.gap_households")
    decimals = {names[c]: d for c, d in _DECIMALS.items() if c in names}
    return frame.rename(columns=names), decimals
