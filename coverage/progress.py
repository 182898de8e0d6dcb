"""Progress over snapshots: each unit's trajectory, its recent pace, and where that pace leads.

Pure and vectorised: the functions take the long figures frame of
:func:`coverage.snapshots.figures` (one row per snapshot and unit, with ``as_of``, ``code``,
``households``, ``villages`` and the ``hh_cov__<layer>`` / ``cov__<layer>`` counts) and never
read files or loop over units.

The projection rule (stated with every projection, see :data:`RULE`):

* **pace**: the least-squares slope of the indicator (percentage points per year) over the
  unit's last ``window`` snapshots (default 4; all of them when there are fewer). A unit with
  fewer than two snapshots, or all on one date, has no pace.
* **projection**: from the latest observed value, at that pace, capped to 0-100 %:
  ``value(t) = latest + pace * (t - latest as-of)``.
* **reached on**: the date the projection first meets the target's threshold; "already met"
  when the latest snapshot meets it; never ("not at this pace") when the pace is zero,
  negative or missing, or the threshold is above 100 %.
* **at the deadline**: the projected value on the target's deadline. For a deadline that has
  already passed (on or before the latest snapshot) the observed value of the last snapshot
  dated on or before it is used instead, and none when no snapshot is that old.
* **will miss**: the value at the deadline does not meet the target (``>`` or ``>=`` its
  threshold). A unit with no value at the deadline (no households or villages, no pace, or a
  passed deadline with no snapshot before it) is not counted as missing it: nothing is known.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd

from coverage.engine import layer_key, tech_of_target
from coverage.targets import Target

DEFAULT_WINDOW = 4
NATION = "VN"  # code of the whole-country row of a figures frame
INDICATORS = ("households", "villages")
_DAYS_PER_YEAR = 365.25
RULE = __doc__.split("The projection rule", 1)[1].split("\n", 1)[1].strip()


def values(frame: pd.DataFrame, layer: str, indicator: str) -> np.ndarray:
    """The indicator (%) of every row of a figures frame: households or villages covered by
    ``layer``; NaN where the unit has none. A layer absent from the frame counts as none covered."""
    total = frame["households" if indicator == "households" else "villages"].to_numpy(float)
    col = f"{'hh_cov' if indicator == 'households' else 'cov'}__{layer}"
    covered = frame[col].to_numpy(float) if col in frame else np.zeros(len(frame))
    return np.divide(100 * covered, total, out=np.full(len(frame), np.nan), where=total > 0)


def trajectory(frame: pd.DataFrame, layer: str) -> pd.DataFrame:
    """Households and villages covered by ``layer`` per unit and snapshot, oldest first.

    Columns: snapshot_id, as_of, code, name, households, households_covered, households_pct,
    villages, villages_covered, villages_pct.
    """
    hh_col, vil_col = f"hh_cov__{layer}", f"cov__{layer}"
    out = pd.DataFrame({
        "snapshot_id": frame["snapshot_id"].to_numpy(), "as_of": pd.to_datetime(frame["as_of"]).to_numpy(),
        "code": frame["code"].to_numpy(), "name": frame["name"].to_numpy(),
        "households": frame["households"].to_numpy(float),
        "households_covered": frame[hh_col].to_numpy(float) if hh_col in frame else np.zeros(len(frame)),
        "households_pct": values(frame, layer, "households"),
        "villages": frame["villages"].to_numpy(float),
        "villages_covered": frame[vil_col].to_numpy(float) if vil_col in frame else np.zeros(len(frame)),
        "villages_pct": values(frame, layer, "villages"),
    })
    return out.sort_values(["code", "as_of"], ignore_index=True)


def pace(codes: np.ndarray, as_of: np.ndarray, value: np.ndarray, window: int = DEFAULT_WINDOW) -> pd.DataFrame:
    """Each unit's recent pace: least squares of ``value`` on time over its last ``window`` points.

    Returns one row per code (the index): ``n`` (points used), ``latest_as_of``, ``latest``
    (the latest observed value), ``pace`` (percentage points per year; NaN with fewer than two
    points on distinct dates). Points whose value is NaN are left out.
    """
    if window < 2:
        raise ValueError("the pace needs a window of at least two snapshots")
    df = pd.DataFrame({"code": codes, "t": pd.to_datetime(as_of), "v": np.asarray(value, float)})
    df = df[np.isfinite(df["v"].to_numpy())].sort_values(["code", "t"], ignore_index=True)
    df = df[df.groupby("code").cumcount(ascending=False) < window]
    g = df.groupby("code", sort=True)
    latest_t = g["t"].transform("max")
    # years before the unit's latest snapshot (centring keeps the sums well conditioned)
    df = df.assign(x=(df["t"] - latest_t).dt.days.to_numpy(float) / _DAYS_PER_YEAR)
    df = df.assign(xx=df["x"] ** 2, xy=df["x"] * df["v"])
    s = df.groupby("code", sort=True)[["x", "v", "xx", "xy"]].sum()
    n = g.size().astype(float)
    denom = n * s["xx"] - s["x"] ** 2
    slope = (n * s["xy"] - s["x"] * s["v"]) / denom.where(denom > 1e-12)
    last = g.tail(1).set_index("code")
    return pd.DataFrame({"n": n.astype(int), "latest_as_of": last["t"], "latest": last["v"], "pace": slope})


def project(p: pd.DataFrame, when: dt.date | pd.Timestamp) -> pd.Series:
    """The projected value of every unit of a :func:`pace` frame on a date (0-100 %)."""
    years = (pd.Timestamp(when) - p["latest_as_of"]).dt.days.to_numpy(float) / _DAYS_PER_YEAR
    return pd.Series(np.clip(p["latest"].to_numpy() + p["pace"].to_numpy() * years, 0, 100), index=p.index)


def reached_on(p: pd.DataFrame, threshold: float, comparison: str = ">=") -> pd.Series:
    """Per unit, the date its projection meets the threshold (the latest as-of date when it
    already does); NaT when it does not at this pace."""
    latest, slope = p["latest"].to_numpy(float), p["pace"].to_numpy(float)
    met_now = _met(latest, threshold, comparison)
    rising = np.nan_to_num(slope) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = (threshold - latest) / slope * _DAYS_PER_YEAR
    # ">" needs the value strictly above the threshold: the day after the line touches it
    days = np.floor(raw + 1e-6) + 1 if comparison == ">" else np.ceil(raw - 1e-6)
    reachable = threshold < 100 or (threshold == 100 and comparison == ">=")
    ok = rising & ~met_now & reachable & np.isfinite(days)
    dates = p["latest_as_of"] + pd.to_timedelta(np.where(ok, days, 0), unit="D")
    return dates.where(ok | met_now, pd.NaT).where(~met_now, p["latest_as_of"])


def _met(value: np.ndarray, threshold: float, comparison: str) -> np.ndarray:
    value = np.asarray(value, float)
    with np.errstate(invalid="ignore"):
        return (value > threshold) if comparison == ">" else (value >= threshold - 1e-9)


def targets_on(targets: Iterable[Target]) -> list[Target]:
    """The targets a trajectory can be projected against: percentages of households or villages."""
    return [t for t in targets if t.indicator in INDICATORS and t.unit == "percent"]


def target_layer(target: Target) -> str:
    """The layer a target is measured on (all operators)."""
    return layer_key(tech_of_target(target))


def outlook(frame: pd.DataFrame, targets: Iterable[Target], window: int = DEFAULT_WINDOW) -> pd.DataFrame:
    """Every unit of a figures frame against every households/villages target (see the rule).

    One row per (target, unit): target_id, indicator, layer, threshold, comparison, deadline,
    code, name, n, latest_as_of, latest, pace (pp/year), met_now, reached_on, deadline_passed,
    at_deadline, will_meet, shortfall_pp (threshold minus the value at the deadline, 0 if met).
    """
    rows = []
    names = frame.drop_duplicates("code", keep="last").set_index("code")["name"]
    for t in targets_on(targets):
        layer = target_layer(t)
        v = values(frame, layer, t.indicator)
        p = pace(frame["code"].to_numpy(), frame["as_of"].to_numpy(), v, window)
        if p.empty:
            continue
        deadline = pd.Timestamp(t.deadline)
        passed = (p["latest_as_of"] >= deadline).to_numpy()
        observed = _observed_on(frame["code"].to_numpy(), frame["as_of"].to_numpy(), v, deadline).reindex(p.index)
        at_deadline = np.where(passed, observed.to_numpy(float), project(p, deadline).to_numpy())
        will_meet = _met(at_deadline, t.threshold, t.comparison)
        rows.append(pd.DataFrame({
            "target_id": t.id, "indicator": t.indicator, "layer": layer, "threshold": t.threshold,
            "comparison": t.comparison, "deadline": deadline, "code": p.index.to_numpy(),
            "name": names.reindex(p.index).to_numpy(), "n": p["n"].to_numpy(),
            "latest_as_of": p["latest_as_of"].to_numpy(), "latest": p["latest"].to_numpy(),
            "pace": p["pace"].to_numpy(), "met_now": _met(p["latest"].to_numpy(), t.threshold, t.comparison),
            "reached_on": reached_on(p, t.threshold, t.comparison).to_numpy(), "deadline_passed": passed,
            "at_deadline": at_deadline, "will_meet": will_meet,
            "shortfall_pp": np.where(will_meet, 0.0, t.threshold - at_deadline),
        }))
    if not rows:
        return pd.DataFrame(columns=["target_id", "indicator", "layer", "threshold", "comparison", "deadline",
                                     "code", "name", "n", "latest_as_of", "latest", "pace", "met_now",
                                     "reached_on", "deadline_passed", "at_deadline", "will_meet", "shortfall_pp"])
    return pd.concat(rows, ignore_index=True)


def _observed_on(codes: np.ndarray, as_of: np.ndarray, value: np.ndarray, when: pd.Timestamp) -> pd.Series:
    """Per unit, the value of its last snapshot dated on or before ``when`` (missing if none)."""
    df = pd.DataFrame({"code": codes, "t": pd.to_datetime(as_of), "v": np.asarray(value, float)})
    df = df[(df["t"] <= when) & np.isfinite(df["v"].to_numpy())].sort_values(["code", "t"])
    return df.groupby("code")["v"].last()


def misses(outlook_frame: pd.DataFrame, target_id: str) -> pd.DataFrame:
    """The units projected to miss one target's deadline, furthest from it first."""
    o = outlook_frame
    out = o[(o["target_id"] == target_id) & ~o["will_meet"].astype(bool) & np.isfinite(o["at_deadline"].astype(float))]
    return out.sort_values(["shortfall_pp", "code"], ascending=[False, True], ignore_index=True)
