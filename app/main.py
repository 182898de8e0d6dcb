"""The app's page flow: language, the results store (built on first start), the sidebar, and
the chosen view. ``streamlit_app.py`` only calls :func:`run`."""

from __future__ import annotations

import importlib
import unicodedata
from pathlib import Path

import streamlit as st

from app import auth, data, fmt, layout, state
from coverage import access
from app.i18n import tr


def run() -> None:
    """One run of the script: everything the reader sees, from the session's choices."""
    lang = state.init_language()
    st.set_page_config(page_title=tr("app.page_title", lang), page_icon="📶", layout="wide")
    state.persist()
    state.apply_navigation()
    who = auth.current(lang)  # stops at the sign-in form until the reader has signed in
    path = _store(lang)
    key = data.ref(path)
    # Other operators' layers are not even offered to an operator: every choice (and every
    # choice repaired from a crafted session state) comes from what the role may see.
    manifest = access.manifest_view(who, data.manifest(key))
    names = {s: province_names(key, s) for s in state.SCHEMES}
    if who.role == "province":
        st.session_state.setdefault("scheme", who.scheme)
        st.session_state.setdefault("province", who.province)
    state.repair(manifest, {s: list(n) for s, n in names.items()}, data.province_crosswalk(key))
    lang = layout.language_switch()
    layout.sidebar(manifest, lang, names)
    auth.sign_out(lang, who, names)
    ctx = state.Ctx(key=key, manifest=manifest, lang=lang, selection=state.selection(), who=who)
    access.check_layer(who, ctx.selection.layer)
    st.title(ctx.t("app.title"))
    _view(st.session_state["view"]).render(ctx)


def _view(name: str):
    """The module of a view, imported when first shown: the national page should not wait for
    the progress page's charting library or the operator page's export engine."""
    if name not in state.VIEWS:  # state.repair keeps it valid; this guards the import by name
        raise ValueError(f"unknown view {name!r}")
    return importlib.import_module(f"app.views.{name}")


def _store(lang: str) -> Path:
    """The store to show; the demo is built here on first start, with its steps on screen."""
    try:
        ready = data.ready_store()
    except data.StoreProblem as exc:
        st.error(tr("store.problem", lang, message=str(exc)))
        st.stop()
    if ready is not None:
        return ready
    with st.status(tr("build.running", lang), expanded=True) as status:
        path = data.build_demo_store(progress=lambda step: status.write(tr("build.step", lang, step=step)))
        status.update(label=tr("build.done", lang), state="complete", expanded=False)
    return path


def province_names(key: data.StoreRef, scheme: str) -> dict[str, str]:
    """Province code -> name of a scheme, ordered by name (the list readers pick from)."""
    table = data.table(key, "province", scheme)
    return dict(sorted(zip(table["code"], table["name"]), key=lambda item: _sort_key(item[1])))


def _sort_key(name: str) -> str:
    """Sort "Tỉnh Bắc Giang" under B, not under T (unit-type prefix dropped), and Đ after D."""
    name = fmt.short_name(name).replace("Đ", "D\uffff").replace("đ", "d\uffff")
    return "".join(c for c in unicodedata.normalize("NFD", name) if not unicodedata.combining(c)).casefold()
