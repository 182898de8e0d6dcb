"""Reading a scenario folder (format: ``coverage/SCENARIO_FORMAT.md``), one loader per file kind.

Each loader checks its file and reports every problem together, naming file, row and field.
Rows are numbered as a spreadsheet shows them (the header is row 1).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
import rasterio.errors
from rasterio.warp import transform_bounds
from rasterio.windows import Window, from_bounds

from coverage.dasymetric import PopulationGrid
from coverage.reach import Footprint, SignalRaster
from coverage.targets import TargetSet, load_targets
from geodata._validate import read_vector
from geodata.errors import CRSError, DataFileError
from geodata.registry import Registry

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
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_table(path: Path, required: list[str], dtypes: dict[str, str]) -> pd.DataFrame:
    if not path.is_file():
        raise DataFileError(path, "does not exist.")
    if path.stat().st_size == 0:
        raise DataFileError(path, "is empty (0 bytes).")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataFileError(path, f"is not UTF-8 text ({exc}). Save it as CSV UTF-8.") from exc
    except pd.errors.ParserError as exc:
        raise DataFileError(path, f"cannot be parsed as CSV ({exc}).") from exc
    df.columns = [c.strip() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataFileError(path, f"lacks the column(s) {', '.join(missing)}; found {', '.join(df.columns)}.")
    problems: list[str] = []
    for col, kind in dtypes.items():
        if col not in df.columns:
            continue
        raw = df[col].str.strip()
        values = pd.to_numeric(raw, errors="coerce")
        bad = values.isna() & (raw != "") if col not in required else values.isna()
        problems += [f"row {i + 2}, field {col}: {raw.iloc[i]!r} is not a number"
                     for i in np.flatnonzero(bad.to_numpy())[:_MAX_PROBLEMS]]
        if kind == "int":
            frac = values.notna() & (values != values.round())
            problems += [f"row {i + 2}, field {col}: {raw.iloc[i]!r} is not a whole number"
                         for i in np.flatnonzero(frac.to_numpy())[:_MAX_PROBLEMS]]
        if kind in ("int", "count"):
            neg = values < 0
            problems += [f"row {i + 2}, field {col}: {raw.iloc[i]} is negative"
                         for i in np.flatnonzero(neg.to_numpy())[:_MAX_PROBLEMS]]
        df[col] = values
    if problems:
        raise DataFileError(path, "has values that are not valid numbers.", problems)
    return df


def _check(path: Path, problems: list[str]) -> None:
    if problems:
        raise DataFileError(path, f"has {len(problems)} problem(s).", problems[:_MAX_PROBLEMS])


def _codes_known(df: pd.DataFrame, col: str, known: set[str], what: str) -> list[str]:
    bad = ~df[col].isin(known)
    return [f"row {i + 2}, field {col}: {df[col].iloc[i]!r} is not a {what}"
            for i in np.flatnonzero(bad.to_numpy())[:_MAX_PROBLEMS]]


def _duplicates(df: pd.DataFrame, col: str) -> list[str]:
    dup = df[col].duplicated(keep="first")
    return [f"row {i + 2}, field {col}: {df[col].iloc[i]!r} repeats an earlier row"
            for i in np.flatnonzero(dup.to_numpy())[:_MAX_PROBLEMS]]


def _coords(df: pd.DataFrame) -> list[str]:
    lon, lat = df["lon"].to_numpy(), df["lat"].to_numpy()
    x0, y0, x1, y1 = _VN_BBOX
    out = ~((lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1))
    swapped = out & (lat >= x0) & (lat <= x1) & (lon >= y0) & (lon <= y1)
    problems = [f"row {i + 2}, fields lon/lat: ({lon[i]}, {lat[i]}) looks like lat/lon swapped"
                for i in np.flatnonzero(swapped)[:_MAX_PROBLEMS]]
    problems += [f"row {i + 2}, fields lon/lat: ({lon[i]}, {lat[i]}) is outside Vietnam"
                 for i in np.flatnonzero(out & ~swapped)[:_MAX_PROBLEMS]]
    return problems


def load_households(path: Path, registry: Registry) -> pd.DataFrame:
    """households.csv: commune_code, households[, households_urban, households_rural]."""
    df = _read_table(path, ["commune_code", "households"],
                     {"households": "int", "households_urban": "int", "households_rural": "int"})
    df["commune_code"] = df["commune_code"].str.strip().str.zfill(5)
    known = set(registry.units("63", "commune")["code"])
    problems = _codes_known(df, "commune_code", known, "commune code of the 63-unit scheme")
    problems += _duplicates(df, "commune_code")
    if {"households_urban", "households_rural"} <= set(df.columns):
        parts = df["households_urban"].fillna(0) + df["households_rural"].fillna(0)
        bad = (parts != df["households"]) & df["households_urban"].notna()
        problems += [f"row {i + 2}, field households: {df['households'].iloc[i]:.0f} is not urban + rural "
                     f"({parts.iloc[i]:.0f})" for i in np.flatnonzero(bad.to_numpy())[:_MAX_PROBLEMS]]
    _check(path, problems)
    df["households"] = df["households"].astype("int64")
    return df


def load_villages(path: Path, households: pd.DataFrame) -> pd.DataFrame:
    """villages.csv: village_id, name, commune_code, lon, lat, households."""
    df = _read_table(path, ["village_id", "name", "commune_code", "lon", "lat", "households"],
                     {"lon": "float", "lat": "float", "households": "int"})
    df["commune_code"] = df["commune_code"].str.strip().str.zfill(5)
    problems = _duplicates(df, "village_id")
    problems += _codes_known(df, "commune_code", set(households["commune_code"]),
                             "commune listed in households.csv")
    problems += _coords(df)
    per_commune = df.groupby("commune_code")["households"].sum()
    total = households.set_index("commune_code")["households"].reindex(per_commune.index)
    over = per_commune[per_commune > total]
    problems += [f"commune {c}: its villages hold {v:.0f} households, more than the commune's "
                 f"{total[c]:.0f} in households.csv" for c, v in over.items()][:_MAX_PROBLEMS]
    _check(path, problems)
    df["households"] = df["households"].astype("int64")
    return df


def load_sites(path: Path) -> pd.DataFrame:
    """sites.csv: site_id, operator, technology, lon, lat, radius_m."""
    if not path.exists():
        return pd.DataFrame({"site_id": [], "operator": [], "technology": [], "lon": [], "lat": [], "radius_m": []})
    df = _read_table(path, ["site_id", "operator", "technology", "lon", "lat", "radius_m"],
                     {"lon": "float", "lat": "float", "radius_m": "count"})
    df["technology"] = df["technology"].str.strip().str.upper()
    problems = _duplicates(df, "site_id")
    problems += [f"row {i + 2}, field operator: {df['operator'].iloc[i]!r} is not one of {', '.join(OPERATORS_MOBILE)}"
                 for i in np.flatnonzero(~df["operator"].isin(OPERATORS_MOBILE).to_numpy())[:_MAX_PROBLEMS]]
    problems += [f"row {i + 2}, field technology: {df['technology'].iloc[i]!r} is not one of {', '.join(RADIO_TECHNOLOGIES)}"
                 for i in np.flatnonzero(~df["technology"].isin(RADIO_TECHNOLOGIES).to_numpy())[:_MAX_PROBLEMS]]
    problems += [f"row {i + 2}, field radius_m: must be more than 0"
                 for i in np.flatnonzero((df["radius_m"] <= 0).to_numpy())[:_MAX_PROBLEMS]]
    problems += _coords(df)
    _check(path, problems)
    return df


def load_fixed(path: Path, villages: pd.DataFrame) -> pd.DataFrame:
    """fixed.csv: village_id, operator, households_passed (at most the village's households)."""
    if not path.exists():
        return pd.DataFrame({"village_id": [], "operator": [], "households_passed": []})
    df = _read_table(path, ["village_id", "operator", "households_passed"], {"households_passed": "int"})
    hh = villages.set_index("village_id")["households"]
    problems = _codes_known(df, "village_id", set(hh.index), "village in villages.csv")
    dup = df.duplicated(["village_id", "operator"])
    problems += [f"row {i + 2}: village {df['village_id'].iloc[i]} and operator {df['operator'].iloc[i]} repeat an earlier row"
                 for i in np.flatnonzero(dup.to_numpy())[:_MAX_PROBLEMS]]
    over = df["households_passed"].to_numpy() > df["village_id"].map(hh).fillna(np.inf).to_numpy()
    problems += [f"row {i + 2}, field households_passed: {df['households_passed'].iloc[i]:.0f} is more than "
                 f"the village's {hh[df['village_id'].iloc[i]]} households" for i in np.flatnonzero(over)[:_MAX_PROBLEMS]]
    _check(path, problems)
    df["households_passed"] = df["households_passed"].astype("int64")
    return df


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


def load_coverage_inputs(folder: Path, entries: list[dict]) -> tuple[tuple[SignalRaster, ...], tuple[Footprint, ...]]:
    """The [[coverage]] tables of scenario.toml: signal rasters and footprint polygons."""
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
        else:
            problems = [f"{where}, field kind: {kind!r} is not 'raster' or 'footprint'"]
        _check(meta_path, problems)
        path = folder / entry["file"]
        common = {"operator": str(entry["operator"]), "technology": str(entry["technology"]), "file": entry["file"],
                  "provenance": entry["provenance"], "as_of": str(entry["as_of"])}
        if kind == "raster":
            values, transform, crs = _read_raster(path)
            rasters.append(SignalRaster(values, transform, crs, threshold=float(entry["threshold"]), **common))
        else:
            layer = read_vector(path)
            polygonal = layer.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
            _check(path, [f"feature {j + 1}: a {layer.geom_type.iloc[j]}, not a polygon"
                          for j in np.flatnonzero(~polygonal)[:_MAX_PROBLEMS]])
            footprints.append(Footprint(layer.geometry.reset_index(drop=True), **common))
    return tuple(rasters), tuple(footprints)


def load_population(folder: Path, entry: dict) -> PopulationGrid:
    """The [population] table: a GeoTIFF of people (or households) per cell, any non-negative scale.

    Checked strip by strip (a national grid is never read whole); the grid stays on disk.
    """
    _check(folder / "scenario.toml", _entry_problems(entry, "[population]", {"provenance": (), "as_of": ()}))
    path = folder / entry["file"]
    if not path.is_file():
        raise DataFileError(path, "does not exist.")
    try:
        with rasterio.open(path) as ds:
            _check_georeference(ds, path)
            grid = PopulationGrid(path.resolve(), ds.transform, ds.crs, (ds.height, ds.width), ds.nodata,
                                  file=entry["file"], provenance=entry["provenance"], as_of=str(entry["as_of"]))
            problems: list[str] = []
            total = 0.0
            for win in grid.strips():
                values = ds.read(1, window=win, masked=True).astype("float64")
                data = values.filled(0.0)
                rows, cols = np.nonzero(~np.isfinite(data) | (data < 0))
                problems += [f"cell at row {r + int(win.row_off)}, column {c}: {data[r, c]!r} is not a "
                             "non-negative number" for r, c in zip(rows[:_MAX_PROBLEMS], cols[:_MAX_PROBLEMS])]
                total += float(data[np.isfinite(data) & (data > 0)].sum())
    except rasterio.errors.RasterioIOError as exc:
        raise DataFileError(path, f"cannot be read as a GeoTIFF ({exc}).") from exc
    _check(path, problems)
    if total <= 0:
        raise DataFileError(path, "holds no population (every cell is 0 or nodata).")
    return grid


def load_scenario(folder: Path | str, registry: Registry) -> Scenario:
    """Read and validate every file of a scenario folder."""
    folder = Path(folder)
    meta_path = folder / "scenario.toml"
    if not meta_path.is_file():
        raise DataFileError(meta_path, "does not exist: a scenario folder needs a scenario.toml.")
    try:
        meta = tomllib.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DataFileError(meta_path, f"cannot be read as TOML ({exc}).") from exc
    households = load_households(folder / "households.csv", registry)
    villages = load_villages(folder / "villages.csv", households)
    sites = load_sites(folder / "sites.csv")
    fixed = load_fixed(folder / "fixed.csv", villages)
    targets_path = folder / "targets.toml"
    targets = load_targets(targets_path if targets_path.exists() else None)
    rasters, footprints = load_coverage_inputs(folder, list(meta.get("coverage", [])))
    population = load_population(folder, meta["population"]) if "population" in meta else None
    inputs = [p for p in sorted(folder.rglob("*")) if p.is_file()]
    hashes = {str(p.relative_to(folder)): _sha256(p) for p in inputs}
    return Scenario(folder, meta, households, villages, sites, fixed, targets, hashes, rasters, footprints,
                    population)
