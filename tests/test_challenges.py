"""Challenges on SQLite and on a real PostgreSQL server: filing checks, the lifecycle, withdraw
rules, two reviewers deciding at once, exports, the command line, and the schema migration."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from app.cli import app as cli
from coverage import challenges as ch
from coverage import db
from coverage.models import Challenge
from tests._challenge_store import communes


@pytest.fixture(scope="module")
def units(challenge_store: Path) -> ch.StoreUnits:
    return ch.load_units(challenge_store)


@pytest.fixture(scope="module")
def places(data_dir: Path) -> list[tuple[str, float, float]]:
    return communes(data_dir)


@pytest.fixture()
def engine(db_url: str) -> sa.Engine:
    return db.connect(db_url)


def _good(**changes: object) -> dict:
    values = dict(series="test", filed_by="Nguyễn Văn A", organisation="Sở KH&CN Hà Nội", kind="not_covered",
                  unit_code="V1", technology="4G", operator="Viettel", reason="No 4G signal measured in the village",
                  evidence_text="Drive test 2025-03-02: RSRP below -120 dBm everywhere")
    values.update(changes)
    return values


def _count(engine: sa.Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (conn.scalar(sa.text("select count(*) from challenges")),
                conn.scalar(sa.text("select count(*) from audit_log")))


def _bad_cases(places: list[tuple[str, float, float]]) -> list[tuple[dict, str]]:
    (c1, lon1, lat1), (c2, lon2, lat2) = places
    return [
        (dict(series=" "), "series"),
        (dict(filed_by=""), "filed_by"),
        (dict(organisation=""), "organisation"),
        (dict(reason=""), "reason"),
        (dict(reason="x" * 6000), "reason"),
        (dict(kind="slow"), "kind"),
        (dict(unit_code="V404"), "unit_code"),
        (dict(technology="3G"), "technology"),
        (dict(operator="Nobody"), "operator"),
        (dict(technology="fixed", operator="MobiFone"), "operator"),          # MobiFone has no fixed layer here
        (dict(kind="covered", operator="all"), "operator"),                   # covered by whom?
        (dict(kind="covered", technology="any"), "technology"),
        (dict(households=-1), "households"),
        (dict(households=2.5), "households"),
        (dict(kind="wrong_location", technology="any", operator="all"), "lon"),  # coordinates required
        (dict(kind="wrong_location", lon=0.0, lat=0.0), "lon"),              # not in Vietnam
        (dict(kind="wrong_location", lon=106.70, lat=10.78), "lon"),          # Hồ Chí Minh City: another commune
        (dict(kind="wrong_location", lon=lon1, lat=float("nan")), "lat"),
        (dict(kind="missing_village", unit_code="99999", unit_name="Thôn Mới", lon=lon2, lat=lat2), "unit_code"),
        (dict(kind="missing_village", unit_code=c2, lon=lon2, lat=lat2), "unit_name"),
        (dict(kind="missing_village", unit_code=c2, unit_name="Tổ 1", lon=lon2, lat=lat2), "unit_name"),  # exists
        (dict(kind="missing_village", unit_code=c2, unit_name="Thôn Mới", lon=lon2, lat=lat2, households=5000),
         "households"),                                                       # more than the commune has
        (dict(kind="missing_village", unit_code=c2, unit_name="Thôn Mới", lon=lon1 + 0.3, lat=lat1 + 0.3),
         "lon"),                                                              # not in that commune
        (dict(evidence_text="", evidence=None), "evidence_text"),
        (dict(evidence=("photo.exe", b"MZ")), "evidence_file"),
        (dict(evidence=("photo.jpg", b"")), "evidence_file"),
        (dict(evidence=Path("/nonexistent/report.pdf")), "evidence_file"),
        (dict(snapshot_id=999), "snapshot_id"),
    ]


def test_filing_checks_every_field(engine, units, places) -> None:
    for changes, field in _bad_cases(places):
        with pytest.raises(ch.ChallengeInputError) as err:
            ch.file(units, **_good(**changes), engine=engine)
        assert field in err.value.fields, (changes, err.value.problems)
        assert f"{field}:" in str(err.value)
    assert _count(engine) == (0, 0)  # nothing written by a refused filing
    # Every problem at once, not only the first.
    with pytest.raises(ch.ChallengeInputError) as err:
        ch.file(units, **_good(filed_by="", unit_code="V404", households=-3), engine=engine)
    assert set(err.value.fields) == {"filed_by", "unit_code", "households"}
    # The same open claim twice.
    ch.file(units, **_good(), engine=engine)
    with pytest.raises(ch.ChallengeInputError, match="already says the same"):
        ch.file(units, **_good(filed_by="Someone else"), engine=engine)


def test_evidence_size_limit(engine, units, monkeypatch) -> None:
    monkeypatch.setenv(ch.EVIDENCE_LIMIT_ENV, "0.001")  # about 1 kB
    with pytest.raises(ch.ChallengeInputError, match="the limit is 0.001 MB") as err:
        ch.file(units, **_good(evidence=("scan.pdf", b"%PDF" + b"0" * 2000)), engine=engine)
    assert err.value.fields == ["evidence_file"]
    assert not ch.evidence_dir().exists() or not any(ch.evidence_dir().rglob("*"))


def test_lifecycle_file_decide_list_export(engine, units, places, tmp_path) -> None:
    (c1, lon1, lat1), (c2, lon2, lat2) = places
    photo = b"\x89PNG fake photo of a signal meter"
    a = ch.file(units, **_good(evidence=("meter.png", photo)), engine=engine)
    assert (a.status, a.version, a.province_code, a.province_code_34, a.unit_name) == ("open", 1, "01", "01", "Thôn 1")
    assert ch.evidence_path(a.evidence_sha256).read_bytes() == photo and a.evidence_file == "meter.png"
    b = ch.file(units, **_good(kind="missing_village", unit_code=c2, unit_name="Thôn Mới", lon=lon2 + 0.001,
                               lat=lat2, households=80, technology="any", operator="all",
                               filed_by="Trần B", organisation="Viettel"), engine=engine)
    assert (b.unit_level, b.technology, b.operator) == ("commune", "any", "all")
    c = ch.file(units, **_good(kind="wrong_location", unit_code="V2", lon=lon1 + 0.002, lat=lat1), engine=engine)

    done = ch.decide(a.id, "accepted", "Reviewer R", "Confirmed by the operator", engine=engine)
    assert (done.status, done.reviewer, done.decision_note, done.version) == ("accepted", "Reviewer R",
                                                                              "Confirmed by the operator", 2)
    assert done.decided_at is not None
    ch.decide(b.id, "rejected", "Reviewer R", "The village is part of Tổ 1", expected_version=1, engine=engine)
    with pytest.raises(ch.ChallengeConflict, match="already accepted by Reviewer R"):
        ch.decide(a.id, "rejected", "Reviewer Q", engine=engine)
    with pytest.raises(ch.ChallengeNotFound):
        ch.decide(999, "accepted", "Reviewer R", engine=engine)
    with pytest.raises(ch.ChallengeInputError):
        ch.decide(c.id, "maybe", "Reviewer R", engine=engine)

    assert [x.id for x in ch.list_challenges(engine, series="test")] == [c.id, b.id, a.id]
    assert [x.id for x in ch.list_challenges(engine, status="open")] == [c.id]
    assert [x.id for x in ch.list_challenges(engine, status=["accepted", "rejected"], kind="missing_village")] == [b.id]
    assert len(ch.list_challenges(engine, province="01", scheme="34")) == 3
    assert ch.list_challenges(engine, province="02") == [] and ch.list_challenges(engine, series="other") == []
    assert [x.id for x in ch.accepted("test", engine)] == [a.id]

    log = db.audit_log(engine)
    assert [(e.action, e.object_id) for e in reversed(log)] == [
        ("challenge.file", str(a.id)), ("challenge.file", str(b.id)), ("challenge.file", str(c.id)),
        ("challenge.decide", str(a.id)), ("challenge.decide", str(b.id))]
    assert log[0].detail == {"decision": "rejected", "note": "The village is part of Tổ 1"}

    rows = ch.list_challenges(engine, series="test")
    csv = ch.export(rows, "csv", tmp_path / "ch.csv", units=units, filters={"series": "test"})
    table = pd.read_csv(csv, dtype={"unit_code": str})
    assert list(table["id"]) == [c.id, b.id, a.id] and list(table["status"]) == ["open", "rejected", "accepted"]
    assert "challenge test" not in table.columns and table["source"].str.contains("SYNTHETIC").all()
    gj = json.loads(ch.export(rows, "geojson", tmp_path / "ch.geojson", units=units).read_text(encoding="utf-8"))
    assert gj["metadata"]["features"] == "3" and gj["metadata"]["layer"] == "challenges"
    points = {f["properties"]["id"]: (f["geometry"]["coordinates"], f["properties"]["point_source"])
              for f in gj["features"]}
    village_1 = units.villages.loc["V1", ["lon", "lat"]].tolist()
    assert points[a.id] == (pytest.approx(village_1), "village")
    assert points[c.id] == (pytest.approx([lon1 + 0.002, lat1]), "challenge")
    gpkg = ch.export(rows, "gpkg", tmp_path / "ch.gpkg", units=units)
    layer = pyogrio.read_dataframe(gpkg, layer="challenges")
    assert len(layer) == 3 and layer.crs.to_epsg() == 4326
    assert "metadata" in [name for name, _ in pyogrio.list_layers(gpkg)]
    with pytest.raises(ch.ChallengeError, match="unknown format"):
        ch.export(rows, "shp", tmp_path / "ch.zip")


def test_withdraw_only_by_its_filer_and_only_while_open(engine, units) -> None:
    a = ch.file(units, **_good(), engine=engine)
    with pytest.raises(ch.ChallengeNotAllowed, match="only by the person who filed it"):
        ch.withdraw(a.id, "Somebody Else", engine=engine)
    gone = ch.withdraw(a.id, "  Nguyễn  Văn A ", "filed by mistake", engine=engine)
    assert (gone.status, gone.version, gone.decision_note) == ("withdrawn", 2, "filed by mistake")
    with pytest.raises(ch.ChallengeNotAllowed, match="no longer open"):
        ch.withdraw(a.id, "Nguyễn Văn A", engine=engine)
    with pytest.raises(ch.ChallengeConflict, match="withdrawn by Nguyễn Văn A"):
        ch.decide(a.id, "accepted", "Reviewer R", engine=engine)
    b = ch.file(units, **_good(), engine=engine)
    ch.decide(b.id, "accepted", "Reviewer R", engine=engine)
    with pytest.raises(ch.ChallengeNotAllowed, match="no longer open"):
        ch.withdraw(b.id, "Nguyễn Văn A", engine=engine)
    with pytest.raises(ch.ChallengeNotFound):
        ch.withdraw(999, "Nguyễn Văn A", engine=engine)
    # A filer does not review their own challenge.
    c = ch.file(units, **_good(unit_code="V2", kind="covered"), engine=engine)
    with pytest.raises(ch.ChallengeNotAllowed, match="another person reviews it"):
        ch.decide(c.id, "accepted", "Nguyễn Văn A", engine=engine)
    assert [e.action for e in db.audit_log(engine)].count("challenge.withdraw") == 1


def test_two_reviewers_deciding_at_once_cannot_both_win(engine, units) -> None:
    """Each reviewer reads the open challenge in their own session, both wait at a barrier, then
    both decide: exactly one decision is recorded, the other reviewer gets ChallengeConflict."""
    for round_ in range(5):
        target = ch.file(units, **_good(unit_code=["V1", "V2", "V3"][round_ % 3], reason=f"round {round_}"),
                         engine=engine)
        barrier = threading.Barrier(2)
        outcome: dict[str, object] = {}

        def review(name: str, decision: str) -> None:
            seen = ch.get(target.id, engine)  # own session, own pooled connection
            assert seen.status == "open"
            barrier.wait(timeout=30)
            try:
                outcome[name] = ch.decide(target.id, decision, name, expected_version=seen.version, engine=engine)
            except ch.ChallengeConflict as exc:
                outcome[name] = exc

        threads = [threading.Thread(target=review, args=("Reviewer 1", "accepted")),
                   threading.Thread(target=review, args=("Reviewer 2", "rejected"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        won = {k: v for k, v in outcome.items() if isinstance(v, Challenge)}
        lost = {k: v for k, v in outcome.items() if isinstance(v, ch.ChallengeConflict)}
        assert len(won) == 1 and len(lost) == 1, outcome
        winner, result = next(iter(won.items()))
        assert "your decision was not recorded" in str(next(iter(lost.values())))
        stored = ch.get(target.id, engine)
        assert (stored.reviewer, stored.status, stored.version) == (winner, result.status, 2)
        decisions = [e for e in db.audit_log(engine, action="challenge.decide") if e.object_id == str(target.id)]
        assert [e.actor for e in decisions] == [winner]


def test_a_decision_waiting_on_another_s_transaction_loses(engine, units) -> None:
    """Reviewer 2 writes while reviewer 1's decision is written but not yet committed: the
    database makes reviewer 2 wait, and after the commit reviewer 2's conditional update finds
    the challenge decided (no read-then-write window)."""
    target = ch.file(units, **_good(), engine=engine)
    written, events = threading.Event(), {}

    def first() -> None:
        with db.session(engine) as s:
            ch._decide(s, target.id, "accepted", "Reviewer 1", "", 1)
            written.set()
            time.sleep(1.0)
            events["committed"] = time.monotonic()

    def second() -> None:
        written.wait(timeout=30)
        try:
            ch.decide(target.id, "rejected", "Reviewer 2", expected_version=1, engine=engine)
            events["second"] = "won"
        except ch.ChallengeConflict:
            events["second"] = "conflict"
        events["second_done"] = time.monotonic()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert events["second"] == "conflict"
    assert events["second_done"] >= events["committed"]  # it waited for the first to commit
    assert ch.get(target.id, engine).reviewer == "Reviewer 1"


def test_cli_files_lists_decides_and_exports(db_url, challenge_store, tmp_path) -> None:
    run = CliRunner().invoke
    base = ["challenges"]
    filed = run(cli, [*base, "file", "--db", db_url, "--store", str(challenge_store), "--by", "Lê C",
                      "--organisation", "VNPT", "--kind", "covered", "--unit", "V2", "--technology", "fixed",
                      "--operator", "VNPT", "--households", "120", "--reason", "Fibre laid in 2025",
                      "--evidence", "contract 12/2025"])
    assert filed.exit_code == 0, filed.output
    cid = int(filed.stdout.strip().split()[-1].lstrip("#"))
    bad = run(cli, [*base, "file", "--db", db_url, "--store", str(challenge_store), "--by", "Lê C",
                    "--organisation", "VNPT", "--kind", "covered", "--unit", "V404", "--technology", "fixed",
                    "--operator", "VNPT", "--reason", "x", "--evidence", "y"])
    assert bad.exit_code == 1 and "unit_code" in bad.stderr
    listed = run(cli, [*base, "list", "--db", db_url, "--status", "open"])
    assert listed.exit_code == 0, listed.output
    table = pd.read_csv(io.StringIO(listed.stdout))
    assert list(table["id"]) == [cid] and table.at[0, "series"] == "challenge test"
    ok = run(cli, [*base, "decide", str(cid), "--db", db_url, "--accept", "--reviewer", "R1", "--note", "seen"])
    assert ok.exit_code == 0, ok.output
    late = run(cli, [*base, "decide", str(cid), "--db", db_url, "--reject", "--reviewer", "R2"])
    assert late.exit_code == 3 and "already accepted by R1" in " ".join(late.stderr.split())
    own = run(cli, [*base, "withdraw", str(cid), "--db", db_url, "--by", "Lê C"])
    assert own.exit_code == 1 and "no longer open" in " ".join(own.stderr.split())
    out = tmp_path / "challenges.geojson"
    exported = run(cli, [*base, "export", "--db", db_url, "--store", str(challenge_store), "--out", str(out),
                         "--format", "geojson", "--status", "accepted"])
    assert exported.exit_code == 0, exported.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert [f["properties"]["id"] for f in doc["features"]] == [cid]
    compared = run(cli, [*base, "compare", "--db", db_url, "--store", str(challenge_store), "--level", "commune",
                         "--technology", "fixed"])
    assert compared.exit_code == 0, compared.output
    cmp = pd.read_csv(io.StringIO(compared.stdout), dtype={"code": str, "challenge_ids": str}).set_index("code")
    changed = cmp[cmp["challenge_ids"].notna()]
    assert list(changed["challenge_ids"]) == [str(cid)]
    assert changed["households_covered_with"].iloc[0] - changed["households_covered_without"].iloc[0] == 120


def test_migration_0002_up_and_down(db_url) -> None:
    engine = db.connect(db_url)
    db.downgrade(engine, "0002")
    assert db.revision(engine) == "0002"
    assert "province_code_34" in {c["name"] for c in sa.inspect(engine).get_columns("challenges")}
    db.downgrade(engine, "0001")
    assert db.revision(engine) == "0001"
    assert "province_code_34" not in {c["name"] for c in sa.inspect(engine).get_columns("challenges")}
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:  # 0001's checks survive the downgrade
        conn.execute(sa.text("insert into challenges (series, filed_by, filed_at, kind, unit_code, status) "
                             "values ('s', 'x', '2025-01-01', 'not_covered', 'V1', 'lost')"))
    db.upgrade(engine)
    assert db.revision(engine) == db.head()


@pytest.mark.slow
def test_page_files_reviews_lists_and_compares(db_url, demo_store, monkeypatch) -> None:
    """The challenges page on the demo: a filing refused then filed, a decision, a decision that
    lost to someone else's, the list with a filter, and the figures with and without."""
    from streamlit.testing.v1 import AppTest

    from app import data as app_data
    from app.i18n import tr

    monkeypatch.setenv(db.DB_URL_ENV, db_url)
    monkeypatch.delenv(app_data.STORE_ENV, raising=False)
    engine = db.connect(db_url)
    villages = pd.read_parquet(demo_store / "villages.parquet", columns=["village_id", "province_63", "households",
                                                                           "cov__any__all"])
    covered = villages[(villages["province_63"] == "02") & villages["cov__any__all"] & (villages["households"] > 0)]
    first, second = covered["village_id"].iloc[:2]
    t = lambda key, **v: tr(key, "vi", **v)  # noqa: E731

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "streamlit_app.py"), default_timeout=120).run()
    at = at.sidebar.radio(key="view").set_value("challenges").run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.info[0].value == t("ch.no_signin")  # no sign-in yet, and the page says so
    at.text_input(key="ch_name").input("Nguyễn Văn A")
    at.text_input(key="ch_org").input("Sở KH&CN Hà Giang")
    at.selectbox(key="ch_province").set_value("02").run()
    at.selectbox(key="ch_village").set_value(first)
    at.button(key="ch_submit").click().run()  # no reason, no evidence
    refused = " ".join(e.value for e in at.error)
    assert t("ch.not_filed") in refused and t("ch.field.reason") in refused and t("ch.field.evidence_text") in refused
    assert ch.list_challenges(engine) == []
    at.text_area(key="ch_reason").input("Không có sóng tại thôn")
    at.text_area(key="ch_evidence").input("Đo ngày 2/3/2025, RSRP dưới -120 dBm")
    at.button(key="ch_submit").click().run()
    assert [s.value for s in at.success] == [t("ch.filed", id=1)]
    filed = ch.get(1, engine)
    assert (filed.unit_code, filed.kind, filed.technology, filed.operator, filed.province_code) == (
        first, "not_covered", "any", "all", "02")
    at.selectbox(key="ch_village").set_value(second)
    at.button(key="ch_submit").click().run()
    assert [s.value for s in at.success] == [t("ch.filed", id=2)]

    # Review: the filer cannot decide; a reviewer can.
    at.selectbox(key="ch_review_id").set_value(1)
    at.button(key="ch_accept").click().run()
    assert any("Nguyễn Văn A" in e.value for e in at.error) and ch.get(1, engine).status == "open"
    at.text_input(key="ch_name").input("Reviewer R").run()
    at.text_area(key="ch_note").input("Đã kiểm tra")
    at.button(key="ch_accept").click().run()
    assert [s.value for s in at.success] == [t("ch.decided", id=1, status=t("ch.status.accepted"))]
    assert (ch.get(1, engine).status, ch.get(1, engine).reviewer) == ("accepted", "Reviewer R")
    # Challenge 2 is on screen (version 1) when someone else decides it; then R clicks reject.
    assert at.selectbox(key="ch_review_id").value == 2
    ch.decide(2, "accepted", "Reviewer Q", "seen on site", engine=engine)
    at.button(key="ch_reject").click().run()
    lost = " ".join(e.value for e in at.error)
    assert "Reviewer Q" in lost and t("ch.status.accepted") in lost and "#2" in lost
    assert (ch.get(2, engine).status, ch.get(2, engine).reviewer) == ("accepted", "Reviewer Q")
    assert [e.actor for e in db.audit_log(engine, action="challenge.decide")] == ["Reviewer Q", "Reviewer R"]
    assert at.info and any(i.value == t("ch.review.none") for i in at.info)

    # List, filtered.
    listing = next(d.value for d in at.dataframe if t("ch.col.filed_by") in d.value.columns)
    assert list(listing["#"]) == [2, 1]
    at.multiselect(key="ch_f_status").set_value(["rejected"]).run()
    assert t("ch.list.count", n=0) in [c.value for c in at.caption]
    at.multiselect(key="ch_f_status").set_value(["accepted"]).run()
    assert t("ch.list.count", n=2) in [c.value for c in at.caption]

    # With and without: Hà Giang (63) loses both villages' households, and names both challenges.
    base = pd.read_parquet(demo_store / "provinces_63.parquet", columns=[
        "code", "households", "hh_cov__any__all", "cov__any__all"]).set_index("code").loc["02"]
    compared = next(d.value for d in at.dataframe if t("ch.col.challenges") in d.value.columns)
    row = compared.set_index(t("col.code")).loc["02"]
    lost_hh = covered["households"].iloc[:2].sum()
    pct = 100 * base["hh_cov__any__all"] / base["households"]
    assert row[t("ch.col.hh_pct_without")] == pytest.approx(pct, abs=0.005)  # shown to 2 decimals
    assert row[t("ch.col.hh_pct_with")] == pytest.approx(pct - 100 * lost_hh / base["households"], abs=0.005)
    assert (row[t("ch.col.vil_without")], row[t("ch.col.vil_with")]) == (base["cov__any__all"], base["cov__any__all"] - 2)
    assert row[t("ch.col.challenges")] == "#1, #2" and len(compared) == 1


def test_roles_drafts_and_decisions(engine, units) -> None:
    """A province challenges its own units, an operator its own network; drafts stay with their
    filer until submitted; only the ministry decides, under its signed-in name."""
    from coverage.access import AccessDenied, Principal

    hanoi = Principal("Sở Hà Nội", "province", province="01", scheme="63")
    other = Principal("Sở Huế", "province", province="46", scheme="63")
    viettel = Principal("vt-planner", "operator", operator="Viettel")
    mobifone = Principal("mf-planner", "operator", operator="MobiFone")
    ministry = Principal("Bộ TT&TT", "ministry")

    with pytest.raises(AccessDenied, match="own province"):
        ch.file(units, **_good(), engine=engine, who=other)
    with pytest.raises(AccessDenied, match="own network"):
        ch.file(units, **_good(), engine=engine, who=mobifone)
    assert _count(engine) == (0, 0)
    by_op = ch.file(units, **_good(), engine=engine, who=viettel)
    assert (by_op.filed_by, by_op.organisation) == ("vt-planner", "Viettel")  # typed names replaced

    draft = ch.file(units, **_good(unit_code="V2", technology="any", operator="all"), engine=engine, who=hanoi,
                    draft=True)
    assert draft.status == "draft" and draft.filed_by == "Sở Hà Nội"
    seen = lambda who: {c.id for c in ch.list_challenges(engine, viewer=who)}  # noqa: E731
    assert seen(hanoi) == {by_op.id, draft.id}
    assert seen(ministry) == seen(viettel) == {by_op.id}
    with pytest.raises(ch.ChallengeNotAllowed, match="is a draft"):
        ch.decide(draft.id, "accepted", "Bộ TT&TT", engine=engine, who=ministry)  # not submitted yet
    with pytest.raises(ch.ChallengeNotAllowed, match="only by the person who filed it"):
        ch.submit(draft.id, "someone else", engine=engine)
    ch.submit(draft.id, "Sở Hà Nội", engine=engine)
    assert seen(ministry) == {by_op.id, draft.id}

    for who in (hanoi, viettel):
        with pytest.raises(AccessDenied, match="ministry reviews"):
            ch.decide(draft.id, "accepted", who.name, engine=engine, who=who)
    done = ch.decide(draft.id, "accepted", "typed name", engine=engine, who=ministry)
    assert (done.status, done.reviewer) == ("accepted", "Bộ TT&TT")
    actions = [e.action for e in db.audit_log(engine)]
    assert actions.count("challenge.draft") == 1 and "challenge.submit" in actions
