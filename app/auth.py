"""Who is reading: sign-in, sign-out and the reader's :class:`~coverage.access.Principal`.

Modes, by the ``VNBB_AUTH`` setting:

- ``password`` (default): users and Argon2id password hashes in the project's database
  (``vnbb users add``). With no users at all the app runs in single-user local mode, and says so.
- ``oidc``: Streamlit's built-in OpenID Connect sign-in (``st.login``, configured under
  ``[auth]`` in ``.streamlit/secrets.toml``); the identity provider's e-mail (or name) must
  match a user created with ``vnbb users add``, who carries the role.

The session token lives only in this browser session's state; the database holds its hash and
expiry, and every rerun checks it, so an expired or revoked sign-in ends at the next click.
"""

from __future__ import annotations

import os

import streamlit as st
from sqlalchemy.engine import Engine

from app.i18n import tr
from coverage import db, users
from coverage.access import LOCAL, Principal

AUTH_ENV = "VNBB_AUTH"
_TOKEN = "_auth_token"


def engine() -> Engine:
    """The project's database (engines are shared per URL and migrated once per process)."""
    return db.connect()


def mode() -> str:
    """``password`` or ``oidc``."""
    value = os.environ.get(AUTH_ENV, "password").strip().lower()
    return value if value in ("password", "oidc") else "password"


def current(lang: str) -> Principal:
    """The reader, signing them in first when needed (the page stops until they have)."""
    try:
        eng = engine()
        if mode() == "oidc":
            return _oidc(lang, eng)
        if not users.any_users(eng):
            return LOCAL
    except db.DatabaseError as exc:
        # Fail closed: without the database nobody's role can be known, and falling back to the
        # local mode would show a shared server's data to anyone.
        st.error(tr("auth.db_problem", lang, message=str(exc)))
        st.stop()
    who = users.resolve(st.session_state.get(_TOKEN), eng)
    if who is None:
        st.session_state.pop(_TOKEN, None)
        _sign_in_form(lang, eng)
        st.stop()
    return who


def _sign_in_form(lang: str, eng: Engine) -> None:
    st.title(tr("auth.title", lang))
    with st.form("sign_in"):
        name = st.text_input(tr("auth.name", lang), key="auth_name")
        password = st.text_input(tr("auth.password", lang), type="password", key="auth_password")
        submitted = st.form_submit_button(tr("auth.sign_in", lang))
    if submitted:
        try:
            token, _who = users.sign_in(name, password, eng)
        except users.SignInError:
            st.error(tr("auth.failed", lang))
            return
        st.session_state[_TOKEN] = token
        st.session_state.pop("auth_password", None)
        st.rerun()
    st.caption(tr("auth.hint", lang, hours=f"{users.session_hours():g}"))


def _oidc(lang: str, eng: Engine) -> Principal:
    if not st.user.is_logged_in:
        st.title(tr("auth.title", lang))
        st.button(tr("auth.sign_in_oidc", lang), on_click=st.login)
        st.stop()
    ident = str(st.user.get("email") or st.user.get("name") or "")
    who = users.principal_named(ident, eng)
    if who is None:
        st.error(tr("auth.oidc_unknown", lang, ident=ident))
        st.button(tr("auth.sign_out", lang), on_click=st.logout)
        st.stop()
    return who


def label(who: Principal, lang: str, province_names: dict[str, dict[str, str]] | None = None) -> str:
    """The reader as the page names them: name, role and province (by name) or operator."""
    if who.role == "province":
        name = (province_names or {}).get(who.scheme, {}).get(who.province or "", who.province or "")
        return tr("auth.who", lang, name=who.name, role=tr("auth.role.province", lang), where=name)
    if who.role == "operator":
        return tr("auth.who", lang, name=who.name, role=tr("auth.role.operator", lang), where=who.operator)
    return tr("auth.who_ministry", lang, name=who.name) if who.role == "ministry" else who.name


def sign_out(lang: str, who: Principal, province_names: dict[str, dict[str, str]] | None = None) -> None:
    """The reader's name and role in the sidebar, with a sign-out button (or the local-mode note)."""
    if who.role == "local":
        st.sidebar.info(tr("auth.local_mode", lang))
        return
    st.sidebar.caption(tr("auth.signed_in_as", lang, who=label(who, lang, province_names)))
    if st.sidebar.button(tr("auth.sign_out", lang), key="sign_out"):
        if mode() == "oidc":
            st.logout()
        users.sign_out(st.session_state.pop(_TOKEN, None), engine())
        st.rerun()
