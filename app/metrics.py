"""What the pages compute from a results store: the chosen indicator per unit, its distance to a
target, national totals, ranks and colour classes.

Pure pandas, no Streamlit, so the figures on screen can be tested without a browser. Every
number comes from the store's tables; nothing here carries a figure of its own except the colour
classes, which are a display choice.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from coverage.engine import needed as needed  # re-exported: the page logic and its tests use one rule
from coverage.engine import still_to_cover, tech_of_target
from coverage.targets import Target

INDICATORS = ("households", "villages", "households_5g")
TECHNOLOGIES = ("any", "fixed", "4G", "5G")
ALL = "all"

# Colour classes of the distance to the target, in percentage points (value minus threshold).
# Below the target: reds, darker the further below; at or above it: blues (ColorBrewer RdBu).
BELOW = ((-math.inf, -20.0, "#67001f"), (-20.0, -10.0, "#b2182b"), (-10.0, -5.0, "#d6604d"),
         (-5.0, -1.0, "#f4a582"), (-1.0, 0.0, "#fddbc7"))
MET = ((0.0, 5.0, "#92c5de"), (5.0, 15.0, "#4393c3"), (15.0, math.inf, "#2166ac"))
NO_DATA = "#bdbdbd"


@dataclass(frozen=True)
class Selection:
    """What the reader chose: indicator, target, network layer (technology and operator)."""

    scheme: str
    indicator: str
    target_id: str
    technology: str
    operator: str = ALL

    @property
    def layer(self) -> str:
        return f"{self.technology}__{self.operator}"


def target_of(manifest_target: dict) -> Target:
    """A manifest's target entry as the engine's :class:`Target` (to reuse its rules)."""
    fields = dict(manifest_target)
    fields["deadline"] = dt.date.fromisoformat(str(fields["deadline"]))
    fields["technologies"] = tuple(fields.get("technologies", ()))
    fields.setdefault("min_speed_mbps", {})
    return Target(**{k: fields[k] for k in Target.__dataclass_fields__ if k in fields})


def targets_for(manifest: dict, indicator: str) -> list[dict]:
    """The targets that apply to an indicator of the app (5G household targets form their own)."""
    out = []
    for t in manifest.get("targets", []):
        if t["indicator"] != ("villages" if indicator == "villages" else "households"):
            continue
        is_5g = tech_of_target(target_of(t)) == "5G"
        if (indicator == "households_5g") == is_5g:
            out.append(t)
    return out


def indicators_available(manifest: dict) -> list[str]:
    """Indicators that have at least one target and the data layer they need."""
    layers = set(manifest.get("layers", []))
    out = [i for i in INDICATORS if targets_for(manifest, i)]
    return [i for i in out if i != "households_5g" or "5G__all" in layers]


def target_technology(target: dict) -> str:
    """The network layer a target is measured on (any, fixed, 4G, 5G, mobile)."""
    return tech_of_target(target_of(target))


def technologies_for(manifest: dict, indicator: str) -> list[str]:
    """Technologies the reader can choose for an indicator (5G indicator: 5G only)."""
    layers = set(manifest.get("layers", []))
    if indicator == "households_5g":
        return ["5G"]
    return [t for t in TECHNOLOGIES if f"{t}__{ALL}" in layers]


def operators_for(manifest: dict, technology: str) -> list[str]:
    """``all`` and every operator with a layer of that technology in the store."""
    layers = set(manifest.get("layers", []))
    ops = sorted({layer.split("__", 1)[1] for layer in layers if layer.startswith(f"{technology}__")} - {ALL})
    return [ALL, *ops]


def measure(table: pd.DataFrame, sel: Selection, target: dict) -> pd.DataFrame:
    """One row per unit: figures of the chosen layer and their distance to the target.

    Columns: code, name, households, households_covered, households_pct, villages,
    villages_covered, villages_pct, value (the indicator, %), threshold, distance (pp),
    met, gap_pp, gap (households or villages still to cover), colour.
    """
    layer = sel.layer
    if f"hh_cov__{layer}" not in table:
        raise KeyError(f"the store has no layer {layer}")
    hh = table["households"].to_numpy(float)
    vil = table["villages"].to_numpy(float)
    hh_cov = table[f"hh_cov__{layer}"].to_numpy(float)
    vil_cov = table[f"cov__{layer}"].to_numpy(float)
    out = pd.DataFrame({
        "code": table["code"].to_numpy(), "name": table["name"].to_numpy(),
        "households": hh, "households_covered": hh_cov,
        "households_pct": np.divide(100 * hh_cov, hh, out=np.full(len(hh), np.nan), where=hh > 0),
        "villages": vil, "villages_covered": vil_cov,
        "villages_pct": np.divide(100 * vil_cov, vil, out=np.full(len(vil), np.nan), where=vil > 0),
    })
    by_villages = sel.indicator == "villages"
    total, covered = (vil, vil_cov) if by_villages else (hh, hh_cov)
    value = out["villages_pct" if by_villages else "households_pct"].to_numpy()
    threshold = float(target["threshold"])
    rule = target_of(target)
    out["value"] = value
    out["threshold"] = threshold
    out["distance"] = value - threshold
    out["met"] = np.where(np.isnan(value), False, rule.met(np.nan_to_num(value)))
    out["gap_pp"] = np.clip(threshold - value, 0, None)
    out["gap"] = np.where(total > 0, still_to_cover(total, covered, threshold, rule.comparison), 0.0)
    out["colour"] = colours(out["distance"].to_numpy(), out["met"].to_numpy())
    return out


def colours(distance: np.ndarray, met: np.ndarray) -> list[str]:
    """Fill colour per unit: its class of distance to the target (grey when no data)."""
    out = []
    for d, ok in zip(distance, met):
        if d is None or math.isnan(d):
            out.append(NO_DATA)
        elif ok:
            out.append(next(c for lo, hi, c in MET if lo <= max(d, 0.0) < hi))
        else:  # "> 80 %" at exactly 80 is not met: the palest red
            out.append(next(c for lo, hi, c in BELOW if lo <= min(d, -1e-9) < hi))
    return out


def legend(threshold: float) -> list[tuple[str, float, float, bool]]:
    """Legend entries (colour, low %, high %, met) for a threshold, clipped to 0–100 %."""
    out = []
    for lo, hi, colour in BELOW:
        a, b = max(threshold + lo, 0.0), threshold + hi
        if b > 0:
            out.append((colour, a, b, False))
    for lo, hi, colour in MET:
        a, b = threshold + lo, min(threshold + hi, 100.0)
        if a < 100.0 or (lo == 0.0):
            out.append((colour, a, max(a, b), True))
    return out


def totals(measured: pd.DataFrame, target: dict, indicator: str) -> dict:
    """National (or any set of units') totals: sums of the units, and the gap of the sum.

    The gap of the country is computed on the national totals, not summed over provinces:
    provinces above the target do not make up for those below, but the national figure is
    what the target states.
    """
    hh, hh_cov = measured["households"].sum(), measured["households_covered"].sum()
    vil, vil_cov = measured["villages"].sum(), measured["villages_covered"].sum()
    by_villages = indicator == "villages"
    total, covered = (vil, vil_cov) if by_villages else (hh, hh_cov)
    threshold = float(target["threshold"])
    rule = target_of(target)
    value = 100 * covered / total if total else math.nan
    gap = float(still_to_cover(np.array([total]), covered, threshold, rule.comparison)[0])
    return {
        "households": hh, "households_covered": hh_cov, "households_pct": 100 * hh_cov / hh if hh else math.nan,
        "villages": vil, "villages_covered": vil_cov, "villages_pct": 100 * vil_cov / vil if vil else math.nan,
        "value": value, "threshold": threshold, "met": bool(rule.met(value)) if total else False,
        "gap_pp": max(0.0, threshold - value) if total else math.nan, "gap": gap,
        "units_met": int(measured["met"].sum()), "units": int(len(measured)),
        "sum_of_unit_gaps": float(measured["gap"].sum()),
    }


def ranks(measured: pd.DataFrame) -> pd.Series:
    """Rank of each unit by the indicator (1 = highest coverage), indexed by code."""
    return measured.set_index("code")["value"].rank(ascending=False, method="min").astype("Int64")


def target_gaps(row: pd.Series, manifest: dict) -> pd.DataFrame:
    """A unit's gap to every households/villages target, as the store computed it."""
    rows = []
    for t in manifest.get("targets", []):
        if f"{t['id']}__pct" not in row.index:
            continue
        unit = "households" if t["indicator"] == "households" else "villages"
        rows.append({
            "id": t["id"], "indicator": t["indicator"], "comparison": t["comparison"],
            "threshold": float(t["threshold"]), "deadline": t["deadline"], "technology": target_technology(t),
            "value": float(row[f"{t['id']}__pct"]), "met": bool(row[f"{t['id']}__met"]),
            "gap_pp": float(row[f"{t['id']}__gap_pp"]), "gap": float(row[f"{t['id']}__gap_{unit}"]),
            "unit": unit, "source": t["source"], "title": t["title"],
        })
    return pd.DataFrame(rows)


def uncovered_villages(villages: pd.DataFrame, layer: str) -> pd.DataFrame:
    """Villages not covered by a layer, largest first (the list a province works through)."""
    out = villages.loc[~villages[f"cov__{layer}"].astype(bool)]
    return out.sort_values("households", ascending=False)
