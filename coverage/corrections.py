"""Accepted challenges as a correction layer on top of a results store (never editing it).

:func:`apply` takes a store's results (:func:`load_base`) and accepted challenges, and returns
corrected copies of the village table and of the four unit tables (communes and provinces, both
schemes), with national totals; every changed row carries the ids of the challenges that changed
it (``challenge_ids``, e.g. ``"3,7"``). Rows nothing changed are the store's own rows.

How each kind of challenge is applied: first where villages are (``wrong_location``,
``missing_village``), then what covers them (``not_covered``, ``covered``), each in the order
the challenges were decided (a later decision on the same village wins). A claim about coverage
is an observation at the village, so it holds wherever the village turns out to be.

* a village's coverage is taken apart into the engine's inputs (which mobile operators reach it
  with 4G and 5G, the households each fixed operator passes), the challenge changes those
  inputs, and :func:`coverage.engine.layer_columns` recomposes every layer, so a challenge on
  "4G, Viettel" also changes "mobile, Viettel", "any, Viettel", "4G, all operators" and so on,
  exactly as a rebuild would;
* ``not_covered`` (technology, operator): the named networks no longer reach the village
  ("any" means fixed, 4G and 5G; "all" every operator); ``covered`` (4G, 5G or fixed of one
  operator): that network reaches it; for fixed, it passes the households the challenge gives
  (all the village's households when it gives none);
* ``wrong_location``: the village moves to the given point; mobile reach is evaluated there
  with the store's sites (and the scenario's signal rasters and footprints when the scenario
  folder is still there), as the build does; households passed by fixed networks are declared
  per village and stay;
* ``missing_village``: a village is added at the given point (counted in villages; reach as
  above, no fixed households passed); its households, when given, are taken from the commune's
  households outside listed villages, never beyond them, together with their share of covered
  households, so the commune's total stays the census total.

Households outside listed villages otherwise keep the figures the build gave them: a challenge
speaks about one village. Communes and provinces are re-aggregated with
:func:`coverage.engine.aggregate` and :func:`coverage.engine.gaps`, national figures with
:func:`coverage.engine.national`.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from coverage import engine, store
from coverage.reach import MOBILE_TECHS, fixed_reach, mobile_reach
from coverage.targets import Target, TargetSet, VillageRule, load_targets
from geodata.errors import DataFileError, VnbbError

ID_COLUMN = "challenge_ids"
_WHERE = ("wrong_location", "missing_village")  # applied before the coverage claims
_FIXED = "fixed"


class CorrectionError(VnbbError):
    """The corrections cannot be applied to this store."""


@dataclass(frozen=True)
class Base:
    """A store's results as corrections start from them (read once; never written back)."""

    path: str
    manifest: dict
    villages: pd.DataFrame            # one row per village, no geometry
    tables: dict[str, pd.DataFrame]   # provinces_63 ... communes_34, no geometry
    sites: pd.DataFrame
    targets: TargetSet

    @property
    def layers(self) -> list[str]:
        return list(self.manifest["layers"])

    @property
    def rule(self) -> VillageRule:
        return self.targets.village_rule


@dataclass
class Corrected:
    """Results with the accepted challenges applied."""

    villages: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    national: dict[str, pd.Series]
    applied: list[int] = field(default_factory=list)      # challenges that changed something
    unchanged: list[int] = field(default_factory=list)    # accepted, but the results already said so
    skipped: dict[int, str] = field(default_factory=dict)  # not applicable to this store, and why
    notes: list[str] = field(default_factory=list)


# -- reading a store --------------------------------------------------------------------------
def load_base(store_dir: Path | str) -> Base:
    """Read the villages, unit tables, sites and targets of a store."""
    store_dir = Path(store_dir)
    manifest = store.read_manifest(store_dir)
    columns = [c for c in pq.read_schema(store_dir / "villages.parquet").names if c != "geometry"]
    villages = pd.read_parquet(store_dir / "villages.parquet", columns=columns)
    tables = {}
    for (level, scheme), name in store.LEVELS.items():
        tables[name] = pd.DataFrame(store.read_table(store_dir, level, scheme).drop(columns="geometry"))
    sites_path = store_dir / "sites.parquet"
    sites = pd.DataFrame(pd.read_parquet(sites_path, columns=["operator", "technology", "lon", "lat", "radius_m"])) \
        if sites_path.is_file() else pd.DataFrame(columns=["operator", "technology", "lon", "lat", "radius_m"])
    return Base(str(store_dir), manifest, villages, tables, sites, targets_of(manifest))


def targets_of(manifest: dict) -> TargetSet:
    """The targets and village rule a store was built with (from its manifest)."""
    targets = tuple(Target(
        id=str(t["id"]), title=str(t.get("title", t["id"])), indicator=t["indicator"], comparison=t["comparison"],
        threshold=float(t["threshold"]), unit=t.get("unit", "percent"),
        deadline=dt.date.fromisoformat(str(t["deadline"])), technologies=tuple(t["technologies"]),
        source=str(t["source"]), min_speed_mbps=dict(t.get("min_speed_mbps") or {})) for t in manifest["targets"])
    return TargetSet(targets, _village_rule(manifest), str(manifest.get("targets_file", "")))


def _village_rule(manifest: dict) -> VillageRule:
    """The manifest states the rule in words; the targets file, when it still says the same,
    gives the exact share."""
    text = manifest.get("village_rule", "")
    if text == VillageRule("point").describe():
        return VillageRule("point")
    try:
        rule = load_targets(manifest.get("targets_file") or None).village_rule
        if rule.describe() == text:
            return rule
    except DataFileError:
        pass
    found = re.search(r"at least (\d+(?:\.\d+)?)\s*%", text)
    if not found:
        raise CorrectionError(f"the store's village rule is not understood: {text!r}")
    return VillageRule("households", float(found.group(1)) / 100)


def _coverage_inputs(base: Base) -> tuple[tuple, tuple, str | None]:
    """The scenario's signal rasters and footprints (for reach at a new point), when the
    scenario folder is still there; else none, and a note saying so."""
    from coverage.scenario import load_coverage_inputs

    folder = Path(base.manifest.get("scenario", {}).get("folder", ""))
    toml = folder / "scenario.toml"
    try:
        entries = tomllib.loads(toml.read_text(encoding="utf-8")).get("coverage", [])
    except (OSError, tomllib.TOMLDecodeError):
        uses_more = any(src.get("file") not in ("sites.csv", "fixed.csv")
                        for srcs in base.manifest.get("layer_sources", {}).values() for src in srcs)
        return (), (), ("reach at corrected points uses the store's sites only: the scenario folder "
                        f"{folder} is gone" if uses_more else None)
    if not entries:
        return (), (), None
    rasters, footprints = load_coverage_inputs(folder, list(entries))
    return rasters, footprints, None


# -- one village's coverage, taken apart into the engine's inputs ------------------------------
@dataclass
class _Village:
    lon: float
    lat: float
    hh: int
    reached: dict[tuple[str, str], bool]
    passed: dict[str, int]
    in_footprint: dict[str, bool]


def _take_apart(row: pd.Series, mobile_ops: list[str], fixed_ops: list[str]) -> _Village:
    """The inputs that give a village row its layer columns back (see :func:`_columns`).

    A mobile layer's ``cov__`` flag is exactly "reached" (its households are all or none); a
    fixed operator's covered households are the households it passes, and its flag says whether
    the point is passed even with none counted (a footprint).
    """
    return _Village(
        float(row["lon"]), float(row["lat"]), int(row["households"]),
        {(t, o): bool(row[f"cov__{t}__{o}"]) for o in mobile_ops for t in MOBILE_TECHS},
        {o: int(round(float(row[f"hh_cov__{_FIXED}__{o}"]))) for o in fixed_ops},
        {o: bool(row[f"cov__{_FIXED}__{o}"]) for o in fixed_ops})


def _columns(v: _Village, rule: VillageRule) -> dict[str, object]:
    """Every layer column of a village, recomposed by the engine from its inputs."""
    one = lambda x: np.array([x])  # noqa: E731
    cols, _ = engine.layer_columns(one(v.hh), {k: one(b) for k, b in v.reached.items()},
                                   {o: one(p) for o, p in v.passed.items()}, rule,
                                   {o: one(b) for o, b in v.in_footprint.items()})
    out = {k: a[0].item() for k, a in cols.items()}
    ops = {o for _, o in v.reached}
    out["operators"] = sum(v.reached[("4G", o)] or v.reached[("5G", o)] for o in ops)
    return out


def _point_reach(base: Base, located: list) -> tuple[dict[int, tuple[dict, dict]], str | None]:
    """Reach at every point the challenges give (moved or added villages), in one pass over the
    sites: {challenge id: (mobile reach per (technology, operator), fixed footprint per operator)}."""
    if not located:
        return {}, None
    rasters, footprints, note = _coverage_inputs(base)
    lon = np.array([float(_value(c, "lon")) for c in located])
    lat = np.array([float(_value(c, "lat")) for c in located])
    mobile = mobile_reach(lon, lat, base.sites, rasters, footprints)
    fixed = fixed_reach(lon, lat, footprints)
    return {int(_value(c, "id")): ({k: bool(a[i]) for k, a in mobile.items()}, {o: bool(a[i]) for o, a in fixed.items()})
            for i, c in enumerate(located)}, note


def _expand(technology: str, operator: str, mobile_ops: list[str], fixed_ops: list[str]) -> list[tuple[str, str]]:
    """The (network, operator) inputs a layer is made of: "any" is fixed, 4G and 5G."""
    techs = {"any": ["4G", "5G", _FIXED], "mobile": ["4G", "5G"]}.get(technology, [technology])
    out = []
    for tech in techs:
        ops = fixed_ops if tech == _FIXED else mobile_ops
        out += [(tech, o) for o in ops if operator in ("all", o)]
    return out


# -- applying ---------------------------------------------------------------------------------
def _value(ch: object, name: str) -> object:
    return ch.get(name) if isinstance(ch, dict) else getattr(ch, name)


def _has_point(ch: object) -> bool:
    values = [_value(ch, "lon"), _value(ch, "lat")]
    return all(v is not None and np.isfinite(float(v)) for v in values)


def apply(base: Base, challenges: Sequence[object]) -> Corrected:
    """The store's results with the accepted ``challenges`` applied (see the module docstring).

    ``challenges`` are :class:`coverage.models.Challenge` rows or dicts with the same fields;
    those not accepted are ignored.
    """
    todo = sorted((c for c in challenges if _value(c, "status") == "accepted"),
                  key=lambda c: (_value(c, "kind") not in _WHERE, str(_value(c, "decided_at") or ""),
                                 int(_value(c, "id"))))
    manifest = base.manifest
    mobile_ops, fixed_ops = list(manifest["mobile_operators"]), list(manifest["fixed_operators"])
    villages = base.villages.reset_index(drop=True)
    row_of = pd.Series(np.arange(len(villages)), index=villages["village_id"].astype(str))
    parent63 = base.tables["communes_63"].set_index("code")["parent_code"]
    result = Corrected(villages, {}, {})

    # What can be applied, and the provinces involved (only their communes are re-aggregated).
    usable = []
    for ch in todo:
        cid, kind, code = int(_value(ch, "id")), str(_value(ch, "kind")), str(_value(ch, "unit_code"))
        if kind == "missing_village" and code not in parent63.index:
            result.skipped[cid] = f"commune {code} is not in this store"
        elif kind != "missing_village" and code not in row_of.index:
            result.skipped[cid] = f"village {code} is not in this store"
        elif kind in _WHERE and not _has_point(ch):
            result.skipped[cid] = "it gives no point"
        else:
            usable.append(ch)
    rows = [int(row_of[str(_value(c, "unit_code"))]) for c in usable if _value(c, "kind") != "missing_village"]
    to34 = villages.groupby("province_63")["province_34"].first()  # provinces merged whole in 2025
    p63 = set(villages.loc[rows, "province_63"]) | {parent63[str(_value(c, "unit_code"))] for c in usable
                                                   if _value(c, "kind") == "missing_village"}
    p34 = set(villages.loc[rows, "province_34"]) | set(to34.reindex(list(p63)).dropna())
    residual = _residuals(base, p63, p34)
    reach, note = _point_reach(base, [c for c in usable if _value(c, "kind") in _WHERE])
    if note:
        result.notes.append(note)

    state: dict[int, _Village] = {}        # village row -> its inputs
    ids: dict[object, list[int]] = {}      # village row (or new village id) -> challenges that changed it
    figures: set[int] = set()              # challenges that changed a figure (not only a point)
    added: dict[str, dict] = {}            # new village id -> its row
    for ch in usable:
        cid, kind = int(_value(ch, "id")), str(_value(ch, "kind"))
        if kind == "missing_village":
            row, note = _new_village(base, ch, residual, reach[cid], mobile_ops, fixed_ops, parent63, to34)
            added[row["village_id"]] = row
            ids[row["village_id"]] = [cid]
            result.applied.append(cid)
            figures.add(cid)
            if note:
                result.notes.append(note)
            continue
        key = int(row_of[str(_value(ch, "unit_code"))])
        if key not in state:
            state[key] = _take_apart(villages.iloc[key], mobile_ops, fixed_ops)
        v = state[key]
        before, before_at = _columns(v, base.rule), (v.lon, v.lat)
        if kind == "wrong_location":
            v.lon, v.lat = float(_value(ch, "lon")), float(_value(ch, "lat"))
            _relocate(v, *reach[cid])
        else:
            _flip(v, kind, str(_value(ch, "technology")), str(_value(ch, "operator")),
                  _value(ch, "households"), mobile_ops, fixed_ops)
        changed = _columns(v, base.rule) != before
        if changed or (v.lon, v.lat) != before_at:
            ids.setdefault(key, []).append(cid)
            result.applied.append(cid)
            if changed:
                figures.add(cid)
        else:
            result.unchanged.append(cid)

    # Corrected villages: changed rows recomposed, new ones appended.
    out = villages.copy()
    out[ID_COLUMN] = ""
    keys = [k for k in ids if k not in added]
    if keys:
        fresh = pd.DataFrame([{**_columns(state[k], base.rule), "lon": state[k].lon, "lat": state[k].lat,
                               ID_COLUMN: _ids(ids[k])} for k in keys], index=keys)
        for col in fresh.columns:
            out.loc[keys, col] = fresh[col].astype(out[col].dtype).to_numpy()
    if added:
        extra = pd.DataFrame([{**row, ID_COLUMN: _ids(ids[vid])} for vid, row in added.items()])
        out = pd.concat([out, extra.reindex(columns=out.columns)], ignore_index=True)
        for col in villages.columns:  # keep the store's dtypes (bool flags stay bool)
            if villages[col].dtype == bool:
                out[col] = out[col].astype(bool)
    result.villages = out

    # Units are re-aggregated for the challenges that changed a figure (a moved village whose
    # coverage stays the same changes no unit's figures).
    touched = out.loc[out[ID_COLUMN] != "", ["commune_code", "commune_34", "province_63", "province_34", ID_COLUMN]]
    touched = touched.assign(**{ID_COLUMN: touched[ID_COLUMN].map(
        lambda text: ",".join(c for c in text.split(",") if int(c) in figures))})
    touched = touched[touched[ID_COLUMN] != ""]
    result.tables = _tables(base, out, residual, touched)
    result.national = {s: engine.national(result.tables[f"provinces_{s}"], base.targets) for s in ("63", "34")}
    return result


def _ids(cids: list[int]) -> str:
    return ",".join(str(c) for c in dict.fromkeys(cids))


def _flip(v: _Village, kind: str, technology: str, operator: str, households: object,
          mobile_ops: list[str], fixed_ops: list[str]) -> None:
    """A ``not_covered`` or ``covered`` claim changes the named networks' reach of the village."""
    for tech, op in _expand(technology, operator, mobile_ops, fixed_ops):
        if tech == _FIXED:
            if kind == "not_covered":
                v.passed[op], v.in_footprint[op] = 0, False
            else:
                given = v.hh if households is None or pd.isna(households) else int(households)
                v.passed[op], v.in_footprint[op] = min(given, v.hh), True
        else:
            v.reached[(tech, op)] = kind == "covered"


def _relocate(v: _Village, mobile: dict, fixed: dict) -> None:
    """Mobile reach at the village's new point; fixed households passed are declared per village
    and stay, except where fixed footprints say the new point is (or is no longer) passed."""
    for key in v.reached:
        v.reached[key] = mobile.get(key, False)
    for op, inside in fixed.items():
        if op not in v.passed:
            continue
        if inside:
            v.passed[op], v.in_footprint[op] = v.hh, True
        elif v.in_footprint[op] and v.passed[op] == v.hh:  # passed only because the old point was inside
            v.passed[op], v.in_footprint[op] = 0, False


def _new_village(base: Base, ch: object, residual: dict[str, pd.DataFrame], reach: tuple[dict, dict],
                 mobile_ops: list[str], fixed_ops: list[str], parent63: pd.Series, to34: pd.Series
                 ) -> tuple[dict, str | None]:
    """The row of a village added by a ``missing_village`` challenge; its households move out of
    the commune's households outside villages (``residual``, changed in place) with their share
    of covered households, the same amount in both schemes."""
    cid = int(_value(ch, "id"))
    c63 = str(_value(ch, "unit_code"))
    lon, lat = float(_value(ch, "lon")), float(_value(ch, "lat"))
    c34 = _commune_34_from_registry(base, c63, lon, lat)
    r63, r34 = residual["communes_63"], residual["communes_34"]
    p63 = parent63[c63]
    p34 = r34["parent_code"].get(c34) or to34.get(p63)
    asked = _value(ch, "households")
    asked = 0 if asked is None or pd.isna(asked) else int(asked)
    room = min(r63.at[c63, "households"] if c63 in r63.index else 0.0,
               r34.at[c34, "households"] if c34 in r34.index else 0.0)
    hh = int(min(asked, np.floor(room + 1e-9)))
    note = (f"challenge #{cid}: {asked} households asked, {hh} taken (households of commune {c63} outside "
            "listed villages)" if hh < asked else None)
    if hh:
        cols = [f"hh_cov__{k}" for k in base.layers]
        a63, a34 = r63.loc[c63, cols].to_numpy(float), r34.loc[c34, cols].to_numpy(float)
        share = a63 / r63.at[c63, "households"]  # room > 0, so households outside villages > 0
        take = np.minimum(np.minimum(hh * share, a63), a34)
        r63.loc[c63, cols] = a63 - take
        r34.loc[c34, cols] = a34 - take
        r63.at[c63, "households"] -= hh
        r34.at[c34, "households"] -= hh
    mobile, fixed = reach
    v = _Village(lon, lat, hh, {(t, o): mobile.get((t, o), False) for o in mobile_ops for t in MOBILE_TECHS},
                 {o: (hh if fixed.get(o) else 0) for o in fixed_ops}, {o: fixed.get(o, False) for o in fixed_ops})
    row = {"village_id": f"challenge-{cid}", "name": str(_value(ch, "unit_name")), "commune_code": c63,
           "commune_34": c34, "province_63": p63, "province_34": p34, "lon": lon, "lat": lat, "households": hh,
           **_columns(v, base.rule)}
    return row, note


def _commune_34_from_registry(base: Base, c63: str, lon: float, lat: float) -> str:
    """The 34-scheme commune of a new village, by the build's rule: its old commune's successor,
    the nearest successor's centre when the old commune was split."""
    from geodata.registry import load_registry

    data_dir = base.manifest.get("key", {}).get("data_dir")
    registry = load_registry(None if data_dir in (None, "None") else data_dir)
    cw = registry.commune_crosswalk
    cand = cw.loc[cw["old_code"] == c63, "new_code"]
    centres = registry.units("34", "commune").set_index("code").reindex(cand)
    if centres.empty:
        raise CorrectionError(f"commune {c63} has no successor in the 34-unit scheme")
    d2 = (centres["lon"] - lon) ** 2 + (centres["lat"] - lat) ** 2
    return str(d2.fillna(np.inf).idxmin())


# -- re-aggregating ---------------------------------------------------------------------------
def _count_columns(layers: list[str]) -> list[str]:
    return ["households", "villages"] + [f"hh_cov__{k}" for k in layers] + [f"cov__{k}" for k in layers]


def _residuals(base: Base, provinces63: set[str], provinces34: set[str]) -> dict[str, pd.DataFrame]:
    """What each commune of the given provinces holds besides its listed villages (households
    outside villages and their coverage), per scheme: the commune's figures minus its villages'."""
    cols = _count_columns(base.layers)
    out = {}
    for scheme, by, provinces in (("63", "commune_code", provinces63), ("34", "commune_34", provinces34)):
        table = base.tables[f"communes_{scheme}"]
        table = table[table["parent_code"].isin(provinces)].set_index("code")
        v = base.villages[base.villages[f"province_{scheme}"].isin(provinces)].assign(villages=1.0)
        sums = v.groupby(by)[cols].sum().reindex(table.index).fillna(0.0)
        out[f"communes_{scheme}"] = (table[cols].astype(float) - sums.astype(float)).assign(
            parent_code=table["parent_code"])
    return out


def _pieces(villages: pd.DataFrame, residual: dict[str, pd.DataFrame], layers: list[str]) -> pd.DataFrame:
    """Villages and residuals as the engine's pieces: residual rows carry the units of one scheme
    only, so each scheme's aggregation counts them once."""
    cols = _count_columns(layers)
    vil = pd.DataFrame({"commune_63": villages["commune_code"].to_numpy(), "commune_34": villages["commune_34"].to_numpy(),
                        "province_63": villages["province_63"].to_numpy(),
                        "province_34": villages["province_34"].to_numpy(), "villages": 1.0})
    for col in cols[2:] + ["households"]:
        vil[col] = villages[col].to_numpy(float)
    parts = [vil]
    for scheme in ("63", "34"):
        r = residual[f"communes_{scheme}"]
        part = r[cols].reset_index(names=f"commune_{scheme}")
        part[f"province_{scheme}"] = r["parent_code"].to_numpy()
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _tables(base: Base, villages: pd.DataFrame, residual: dict[str, pd.DataFrame],
            touched: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Unit tables: the units a challenge changed re-aggregated, every other row as it was."""
    if touched.empty:
        return {name: t.assign(**{ID_COLUMN: ""}) for name, t in base.tables.items()}
    near = villages["province_63"].isin(touched["province_63"]) | villages["province_34"].isin(touched["province_34"])
    pc = _pieces(villages[near], residual, base.layers)
    out = {}
    for (level, scheme), name in store.LEVELS.items():
        original = base.tables[name]
        unit = {"commune": {"63": "commune_code", "34": "commune_34"}, "province": {"63": "province_63",
                                                                                  "34": "province_34"}}[level][scheme]
        by_unit = touched.assign(_ids=touched[ID_COLUMN].str.split(",")).explode("_ids") \
            .groupby(unit)["_ids"].agg(lambda s: ",".join(sorted(set(s), key=int)))
        column = f"{level}_{scheme}"
        fresh = engine.gaps(engine.aggregate(pc[pc[column].isin(by_unit.index)], base.layers, column), base.targets)
        fresh = fresh.set_index("code")
        table = original.set_index("code")
        shared = [c for c in fresh.columns if c in table.columns]
        redone = fresh[shared].astype(table[shared].dtypes.to_dict()).join(
            table[[c for c in table.columns if c not in shared]], how="left")
        order = table.index.append(fresh.index.difference(table.index))  # a unit new to the store goes last
        table = pd.concat([table.drop(index=fresh.index, errors="ignore"), redone[table.columns]]).reindex(order)
        ids = by_unit.reindex(table.index).fillna("").rename(ID_COLUMN)
        out[name] = pd.concat([table, ids], axis=1).copy().reset_index(names="code")
    return out


# -- with and without -------------------------------------------------------------------------
def comparison(base: Base, corrected: Corrected, level: str = "province", scheme: str = "63",
               technology: str = "any", operator: str = "all") -> pd.DataFrame:
    """One layer's figures per unit without and with the corrections, and the challenges behind
    each difference."""
    key = engine.layer_key(technology, operator)
    if key not in base.layers:
        raise CorrectionError(f"the store has no layer {technology}/{operator}; layers are {', '.join(base.layers)}")
    name = store.LEVELS[(level, scheme)]
    before = store.report_frame(base.tables[name], key).set_index("code")
    after = store.report_frame(corrected.tables[name], key).set_index("code")
    figures = ["households", "households_covered", "households_pct", "villages", "villages_covered", "villages_pct"]
    out = before[["name"]].join(before[figures].add_suffix("_without"), how="outer")
    out = out.join(after[figures].add_suffix("_with"), how="outer")
    out[ID_COLUMN] = corrected.tables[name].set_index("code")[ID_COLUMN].reindex(out.index).fillna("")
    return out.reset_index()
