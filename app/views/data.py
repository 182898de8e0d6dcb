"""Data view: upload a file into the scenario behind the results, see its validation report,
and on success import it as a new scenario version and rebuild the results.

The checks are those of ``vnbb validate`` and ``vnbb build`` (:func:`coverage.scenario.validate_file`),
the import that of ``vnbb import`` (:mod:`coverage.imports`). The import and rebuild run in the
background (:mod:`app.jobs`): the previous results stay on every page until the new store is
complete and swapped in; this page follows the steps and then shows what changed.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from app import data, fmt, jobs, state
from coverage import imports
from coverage.scenario import BROADBAND_MOBILE, OPERATORS_MOBILE, PROVENANCE, ValidationReport

# File types the uploader offers per kind (the loaders decide; this only guides the file picker).
SUFFIXES = {
    **{k: ["csv", "txt", "tsv", "xlsx", "xlsm"] for k in imports.TABLE_KINDS},
    "coverage-raster": ["tif", "tiff"], "population": ["tif", "tiff"],
    "footprint": ["zip", "gpkg", "geojson", "json", "kml"], "opencellid": ["csv", "gz"], "ookla": ["parquet", "zip"],
}
NEEDS_DATE = ("coverage-raster", "footprint", "opencellid", "ookla", "population")
_UPLOAD = "_data_upload"  # (uploader file id, saved path) of the file on screen
_ROUND = "_data_round"


def render(ctx: state.Ctx) -> None:
    """The scenario and its current results, the running or last import, the upload form and
    the scenario's versions."""
    if not ctx.who.sees_everything:
        st.info(ctx.t("auth.data_ministry_only"))
        return
    st.subheader(ctx.t("data.heading"))
    st.caption(ctx.t("data.intro"))
    if ctx.manifest.get("scenario", {}).get("synthetic"):
        st.warning(ctx.t("data.synthetic"), icon=":material/warning:")
    scenario = data.scenario_of(ctx.manifest)
    if scenario is None:
        st.info(ctx.t("data.no_scenario", path=ctx.manifest.get("scenario", {}).get("folder", "–")))
        return
    current = imports.current_version(scenario)
    st.caption(ctx.t("data.scenario", path=str(scenario), version=current.number) if current
               else ctx.t("data.scenario_plain", path=str(scenario)))
    job = jobs.latest(scenario)
    _figures(ctx, job)
    if job is not None and job.running:
        _progress(ctx, scenario)
    elif job is not None:
        _outcome(ctx, job)
    _form(ctx, scenario, busy=job is not None and job.running)
    _versions(ctx, scenario)


def _figures(ctx: state.Ctx, job: jobs.ImportJob | None) -> None:
    """The results now on screen (every page uses them until a rebuild completes); after an
    import, with the change it made."""
    now = jobs.figures(ctx.key.path)
    before = job.before if job is not None and job.state == "done" and job.after and \
        job.after["built_at"] == now["built_at"] else None
    st.markdown(f"**{ctx.t('data.figures')}**")
    cols = st.columns(2)
    for col, (label, key) in zip(cols, (("metric.households", "households_pct"), ("metric.villages", "villages_pct"))):
        # st.metric reads the sign from a leading ASCII "-" (fmt writes a typographic minus)
        delta = fmt.points(now[key] - before[key], ctx.lang, 2).replace("−", "-") if before else None
        col.metric(ctx.t(label), fmt.percent(now[key], ctx.lang, 2), delta=delta)
    st.caption(ctx.t("data.built_at", built_at=now["built_at"]))


@st.fragment(run_every=1.0)
def _progress(ctx: state.Ctx, scenario) -> None:  # noqa: ANN001
    """The running import's steps, refreshed every second; the whole app reruns when it ends
    (so every page picks up the new results)."""
    job = jobs.latest(scenario)
    if job is None or not job.running:
        st.rerun()
    with st.status(ctx.t("data.running", name=job.name), expanded=True, state="running"):
        for step in list(job.steps):
            st.write(ctx.t("build.step", step=step))
    st.caption(ctx.t("data.running_note"))


def _outcome(ctx: state.Ctx, job: jobs.ImportJob) -> None:
    result = job.result
    if job.state == "done":
        st.success(ctx.t("data.done", name=job.name, version=result.version.number), icon=":material/check_circle:")
    elif job.state == "unchanged":
        st.info(ctx.t("data.unchanged", name=job.name))
    elif job.state == "refused":
        st.error(ctx.t("data.refused", name=job.name), icon=":material/block:")
        _report(ctx, result.report)
    else:
        st.error(ctx.t("data.failed", name=job.name, error=job.error), icon=":material/error:")


def _form(ctx: state.Ctx, scenario, busy: bool) -> None:  # noqa: ANN001
    st.markdown(f"**{ctx.t('data.upload')}**")
    kind = st.selectbox(ctx.t("data.kind"), imports.IMPORT_KINDS, key="data_kind",
                        format_func=lambda k: ctx.t(f"data.kind.{k}"))
    entry = _entry(ctx, kind)
    limit = data.upload_limit_mb()
    round_ = st.session_state.get(_ROUND, 0)  # a new round (a new, empty uploader) after each import
    uploaded = st.file_uploader(ctx.t("data.file", mb=fmt.number(limit, ctx.lang)), type=SUFFIXES[kind],
                                key=f"data_file_{kind}_{round_}", max_upload_size=limit)
    if uploaded is None:
        return
    saved = st.session_state.get(_UPLOAD)
    if not saved or saved[0] != uploaded.file_id or not saved[1].is_file():
        saved = (uploaded.file_id, data.save_upload(uploaded.name, uploaded))
        st.session_state[_UPLOAD] = saved
    path = saved[1]
    version = scenario.resolve().name
    report = data.validate_upload(str(path), kind, entry.get("crs"), str(scenario), version)
    _report(ctx, report, uploaded.name)
    if not report.ok:
        return
    missing_date = kind in NEEDS_DATE and not entry.get("as_of")
    if missing_date:
        st.caption(ctx.t("data.as_of_required"))
    if busy:
        st.caption(ctx.t("data.busy"))
    if st.button(ctx.t("data.import"), type="primary", disabled=busy or missing_date, key="data_import"):
        try:
            jobs.start(scenario, ctx.key.path, path, kind, entry, uploaded.name, data.data_dir())
        except jobs.ImportBusy:
            st.warning(ctx.t("data.busy"))
            return
        st.session_state.pop(_UPLOAD, None)  # the job owns the file now
        st.session_state[_ROUND] = round_ + 1
        st.rerun()


def _entry(ctx: state.Ctx, kind: str) -> dict:
    """What the file is: provenance, date and citation, and for coverage layers the fields of
    their ``[[coverage]]`` entry."""
    entry: dict = {}
    left, mid, right = st.columns(3)
    entry["provenance"] = left.selectbox(
        ctx.t("data.provenance"), PROVENANCE, index=PROVENANCE.index(imports.DEFAULT_PROVENANCE[kind]),
        key=f"data_prov_{kind}", format_func=lambda p: ctx.t(f"provenance.{p}"), disabled=kind == "opencellid")
    as_of = mid.date_input(ctx.t("data.as_of"), value=None, key=f"data_as_of_{kind}", min_value=dt.date(1990, 1, 1),
                           format="DD/MM/YYYY" if ctx.lang == "vi" else "YYYY-MM-DD")
    entry["as_of"] = as_of.isoformat() if as_of else None
    entry["citation"] = right.text_input(ctx.t("data.citation"), key=f"data_citation_{kind}") or None
    if kind in ("coverage-raster", "footprint", "ookla"):
        a, b, c = st.columns(3)
        if kind == "coverage-raster":
            entry["operator"] = a.selectbox(ctx.t("operator.label"), OPERATORS_MOBILE, key="data_op_raster")
        elif kind == "ookla":
            entry["operator"] = a.text_input(ctx.t("operator.label"), "Ookla (all operators)", key="data_op_ookla")
        else:
            entry["operator"] = a.text_input(ctx.t("operator.label"), key="data_op_footprint") or None
        techs = BROADBAND_MOBILE if kind == "coverage-raster" else (*BROADBAND_MOBILE, "fixed")
        entry["technology"] = b.selectbox(ctx.t("tech.label"), techs, key=f"data_tech_{kind}",
                                          format_func=lambda x: ctx.t(f"tech.{x}"))
        if kind == "coverage-raster":
            entry["threshold"] = c.number_input(ctx.t("data.threshold"), value=-110.0, step=1.0, key="data_threshold")
        elif kind == "ookla":
            entry["min_download_mbps"] = c.number_input(ctx.t("data.min_download"), value=40.0, min_value=0.1,
                                                        key="data_min_download")
        else:
            entry["crs"] = c.text_input(ctx.t("data.crs"), key="data_crs") or None
    return {k: v for k, v in entry.items() if v is not None}


def _report(ctx: state.Ctx, report: ValidationReport, name: str | None = None) -> None:
    """The validation report: a summary line, and every problem as a row (file, row or feature,
    field, problem)."""
    name = name or report.path
    if report.ok:
        st.success(ctx.t("data.report_ok", name=name, count=fmt.number(report.count, ctx.lang)),
                   icon=":material/task_alt:")
        if report.note:
            st.caption(ctx.t("data.report_note", note=report.note))
    else:
        st.error(ctx.t("data.report_refused", name=name, message=report.message), icon=":material/block:")
        rows = pd.DataFrame(report.table(), columns=["file", "where", "field", "message"])
        rows = rows.rename(columns={c: ctx.t(f"data.col.{c}") for c in rows.columns})
        # A static table wraps the long messages (what to do is at their end); long reports scroll.
        with st.container(height=460 if len(rows) > 12 else "content"):
            st.table(rows.set_index(rows.columns[0]))
    for warning in report.warnings:
        st.caption(ctx.t("data.report_warning", text=warning))


def _versions(ctx: state.Ctx, scenario) -> None:  # noqa: ANN001
    found = imports.versions(scenario)
    if not found:
        return
    with st.expander(ctx.t("data.versions", n=len(found))):
        frame = pd.DataFrame({
            ctx.t("data.col.version"): [f"{v.number}{' *' if v.current else ''}" for v in found],
            ctx.t("data.col.created"): [v.created_at.replace("T", " ") for v in found],
            ctx.t("data.col.kind"): [ctx.t("data.initial") if v.kind == "initial" else ctx.t(f"data.kind.{v.kind}")
                                     for v in found],
            ctx.t("data.col.changed"): [v.file or "" for v in found],
            ctx.t("data.col.source"): [v.source or "" for v in found],
            "SHA-256": [f"{v.sha256[:12]}…" if v.sha256 else "" for v in found],
        })
        st.table(frame.set_index(frame.columns[0]))
        st.caption(ctx.t("data.versions_note", path=str(imports.versions_dir(scenario))))
