"""Trajectories, the recent pace and the projection: small cases computed by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from coverage import progress
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
