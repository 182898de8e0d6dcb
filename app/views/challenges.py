"""Challenges page: file a challenge against a figure, review the open ones, list them, and see
the figures with and without the accepted corrections.

Until sign-in exists, people type their name and organisation, and the page says so. The work
stays in :mod:`coverage.challenges` and :mod:`coverage.corrections`; here the store's units
and corrected results are cached (corrected results per set of accepted challenges, so a new
decision is picked up at once). A decision carries the version of the challenge the reviewer
saw when the page was drawn (the buttons' callbacks get it as an argument), so a reviewer who
clicks after someone else decided is told so instead of overwriting that decision.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import auth, data, fmt, layout, metrics, state
from app.i18n import tr
from coverage import challenges, corrections, db
from coverage import export as gis
from coverage.engine import TECHS
from coverage.access import LOCAL, Principal
from coverage.models import CHALLENGE_KINDS, CHALLENGE_STATUSES, Challenge
from geodata.errors import VnbbError

_FLASH = "_ch_flash"
_ALL = ""


def render(ctx: state.Ctx) -> None:
    """Who you are, then four tabs: file, review, list, with/without corrections."""
    scheme = ctx.selection.scheme
    st.subheader(ctx.t("ch.heading"))
    layout.banners(ctx, [f"provinces_{scheme}"])
    st.caption(ctx.t("ch.intro"))
    if ctx.who.role == "local":
        st.info(ctx.t("ch.no_signin"), icon=":material/badge:")
        left, right = st.columns(2)
        left.text_input(ctx.t("ch.name"), key="ch_name")
        right.text_input(ctx.t("ch.organisation"), key="ch_org")
    else:  # the signed-in person files and decides under their own name (coverage.challenges)
        st.session_state["ch_name"] = ctx.who.name
        st.caption(ctx.t("auth.signed_in_as", who=auth.label(ctx.who, ctx.lang)))
    try:
        url = db.default_url()
        db.connect(url)
    except VnbbError as exc:
        st.error(ctx.t("ch.db_problem", message=str(exc)))
        return
    series = challenges.default_series(ctx.manifest)
    st.caption(ctx.t("ch.series", series=series))
    flash = st.session_state.pop(_FLASH, None)
    if flash:
        (st.success if flash[0] == "ok" else st.error)(flash[1])
    tab_file, tab_review, tab_list, tab_compare = st.tabs(
        [ctx.t("ch.tab.file"), ctx.t("ch.tab.review"), ctx.t("ch.tab.list"), ctx.t("ch.tab.compare")])
    with tab_file:
        _file(ctx, url, series)
    with tab_review:
        _review(ctx, url, series)
    with tab_list:
        _list(ctx, url, series)
    with tab_compare:
        _compare(ctx, url, series)
    layout.sources(ctx, [f"provinces_{scheme}"])


@st.cache_resource(show_spinner=False, max_entries=4)
def _units(key: data.StoreRef) -> challenges.StoreUnits:
    return challenges.load_units(key.path)


@st.cache_resource(show_spinner=False, max_entries=4)
def _base(key: data.StoreRef) -> corrections.Base:
    return corrections.load_base(key.path)


@st.cache_resource(show_spinner=False, max_entries=8)
def _corrected(key: data.StoreRef, url: str, series: str, decided: tuple[tuple[int, int], ...]
               ) -> corrections.Corrected:
    """Corrected results for one set of accepted challenges (``decided``: their ids and versions)."""
    return corrections.apply(_base(key), challenges.accepted(series, db.connect(url)))


def _province_names(ctx: state.Ctx) -> dict[str, str]:
    table = data.table(ctx.key, "province", ctx.selection.scheme)
    return dict(sorted(zip(table["code"], table["name"]), key=lambda item: fmt.short_name(item[1])))


def _field(ctx: state.Ctx, name: str) -> str:
    return ctx.t(f"ch.field.{name}")


# -- filing -----------------------------------------------------------------------------------
def _file(ctx: state.Ctx, url: str, series: str) -> None:
    units = _units(ctx.key)
    scheme = ctx.selection.scheme
    ss = st.session_state
    names = _province_names(ctx)
    if ss.get("ch_province") not in names:
        ss["ch_province"] = ss.get("province") if ss.get("province") in names else next(iter(names))
    kind = st.selectbox(_field(ctx, "kind"), CHALLENGE_KINDS, key="ch_kind", format_func=lambda k: ctx.t(f"ch.kind.{k}"))
    left, right = st.columns(2)
    province = left.selectbox(ctx.t("province.label"), list(names), key="ch_province", format_func=names.__getitem__)
    unit_code, unit_name = None, ""
    if kind == "missing_village":
        communes = units.communes[units.communes["parent_code" if scheme == "63" else "province_34"] == province]
        options = sorted(communes.index, key=lambda c: communes.at[c, "name"])
        unit_code = right.selectbox(ctx.t("ch.commune"), options, key="ch_commune",
                                    format_func=lambda c: f"{communes.at[c, 'name']} ({c})")
        unit_name = st.text_input(_field(ctx, "unit_name"), key="ch_village_name")
    else:
        villages = units.villages[units.villages[f"province_{scheme}"] == province]
        commune_names = units.communes["name"]
        labels = {vid: f"{n} – {commune_names.get(c, c)} ({vid})"
                  for vid, n, c in zip(villages.index, villages["name"], villages["commune_code"])}
        unit_code = right.selectbox(ctx.t("ch.village"), list(labels), key="ch_village",
                                    format_func=labels.__getitem__)
    technology, operator = "any", "all"
    if kind in ("not_covered", "covered"):
        techs = [t for t in (TECHS if kind == "not_covered" else challenges.COVERED_TECHS)
                 if any(k.startswith(f"{t}__") for k in units.layers)]
        if ss.get("ch_tech") not in techs:
            ss["ch_tech"] = techs[0]
        a, b = st.columns(2)
        technology = a.selectbox(ctx.t("tech.label"), techs, key="ch_tech", format_func=lambda x: ctx.t(f"tech.{x}"))
        ops = [o for o in metrics.operators_for(ctx.manifest, technology) if kind == "not_covered" or o != metrics.ALL]
        if ss.get("ch_op") not in ops:
            ss["ch_op"] = ops[0]
        operator = b.selectbox(ctx.t("operator.label"), ops, key="ch_op",
                               format_func=lambda o: layout.operator_label(o, ctx.lang))
    located = kind in ("missing_village", "wrong_location")
    a, b, c = st.columns(3)
    lon = a.number_input(ctx.t("col.lon"), value=None, format="%.6f", key="ch_lon",
                         help=ctx.t("ch.point_help_required" if located else "ch.point_help"))
    lat = b.number_input(ctx.t("col.lat"), value=None, format="%.6f", key="ch_lat")
    households = c.number_input(_field(ctx, "households"), value=None, min_value=0, step=1, key="ch_households",
                                help=ctx.t("ch.households_help"))
    claim = st.text_input(_field(ctx, "claim"), key="ch_claim")
    reason = st.text_area(_field(ctx, "reason"), key="ch_reason")
    evidence_text = st.text_area(_field(ctx, "evidence_text"), key="ch_evidence")
    upload = st.file_uploader(ctx.t("ch.evidence_file", mb=fmt.number(challenges.evidence_limit_mb(), ctx.lang)),
                              type=[s.lstrip(".") for s in challenges.EVIDENCE_SUFFIXES], key="ch_upload")
    draft = st.checkbox(ctx.t("ch.draft"), key="ch_draft", help=ctx.t("ch.draft_help"))
    if not st.button(ctx.t("ch.submit"), key="ch_submit", type="primary"):
        return
    try:
        row = challenges.file(
            units, series=series, filed_by=ss.get("ch_name", ""), organisation=ss.get("ch_org", ""), kind=kind,
            unit_code=str(unit_code or ""), unit_name=unit_name, technology=technology, operator=operator,
            claim=claim, reason=reason, evidence_text=evidence_text,
            evidence=(upload.name, upload.getvalue()) if upload is not None else None,
            lon=lon, lat=lat, households=int(households) if households is not None else None,
            engine=db.connect(url), who=ctx.who, draft=draft)
    except challenges.ChallengeInputError as exc:
        st.error(ctx.t("ch.not_filed") + "\n" + "\n".join(f"- **{_field(ctx, f)}**: {m}" for f, m in exc.problems))
        return
    except VnbbError as exc:
        st.error(ctx.t("ch.not_possible", message=str(exc)))
        return
    st.success(ctx.t("ch.filed", id=row.id))


# -- reviewing --------------------------------------------------------------------------------
def _review(ctx: state.Ctx, url: str, series: str) -> None:
    drafts = challenges.list_challenges(db.connect(url), series=series, status="draft", viewer=ctx.who)
    for row in drafts:  # the reader's own drafts: nobody else sees them until submitted
        st.button(ctx.t("ch.submit_draft", id=row.id, label=_label(ctx, row)), key=f"ch_submit_{row.id}",
                  on_click=_submit, args=(ctx.lang, url, row.id, ctx.who))
    waiting = challenges.list_challenges(db.connect(url), series=series, status="open", viewer=ctx.who)
    if not waiting:
        st.info(ctx.t("ch.review.none"))
        return
    by_id = {c.id: c for c in waiting}
    if st.session_state.get("ch_review_id") not in by_id:
        st.session_state["ch_review_id"] = waiting[-1].id  # the oldest first
    pick = st.selectbox(ctx.t("ch.review.pick"), list(by_id), key="ch_review_id",
                        format_func=lambda i: _label(ctx, by_id[i]))
    row = by_id[pick]
    _details(ctx, row)
    st.text_area(ctx.t("ch.note"), key="ch_note")
    a, b, c = st.columns(3)
    args = (ctx.lang, url, row.id, row.version)
    may_decide = ctx.who.sees_everything  # coverage.challenges.decide checks it again
    a.button(ctx.t("ch.accept"), key="ch_accept", type="primary", on_click=_decide,
             args=(*args, "accepted", ctx.who), disabled=not may_decide)
    b.button(ctx.t("ch.reject"), key="ch_reject", on_click=_decide, args=(*args, "rejected", ctx.who),
             disabled=not may_decide)
    c.button(ctx.t("ch.withdraw"), key="ch_withdraw", on_click=_withdraw, args=(ctx.lang, url, row.id),
             help=ctx.t("ch.withdraw_help"))


def _submit(lang: str, url: str, challenge_id: int, who: Principal) -> None:
    ss = st.session_state
    try:
        challenges.submit(challenge_id, who.name if who.role != "local" else ss.get("ch_name", ""),
                          engine=db.connect(url))
    except VnbbError as exc:
        ss[_FLASH] = ("error", tr("ch.not_possible", lang, message=str(exc)))
        return
    ss[_FLASH] = ("ok", tr("ch.decided", lang, id=challenge_id, status=tr("ch.status.open", lang)))


def _decide(lang: str, url: str, challenge_id: int, version: int, decision: str, who: Principal = LOCAL) -> None:
    """Button callback: runs before the next script run, with the version shown on the page."""
    t = lambda k, **v: tr(k, lang, **v)  # noqa: E731
    ss = st.session_state
    engine = db.connect(url)
    try:
        challenges.decide(challenge_id, decision, ss.get("ch_name", ""), ss.get("ch_note", ""),
                          expected_version=version, engine=engine, who=who)
    except challenges.ChallengeConflict:
        now = challenges.get(challenge_id, engine)
        who = now.reviewer if now.status != "withdrawn" else now.filed_by
        ss[_FLASH] = ("error", t("ch.conflict", id=challenge_id, who=who or "–", status=t(f"ch.status.{now.status}"),
                                 at=_when(now.decided_at, lang)))
        return
    except challenges.ChallengeInputError as exc:
        ss[_FLASH] = ("error", t("ch.not_possible", message="; ".join(
            f"{t(f'ch.field.{f}')}: {m}" for f, m in exc.problems)))
        return
    except VnbbError as exc:
        ss[_FLASH] = ("error", t("ch.not_possible", message=str(exc)))
        return
    ss["ch_note"] = ""
    ss[_FLASH] = ("ok", t("ch.decided", id=challenge_id, status=t(f"ch.status.{decision}")))


def _withdraw(lang: str, url: str, challenge_id: int) -> None:
    ss = st.session_state
    try:
        challenges.withdraw(challenge_id, ss.get("ch_name", ""), ss.get("ch_note", ""), engine=db.connect(url))
    except VnbbError as exc:
        ss[_FLASH] = ("error", tr("ch.not_possible", lang, message=str(exc)))
        return
    ss[_FLASH] = ("ok", tr("ch.decided", lang, id=challenge_id, status=tr("ch.status.withdrawn", lang)))


def _when(value: object, lang: str) -> str:
    """A stored time (UTC; SQLite gives it back without its zone) as readers write it."""
    if not hasattr(value, "strftime"):
        return "–"
    return f"{fmt.date(value.isoformat(), lang)} {value:%H:%M} UTC"


def _unit_text(ctx: state.Ctx, row: Challenge) -> str:
    if row.unit_level == "commune":
        return ctx.t("ch.unit_missing", name=row.unit_name, commune=row.unit_code)
    return f"{row.unit_name} ({row.unit_code})"


def _label(ctx: state.Ctx, row: Challenge) -> str:
    return f"#{row.id} · {ctx.t(f'ch.kind_short.{row.kind}')} · {_unit_text(ctx, row)}"


def _layer_text(ctx: state.Ctx, row: Challenge) -> str:
    if row.kind not in ("not_covered", "covered"):
        return "–"
    return f"{ctx.t(f'tech.{row.technology}')}, {layout.operator_label(row.operator, ctx.lang)}"


def _details(ctx: state.Ctx, row: Challenge) -> None:
    """Everything about one challenge, and its evidence file to download."""
    lang = ctx.lang
    lines = [
        f"**#{row.id} · {ctx.t(f'ch.kind.{row.kind}')}** ({ctx.t(f'ch.status.{row.status}')})",
        ctx.t("ch.detail.unit", unit=_unit_text(ctx, row), layer=_layer_text(ctx, row)),
        ctx.t("ch.detail.filed", who=row.filed_by, org=row.organisation, at=_when(row.filed_at, lang)),
    ]
    if row.claim:
        lines.append(ctx.t("ch.detail.claim", text=row.claim))
    lines.append(ctx.t("ch.detail.reason", text=row.reason))
    if row.evidence_text:
        lines.append(ctx.t("ch.detail.evidence", text=row.evidence_text))
    if row.lon is not None:
        lines.append(ctx.t("ch.detail.point", lon=f"{row.lon:.6f}", lat=f"{row.lat:.6f}"))
    if row.households is not None:
        lines.append(ctx.t("ch.detail.households", n=fmt.number(row.households, lang)))
    if row.status != "open":
        who = row.reviewer if row.status != "withdrawn" else row.filed_by
        lines.append(ctx.t("ch.detail.decision", status=ctx.t(f"ch.status.{row.status}"), who=who or "–",
                           at=_when(row.decided_at, lang), note=row.decision_note or "–"))
    st.markdown("  \n".join(lines))
    if row.evidence_sha256:
        path = challenges.evidence_path(row.evidence_sha256)
        if path.is_file():
            st.download_button(ctx.t("ch.evidence_download", name=row.evidence_file), path.read_bytes(),
                               file_name=row.evidence_file or row.evidence_sha256, key=f"ch_evidence_{row.id}")


# -- listing ----------------------------------------------------------------------------------
def _list(ctx: state.Ctx, url: str, series: str) -> None:
    scheme = ctx.selection.scheme
    names = _province_names(ctx)
    a, b, c = st.columns(3)
    statuses = a.multiselect(_field(ctx, "status"), CHALLENGE_STATUSES, key="ch_f_status",
                             format_func=lambda s: ctx.t(f"ch.status.{s}"))
    kinds = b.multiselect(_field(ctx, "kind"), CHALLENGE_KINDS, key="ch_f_kind",
                          format_func=lambda k: ctx.t(f"ch.kind_short.{k}"))
    options = [_ALL, *names]
    if st.session_state.get("ch_f_province") not in options:
        st.session_state["ch_f_province"] = _ALL
    province = c.selectbox(ctx.t("province.label"), options, key="ch_f_province",
                           format_func=lambda p: ctx.t("ch.all_provinces") if p == _ALL else names[p])
    rows = challenges.list_challenges(db.connect(url), series=series, status=statuses, kind=kinds,
                                      province=province or None, scheme=scheme, viewer=ctx.who)
    st.caption(ctx.t("ch.list.count", n=fmt.number(len(rows), ctx.lang)))
    if not rows:
        return
    province_of = {c.id: (c.province_code if scheme == "63" else c.province_code_34) for c in rows}
    frame = pd.DataFrame({
        "#": [c.id for c in rows],
        ctx.t("ch.col.status"): [ctx.t(f"ch.status.{c.status}") for c in rows],
        ctx.t("ch.col.kind"): [ctx.t(f"ch.kind_short.{c.kind}") for c in rows],
        ctx.t("ch.col.unit"): [_unit_text(ctx, c) for c in rows],
        ctx.t("province.label"): [names.get(province_of[c.id], province_of[c.id]) for c in rows],
        ctx.t("ch.col.layer"): [_layer_text(ctx, c) for c in rows],
        ctx.t("ch.col.filed_by"): [f"{c.filed_by} ({c.organisation})" for c in rows],
        ctx.t("ch.col.filed_at"): [_when(c.filed_at, ctx.lang) for c in rows],
        ctx.t("ch.col.reviewer"): [c.reviewer or "–" for c in rows],
        ctx.t("ch.col.decided_at"): [_when(c.decided_at, ctx.lang) if c.decided_at else "–" for c in rows],
        ctx.t("ch.col.note"): [c.decision_note or "–" for c in rows],
    })
    st.dataframe(frame, hide_index=True, width="stretch")
    left, right = st.columns([1, 2])
    fmt_name = left.selectbox(ctx.t("export.format"), challenges.EXPORT_FORMATS, key="ch_format",
                              format_func=lambda f: ctx.t(f"export.format.{f}"))
    filters = {"series": series, "status": ",".join(statuses), "kind": ",".join(kinds),
               "province": province or None, "scheme": scheme if province else None}
    payload = challenges.to_bytes(rows, fmt_name, _units(ctx.key), filters)
    right.download_button(ctx.t("ch.download", fmt=fmt_name.upper()), payload,
                          file_name=f"vnbb_challenges{gis.SUFFIXES[fmt_name]}",
                          mime=gis.MEDIA_TYPES[fmt_name], key="ch_download", width="stretch")


# -- with and without -------------------------------------------------------------------------
def _compare(ctx: state.Ctx, url: str, series: str) -> None:
    scheme = ctx.selection.scheme
    rows = challenges.accepted(series, db.connect(url))
    st.caption(ctx.t("ch.compare.intro"))
    if not rows:
        st.info(ctx.t("ch.compare.none"))
        return
    ss = st.session_state
    techs = [t for t in TECHS if f"{t}__{metrics.ALL}" in ctx.manifest.get("layers", [])]
    if ss.get("ch_cmp_tech") not in techs:
        ss["ch_cmp_tech"] = techs[0]
    a, b = st.columns(2)
    technology = a.selectbox(ctx.t("tech.label"), techs, key="ch_cmp_tech", format_func=lambda x: ctx.t(f"tech.{x}"))
    ops = metrics.operators_for(ctx.manifest, technology)
    if ss.get("ch_cmp_op") not in ops:
        ss["ch_cmp_op"] = ops[0]
    operator = b.selectbox(ctx.t("operator.label"), ops, key="ch_cmp_op",
                           format_func=lambda o: layout.operator_label(o, ctx.lang))
    corrected = _corrected(ctx.key, url, series, tuple((c.id, c.version) for c in rows))
    st.caption(ctx.t("ch.compare.accepted", n=fmt.number(len(rows), ctx.lang),
                     applied=fmt.number(len(corrected.applied), ctx.lang)))
    for cid, why in corrected.skipped.items():
        st.warning(ctx.t("ch.compare.skipped", id=cid, why=why))
    for note in corrected.notes:
        st.caption(note)
    base = _base(ctx.key)
    table = corrections.comparison(base, corrected, "province", scheme, technology, operator)
    key = f"{technology}__{operator}"
    before, after = base.tables[f"provinces_{scheme}"], corrected.tables[f"provinces_{scheme}"]
    lang = ctx.lang
    specs = []
    for label, cov, total in (("metric.households", "hh_cov", "households"), ("metric.villages", "cov", "villages")):
        was = 100 * before[f"{cov}__{key}"].sum() / before[total].sum()
        now = 100 * after[f"{cov}__{key}"].sum() / after[total].sum()
        specs.append((ctx.t("ch.metric.corrected", what=ctx.t(label)), fmt.percent(now, lang),
                      ctx.t("ch.metric.without", value=fmt.percent(was, lang), diff=fmt.points(now - was, lang, 2))))
    layout.metric_row(specs)
    changed = table["challenge_ids"] != ""
    only = st.checkbox(ctx.t("ch.compare.only_changed"), value=True, key="ch_cmp_only")
    shown = table[changed] if only else table
    frame = pd.DataFrame({
        ctx.t("col.code"): shown["code"].to_numpy(), ctx.t("col.name"): shown["name"].to_numpy(),
        ctx.t("ch.col.hh_pct_without"): shown["households_pct_without"].to_numpy(),
        ctx.t("ch.col.hh_pct_with"): shown["households_pct_with"].to_numpy(),
        ctx.t("ch.col.vil_without"): shown["villages_covered_without"].to_numpy(),
        ctx.t("ch.col.vil_with"): shown["villages_covered_with"].to_numpy(),
        ctx.t("col.villages"): shown["villages_with"].to_numpy(),
        ctx.t("ch.col.challenges"): [", ".join(f"#{i}" for i in ids.split(",")) if ids else "–"
                                     for ids in shown["challenge_ids"]],
    })
    st.dataframe(layout.styled(frame, lang, {ctx.t("ch.col.hh_pct_without"): 2, ctx.t("ch.col.hh_pct_with"): 2,
                                             ctx.t("ch.col.vil_without"): 0, ctx.t("ch.col.vil_with"): 0,
                                             ctx.t("col.villages"): 0}),
                 hide_index=True, width="stretch")
    linked = sorted({int(i) for ids in table.loc[changed, "challenge_ids"] for i in ids.split(",")})
    if linked:
        by_id = {c.id: c for c in rows}
        pick = st.selectbox(ctx.t("ch.compare.open"), linked, key="ch_cmp_open",
                            format_func=lambda i: _label(ctx, by_id[i]) if i in by_id else f"#{i}")
        if pick in by_id:
            _details(ctx, by_id[pick])
