"""Who sees what in the app: sign-in, roles applied to what the pages get, crafted requests.

Each rule is checked where the data is read (``app.data``, ``coverage.export``), not only by
what the page draws, including the negative cases: a crafted session state, another operator's
layer, another province's villages, an expired sign-in.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from app import data as app_data
from app.i18n import tr
from coverage import db, users
from coverage.access import Principal
from coverage.models import UserSession

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "streamlit_app.py")
PASSWORD = "a long password"


@pytest.fixture()
def accounts(demo_store: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Principal]:
    """A fresh database with one user per role (a province of the 63 scheme: Sơn La, 14)."""
    monkeypatch.setenv(db.DB_URL_ENV, f"sqlite:///{tmp_path / 'roles.sqlite3'}")
    monkeypatch.delenv(app_data.STORE_ENV, raising=False)
    engine = db.connect()
    return {
        "ministry": users.add_user("bo", "ministry", PASSWORD, engine=engine),
        "province": users.add_user("son-la", "province", PASSWORD, province="14", scheme="63", engine=engine),
        "operator": users.add_user("viettel", "operator", PASSWORD, operator="Viettel", engine=engine),
    }


def _signed_in(name: str, password: str = PASSWORD, **state: object) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.title[0].value == tr("auth.title", "vi") and not at.tabs  # nothing but the form
    at.text_input(key="auth_name").input(name)
    at.text_input(key="auth_password").input(password)
    at.button[0].click().run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_local_mode_without_users(demo_store: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(db.DB_URL_ENV, f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    monkeypatch.delenv(app_data.STORE_ENV, raising=False)
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert any(tr("auth.local_mode", "vi") in i.value for i in at.sidebar.info)
    assert at.title[0].value == tr("app.title", "vi")


def test_wrong_password_and_expired_sign_in(accounts: dict) -> None:
    at = _signed_in("viettel", "not the password")
    assert at.error and at.error[0].value == tr("auth.failed", "vi")
    assert at.title[0].value == tr("auth.title", "vi")
    at = _signed_in("viettel")
    assert at.title[0].value == tr("app.title", "vi")
    with db.session() as s:  # the sign-in ends (as after VNBB_SESSION_HOURS): back to the form
        s.execute(sa.update(UserSession).values(expires_at=sa.func.datetime("now", "-1 minute")))
    at.run()
    assert at.title[0].value == tr("auth.title", "vi")


def test_operator_is_offered_and_given_only_its_own_network(accounts: dict, demo_store: Path) -> None:
    # A crafted session state asking for another operator's layer is repaired before any read.
    at = _signed_in("viettel", tech="4G", op="MobiFone")
    assert at.title[0].value == tr("app.title", "vi")
    assert at.session_state["op"] == "all"
    options = at.sidebar.selectbox(key="op").options
    assert "Viettel" in " ".join(options) and not any("MobiFone" in o for o in options)
    key = app_data.ref(demo_store)
    own = app_data.sites(key, accounts["operator"])
    assert len(own) and set(own["operator"]) == {"Viettel"}
    assert len(app_data.sites(key, accounts["ministry"])["operator"].unique()) == 5
    # The data page (imports, rebuilds) is the ministry's.
    at.sidebar.radio(key="view").set_value("data").run()
    assert any(tr("auth.data_ministry_only", "vi") in i.value for i in at.info)


def test_province_sees_its_own_villages_only(accounts: dict, demo_store: Path) -> None:
    key = app_data.ref(demo_store)
    son_la = accounts["province"]
    cols = ["village_id", "province_63", "cov__any__all"]
    own = app_data.village_subset(key, "63", "14", cols, son_la)
    assert len(own) > 100 and set(own["province_63"]) == {"14"}
    assert app_data.village_subset(key, "63", "01", cols, son_la).empty
    assert len(app_data.village_subset(key, "63", "01", cols, accounts["ministry"])) > 100
    assert app_data.sites(key, son_la).empty  # site lists are the operators' own

    at = _signed_in("son-la")
    at.sidebar.radio(key="view").set_value("province").run()
    assert at.session_state["province"] == "14"  # opens on its own province
    assert not any(tr("auth.detail_own_only", "vi") in i.value for i in at.info)
    at.session_state["province"] = "01"  # another province: figures, but no village detail
    at.run()
    assert not at.exception
    assert any(tr("auth.detail_own_only", "vi") in i.value for i in at.info)
