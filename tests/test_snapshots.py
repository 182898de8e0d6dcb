"""Snapshots on SQLite and on a real PostgreSQL server: registering built stores (dated by their
inputs), replacing, frozen copies, figures over time in both schemes, what changed between two
snapshots, the command line, and the demo's synthetic history in the app.

Two small hand-made scenarios in Hà Giang and Tuyên Quang (merged into Tuyên Quang on 1 July
2025, so the 34-scheme figures are sums of two old provinces) are built once per module.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from app.cli import app as cli
from coverage import db, progress, snapshots, store
from coverage.models import Snapshot
from geodata import load_registry

HA_GIANG, TUYEN_QUANG, NEW_TUYEN_QUANG = "02", "08", "08"


def _scenario(folder: Path, registry, *, as_of: str | None, site_as_of: str = "2024-06-30",
              sites: list[tuple[str, str, int]], fixed: list[tuple[str, str, int]], name: str = "snap test") -> Path:
    """Four villages, two communes in Hà Giang and one in Tuyên Quang.

    ``sites``: (operator, village the site stands on, radius m); ``fixed``: (village, operator, passed).
    """
    communes = registry.units("63", "commune")
    hg = communes[communes["parent_code"] == HA_GIANG].head(2)
    tq = communes[communes["parent_code"] == TUYEN_QUANG].head(1)
    (c1, x1, y1), (c2, x2, y2) = hg[["code", "lon", "lat"]].itertuples(index=False)
    (c3, x3, y3), = tq[["code", "lon", "lat"]].itertuples(index=False)
    villages = pd.DataFrame({"village_id": ["V1", "V2", "V3", "V4"], "name": ["Bản 1", "Bản 2", "Thôn 3", "Thôn 4"],
                             "commune_code": [c1, c1, c2, c3], "lon": [x1, x1 + 0.05, x2, x3],
                             "lat": [y1, y1, y2, y3], "households": [100, 50, 80, 200]})
    folder.mkdir(parents=True)
    meta = f'name = "{name}"\nsynthetic = true\n' + (f'as_of = "{as_of}"\n' if as_of else "")
    meta += ('[[sources]]\nfile = "households.csv"\nprovenance = "official"\nas_of = "2019-04-01"\n'
             f'[[sources]]\nfile = "sites.csv"\nprovenance = "modelled"\nas_of = "{site_as_of}"\n'
             f'[[sources]]\nfile = "fixed.csv"\nprovenance = "declared"\nas_of = "{site_as_of}"\n')
    (folder / "scenario.toml").write_text(meta, encoding="utf-8")
    pd.DataFrame({"commune_code": [c1, c2, c3], "households": [200, 100, 250]}).to_csv(
        folder / "households.csv", index=False)
    villages.to_csv(folder / "villages.csv", index=False)
    at = villages.set_index("village_id")
    pd.DataFrame({"site_id": [f"S{i}" for i in range(len(sites))], "operator": [s[0] for s in sites],
                  "technology": "4G", "lon": [at.at[s[1], "lon"] for s in sites],
                  "lat": [at.at[s[1], "lat"] for s in sites], "radius_m": [s[2] for s in sites]}
                 ).to_csv(folder / "sites.csv", index=False)
    if fixed:
        pd.DataFrame(fixed, columns=["village_id", "operator", "households_passed"]).to_csv(
            folder / "fixed.csv", index=False)
    return folder


# A: Viettel on V1; VNPT fibre to V3.  B (a quarter later): Viettel also on V2, MobiFone on V4, no fibre.
SITES_A = [("Viettel", "V1", 500)]
SITES_B = [("Viettel", "V1", 500), ("Viettel", "V2", 500), ("MobiFone", "V4", 500)]
FIXED_A = [("V3", "VNPT", 60)]


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> dict[str, Path]:
    """Scenarios and built stores (built once; registration is what the tests exercise)."""
    registry = load_registry(data_dir)
    root = tmp_path_factory.mktemp("snapshots")
    out = {
        "scn_a": _scenario(root / "a", registry, as_of="2024-06-30", sites=SITES_A, fixed=FIXED_A),
        "scn_b": _scenario(root / "b", registry, as_of="2024-09-30", sites=SITES_B, fixed=[]),
        "scn_undated": _scenario(root / "undated", registry, as_of=None, site_as_of="2024-03-31",
                                 sites=SITES_A, fixed=FIXED_A, name="undated"),
    }
    for key in ("a", "b", "undated"):
        out[key] = store.build(out[f"scn_{key}"], root / f"store_{key}", data_dir=data_dir)
    return out


def _copy_store(src: Path, dst: Path) -> Path:
    shutil.copytree(src.resolve(), dst)
    return dst


def test_as_of_comes_from_the_inputs_not_the_build_time(db_url: str, stores: dict[str, Path]) -> None:
    engine = db.connect(db_url)
    snap = snapshots.register(stores["a"], engine=engine)
    assert (snap.series, snap.as_of, snap.synthetic) == ("snap test", dt.date(2024, 6, 30), True)
    assert snap.built_at.date() == dt.date.today() != snap.as_of  # built now, stands for June
    # no as_of in scenario.toml: the latest as-of of the coverage inputs (not the 2019 census)
    undated = snapshots.register(stores["undated"], engine=engine)
    assert undated.as_of == dt.date(2024, 3, 31)
    assert snapshots.as_of_of({"scenario": {"as_of": ""}, "layer_sources": {"x": [{"as_of": "2023-12-31"}]}}) \
        == dt.date(2023, 12, 31)
    with pytest.raises(snapshots.SnapshotError, match="as-of date"):
        snapshots.as_of_of({"scenario": {"name": "x"}, "layer_sources": {"x": [{"as_of": ""}]}})
    # the frozen copy is in the state folder, with the same files, and the database says where
    path = snapshots.path_of(snap)
    assert path.is_relative_to(snapshots.snapshots_root()) and not Path(snap.store_path).is_absolute()
    assert sorted(p.name for p in path.iterdir()) == sorted(p.name for p in stores["a"].resolve().iterdir())
    log = db.audit_log(engine, action="snapshot.register")
    assert [e.object_id for e in log] == [str(undated.id), str(snap.id)]
    assert log[-1].detail["as_of"] == "2024-06-30" and log[-1].detail["store"] == str(stores["a"])
    assert snap.summary["schemes"] == ["63", "34"]
    hh = pd.read_parquet(stores["a"] / "provinces_63.parquet")
    assert snap.summary["hh_pct__any__all"] == pytest.approx(
        100 * hh["hh_cov__any__all"].sum() / hh["households"].sum(), abs=1e-4)


def test_same_as_of_replaces_and_the_frozen_copy_survives_rebuilds(db_url: str, stores: dict[str, Path],
                                                                   tmp_path: Path, data_dir: Path) -> None:
    engine = db.connect(db_url)
    live = store.build(stores["scn_a"], tmp_path / "live", data_dir=data_dir)
    first = snapshots.register(live, series="quarterly", engine=engine)
    frozen = snapshots.path_of(first)
    before = snapshots.read_table(first, "province", "63")
    # The next build of the same store (new inputs) deletes the version folder the store pointed at.
    version = live.resolve()
    store.build(stores["scn_b"], live, data_dir=data_dir)
    assert not version.exists() and live.resolve() != version
    assert snapshots.manifest_of(first)["scenario"]["as_of"] == "2024-06-30"
    pd.testing.assert_frame_equal(snapshots.read_table(first, "province", "63"), before)

    # Registering again with the same (series, as-of) replaces: same id, new copy, old copy gone.
    again = snapshots.register(live, series="quarterly", as_of="2024-06-30", engine=engine)
    assert again.id == first.id and again.manifest_sha256 != first.manifest_sha256
    assert not frozen.exists() and snapshots.path_of(again).is_dir()
    assert [(s.id, s.as_of) for s in snapshots.list_snapshots("quarterly", engine)] == [(first.id, dt.date(2024, 6, 30))]
    assert [e.action for e in db.audit_log(engine)][:2] == ["snapshot.replace", "snapshot.register"]
    # The same results once more change nothing (a rebuild that reused them).
    same = snapshots.register(live, series="quarterly", as_of="2024-06-30", engine=engine)
    assert same.registered_at == again.registered_at and len(db.audit_log(engine)) == 2
    b = snapshots.read_table(again, "province", "63").set_index("code")
    assert b.at[HA_GIANG, "cov__4G__Viettel"] == 2  # B's figures now stand for June


def test_a_failed_registration_leaves_nothing_behind(db_url: str, stores: dict[str, Path],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    engine = db.connect(db_url)
    kept = snapshots.register(stores["a"], engine=engine)

    def broken(*_args, **_kwargs):
        raise RuntimeError("the audit log is full")

    monkeypatch.setattr(db, "audit", broken)
    folders = set(snapshots.snapshots_root().rglob("manifest.json"))
    with pytest.raises(RuntimeError):
        snapshots.register(stores["b"], series="snap test", as_of="2024-06-30", engine=engine)
    with pytest.raises(RuntimeError):
        snapshots.register(stores["b"], engine=engine)  # a new date: the row must not appear either
    assert set(snapshots.snapshots_root().rglob("manifest.json")) == folders
    listed = snapshots.list_snapshots("snap test", engine)
    assert [(s.id, s.manifest_sha256) for s in listed] == [(kept.id, kept.manifest_sha256)]
    assert snapshots.path_of(listed[0]).is_dir()


def test_remove_deletes_row_and_copy_with_an_audit_entry(db_url: str, stores: dict[str, Path]) -> None:
    engine = db.connect(db_url)
    snap = snapshots.register(stores["a"], series="to remove", engine=engine)
    path = snapshots.path_of(snap)
    snapshots.remove(snap.id, actor="tester", engine=engine)
    assert not path.exists() and snapshots.list_snapshots("to remove", engine) == []
    entry = db.audit_log(engine, action="snapshot.remove")[0]
    assert (entry.actor, entry.object_id, entry.detail["as_of"]) == ("tester", str(snap.id), "2024-06-30")
    with pytest.raises(snapshots.SnapshotError, match="no snapshot"):
        snapshots.remove(snap.id, engine=engine)


def test_figures_over_time_in_both_schemes(db_url: str, stores: dict[str, Path]) -> None:
    engine = db.connect(db_url)
    a = snapshots.register(stores["a"], series="s", engine=engine)
    b = snapshots.register(stores["b"], series="s", engine=engine)
    f63 = snapshots.figures(snapshots.list_snapshots("s", engine), "63")
    assert list(f63.loc[f63["code"] == progress.NATION, "as_of"]) == [pd.Timestamp("2024-06-30"),
                                                                     pd.Timestamp("2024-09-30")]
    hg = f63[f63["code"] == HA_GIANG].set_index("snapshot_id")
    assert list(hg["cov__4G__Viettel"]) == [1, 2]  # V1, then V1 and V2
    assert hg.loc[a.id, "cov__4G__MobiFone"] == 0  # MobiFone absent from A: nothing covered
    f34 = snapshots.figures([b, a], "34")  # oldest first whatever the order given
    tq = f34[f34["code"] == NEW_TUYEN_QUANG].set_index("snapshot_id")
    assert tq.loc[a.id, "villages"] == 4 and tq.loc[a.id, "households"] == 550  # both old provinces
    nation = f34[f34["code"] == progress.NATION].set_index("snapshot_id")
    assert nation.loc[b.id, "cov__any__all"] == 3  # V1, V2, V4 (V3 lost its fibre)
    assert nation.loc[a.id, "cov__any__all"] == 2  # V1 and V3


def test_an_older_store_with_only_63_provinces_is_reexpressed(db_url: str, stores: dict[str, Path],
                                                             tmp_path: Path) -> None:
    engine = db.connect(db_url)
    old = _copy_store(stores["a"], tmp_path / "old-store")
    for name in ("provinces_34", "communes_34"):
        (old / f"{name}.parquet").unlink()
    full = snapshots.register(stores["a"], series="full", engine=engine)
    older = snapshots.register(old, series="older", engine=engine)
    assert older.summary["schemes"] == ["63"]
    expected = store.read_table(stores["a"], "province", "34").set_index("code")
    got = snapshots.read_table(older, "province", "34").set_index("code")
    assert (got["reexpressed_from"] == "63").all()
    assert got.at[NEW_TUYEN_QUANG, "households"] == 550 and got.at[NEW_TUYEN_QUANG, "name"] == "Tỉnh Tuyên Quang"
    cols = [c for c in expected.columns if c.startswith(("hh_cov__", "cov__", "hh_pct__", "vil_pct__",
                                                         "2289-")) or c in ("households", "villages")]
    pd.testing.assert_frame_equal(got.loc[expected.index, cols], expected[cols], check_dtype=False)
    # figures read the same either way
    a, b = snapshots.figures([full], "34"), snapshots.figures([older], "34")
    cols = [c for c in a.columns if c not in ("snapshot_id", "as_of")]
    pd.testing.assert_frame_equal(b.set_index("code").loc[a["code"], cols[1:]].reset_index(),
                                  a[cols], check_dtype=False)
    with pytest.raises(snapshots.SnapshotError, match="only provinces"):
        snapshots.read_table(older, "commune", "34")


def test_what_changed_between_two_snapshots(db_url: str, stores: dict[str, Path]) -> None:
    engine = db.connect(db_url)
    a = snapshots.register(stores["a"], series="s", engine=engine)
    b = snapshots.register(stores["b"], series="s", engine=engine)
    changed = snapshots.changes(a, b)
    got = {(v, layer, c) for v, layer, c in zip(changed["village_id"], changed["layer"], changed["change"])}
    expected = {("V2", "4G__Viettel", "gained"), ("V2", "4G__all", "gained"), ("V4", "4G__all", "gained"),
                ("V4", "4G__MobiFone", "gained"), ("V3", "fixed__VNPT", "lost"), ("V3", "fixed__all", "lost"),
                ("V2", "any__all", "gained"), ("V4", "any__all", "gained"), ("V3", "any__all", "lost")}
    interesting = {"4G__Viettel", "4G__all", "4G__MobiFone", "fixed__VNPT", "fixed__all", "any__all"}
    assert {g for g in got if g[1] in interesting} == expected
    assert changed.crs.to_epsg() == 4326 and len(changed.geometry) == len(changed)
    v3 = changed[(changed["village_id"] == "V3") & (changed["layer"] == "any__all")].iloc[0]
    assert (v3["technology"], v3["operator"], v3["province_63"], v3["province_34"]) == \
        ("any", "all", HA_GIANG, NEW_TUYEN_QUANG)
    assert (v3.geometry.x, v3.geometry.y) == pytest.approx((v3["lon"], v3["lat"]))
    per63 = snapshots.change_summary(changed, "63").set_index(["province", "layer"])
    assert per63.loc[(HA_GIANG, "any__all"), ["gained", "lost", "net"]].tolist() == [1, 1, 0]
    assert per63.loc[(HA_GIANG, "any__all"), ["households_gained", "households_lost"]].tolist() == [50, 80]
    assert per63.loc[(TUYEN_QUANG, "any__all"), ["gained", "lost", "net"]].tolist() == [1, 0, 1]
    per34 = snapshots.change_summary(changed, "34").set_index(["province", "layer"])
    assert per34.loc[(NEW_TUYEN_QUANG, "any__all"), ["gained", "lost", "net"]].tolist() == [2, 1, 1]
    total = snapshots.change_summary(changed, by_province=False).set_index("layer")
    assert total.loc["4G__all", "gained"] == 2 and "province" not in total
    assert snapshots.changes(b, b).empty and snapshots.change_summary(snapshots.changes(b, b)).empty
    only = snapshots.changes(a, b, layers=["fixed__VNPT"])
    assert list(zip(only["village_id"], only["change"])) == [("V3", "lost")]
    assert snapshots.village_list_changes(a, b) == {"only_before": 0, "only_after": 0, "both": 4}


def test_cli_build_registers_and_snapshot_commands(db_url: str, stores: dict[str, Path], tmp_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(cli, ["build", "--scenario", str(stores["scn_a"]), "--out", str(tmp_path / "st"),
                              "--db", db_url])
    assert out.exit_code == 0, out.output
    assert "snapshot 1: snap test, as of 2024-06-30" in out.stderr
    skipped = runner.invoke(cli, ["build", "--scenario", str(stores["scn_b"]), "--out", str(tmp_path / "st2"),
                                  "--db", db_url, "--no-snapshot"])
    assert skipped.exit_code == 0 and "snapshot" not in skipped.stderr
    added = runner.invoke(cli, ["snapshot", "add", "--store", str(stores["b"]), "--series", "other",
                                "--as-of", "2024-10-01", "--label", "Q3 report", "--db", db_url])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(cli, ["snapshot", "list", "--format", "json", "--db", db_url])
    rows = json.loads(listed.stdout)
    assert [(r["series"], r["as_of"], r["label"]) for r in rows] == [
        ("other", "2024-10-01", "Q3 report"), ("snap test", "2024-06-30", "snap test, 2024-06-30")]
    assert Path(rows[1]["path"]).is_dir()
    csv = runner.invoke(cli, ["snapshot", "list", "--series", "other", "--db", db_url])
    assert csv.stdout.splitlines()[0].startswith("id,series,as_of") and len(csv.stdout.splitlines()) == 2
    gone = runner.invoke(cli, ["snapshot", "remove", "--series", "other", "--as-of", "2024-10-01", "--db", db_url])
    assert gone.exit_code == 0 and "removed" in gone.stdout
    assert runner.invoke(cli, ["snapshot", "remove", "99", "--db", db_url]).exit_code == 1
    assert runner.invoke(cli, ["snapshot", "remove", "--db", db_url]).exit_code == 2
    # a build whose inputs state no date is kept, but not as a snapshot; the command still succeeds
    scn = tmp_path / "nodate"
    shutil.copytree(stores["scn_undated"], scn)
    meta = (scn / "scenario.toml").read_text(encoding="utf-8")
    (scn / "scenario.toml").write_text(meta.replace('as_of = "2024-03-31"', 'as_of = ""'), encoding="utf-8")
    nodate = runner.invoke(cli, ["build", "--scenario", str(scn), "--out", str(tmp_path / "st3"), "--db", db_url])
    assert nodate.exit_code == 0 and "not kept as a snapshot" in nodate.stderr
    assert len(json.loads(runner.invoke(cli, ["snapshot", "list", "--format", "json", "--db", db_url]).stdout)) == 1


def test_demo_history_is_synthetic_and_grows(tmp_path: Path, data_dir: Path) -> None:
    from coverage import demo

    written = demo.write_history(tmp_path / "h", 3, data_dir=data_dir)
    assert [d for d, _ in written] == [dt.date(2024, 6, 30), dt.date(2024, 9, 30), dt.date(2024, 12, 31)]
    current = demo.write_demo(tmp_path / "demo", data_dir=data_dir)
    for name in ("sites.csv", "fixed.csv", "villages.csv", "scenario.toml"):  # the last quarter is the demo
        assert (written[-1][1] / name).read_bytes() == (current / name).read_bytes()
    metas = [tomllib.loads((p / "scenario.toml").read_text(encoding="utf-8")) for _, p in written]
    assert all(m["synthetic"] is True for m in metas) and [m["as_of"] for m in metas] == \
        ["2024-06-30", "2024-09-30", "2024-12-31"]
    assert metas[0]["history"]["quarters_before_current"] == 2 and "SYNTHETIC" in metas[0]["history"]["method"]
    assert all(s["as_of"] == "2024-06-30" for s in metas[0]["sources"] if s["file"] != "households.csv")
    sites = [pd.read_csv(p / "sites.csv", dtype={"site_id": str}) for _, p in written]
    fixed = [pd.read_csv(p / "fixed.csv", dtype={"village_id": str}) for _, p in written]
    five_g = [int((s["technology"] == "5G").sum()) for s in sites]
    assert 0 < five_g[0] < five_g[1] < five_g[2] / 5  # 5G launched in the last quarter (trial sites before)
    assert len(sites[0]) < len(sites[1]) < len(sites[2])
    passed = [f["households_passed"].sum() for f in fixed]
    assert passed[0] < passed[1] < passed[2]
    no_4g = [m["history"]["achieved"]["villages_without_4g"] for m in metas[:2]]
    assert no_4g[0] > no_4g[1] > metas[2]["calibration"]["achieved"]["villages_without_4g"]
    assert "NOT REAL DATA" in (written[0][1] / "README.txt").read_text(encoding="utf-8")
    # a site never moves back and forth: a relocated site is at one place before, another after
    moved = sites[0].merge(sites[2], on="site_id").query("lon_x != lon_y")
    assert 0 < len(moved) < 0.01 * len(sites[2])
    with pytest.raises(demo.DemoError):
        demo.write_history(tmp_path / "x", 0)


@pytest.fixture(scope="session")
def history_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One output folder for `vnbb demo --history` on both databases: the second run finds its
    stores built with the same inputs and reuses them."""
    return tmp_path_factory.mktemp("demo-history")


@pytest.mark.slow
def test_cli_demo_history_builds_and_registers(db_url: str, history_out: Path, data_dir: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["demo", "--out", str(history_out), "--history", "2", "--db", db_url])
    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert [(line[1], line[2]) for line in lines] == [("Vietnam demo (SYNTHETIC, seed 42)", "2024-09-30"),
                                                      ("Vietnam demo (SYNTHETIC, seed 42)", "2024-12-31")]
    engine = db.connect(db_url)
    snaps = snapshots.list_snapshots("Vietnam demo (SYNTHETIC, seed 42)", engine)
    assert [s.as_of for s in snaps] == [dt.date(2024, 9, 30), dt.date(2024, 12, 31)] and all(s.synthetic for s in snaps)
    nation = snapshots.figures(snaps, "63").query("code == 'VN'").set_index("as_of")
    for layer in ("any__all", "fixed__all", "5G__all"):
        assert (nation[f"hh_cov__{layer}"].diff().dropna() > 0).all(), layer
    only = runner.invoke(cli, ["demo", "--out", str(history_out / "plain"), "--history", "2", "--no-register"])
    assert only.exit_code == 0 and len(only.stdout.splitlines()) == 2
    assert not (history_out / "plain" / "stores").exists()


def test_demo_registration_failure_does_not_stop_the_app(monkeypatch: pytest.MonkeyPatch, stores: dict[str, Path],
                                                         tmp_path: Path) -> None:
    from app import data as app_data

    monkeypatch.setenv(db.DB_URL_ENV, f"sqlite:///{tmp_path / 'missing' / 'db.sqlite3'}")
    message = app_data.register_demo_snapshot(stores["a"])
    assert message and "cannot open the database" in message


def test_snapshot_rows_are_plain_after_the_session(db_url: str, stores: dict[str, Path]) -> None:
    """Rows returned by the module are usable after their session closed (the app caches them)."""
    engine = db.connect(db_url)
    snapshots.register(stores["a"], engine=engine)
    snap = snapshots.list_snapshots(engine=engine)[0]
    assert isinstance(snap, Snapshot) and snap.summary["layers"]
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from snapshots")).scalar() == 1
    assert snapshots.get(snap.id, engine).as_of == snap.as_of
    assert snapshots.series_names(engine) == ["snap test"]
    assert np.isclose(snapshots.find("snap test", "2024-06-30", engine).summary["households"], 550)
