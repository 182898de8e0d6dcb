"""Reading a scenario folder (format: ``coverage/SCENARIO_FORMAT.md``), one loader per file kind.

Each loader checks its file and reports every problem together, naming file, row and field.
Rows are numbered as a spreadsheet shows them (the header is row 1).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import tomllib
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import rasterio
import rasterio.errors
from rasterio.warp import transform_bounds
from rasterio.windows import Window, from_bounds

from coverage import _public
from coverage._tables import TABLE_SUFFIXES, numbers, read_table
from coverage.dasymetric import PopulationGrid
from coverage.reach import Footprint, SignalRaster
from coverage.targets import TargetSet, load_targets
from geodata._archive import check_file
from geodata._validate import read_vector
from geodata.errors import CRSError, DataFileError, UnitNameError
from geodata.registry import Registry, load_registry
from geodata.vn2000 import parse_crs

OPERATORS_MOBILE = ("Viettel", "VinaPhone", "MobiFone", "Vietnamobile", "Gmobile")
RADIO_TECHNOLOGIES = ("2G", "3G", "4G", "5G")
BROADBAND_MOBILE = ("4G", "5G")
PROVENANCE = ("official", "declared", "modelled", "measured", "synthetic")
_VN_BBOX = (102.0, 8.0, 117.5, 23.5)  # lon/lat box of Vietnam's mainland and islands
_MAX_PROBLEMS = 200


@dataclass
class Scenario:
    """The validated contents of a scenario folder."""

    folder: Path
    meta: dict
    households: pd.DataFrame
    villages: pd.DataFrame
    sites: pd.DataFrame
    fixed: pd.DataFrame
    targets: TargetSet
    hashes: dict[str, str] = field(default_factory=dict)
    rasters: tuple[SignalRaster, ...] = ()
    footprints: tuple[Footprint, ...] = ()
    population: PopulationGrid | None = None

    @property
    def synthetic(self) -> bool:
        return bool(self.meta.get("synthetic", False))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class _Problems:
    """Problems of one file: every one counted, the first ``cap`` kept, so a file with a million
    bad rows still gives a readable report."""

    def __init__(self, cap: int = _MAX_PROBLEMS) -> None:
        self.items: list[str] = []
        self.total = 0
        self.cap = cap

    def add(self, text: str) -> None:
        self.total += 1
        if len(self.items) < self.cap:
            self.items.append(text)

    def flag(self, mask: object, df: pd.DataFrame, fmt: Callable[[int, int], str]) -> None:
        """One problem per row where ``mask`` holds; ``fmt(position, spreadsheet row)`` words it."""
        idx = np.flatnonzero(np.asarray(mask, dtype=bool))
        self.total += len(idx)
        room = max(self.cap - len(self.items), 0)
        self.items += [fmt(int(i), int(df.index[i])) for i in idx[:room]]

    def check(self, path: Path, note: str = "") -> None:
        if self.total:
            listed = f"; the first {len(self.items)} are listed" if self.total > len(self.items) else ""
            read = f" (read as: {note})" if note else ""
            raise DataFileError(path, f"has {self.total:,} problem(s){listed}{read}. Fix them and load the file "
                                      "again.", self.items)


def _check(path: Path, problems: list[str]) -> None:
    if problems:
        raise DataFileError(path, f"has {len(problems)} problem(s).", problems[:_MAX_PROBLEMS])


def _find_input(folder: Path, stem: str) -> Path:
    """``<stem>.csv`` or ``<stem>.xlsx`` (or .txt/.tsv/.xlsm) in a scenario folder; the .csv path if none."""
    found = [folder / f"{stem}{s}" for s in TABLE_SUFFIXES if (folder / f"{stem}{s}").is_file()]
    if len(found) > 1:
        raise DataFileError(folder, f"holds {len(found)} files for {stem}: {', '.join(p.name for p in found)}. "
                                    "Keep one.")
    return found[0] if found else folder / f"{stem}.csv"


def _read_table(path: Path, required: list[str], dtypes: dict[str, str], optional: tuple[str, ...] = (),
                problems: _Problems | None = None, *, sheet: str | None = None) -> pd.DataFrame:
    """Read a table with :func:`coverage._tables.read_table`; numbers converted, problems collected.

    The frame's index holds the rows' spreadsheet numbers. Problems go to ``problems`` when given
    (the caller adds its own and raises), else are raised here.
    """
    table = read_table(path, required, [*dtypes, *optional], sheet=sheet)
    df = table.frame
    df.attrs["note"] = table.note
    own = problems is None
    problems = problems or _Problems()
    for col in required:
        if col in dtypes:
            continue
        raw = df[col].str.strip()
        df[col] = raw
        problems.flag(raw == "", df, lambda i, r, c=col: f"row {r}, field {c}: is empty; expected a value")
    expected = {"int": "a whole number", "count": "a number 0 or more", "float": "a number"}
    for col, kind in dtypes.items():
        if col not in df.columns:
            continue
        raw = df[col].str.strip()
        values = numbers(raw, kind)
        empty = raw == ""
        missing = empty if col in required else pd.Series(False, index=df.index)
        problems.flag(missing, df, lambda i, r, c=col: f"row {r}, field {c}: is empty; expected {expected[kind]}")
        problems.flag(values.isna() & ~empty, df, lambda i, r, c=col, raw=raw:
                      f"row {r}, field {c}: {raw.iloc[i]!r} is not a number; expected {expected[kind]}")
        if kind == "int":
            frac = values.notna() & (values != values.round())
            problems.flag(frac, df, lambda i, r, c=col, raw=raw:
                          f"row {r}, field {c}: {raw.iloc[i]!r} is not a whole number; expected a whole number")
        if kind in ("int", "count"):
            problems.flag(values < 0, df, lambda i, r, c=col, raw=raw:
                          f"row {r}, field {c}: {raw.iloc[i]} is negative; expected 0 or more")
        df[col] = values
    if own:
        problems.check(path, table.note)
    return df


def _codes_known(df: pd.DataFrame, col: str, known: set[str], what: str, problems: _Problems,
                 hint: str = "") -> None:
    problems.flag(~df[col].isin(known) & (df[col] != ""), df,
                  lambda i, r: f"row {r}, field {col}: {df[col].iloc[i]!r} is not a {what}{hint}")


def _duplicates(df: pd.DataFrame, col: str, problems: _Problems) -> None:
    repeat = df[col].duplicated(keep="first") & (df[col] != "")
    if not repeat.any():
        return
    first = {v: r for r, v in zip(reversed(df.index), reversed(df[col].tolist()))}
    problems.flag(repeat, df, lambda i, r: f"row {r}, field {col}: {df[col].iloc[i]!r} repeats row "
                                           f"{first[df[col].iloc[i]]}; ids must be unique: renumber or remove "
                                           "the repeat")


def _coords(df: pd.DataFrame, problems: _Problems) -> None:
    lon, lat = df["lon"].to_numpy(float), df["lat"].to_numpy(float)
    x0, y0, x1, y1 = _VN_BBOX
    known = np.isfinite(lon) & np.isfinite(lat)
    with np.errstate(invalid="ignore"):
        out = known & ~((lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1))
        swapped = out & (lat >= x0) & (lat <= x1) & (lon >= y0) & (lon <= y1)
    problems.flag(swapped, df, lambda i, r: f"row {r}, fields lon/lat: ({lon[i]}, {lat[i]}) looks like lat/lon "
                                            "swapped; expected lon (102 to 117.5) then lat (8 to 23.5): swap the "
                                            "columns")
    problems.flag(out & ~swapped, df, lambda i, r: f"row {r}, fields lon/lat: ({lon[i]}, {lat[i]}) is outside "
                                                   "Vietnam; expected WGS 84 degrees, lon 102 to 117.5 and lat 8 "
                                                   "to 23.5 (projected coordinates must be converted first)")


def _resolve_units(df: pd.DataFrame, registry: Registry | None, problems: _Problems) -> None:
    """Names instead of codes in ``commune_code`` (and ``province``): resolved by the registry.

    Names are resolved once per distinct (name, province); a name that is unknown or ambiguous is
    a problem with the registry's suggestions, never a silent guess.
    """
    if registry is None:
        return
    province = pd.Series("", index=df.index)
    if "province" in df.columns:
        raw = df["province"].str.strip()
        cache: dict[str, str | None] = {}
        for value in raw.unique():
            if value == "":
                cache[value] = ""
                continue
            try:
                cache[value] = registry.resolve(value, "63", "province").code
            except UnitNameError as exc:
                cache[value] = None
                cache[f"error:{value}"] = str(exc)
        province = raw.map(lambda v: cache[v] or "")
        problems.flag(raw.map(lambda v: cache[v] is None), df,
                      lambda i, r: f"row {r}, field province: {cache['error:' + raw.iloc[i]]}")
        df["province"] = province
    if "commune_code" not in df.columns:
        return
    codes = df["commune_code"].str.strip()
    named = ~codes.str.fullmatch(r"\d{1,5}") & (codes != "")
    resolved: dict[tuple[str, str], str | None] = {}
    errors: dict[tuple[str, str], str] = {}
    for name, prov in set(zip(codes[named], province[named])):
        try:
            resolved[(name, prov)] = registry.resolve(name, "63", "commune", province=prov or None).code
        except UnitNameError as exc:
            resolved[(name, prov)] = None
            errors[(name, prov)] = str(exc) + ("" if prov else " Add a province column to tell them apart.")
    out = codes.str.zfill(5).where(~named, "")
    at = np.flatnonzero(named.to_numpy())  # only the rows holding names (often none) are looked up
    keys = list(zip(codes.iloc[at], province.iloc[at]))
    out.iloc[at] = [resolved[k] or "" for k in keys]
    bad = np.zeros(len(df), bool)
    bad[at] = [resolved[k] is None for k in keys]
    key_of = dict(zip(at.tolist(), keys))
    problems.flag(bad, df, lambda i, r: f"row {r}, field commune_code: {errors[key_of[i]]}")
    df["commune_code"] = out
    if "province" in df.columns and registry is not None:
        parents = registry.units("63", "commune").set_index("code")["parent_code"]
        parent = df["commune_code"].map(parents)
        wrong = (province != "") & parent.notna() & (parent != province) & ~bad
        problems.flag(wrong, df, lambda i, r: f"row {r}, field province: commune {df['commune_code'].iloc[i]} lies "
                                              f"in province {parent.iloc[i]}, not {province.iloc[i]}; correct one "
                                              "of the two")


def _finish(df: pd.DataFrame, ints: tuple[str, ...] = ()) -> pd.DataFrame:
    """The checked frame with a plain index (the engine's) and whole-number columns as integers."""
    out = df.reset_index(drop=True)
    out.attrs["note"] = df.attrs.get("note", "")
    for col in ints:
        if col in out.columns:
            out[col] = out[col].astype("int64")
    return out


def load_households(path: Path, registry: Registry, *, sheet: str | None = None) -> pd.DataFrame:
    """households table: commune_code (or commune name), households[, households_urban, households_rural]."""
    problems = _Problems()
    df = _read_table(path, ["commune_code", "households"],
                     {"households": "int", "households_urban": "int", "households_rural": "int"},
                     ("province",), problems, sheet=sheet)
    _resolve_units(df, registry, problems)
    known = set(registry.units("63", "commune")["code"])
    _codes_known(df, "commune_code", known, "commune code of the 63-unit scheme", problems,
                 "; check it against `vnbb units --level commune`")
    _duplicates(df, "commune_code", problems)
    if {"households_urban", "households_rural"} <= set(df.columns):
        parts = df["households_urban"].fillna(0) + df["households_rural"].fillna(0)
        bad = (parts != df["households"]) & df["households_urban"].notna() & df["households"].notna()
        problems.flag(bad, df, lambda i, r: f"row {r}, field households: {df['households'].iloc[i]:.0f} is not "
                                            f"urban + rural ({parts.iloc[i]:.0f}); correct one of the three")
    problems.check(path, df.attrs.get("note", ""))
    return _finish(df, ("households",))


def load_villages(path: Path, households: pd.DataFrame | None, registry: Registry | None = None, *,
                  sheet: str | None = None) -> pd.DataFrame:
    """villages table: village_id, name, commune_code (or name), lon, lat, households.

    Checked against the households table when given (communes listed, totals not exceeded),
    else against the registry's communes.
    """
    problems = _Problems()
    df = _read_table(path, ["village_id", "name", "commune_code", "lon", "lat", "households"],
                     {"lon": "float", "lat": "float", "households": "int"}, ("province",), problems, sheet=sheet)
    _resolve_units(df, registry, problems)
    df["commune_code"] = df["commune_code"].str.strip().str.zfill(5).where(df["commune_code"] != "", "")
    _duplicates(df, "village_id", problems)
    if households is not None:
        _codes_known(df, "commune_code", set(households["commune_code"]), "commune listed in the households table",
                     problems, "; add the commune there or correct the code")
    elif registry is not None:
        _codes_known(df, "commune_code", set(registry.units("63", "commune")["code"]),
                     "commune code of the 63-unit scheme", problems)
    _coords(df, problems)
    if households is not None:
        per_commune = df.groupby("commune_code")["households"].sum()
        total = households.set_index("commune_code")["households"].reindex(per_commune.index)
        over = per_commune[per_commune > total]
        for code, value in over.items():
            rows = df.index[(df["commune_code"] == code).to_numpy()].tolist()
            listed = ", ".join(map(str, rows[:10])) + (" ..." if len(rows) > 10 else "")
            problems.add(f"rows {listed}, field households: the villages of commune {code} hold {value:.0f} "
                         f"households, more than the commune's {total[code]:.0f} in the households table; "
                         "correct the villages or the commune total")
    problems.check(path, df.attrs.get("note", ""))
    return _finish(df, ("households",))


_OPERATOR_NAMES = {**{op.lower(): op for op in OPERATORS_MOBILE}, "vnpt": "VinaPhone", "vnpt-vinaphone": "VinaPhone",
                   "vnpt vinaphone": "VinaPhone", "gtel": "Gmobile", "viettel telecom": "Viettel"}


def load_sites(path: Path, *, sheet: str | None = None) -> pd.DataFrame:
    """sites table: site_id, operator, technology, lon, lat, radius_m (operator names in any case)."""
    if not path.exists():
        return pd.DataFrame({"site_id": [], "operator": [], "technology": [], "lon": [], "lat": [], "radius_m": []})
    problems = _Problems()
    df = _read_table(path, ["site_id", "operator", "technology", "lon", "lat", "radius_m"],
                     {"lon": "float", "lat": "float", "radius_m": "count"}, (), problems, sheet=sheet)
    df["technology"] = df["technology"].str.strip().str.upper()
    df["operator"] = df["operator"].map(lambda v: _OPERATOR_NAMES.get(v.strip().lower(), v))
    _duplicates(df, "site_id", problems)
    problems.flag(~df["operator"].isin(OPERATORS_MOBILE), df,
                  lambda i, r: f"row {r}, field operator: {df['operator'].iloc[i]!r} is not one of "
                               f"{', '.join(OPERATORS_MOBILE)}")
    problems.flag(~df["technology"].isin(RADIO_TECHNOLOGIES), df,
                  lambda i, r: f"row {r}, field technology: {df['technology'].iloc[i]!r} is not one of "
                               f"{', '.join(RADIO_TECHNOLOGIES)}")
    problems.flag(df["radius_m"] == 0, df, lambda i, r: f"row {r}, field radius_m: must be more than 0 (the "
                                                        "modelled service radius in metres)")
    problems.flag(df["radius_m"] > 100_000, df, lambda i, r: f"row {r}, field radius_m: {df['radius_m'].iloc[i]:.0f} "
                                                             "m is more than 100 km; expected metres")
    _coords(df, problems)
    problems.check(path, df.attrs.get("note", ""))
    return _finish(df)


def load_fixed(path: Path, villages: pd.DataFrame | None, *, sheet: str | None = None) -> pd.DataFrame:
    """fixed table: village_id, operator, households_passed (at most the village's households)."""
    if not path.exists():
        return pd.DataFrame({"village_id": [], "operator": [], "households_passed": []})
    problems = _Problems()
    df = _read_table(path, ["village_id", "operator", "households_passed"], {"households_passed": "int"}, (),
                     problems, sheet=sheet)
    dup = df.duplicated(["village_id", "operator"])
    problems.flag(dup, df, lambda i, r: f"row {r}, fields village_id/operator: village {df['village_id'].iloc[i]} "
                                        f"and operator {df['operator'].iloc[i]} repeat an earlier row; keep one")
    if villages is not None:
        hh = villages.set_index("village_id")["households"]
        _codes_known(df, "village_id", set(hh.index), "village in the villages table", problems)
        cap = df["village_id"].map(hh).fillna(np.inf).to_numpy(float)
        over = df["households_passed"].to_numpy(float) > cap
        problems.flag(over, df, lambda i, r: f"row {r}, field households_passed: "
                                             f"{df['households_passed'].iloc[i]:.0f} is more than the village's "
                                             f"{cap[i]:.0f} households")
    problems.check(path, df.attrs.get("note", ""))
    return _finish(df, ("households_passed",))


def _entry_problems(entry: dict, where: str, kinds: dict[str, tuple[str, ...]]) -> list[str]:
    """Checks of a [[coverage]] or [population] table's fields; ``kinds`` maps field to allowed values."""
    problems = [f"{where}: field {name!r} is missing" for name in ("file", *kinds) if name not in entry]
    for name, allowed in kinds.items():
        if name in entry and allowed and entry[name] not in allowed:
            problems.append(f"{where}, field {name}: {entry[name]!r} is not one of {', '.join(allowed)}")
    if "provenance" in entry and entry["provenance"] not in PROVENANCE:
        problems.append(f"{where}, field provenance: {entry['provenance']!r} is not one of {', '.join(PROVENANCE)}")
    if "as_of" in entry:
        try:
            dt.date.fromisoformat(str(entry["as_of"]))
        except ValueError:
            problems.append(f"{where}, field as_of: {entry['as_of']!r} is not a date (YYYY-MM-DD)")
    return problems


def _check_georeference(ds: rasterio.DatasetReader, path: Path) -> None:
    """A raster must say where it is, and be over Vietnam."""
    if ds.crs is None:
        raise CRSError(path, "has no coordinate reference system. Save the GeoTIFF with one.")
    x0, y0, x1, y1 = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds)
    vx0, vy0, vx1, vy1 = _VN_BBOX
    if x1 < vx0 or x0 > vx1 or y1 < vy0 or y0 > vy1:
        raise CRSError(path, f"covers {[round(v, 2) for v in (x0, y0, x1, y1)]} (lon/lat), outside "
                             "Vietnam: is its CRS wrong?")


def _read_raster(path: Path) -> tuple[np.ma.MaskedArray, object, object]:
    """Band 1 of a GeoTIFF, read only over Vietnam's box (a windowed read), with its transform and CRS."""
    if not path.is_file():
        raise DataFileError(path, "does not exist.")
    try:
        with rasterio.open(path) as ds:
            _check_georeference(ds, path)
            box = transform_bounds("EPSG:4326", ds.crs, *_VN_BBOX)
            window = from_bounds(*box, transform=ds.transform).round_offsets().round_lengths()
            window = window.intersection(Window(0, 0, ds.width, ds.height))
            values = ds.read(1, window=window, masked=True)
            return values, ds.window_transform(window), ds.crs
    except rasterio.errors.RasterioIOError as exc:
        raise DataFileError(path, f"cannot be read as a GeoTIFF ({exc}).") from exc


def _read_footprint(path: Path, common: dict, crs: str | None = None, registry: Registry | None = None
                    ) -> Footprint:
    """Footprint polygons from a vector file (any stated CRS; other geometry types refused)."""
    layer = read_vector(path, crs=parse_crs(crs, registry, path=path) if crs else None)
    polygonal = layer.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    _check(path, [f"feature {j + 1}: a {layer.geom_type.iloc[j]}, not a polygon; footprints are areas "
                  "(draw polygons, or buffer lines and points first)"
                  for j in np.flatnonzero(~polygonal)[:_MAX_PROBLEMS]])
    return Footprint(layer.geometry.reset_index(drop=True), **common)


def load_coverage_inputs(folder: Path, entries: list[dict], registry: Registry | None = None
                         ) -> tuple[tuple[SignalRaster, ...], tuple[Footprint, ...]]:
    """The [[coverage]] tables of scenario.toml: signal rasters, footprint polygons, OpenCelliD
    cells (modelled footprints) and Ookla tiles (measured footprints).

    Notes on what public data left out are given as warnings.
    """
    meta_path = folder / "scenario.toml"
    rasters, footprints = [], []
    for i, entry in enumerate(entries, start=1):
        where = f"[[coverage]] entry {i}"
        kind = entry.get("kind")
        if kind == "raster":
            problems = _entry_problems(entry, where, {"operator": OPERATORS_MOBILE, "technology": BROADBAND_MOBILE,
                                                      "threshold": (), "provenance": (), "as_of": ()})
            if "threshold" in entry and not isinstance(entry["threshold"], (int, float)):
                problems.append(f"{where}, field threshold: {entry['threshold']!r} is not a number")
        elif kind == "footprint":
            problems = _entry_problems(entry, where, {"operator": (), "technology": (*BROADBAND_MOBILE, "fixed"),
                                                      "provenance": (), "as_of": ()})
        elif kind == "opencellid":
            problems = _entry_problems(entry, where, {"as_of": ()})
            if entry.get("provenance", "modelled") != "modelled":
                problems.append(f"{where}, field provenance: OpenCelliD radii come from a model, so the layer is "
                                "'modelled', not " + repr(entry["provenance"]))
            radii = entry.get("radii", {})
            for tech, by_area in (radii.items() if isinstance(radii, dict) else [("?", None)]):
                ok = tech in BROADBAND_MOBILE and isinstance(by_area, dict) and all(
                    a in ("urban", "rural") and isinstance(v, (int, float)) and v > 0 for a, v in by_area.items())
                if not ok:
                    problems.append(f"{where}, field radii: expected e.g. radii = {{\"4G\" = {{urban = 1000, "
                                    f"rural = 3000}}}} (metres > 0), not {radii!r}")
        elif kind == "ookla":
            problems = _entry_problems(entry, where, {"operator": (), "technology": (*BROADBAND_MOBILE, "fixed"),
                                                      "min_download_mbps": (), "as_of": ()})
            if "min_download_mbps" in entry and not (isinstance(entry["min_download_mbps"], (int, float))
                                                     and entry["min_download_mbps"] > 0):
                problems.append(f"{where}, field min_download_mbps: {entry['min_download_mbps']!r} is not a "
                                "number > 0 (Mb/s)")
        else:
            problems = [f"{where}, field kind: {kind!r} is not 'raster', 'footprint', 'opencellid' or 'ookla'"]
        if "file" in entry:
            target = (folder / str(entry["file"])).resolve()
            if folder.resolve() not in target.parents:
                problems.append(f"{where}, field file: {entry['file']!r} leads outside the scenario folder; "
                                "put the file inside it")
        _check(meta_path, problems)
        path = folder / entry["file"]
        if kind in ("opencellid", "ookla"):
            if kind == "opencellid":
                found, notes = _public.opencellid_footprints(path, registry or load_registry(), entry)
            else:
                fp, notes = _public.ookla_footprint(path, entry)
                found = [fp]
            footprints += found
            for note in notes:
                warnings.warn(f"{path}: {note}", stacklevel=2)
            continue
        common = {"operator": str(entry["operator"]), "technology": str(entry["technology"]), "file": entry["file"],
                  "provenance": entry["provenance"], "as_of": str(entry["as_of"])}
        if kind == "raster":
            values, transform, crs = _read_raster(path)
            rasters.append(SignalRaster(values, transform, crs, threshold=float(entry["threshold"]), **common))
        else:
            footprints.append(_read_footprint(path, common, entry.get("crs"), registry))
    return tuple(rasters), tuple(footprints)


def load_population(folder: Path, entry: dict, check: bool = True) -> PopulationGrid:
    """The [population] table: a GeoTIFF of people (or households) per cell, any non-negative scale.

    Checked strip by strip (a national grid is never read whole); the grid stays on disk. With
    ``check`` off only its header is read: the caller reads every cell later and checks them on
    that read (:func:`coverage.dasymetric.zonal_table` does), so the grid is read once, not twice.
    """
    _check(folder / "scenario.toml", _entry_problems(entry, "[population]", {"provenance": (), "as_of": ()}))
    path = folder / entry["file"]
    if not path.is_file():
        raise DataFileError(path, "does not exist.")
    try:
        with rasterio.open(path) as ds:
            _check_georeference(ds, path)
            grid = PopulationGrid(path.resolve(), ds.transform, ds.crs, (ds.height, ds.width), ds.nodata,
                                  file=entry["file"], provenance=entry["provenance"], as_of=str(entry["as_of"]),
                                  given=path)
            if check:
                grid.check(grid.cells(ds, win)[2] for win in grid.strips())
    except rasterio.errors.RasterioIOError as exc:
        raise DataFileError(path, f"cannot be read as a GeoTIFF ({exc}).") from exc
    return grid


def load_scenario(folder: Path | str, registry: Registry | Callable[[], Registry], *,
                  check_population: bool = True) -> Scenario:
    """Read and validate every file of a scenario folder.

    ``registry`` may be a function giving it (e.g. a future's ``result``), so that it can be
    built while the files that need none are read. Those (sites, coverage inputs, population,
    hashes) are read on a second thread while this one reads the tables that need the registry;
    the first problem found is raised in the same order as reading them one after the other
    would. ``check_population`` off leaves the population raster's cells to be checked by
    whoever reads them next (the build's raster step does, on its one read of the grid)."""
    folder = Path(folder)
    units = registry if callable(registry) else lambda: registry
    meta_path = folder / "scenario.toml"
    if not meta_path.is_file():
        raise DataFileError(meta_path, "does not exist: a scenario folder needs a scenario.toml.")
    try:
        meta = tomllib.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DataFileError(meta_path, f"cannot be read as TOML ({exc}).") from exc
    with ThreadPoolExecutor(1, thread_name_prefix="vnbb-read") as side:
        sites_f = side.submit(load_sites, _find_input(folder, "sites"))
        coverage_f = side.submit(lambda: load_coverage_inputs(folder, list(meta.get("coverage", [])), units()))
        population_f = side.submit(load_population, folder, meta["population"], check_population) \
            if "population" in meta else None
        hashes_f = side.submit(_hashes, folder)
        try:
            households = load_households(_find_input(folder, "households"), units())
            villages = load_villages(_find_input(folder, "villages"), households, units())
            sites = sites_f.result()
            fixed = load_fixed(_find_input(folder, "fixed"), villages)
            targets_path = folder / "targets.toml"
            targets = load_targets(targets_path if targets_path.exists() else None)
            rasters, footprints = coverage_f.result()
            population = population_f.result() if population_f is not None else None
            hashes = hashes_f.result()
        except BaseException:
            for future in (sites_f, coverage_f, population_f, hashes_f):
                if future is not None:
                    future.cancel()  # what has not started yet is not needed
            raise
    return Scenario(folder, meta, households, villages, sites, fixed, targets, hashes, rasters, footprints,
                    population)


def _hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of every file of a folder, by path inside it."""
    inputs = [p for p in sorted(folder.rglob("*")) if p.is_file()]
    return {str(p.relative_to(folder)): _sha256(p) for p in inputs}


VALIDATE_KINDS = ("households", "villages", "sites", "fixed", "coverage-raster", "boundaries", "footprint",
                  "opencellid", "ookla", "population")
_LOCATION = re.compile(r"^(?P<where>(?:rows? |feature |cell at row |member |sheet |\[\[coverage\]\] entry "
                       r"|\[population\]).*?)(?:, fields? (?P<field>[^:,]+?))?: (?P<message>.*)$", re.S)


def problem_parts(text: str) -> tuple[str, str, str]:
    """(where, field, message) of one problem line: "row 3, field lon: ..." gives ("row 3", "lon", "...").

    Lines that name no place give ("", "", text).
    """
    m = _LOCATION.match(text)
    if not m:
        return "", "", text
    return m["where"].strip(), (m["field"] or "").strip(), m["message"].strip()


@dataclass
class ValidationReport:
    """What checking one file found: every problem (up to a cap, with the total) and warnings."""

    path: str
    kind: str
    ok: bool
    count: int = 0
    note: str = ""
    message: str = ""
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def shown_as(self, path: str, name: str) -> ValidationReport:
        """The report with ``path`` (a temporary upload, a version folder) written as ``name``."""
        self.path = self.path.replace(path, name)
        self.message = self.message.replace(path, name)
        self.problems = [p.replace(path, name) for p in self.problems]
        self.warnings = [w.replace(path, name) for w in self.warnings]
        return self

    def table(self) -> list[dict[str, str]]:
        """Every problem as a row: file, where (row, feature, cell or entry), field and message."""
        file = Path(self.path).name
        if not self.problems:
            return [{"file": file, "where": "", "field": "", "message": self.message}] if not self.ok else []
        rows = []
        for text in self.problems:
            where, fld, message = problem_parts(text)
            rows.append({"file": file, "where": where, "field": fld, "message": message})
        return rows

    def text(self) -> str:
        """The report as a planner reads it."""
        lines = [f"{self.path} ({self.kind}): " + (f"OK, {self.count:,} {'rows' if self.kind in _TABLE_KINDS else 'items'}"
                                                   if self.ok else "REFUSED")]
        if self.note:
            lines.append(f"  read as: {self.note}")
        if not self.ok:
            lines.append(f"  {self.message}")
            lines += [f"  - {p}" for p in self.problems]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


_TABLE_KINDS = ("households", "villages", "sites", "fixed")


def _validate(path: Path, kind: str, registry: Registry, crs: str | None, sheet: str | None,
              scenario: Path | None) -> tuple[int, str]:
    """Run the loader of ``kind`` on one file; returns (rows or items, how it was read)."""
    if kind in _TABLE_KINDS:
        households = villages = None
        if scenario is not None and kind in ("villages", "fixed"):
            households = load_households(_find_input(scenario, "households"), registry)
            if kind == "fixed":
                villages = load_villages(_find_input(scenario, "villages"), households, registry)
        if kind == "households":
            df = load_households(path, registry, sheet=sheet)
        elif kind == "villages":
            df = load_villages(path, households, registry, sheet=sheet)
        elif kind == "sites":
            df = load_sites(check_file(path), sheet=sheet)
        else:
            df = load_fixed(check_file(path), villages, sheet=sheet)
        return len(df), str(df.attrs.get("note", ""))
    check_file(path)
    entry = {"file": path.name, "as_of": "", "operator": "(validate)", "technology": "4G"}
    if kind == "coverage-raster":
        try:
            values, _, crs_ = _read_raster(path)
        except rasterio.errors.RasterioError as exc:
            raise DataFileError(path, f"cannot be read as a GeoTIFF ({exc}): is it truncated or corrupt?") from exc
        return int(values.count()), f"GeoTIFF in {crs_}, {values.shape[0]} x {values.shape[1]} cells over Vietnam"
    if kind == "opencellid":
        cells, notes = _public.read_opencellid(path, registry)
        for note in notes:
            warnings.warn(note, stacklevel=2)
        return len(cells), "OpenCelliD cells (4G/5G of MCC 452), radii modelled per technology and area type"
    if kind == "ookla":
        return len(_public.read_ookla(path)), "Ookla performance tiles over Vietnam"
    if kind == "population":
        grid = load_population(path.parent, {"file": path.name, "provenance": "modelled", "as_of": "2000-01-01"})
        rows, cols = grid.shape
        return rows * cols, f"GeoTIFF in {grid.crs}, {rows} x {cols} cells (population weights)"
    stated = parse_crs(crs, registry, path=path) if crs else None
    if kind == "footprint":
        fp = _read_footprint(path, {**entry, "provenance": "declared"}, crs, registry)
        return len(fp.shapes), ""
    layer = read_vector(path, crs=stated)
    polygonal = layer.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    _check(path, [f"feature {j + 1}: a {layer.geom_type.iloc[j]}, not a polygon; boundaries are areas"
                  for j in np.flatnonzero(~polygonal)[:_MAX_PROBLEMS]])
    return len(layer), f"{len(layer)} polygons, converted to EPSG:4326"


def validate_file(path: Path | str, kind: str, registry: Registry | None = None, *, crs: str | None = None,
                  sheet: str | None = None, scenario: Path | str | None = None) -> ValidationReport:
    """Check one input file as ``kind`` without building anything: the report lists every problem.

    ``crs`` is the CRS stated for a vector file that declares none; ``scenario`` a folder whose
    households (and villages) tables a villages (fixed) file is checked against. The size limit
    is ``VNBB_MAX_INPUT_MB``.
    """
    path = Path(path)
    if kind not in VALIDATE_KINDS:
        raise ValueError(f"kind must be one of {', '.join(VALIDATE_KINDS)}, not {kind!r}")
    registry = registry or load_registry()
    report = ValidationReport(str(path), kind, ok=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            report.count, report.note = _validate(path, kind, registry, crs, sheet,
                                                  Path(scenario) if scenario else None)
        except DataFileError as exc:
            report.ok = False
            report.message = str(exc).split("\n", 1)[0]
            report.problems = exc.problems
    report.warnings = [str(w.message) for w in caught if not issubclass(w.category, (DeprecationWarning,
                                                                                     PendingDeprecationWarning))]
    return report
