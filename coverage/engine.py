"""What is covered: villages, communes and provinces against every coverage layer.

Everything here is a pure, vectorised function of frames and arrays (no file I/O, no loops over
villages or sites). A *layer* is a (technology, operator) pair: technology is ``any`` (fixed or
mobile broadband), ``fixed``, ``mobile`` (4G or 5G), ``4G`` or ``5G``; operator is ``all`` or
one operator's name.

How households are located (stated with every result, see :data:`METHOD`):

* households in a village sit at the village point; a mobile layer covers all of them when the
  point lies within a site's service radius; a fixed layer covers the households the operator
  reports as passed. Fixed networks of different operators are assumed to overlap, so households
  passed by *any* operator are the largest single operator's count.
* households of a commune not in any listed village (the remainder) are covered in the same
  proportion as the commune's village households (uniform spread over the settled area); a
  commune with no village households leaves its remainder uncovered, and is flagged.
* in the 34-unit scheme a village goes to the new commune its old commune became; for an old
  commune split between several new ones (``partial`` in the crosswalk), to the nearest of those
  new communes' centres. The remainder of a split commune is apportioned in proportion to its
  village households in each part (equally when it has none).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from coverage.reach import Footprint, SignalRaster, fixed_reach, mobile_reach
from coverage.targets import Target, TargetSet, VillageRule
from geodata.registry import Registry

TECHS = ("any", "fixed", "mobile", "4G", "5G")
METHOD = __doc__.split("How households are located", 1)[1].split("\n", 1)[1].strip()


def layer_key(tech: str, operator: str = "all") -> str:
    """Column suffix of a layer, e.g. ``any__all`` or ``4G__Viettel``."""
    return f"{tech}__{operator}"


def tech_of_target(target: Target) -> str:
    """The layer technology a target's list of qualifying networks corresponds to."""
    techs = set(target.technologies)
    if techs == {"fixed", "4G", "5G"}:
        return "any"
    if techs == {"4G", "5G"}:
        return "mobile"
    if len(techs) == 1:
        return techs.pop()
    return "any"


@dataclass
class VillageCoverage:
    """Per-village results: ``table`` has one row per village; layer columns are
    ``hh_cov__<layer>`` (covered households) and ``cov__<layer>`` (village covered, bool)."""

    table: pd.DataFrame
    layers: list[str]
    mobile_operators: list[str]
    fixed_operators: list[str]


def village_coverage(villages: pd.DataFrame, sites: pd.DataFrame, fixed: pd.DataFrame, rule: VillageRule,
                     rasters: tuple[SignalRaster, ...] = (), footprints: tuple[Footprint, ...] = ()
                     ) -> VillageCoverage:
    """Coverage of every village by every layer (see the module docstring for the rules)."""
    n = len(villages)
    lon, lat = villages["lon"].to_numpy(float), villages["lat"].to_numpy(float)
    hh = villages["households"].to_numpy(np.int64)
    reached = mobile_reach(lon, lat, sites, rasters, footprints)

    # Fixed: households passed per operator (reported counts; a footprint passes them all).
    idx = pd.Index(villages["village_id"])
    passed: dict[str, np.ndarray] = {}
    for op, part in fixed.groupby("operator"):
        arr = passed.setdefault(str(op), np.zeros(n, np.int64))
        arr[idx.get_indexer(part["village_id"])] = part["households_passed"].to_numpy(np.int64)
    in_footprint: dict[str, np.ndarray] = {}
    for op, flag in fixed_reach(lon, lat, footprints).items():
        arr = passed.setdefault(op, np.zeros(n, np.int64))
        passed[op] = np.where(flag, hh, arr)
        in_footprint[op] = flag

    cols, layers = layer_columns(hh, reached, passed, rule, in_footprint)
    op_count = np.zeros(n, np.int64)
    for op in sorted({op for _, op in reached}):
        op_count += reached.get(("4G", op), np.zeros(n, bool)) | reached.get(("5G", op), np.zeros(n, bool))
    table = pd.concat([villages.reset_index(drop=True),
                       pd.DataFrame(cols), pd.DataFrame({"operators": op_count})], axis=1)
    return VillageCoverage(table, layers, sorted({op for _, op in reached}), sorted(passed))


def layer_columns(hh: np.ndarray, reached: dict[tuple[str, str], np.ndarray], passed: dict[str, np.ndarray],
                  rule: VillageRule, in_footprint: dict[str, np.ndarray] | None = None
                  ) -> tuple[dict[str, np.ndarray], list[str]]:
    """Covered households (``hh_cov__``) and covered flags (``cov__``) of every layer.

    ``hh`` are the households at each location, ``reached`` the mobile reach per (technology,
    operator), ``passed`` the households passed by each fixed operator (nested footprints: the
    households passed by several operators are the largest single count); ``in_footprint``
    marks points inside an operator's fixed footprint (covered even with no households counted).
    """
    n = len(hh)
    in_footprint = in_footprint or {}
    mobile_ops = sorted({op for _, op in reached})
    fixed_ops = sorted(passed)
    zero_b, zero_i = np.zeros(n, bool), np.zeros(n, hh.dtype)

    def _covered(hh_cov: np.ndarray, point: np.ndarray) -> np.ndarray:
        if rule.rule == "point":
            return point
        share = np.divide(hh_cov, hh, out=point.astype(float), where=hh > 0)
        return share >= rule.min_household_share

    cols: dict[str, np.ndarray] = {}
    layers: list[str] = []
    for op in ["all"] + sorted(set(mobile_ops) | set(fixed_ops)):
        sel_m = mobile_ops if op == "all" else [o for o in mobile_ops if o == op]
        sel_f = fixed_ops if op == "all" else [o for o in fixed_ops if o == op]
        r4 = np.logical_or.reduce([reached.get(("4G", o), zero_b) for o in sel_m]) if sel_m else zero_b
        r5 = np.logical_or.reduce([reached.get(("5G", o), zero_b) for o in sel_m]) if sel_m else zero_b
        mob = r4 | r5
        fx = np.maximum.reduce([passed[o] for o in sel_f]) if sel_f else zero_i
        fx_point = (fx > 0) | np.logical_or.reduce([in_footprint.get(o, zero_b) for o in sel_f] or [zero_b])
        per_tech = {
            "4G": (np.where(r4, hh, 0), r4),
            "5G": (np.where(r5, hh, 0), r5),
            "mobile": (np.where(mob, hh, 0), mob),
            "fixed": (fx, fx_point),
            "any": (np.where(mob, hh, fx), mob | fx_point),
        }
        for tech, (hh_cov, point) in per_tech.items():
            if op != "all" and ((tech == "fixed" and not sel_f) or (tech in ("4G", "5G", "mobile") and not sel_m)):
                continue
            key = layer_key(tech, op)
            layers.append(key)
            cols[f"hh_cov__{key}"] = hh_cov
            cols[f"cov__{key}"] = _covered(hh_cov, point)
    return cols, layers


def _assign_new_communes(villages: pd.DataFrame, registry: Registry) -> np.ndarray:
    """The 34-scheme commune of each village (nearest candidate for split old communes)."""
    cw = registry.commune_crosswalk
    cand = villages[["commune_code", "lon", "lat"]].reset_index(names="row").merge(
        cw[["old_code", "new_code"]], left_on="commune_code", right_on="old_code", how="left")
    centres = registry.units("34", "commune").set_index("code")[["lon", "lat"]]
    c = centres.reindex(cand["new_code"])
    cand["d2"] = (c["lon"].to_numpy() - cand["lon"]) ** 2 + (c["lat"].to_numpy() - cand["lat"]) ** 2
    cand["d2"] = cand["d2"].fillna(np.inf)
    best = cand.sort_values(["row", "d2"]).drop_duplicates("row").set_index("row")["new_code"]
    return best.reindex(range(len(villages))).to_numpy(dtype=object)


def remainder(households: pd.DataFrame, villages: pd.DataFrame) -> pd.Series:
    """Households of each commune (63 scheme) not in any listed village."""
    total = households.set_index("commune_code")["households"].astype(float)
    in_villages = villages.groupby("commune_code")["households"].sum()
    return (total - in_villages.reindex(total.index).fillna(0)).clip(lower=0)


def pieces(cov: VillageCoverage, households: pd.DataFrame, registry: Registry,
           located: pd.DataFrame | None = None) -> pd.DataFrame:
    """Located households: one row per village plus one per remainder part of each commune.

    ``located`` holds remainders already placed by a population raster, per (``commune_63``,
    ``commune_34``) with ``households`` and ``hh_cov__`` columns (see
    :func:`coverage.dasymetric.located_remainder`); other communes keep the village-rate rule.

    Columns: commune_63, commune_34, households, villages (1 for a village row), and the layer
    columns. Summing pieces by any unit gives that unit's figures, so totals add up by design.
    """
    v = cov.table
    hh_cols = [f"hh_cov__{k}" for k in cov.layers]
    cov_cols = [f"cov__{k}" for k in cov.layers]
    vil = pd.DataFrame({"commune_63": v["commune_code"].to_numpy(),
                        "commune_34": _assign_new_communes(v, registry),
                        "households": v["households"].to_numpy(float), "villages": 1.0})
    vil[hh_cols] = v[hh_cols].to_numpy(float)
    vil[cov_cols] = v[cov_cols].to_numpy(float)

    # Remainder per old commune, covered like the commune's village households.
    by = vil.groupby("commune_63")
    vhh = by["households"].sum()
    vcov = by[hh_cols].sum()
    rem = remainder(households, v)
    if located is not None and len(located):
        located = located.assign(villages=0.0)
        located[cov_cols] = 0.0
        rem = rem.drop(located["commune_63"].unique(), errors="ignore")
    share = vcov.div(vhh, axis=0).where(vhh > 0, 0.0).reindex(rem.index).fillna(0.0)

    # Split the remainder of each old commune over its new communes (by village households).
    part = vil.groupby(["commune_63", "commune_34"])["households"].sum().rename("w").reset_index()
    cw = registry.commune_crosswalk[["old_code", "new_code"]].rename(
        columns={"old_code": "commune_63", "new_code": "commune_34"})
    no_villages = cw[~cw["commune_63"].isin(part["commune_63"])].assign(w=1.0)
    part = pd.concat([part, no_villages], ignore_index=True)
    part = part[part["commune_63"].isin(rem.index)]
    total_w = part.groupby("commune_63")["w"].transform("sum")
    equal = 1.0 / part.groupby("commune_63")["w"].transform("size")
    part["frac"] = np.where(total_w > 0, part["w"] / total_w.replace(0, 1), equal)
    # Communes absent from the crosswalk keep their remainder, without a new commune.
    orphan = rem.index.difference(part["commune_63"].unique())
    part = pd.concat([part, pd.DataFrame({"commune_63": orphan, "commune_34": None, "frac": 1.0})],
                     ignore_index=True)
    r = pd.DataFrame({"commune_63": part["commune_63"].to_numpy(), "commune_34": part["commune_34"].to_numpy(),
                      "households": rem.reindex(part["commune_63"]).to_numpy() * part["frac"].to_numpy(),
                      "villages": 0.0})
    r[hh_cols] = share.reindex(part["commune_63"]).to_numpy() * r["households"].to_numpy()[:, None]
    r[cov_cols] = 0.0
    out = pd.concat([vil, r[r["households"] > 0], located], ignore_index=True)
    parents63 = registry.units("63", "commune").set_index("code")["parent_code"]
    parents34 = registry.units("34", "commune").set_index("code")["parent_code"]
    out["province_63"] = out["commune_63"].map(parents63)
    out["province_34"] = out["commune_34"].map(parents34)
    # A new commune unknown to the registry (a source disagreement) falls back on the old province's successor.
    missing = out["province_34"].isna()
    out.loc[missing, "province_34"] = registry.new_province_of(out.loc[missing, "province_63"]).to_numpy()
    return out


def aggregate(pc: pd.DataFrame, layers: list[str], by: str) -> pd.DataFrame:
    """Sum pieces by a unit column and add percentages per layer."""
    cols = ["households", "villages"] + [f"hh_cov__{k}" for k in layers] + [f"cov__{k}" for k in layers]
    agg = pc.groupby(by)[cols].sum()
    agg.index.name = "code"
    hh = agg["households"].where(agg["households"] > 0)
    vil = agg["villages"].where(agg["villages"] > 0)
    pct = {f"hh_pct__{k}": 100 * agg[f"hh_cov__{k}"] / hh for k in layers}
    pct |= {f"vil_pct__{k}": 100 * agg[f"cov__{k}"] / vil for k in layers}
    return pd.concat([agg, pd.DataFrame(pct)], axis=1).reset_index()


def needed(total: np.ndarray, threshold: float, comparison: str) -> np.ndarray:
    """How many (households or villages) must be covered to meet a percentage target:
    "> 80 %" needs one more than 80 %, ">= 100 %" all."""
    exact = np.asarray(total, float) * threshold / 100.0
    if comparison == ">":
        return np.minimum(np.floor(exact + 1e-9) + 1, total)
    return np.ceil(exact - 1e-9)


def still_to_cover(total: np.ndarray, covered: np.ndarray, threshold: float, comparison: str) -> np.ndarray:
    """Households or villages still to cover to meet a percentage target (0 when it is met)."""
    return np.clip(np.ceil(needed(total, threshold, comparison) - np.asarray(covered, float) - 1e-9), 0, None)


def gaps(table: pd.DataFrame, targets: TargetSet) -> pd.DataFrame:
    """Gap to every households/villages target for every row (unit) of an aggregated table.

    Adds, per target id T: ``T__pct``, ``T__met``, ``T__gap_pp`` (percentage points), and
    ``T__gap_households`` or ``T__gap_villages``.
    """
    out = table.copy()
    for t in targets.targets:
        if t.indicator not in ("households", "villages"):
            continue
        key = layer_key(tech_of_target(t))
        if f"hh_cov__{key}" not in out:
            continue  # no data for that layer (e.g. no 5G sites in the scenario)
        total = out["households" if t.indicator == "households" else "villages"].to_numpy(float)
        covered = out[f"hh_cov__{key}" if t.indicator == "households" else f"cov__{key}"].to_numpy(float)
        pct = np.divide(100 * covered, total, out=np.full(len(out), np.nan), where=total > 0)
        out[f"{t.id}__pct"] = pct
        out[f"{t.id}__met"] = np.where(total > 0, t.met(np.nan_to_num(pct, nan=100.0)), True)
        out[f"{t.id}__gap_pp"] = np.clip(t.threshold - pct, 0, None)
        unit = "households" if t.indicator == "households" else "villages"
        out[f"{t.id}__gap_{unit}"] = still_to_cover(total, covered, t.threshold, t.comparison)
    return out


def national(table: pd.DataFrame, targets: TargetSet) -> pd.Series:
    """National totals: counts are the sum over provinces (so the two always agree); percentages
    and gaps are computed on those totals, never summed (a sum of provincial gaps is not the
    national gap when a target is under 100 %)."""
    counts = [c for c in table.columns if c.startswith(("hh_cov__", "cov__")) or c in ("households", "villages")]
    totals = table[counts].sum().to_frame().T
    layers = [c.removeprefix("hh_cov__") for c in counts if c.startswith("hh_cov__")]
    with np.errstate(invalid="ignore", divide="ignore"):
        for k in layers:
            totals[f"hh_pct__{k}"] = 100 * totals[f"hh_cov__{k}"] / totals["households"]
            totals[f"vil_pct__{k}"] = 100 * totals[f"cov__{k}"] / totals["villages"]
    return gaps(totals, targets).iloc[0]


def smart_cities_status(provinces63: pd.DataFrame, config: dict) -> dict:
    """The 5G smart-city target: cities whose 5G household coverage reaches the stated share,
    counted per key economic region (North, Central, South)."""
    share = float(config.get("min_5g_household_share", 50))
    pct = provinces63.set_index("code")[f"hh_pct__{layer_key('5G')}"] if f"hh_pct__{layer_key('5G')}" in provinces63 \
        else pd.Series(dtype=float)
    regions = {}
    for region in ("north", "central", "south"):
        codes = config.get(region, [])
        with5g = [c for c in codes if c in pct.index and pct[c] >= share]
        regions[region] = {"candidates": codes, "with_5g": with5g}
    count = sum(len(r["with_5g"]) for r in regions.values())
    met = count >= 3 and all(r["with_5g"] for r in regions.values())
    return {"cities_with_5g": count, "regions": regions, "met": bool(met),
            "rule": f"a city counts when 5G covers at least {share:g} % of its households"}

