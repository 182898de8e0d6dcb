"""Roles applied to data, users and sign-in sessions (on SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from coverage import access, db, users
from coverage.access import AccessDenied, Principal
from coverage.models import User, UserSession

MINISTRY = Principal("bo", "ministry")
SON_LA = Principal("son-la", "province", province="14", scheme="63")
VIETTEL = Principal("vt", "operator", operator="Viettel")

SITES = pd.DataFrame({"site_id": ["a", "b", "c"], "operator": ["Viettel", "MobiFone", "Viettel"]})
VILLAGES = pd.DataFrame({"code": ["v1", "v2", "v3"], "province_63": ["14", "14", "01"],
                         "province_34": ["14", "14", "01"], "households": [10, 20, 30],
                         "cov__any__all": [True, False, True], "cov__4G__Viettel": [True, False, False],
                         "cov__4G__MobiFone": [False, False, True], "hh_cov__4G__MobiFone": [0, 0, 30]})


def test_sites_by_role() -> None:
    assert list(access.sites(MINISTRY, SITES)["site_id"]) == ["a", "b", "c"]
    assert list(access.sites(VIETTEL, SITES)["site_id"]) == ["a", "c"]
    assert access.sites(SON_LA, SITES).empty
    access.check_sites(VIETTEL, "Viettel")
    for who, op in ((VIETTEL, "MobiFone"), (VIETTEL, None), (SON_LA, "Viettel")):
        with pytest.raises(AccessDenied, match="may not read"):
            access.check_sites(who, op)


def test_villages_by_role() -> None:
    assert access.villages(MINISTRY, VILLAGES).equals(VILLAGES)
    own = access.villages(SON_LA, VILLAGES)
    assert list(own["code"]) == ["v1", "v2"] and "cov__4G__MobiFone" in own
    op = access.villages(VIETTEL, VILLAGES)
    assert list(op["code"]) == ["v1", "v2", "v3"]
    assert "cov__4G__Viettel" in op and "cov__any__all" in op
    assert not {"cov__4G__MobiFone", "hh_cov__4G__MobiFone"} & set(op.columns)
    assert "hh_cov__4G__MobiFone" not in access.units(VIETTEL, VILLAGES)


def test_layers_detail_and_challenges_by_role() -> None:
    layers = ["any__all", "4G__all", "4G__Viettel", "4G__MobiFone"]
    assert access.visible_layers(VIETTEL, layers) == ["any__all", "4G__all", "4G__Viettel"]
    assert access.visible_layers(SON_LA, layers) == ["any__all", "4G__all"]
    assert access.visible_layers(MINISTRY, layers) == layers
    with pytest.raises(AccessDenied, match="per-operator layer '4G__MobiFone'"):
        access.check_layer(VIETTEL, "4G__MobiFone")
    access.check_province_detail(SON_LA, "14", "63")
    with pytest.raises(AccessDenied, match="own province only"):
        access.check_province_detail(SON_LA, "01", "63")
    access.check_challenge(SON_LA, province="14", scheme="63", operator="MobiFone")
    with pytest.raises(AccessDenied, match="own province"):
        access.check_challenge(SON_LA, province="01", scheme="63", operator="all")
    access.check_challenge(VIETTEL, province="01", scheme="63", operator="Viettel")
    with pytest.raises(AccessDenied, match="own network"):
        access.check_challenge(VIETTEL, province="01", scheme="63", operator="MobiFone")
    access.check_decide(MINISTRY)
    for who in (SON_LA, VIETTEL):
        with pytest.raises(AccessDenied, match="ministry reviews"):
            access.check_decide(who)
    with pytest.raises(AccessDenied, match="no operator"):
        Principal("x", "operator")


def test_users_sign_in_expiry_and_sign_out(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = db.connect(db_url)
    assert not users.any_users(engine)
    who = users.add_user("Lan", "province", "correct horse battery", province="14", scheme="63",
                         known_provinces={"14", "01"}, engine=engine)
    assert who == SON_LA.__class__("Lan", "province", province="14", scheme="63")
    assert users.any_users(engine)
    with db.session(engine) as s:
        stored = s.scalar(sa.select(User.password_hash))
    assert stored.startswith("$argon2id$") and "correct horse" not in stored

    with pytest.raises(users.SignInError):
        users.sign_in("Lan", "wrong password!", engine)
    with pytest.raises(users.SignInError):
        users.sign_in("Nobody", "correct horse battery", engine)
    token, principal = users.sign_in("Lan", "correct horse battery", engine)
    assert principal.role == "province" and users.resolve(token, engine) == principal
    with db.session(engine) as s:
        assert s.scalar(sa.select(UserSession.token_sha256)) != token  # only the hash is kept
    assert users.resolve(token + "x", engine) is None

    users.sign_out(token, engine)
    assert users.resolve(token, engine) is None
    monkeypatch.setenv(users.SESSION_HOURS_ENV, "0.0001")  # under half a second
    token, _ = users.sign_in("Lan", "correct horse battery", engine)
    with db.session(engine) as s:
        s.execute(sa.update(UserSession).values(expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
    assert users.resolve(token, engine) is None
    actions = [e.action for e in db.audit_log(engine)]
    assert actions.count("sign_in.failed") == 2 and actions.count("sign_in") == 2
    assert "sign_out" in actions and "user.add" in actions


def test_add_user_refuses_bad_fields(db_url: str) -> None:
    engine = db.connect(db_url)
    with pytest.raises(users.UserError) as err:
        users.add_user("x", "operator", "short", operator="Nokia", known_operators={"Viettel"}, engine=engine)
    assert "field operator: 'Nokia' is not one of Viettel" in str(err.value)
    assert "field password: at least 10 characters" in str(err.value)
    with pytest.raises(users.UserError, match="field province: '99' is not a province code of the 34 scheme"):
        users.add_user("y", "province", "long enough pw", province="99", known_provinces={"01"}, engine=engine)
    with pytest.raises(users.UserError, match="field role"):
        users.add_user("z", "admin", "long enough pw", engine=engine)
    users.add_user("vt", "operator", "long enough pw", operator="Viettel", engine=engine)
    with pytest.raises(users.UserError, match="a user of that name exists"):
        users.add_user("vt", "ministry", "long enough pw", engine=engine)
    users.set_disabled("vt", engine=engine)
    assert not users.any_users(engine)
    with pytest.raises(users.SignInError):
        users.sign_in("vt", "long enough pw", engine)


def test_cli_users(db_url: str, data_dir) -> None:
    from typer.testing import CliRunner

    from app.cli import app

    run = CliRunner().invoke
    ok = run(app, ["users", "add", "lan", "--role", "province", "--province", "14", "--scheme", "63",
                   "--password-stdin", "--db", db_url], input="a long password\n")
    assert ok.exit_code == 0, ok.output
    assert "lan (province: 14)" in ok.output
    bad = run(app, ["users", "add", "op", "--role", "operator", "--operator", "Nokia", "--password-stdin",
                    "--db", db_url], input="a long password\n")
    assert bad.exit_code == 1 and "'Nokia' is not one of" in " ".join(bad.output.split())
    bad = run(app, ["users", "add", "p", "--role", "province", "--province", "99", "--password-stdin",
                    "--db", db_url], input="a long password\n")
    assert bad.exit_code == 1 and "not a province code of the 34 scheme" in " ".join(bad.output.split())
    listed = run(app, ["users", "list", "--db", db_url])
    assert listed.exit_code == 0 and "lan\tprovince\t14 (63)\tactive" in listed.output
    assert run(app, ["users", "disable", "lan", "--db", db_url]).exit_code == 0
    assert "disabled" in run(app, ["users", "list", "--db", db_url]).output
