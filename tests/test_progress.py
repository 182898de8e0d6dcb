"""Trajectories, the recent pace and the projection: small cases computed by hand."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from app import data as app_data
from app import fmt, i18n
from coverage import db, progress, snapshots
from coverage.targets import Target

D = pd.Timestamp


def _target(tid: str, indicator: str, comparison: str, threshold: float, deadline: str,
            technologies: tuple[str, ...] = ("fixed", "4G", "5G")) -> Target:
    return Target(tid, tid, indicator, comparison, threshold, "percent", dt.date.fromisoformat(deadline),
                  technologies, "test")


def _frame(rows: list[tuple[str, str, float, float]], layer: str = "any__all") -> pd.DataFrame:
    """(code, as_of, households %, villages %) -> a figures frame of 1,000 households and 200 villages."""
    return pd.DataFrame({
        "snapshot_id": [hash(r[1]) % 1000 for r in rows], "as_of": [D(r[1]) for r in rows],
        "code": [r[0] for r in rows], "name": [f"unit {r[0]}" for r in rows],
        "households": 1000.0, "villages": 200.0,
        f"hh_cov__{layer}": [10.0 * r[2] for r in rows], f"cov__{layer}": [2.0 * r[3] for r in rows],
    })


def test_pace_is_the_least_squares_slope_per_year() -> None:
    # 365 days apart, +5 points: 5 / (365 / 365.25) points per year
    p = progress.pace(np.array(["A", "A"]), np.array([D("2024-01-01"), D("2024-12-31")]), np.array([90.0, 95.0]))
    assert p.loc["A", "n"] == 2 and p.loc["A", "latest"] == 95.0
    assert p.loc["A", "pace"] == pytest.approx(5 * 365.25 / 365)
    # three points off a line: slope of (0, 1, 3) at x = (0, 1, 2) years is 1.5, not (3 - 0) / 2
    when = [D("2020-01-01") + pd.Timedelta(days=round(365.25 * k)) for k in range(3)]
    p = progress.pace(np.array(["B"] * 3), np.array(when), np.array([50.0, 51.0, 53.0]))
    assert p.loc["B", "pace"] == pytest.approx(1.5, abs=2e-3)


def test_pace_uses_only_the_last_window_snapshots() -> None:
    quarters = pd.date_range("2022-03-31", periods=6, freq="QE")
    values = np.array([10.0, 60.0, 80.0, 81.0, 82.0, 83.0])  # a jump early on, then +1 point a quarter
    codes = np.array(["A"] * 6)
    recent = progress.pace(codes, quarters.to_numpy(), values)  # default window: 4
    assert recent.loc["A", "n"] == 4
    assert recent.loc["A", "pace"] == pytest.approx(4.0, rel=0.02)  # about 4 points a year
    everything = progress.pace(codes, quarters.to_numpy(), values, window=6)
    assert everything.loc["A", "pace"] > 20  # the early jump dominates when all points count
    single = progress.pace(np.array(["C"]), np.array([D("2024-12-31")]), np.array([70.0]))
    assert np.isnan(single.loc["C", "pace"])
    with pytest.raises(ValueError):
        progress.pace(codes, quarters.to_numpy(), values, window=1)


def test_reach_date_and_value_at_deadline() -> None:
    frame = _frame([("A", "2024-01-01", 90, 90), ("A", "2024-12-31", 95, 95)])
    targets = [_target("all-2025", "households", ">=", 100, "2025-12-31"),
               _target("more-than-99", "households", ">", 99, "2025-06-30")]
    o = progress.outlook(frame, targets).set_index("target_id")
    # 5 points in 365 days: 100 % 365 days after the latest snapshot, exactly on the deadline
    assert o.loc["all-2025", "reached_on"] == D("2025-12-31")
    assert o.loc["all-2025", "at_deadline"] == pytest.approx(100.0)
    assert bool(o.loc["all-2025", "will_meet"])
    # "> 99": 4 points to go take 292 days; strictly above the day after, 2025-10-20
    assert o.loc["more-than-99", "reached_on"] == D("2025-10-20")
    assert o.loc["more-than-99", "at_deadline"] == pytest.approx(95 + 5 * 181 / 365)
    assert not bool(o.loc["more-than-99", "will_meet"])
    assert o.loc["more-than-99", "shortfall_pp"] == pytest.approx(99 - (95 + 5 * 181 / 365))


def test_flat_falling_met_and_single_units() -> None:
    frame = _frame([("FLAT", "2024-06-30", 85, 99), ("FLAT", "2024-12-31", 85, 99),
                    ("FALL", "2024-06-30", 90, 97), ("FALL", "2024-12-31", 88, 96),
                    ("ONE", "2024-12-31", 50, 50)])
    targets = [_target("hh-80", "households", ">", 80, "2025-12-31"),
               _target("vil-100", "villages", ">=", 100, "2025-12-31")]
    o = progress.outlook(frame, targets).set_index(["target_id", "code"])
    flat, fall = o.loc[("hh-80", "FLAT")], o.loc[("vil-100", "FALL")]
    assert flat["met_now"] and flat["reached_on"] == D("2024-12-31") and flat["will_meet"]
    assert pd.isna(o.loc[("vil-100", "FLAT"), "reached_on"])  # flat at 99 %: never at this pace
    assert o.loc[("vil-100", "FLAT"), "at_deadline"] == pytest.approx(99.0)
    assert pd.isna(fall["reached_on"]) and not fall["will_meet"]
    days = (D("2025-12-31") - D("2024-12-31")).days
    pace = -1 / (184 / 365.25)  # -1 point in 184 days
    assert fall["pace"] == pytest.approx(pace)
    assert fall["at_deadline"] == pytest.approx(96 + pace * days / 365.25)
    one = o.loc[("hh-80", "ONE")]
    assert np.isnan(one["pace"]) and np.isnan(one["at_deadline"]) and pd.isna(one["reached_on"])
    missing = progress.misses(o.reset_index(), "vil-100")
    assert list(missing["code"]) == ["FALL", "FLAT"]  # furthest from the target first; ONE unknown
    assert list(progress.misses(o.reset_index(), "hh-80")["code"]) == []  # ONE (50 %, no pace) not counted


def test_passed_deadline_uses_the_observed_value() -> None:
    frame = _frame([("P", "2025-06-30", 70, 70), ("P", "2026-06-30", 90, 90),
                    ("Q", "2026-06-30", 95, 95), ("Q", "2027-06-30", 99, 99)])
    o = progress.outlook(frame, [_target("t", "households", ">=", 80, "2025-12-31")]).set_index("code")
    assert o.loc["P", "deadline_passed"] and o.loc["P", "at_deadline"] == 70.0 and not o.loc["P", "will_meet"]
    assert o.loc["P", "met_now"]  # met since, but late
    assert o.loc["Q", "deadline_passed"] and np.isnan(o.loc["Q", "at_deadline"])  # no snapshot that old
    assert list(progress.misses(o.reset_index(), "t")["code"]) == ["P"]


def test_projection_is_capped_and_unreachable_thresholds() -> None:
    frame = _frame([("A", "2024-01-01", 90, 90), ("A", "2024-12-31", 99, 99)])
    targets = [_target("all", "households", ">=", 100, "2030-12-31"),
               _target("above-all", "villages", ">", 100, "2030-12-31")]
    o = progress.outlook(frame, targets).set_index("target_id")
    assert o.loc["all", "at_deadline"] == 100.0  # not 99 + 9 * 6 years
    assert pd.isna(o.loc["above-all", "reached_on"]) and not o.loc["above-all", "will_meet"]


def test_targets_follow_their_layer_and_trajectory_columns() -> None:
    frame = _frame([("A", "2024-06-30", 40, 50), ("A", "2024-12-31", 50, 60)], layer="5G__all")
    frame["hh_cov__any__all"], frame["cov__any__all"] = 900.0, 190.0
    targets = [_target("5g", "households", ">=", 99, "2030-12-31", ("5G",)),
               _target("any", "households", ">", 80, "2025-12-31"),
               Target("count", "c", "provinces_with_5g", ">=", 100, "percent", dt.date(2025, 12, 31), ("5G",), "x")]
    o = progress.outlook(frame, targets).set_index("target_id")
    assert set(o.index) == {"5g", "any"}  # a count indicator has no trajectory
    assert o.loc["5g", "layer"] == "5G__all" and o.loc["5g", "latest"] == 50.0
    assert o.loc["any", "layer"] == "any__all" and o.loc["any", "latest"] == 90.0
    traj = progress.trajectory(frame, "4G__Viettel")  # a layer the frame lacks: nothing covered
    assert (traj["households_covered"] == 0).all() and (traj["villages_pct"] == 0).all()
    traj = progress.trajectory(frame.iloc[::-1], "5G__all")
    assert list(traj["as_of"]) == [D("2024-06-30"), D("2024-12-31")]
    assert list(traj["households_pct"]) == [40.0, 50.0] and list(traj["villages_pct"]) == [50.0, 60.0]


# -- the progress page on the demo's synthetic history (AppTest) --------------------------------
APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")


def _national_series(snaps: list, indicator: str, layer: str = "any__all", code: str | None = None,
                     scheme: str = "63") -> pd.DataFrame:
    """Per snapshot: as_of and the indicator, summed straight from each frozen store's provinces."""
    rows = []
    for s in snaps:
        t = pd.read_parquet(snapshots.path_of(s) / f"provinces_{scheme}.parquet")
        if code is not None:
            t = t[t["code"] == code]
        total = t["households" if indicator == "households" else "villages"].sum()
        covered = t[f"{'hh_cov' if indicator == 'households' else 'cov'}__{layer}"].sum()
        rows.append({"as_of": pd.Timestamp(s.as_of), "value": 100 * covered / total})
    return pd.DataFrame(rows)


def _fit(series: pd.DataFrame, window: int = 4) -> tuple[float, float, pd.Timestamp]:
    """numpy's least squares over the last ``window`` points: (latest, pp per year, latest date)."""
    last = series.tail(window)
    years = (last["as_of"] - last["as_of"].iloc[-1]).dt.days.to_numpy() / 365.25
    slope = np.polyfit(years, last["value"].to_numpy(), 1)[0]
    return float(last["value"].iloc[-1]), float(slope), last["as_of"].iloc[-1]


@pytest.fixture()
def page(demo_history: dict, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.delenv(app_data.STORE_ENV, raising=False)
    at = AppTest.from_file(APP, default_timeout=300).run()
    at = at.sidebar.radio(key="view").set_value("progress").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _table(at: AppTest, *columns: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if set(columns) <= set(d.value.columns))


@pytest.mark.slow
def test_first_visit_builds_the_synthetic_history_once(demo_history: dict) -> None:
    assert i18n.tr("progress.built", "vi") in demo_history["status"]
    snaps = demo_history["snapshots"]
    assert [s.as_of for s in snaps] == [dt.date(2023, 12, 31), dt.date(2024, 3, 31), dt.date(2024, 6, 30),
                                        dt.date(2024, 9, 30), dt.date(2024, 12, 31)]
    assert all(s.synthetic for s in snaps) and "SYNTHETIC" in demo_history["series"]
    steps = " ".join(demo_history["steps"])
    assert all(f"{d.isoformat()}: building" in steps for d in [s.as_of for s in snaps[:-1]])
    assert app_data.demo_history_missing() == []
    # coverage grows quarter by quarter (the history is plausible, not flat)
    for layer in ("any__all", "fixed__all", "5G__all"):
        values = _national_series(snaps, "households", layer)["value"]
        assert (values.diff().dropna() > 0).all(), layer


@pytest.mark.slow
def test_progress_page_shows_figures_pace_and_projection(page: AppTest, demo_history: dict) -> None:
    at = page
    assert at.subheader[0].value == i18n.tr("progress.heading", "vi")
    assert any("tổng hợp" in w.value for w in at.warning)  # the history is labelled synthetic
    snaps = demo_history["snapshots"]
    assert i18n.tr("progress.snapshots", "vi", n=5, first="31/12/2023", last="31/12/2024") in \
        [c.value for c in at.caption]
    charts = at.get("vega_lite_chart")
    assert len(charts) == 2
    marks = [[layer["mark"]["type"] for layer in json.loads(c.proto.spec)["layer"]] for c in charts]
    assert all(m[:2] == ["line", "line"] and "rule" in m for m in marks)  # observed, projection, targets

    outlook = _table(at, "Đạt vào")
    by_target = outlook.set_index("Mục tiêu")
    hh = by_target.loc[i18n.TARGET_TITLES_VI["2289-households-2025"]]
    latest, slope, _ = _fit(_national_series(snaps, "households"))
    assert hh["Mới nhất"] == fmt.percent(latest, "vi", 2)
    assert hh["Tốc độ (điểm %/năm)"] == fmt.points(slope, "vi", 2)
    assert hh["Đạt vào"] == "đã đạt" and hh["Đạt đúng hạn"] == "có"
    vil = by_target.loc[i18n.TARGET_TITLES_VI["2289-villages-2025"]]
    latest, slope, when = _fit(_national_series(snaps, "villages"))
    assert latest < 100 and slope > 0
    reached = when + pd.Timedelta(days=int(np.ceil((100 - latest) / slope * 365.25 - 1e-6)))
    assert vil["Đạt vào"] == fmt.date(reached.date().isoformat(), "vi")
    at_deadline = min(100.0, latest + slope * (pd.Timestamp("2025-12-31") - when).days / 365.25)
    assert vil["Tại hạn"] == fmt.percent(at_deadline, "vi", 2)
    assert vil["Đạt đúng hạn"] == ("có" if at_deadline >= 100 else "không")

    # no target lines for one operator's 4G (targets count all operators)
    at = at.selectbox(key="pg_tech").set_value("4G").run()
    at = at.selectbox(key="pg_op").set_value("Viettel").run()
    assert not at.exception
    marks = [[layer["mark"]["type"] for layer in json.loads(c.proto.spec)["layer"]] for c in at.get("vega_lite_chart")]
    assert all("rule" not in m for m in marks)


@pytest.mark.slow
def test_provinces_projected_to_miss_a_deadline(page: AppTest, demo_history: dict) -> None:
    at = page.selectbox(key="pg_target").set_value("2289-villages-2025").run()
    snaps = demo_history["snapshots"]
    expected = []
    codes = pd.read_parquet(snapshots.path_of(snaps[-1]) / "provinces_63.parquet", columns=["code"])["code"]
    for code in codes:
        latest, slope, when = _fit(_national_series(snaps, "villages", code=code))
        projected = min(100.0, latest + slope * (pd.Timestamp("2025-12-31") - when).days / 365.25)
        if projected < 100 - 1e-9:
            expected.append(code)
    table = _table(at, "Mã", "Thiếu tại hạn")
    assert 0 < len(expected) < 63
    assert sorted(table["Mã"]) == sorted(expected)
    assert i18n.tr("progress.misses_count", "vi", n=len(expected), total=63, deadline="31/12/2025") in \
        [c.value for c in at.caption]


@pytest.mark.slow
def test_what_changed_for_a_province_per_layer(page: AppTest, demo_history: dict,
                                               downloads: dict[str, bytes]) -> None:
    snaps = demo_history["snapshots"]
    cols = ["village_id", "province_63", "cov__4G__all"]
    before = pd.read_parquet(snapshots.path_of(snaps[-2]) / "villages.parquet", columns=cols).set_index("village_id")
    after = pd.read_parquet(snapshots.path_of(snaps[-1]) / "villages.parquet", columns=cols).set_index("village_id")
    gained = after.index[after["cov__4G__all"] & ~before["cov__4G__all"].reindex(after.index)]
    lost = after.index[~after["cov__4G__all"] & before["cov__4G__all"].reindex(after.index)]
    province = after.loc[gained, "province_63"].value_counts().idxmax()
    at = page.selectbox(key="pg_area").set_value(province).run()
    at = at.selectbox(key="pg_tech").set_value("4G").run()
    assert not at.exception
    assert at.selectbox(key="pg_from").value == snaps[-2].id and at.selectbox(key="pg_to").value == snaps[-1].id
    villages = _table(at, "Mã thôn/bản")
    in_province = after["province_63"] == province
    assert set(villages.loc[villages["Thay đổi"] == "mới được phủ", "Mã thôn/bản"]) == \
        set(gained[in_province.reindex(gained).to_numpy()])
    assert set(villages.loc[villages["Thay đổi"] == "mất phủ", "Mã thôn/bản"]) == \
        set(lost[in_province.reindex(lost).to_numpy()])
    summary = _table(at, "Tăng ròng").set_index(["Công nghệ", "Nhà mạng"])
    assert summary.loc[("4G", "Tất cả nhà mạng"), "Mới được phủ"] == (villages["Thay đổi"] == "mới được phủ").sum()
    assert any(name.startswith(f"changes_63_{province}_4G__all") for name in downloads)
    # the whole country: one row per province with changes, the map of net gains
    at = at.selectbox(key="pg_area").set_value(progress.NATION).run()
    per_province = _table(at, "Mã", "Tăng ròng")
    assert per_province["Mới được phủ"].sum() == len(gained) and per_province["Mất phủ"].sum() == len(lost)


@pytest.mark.slow
def test_progress_page_in_english_and_the_34_scheme(page: AppTest) -> None:
    at = page.sidebar.radio(key="lang").set_value("en").run()
    at = at.sidebar.radio(key="scheme").set_value("34").run()
    assert not at.exception
    assert at.subheader[0].value == "Progress over snapshots"
    assert len(at.selectbox(key="pg_area").options) == 35  # the country and 34 provinces
    assert any("Synthetic demo history" in w.value for w in at.warning)
    assert "Reached on" in _table(at, "Reached on").columns


@pytest.mark.slow
def test_without_a_database_the_app_fails_closed(demo_store: Path, monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    """Sign-in cannot be checked without the database: the app says so and shows no data
    (falling back to the local mode would open a shared server to anyone)."""
    monkeypatch.delenv(app_data.STORE_ENV, raising=False)
    monkeypatch.setenv("VNBB_DB_URL", f"sqlite:///{tmp_path / 'missing' / 'vnbb.sqlite3'}")
    at = AppTest.from_file(APP, default_timeout=300).run()
    assert not at.exception
    assert any(e.value.startswith("Không mở được cơ sở dữ liệu nên không kiểm tra được đăng nhập") for e in at.error)
    assert not at.title and not at.metric


@pytest.mark.slow
def test_a_store_never_kept_as_a_snapshot(demo_store: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    other = tmp_path / "store"
    shutil.copytree(demo_store.resolve(), other)
    manifest = json.loads((other / "manifest.json").read_text(encoding="utf-8"))
    manifest["scenario"]["name"] = "Quarterly reports"
    (other / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    monkeypatch.setenv(app_data.STORE_ENV, str(other))
    monkeypatch.setenv("VNBB_DB_URL", f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    at = AppTest.from_file(APP, default_timeout=300).run()
    at = at.sidebar.radio(key="view").set_value("progress").run()
    assert not at.exception
    assert [i.value for i in at.main.info] == [i18n.tr("progress.none", "vi", series="Quarterly reports")]
    assert not at.get("vega_lite_chart")  # and no demo history is built for someone else's store
    snapshots.register(other, engine=db.connect(f"sqlite:///{tmp_path / 'empty.sqlite3'}"))
    at = at.run()
    assert len(at.get("vega_lite_chart")) == 2
    assert [i.value for i in at.main.info] == [i18n.tr("progress.one_snapshot", "vi")]  # nothing to compare yet
    assert i18n.tr("progress.snapshots", "vi", n=1, first="31/12/2024", last="31/12/2024") in \
        [c.value for c in at.caption]
    pace = _table(at, "Tốc độ (điểm %/năm)", "Đạt vào")
    assert set(pace["Tốc độ (điểm %/năm)"]) == {"–"}  # one snapshot: no pace
