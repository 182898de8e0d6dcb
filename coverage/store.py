"""Building a results store from a scenario, and reading it back.

A store is a folder: ``villages.parquet``, ``sites.parquet``, ``communes_63.parquet``, ``communes_34.parquet``,
``provinces_63.parquet``, ``provinces_34.parquet`` (GeoParquet, EPSG:4326), ``national.json``
and ``manifest.json`` (inputs and their hashes, targets, rules, versions, time). A build writes a
complete new version folder beside the store and then repoints the store (a symbolic link) at it
with one atomic rename, so a failed, interrupted or killed build leaves the previous results
intact and readable at every moment.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from coverage import dasymetric, engine
from coverage._tables import TABLE_SUFFIXES
from coverage.scenario import Scenario, load_scenario
from geodata import boundaries
from geodata.errors import DataFileError
from geodata.registry import Registry, load_registry
from geodata.settings import data_dir as _resolve_data_dir

STORE_VERSION = 1
LEVELS = {("province", "63"): "provinces_63", ("province", "34"): "provinces_34",
          ("commune", "63"): "communes_63", ("commune", "34"): "communes_34"}
Progress = Callable[[str], None]
# Licences of the public data sets the scenario format reads (coverage entry kind -> licence).
PUBLIC_LICENCES = {"opencellid": "CC BY-SA 4.0", "ookla": "CC BY-NC-SA 4.0"}


def _versions() -> dict[str, str]:
    names = ["vnbb", "geopandas", "shapely", "pandas", "numpy", "vietnamadminunits"]
    return {n: metadata.version(n) for n in names}


class _Boundaries:
    """The boundary layers of one build, each read once however many steps (and threads) use them."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._layers: dict[tuple[str, str], gpd.GeoDataFrame] = {}
        self._locks = {key: threading.Lock() for key in LEVELS}

    def __call__(self, scheme: str, level: str) -> gpd.GeoDataFrame:
        with self._locks[(level, scheme)]:
            if (level, scheme) not in self._layers:
                self._layers[(level, scheme)] = boundaries.load(scheme, level, data_dir=self.folder)
            return self._layers[(level, scheme)]


def _unit_tables(pc: pd.DataFrame, layers: list[str], scenario: Scenario, registry: Registry,
                 shapes_of: _Boundaries) -> dict[str, gpd.GeoDataFrame]:
    out = {}
    for (level, scheme), name in LEVELS.items():
        table = engine.aggregate(pc, layers, f"{level}_{scheme}")
        table = engine.gaps(table, scenario.targets)
        units = registry.units(scheme, level)
        shapes = shapes_of(scheme, level)
        table = table.merge(units[["code", "name", "parent_code", "type"]], on="code", how="left")
        table = shapes[["code", "geometry", "source"]].rename(columns={"source": "boundary_source"}).merge(
            table, on="code", how="right")
        out[name] = gpd.GeoDataFrame(table, geometry="geometry", crs=shapes.crs)
    return out


def _national(tables: dict[str, gpd.GeoDataFrame], sites: pd.DataFrame, scenario: Scenario) -> dict:
    result: dict = {}
    for scheme in ("63", "34"):
        prov = tables[f"provinces_{scheme}"]
        totals = engine.national(prov.drop(columns="geometry"), scenario.targets)
        result[scheme] = {k: (bool(v) if k.endswith("__met") else float(v)) for k, v in totals.items()}
    for scheme in ("63", "34"):
        counts = sites.loc[sites["technology"] == "5G", f"province_{scheme}"].value_counts()
        result[f"sites_5g_by_province_{scheme}"] = {str(k): int(v) for k, v in counts.items()}
        result[f"provinces_with_5g_{scheme}"] = int(len(counts))
    result["smart_cities"] = engine.smart_cities_status(tables["provinces_63"], scenario.targets.smart_cities)
    return result


def _located_sites(sites: pd.DataFrame, provinces63: gpd.GeoDataFrame, registry: Registry) -> gpd.GeoDataFrame:
    """Sites as points with their province in both schemes (nearest province for offshore ones)."""
    lon, lat = sites["lon"].to_numpy(float), sites["lat"].to_numpy(float)
    pts = shapely.points(lon, lat)
    at = _province_index(pts, lon, lat, provinces63.geometry.to_numpy())
    code = np.append(provinces63["code"].to_numpy(dtype=object), None)[at]  # -1: no province at all
    out = gpd.GeoDataFrame(sites.reset_index(drop=True), geometry=pts, crs=4326)
    out["province_63"] = code
    out["province_34"] = registry.new_province_of(pd.Series(code, dtype=object)).to_numpy() if len(out) else []
    return out


def _province_index(pts: np.ndarray, lon: np.ndarray, lat: np.ndarray, provinces: np.ndarray) -> np.ndarray:
    """For each point, the number of the polygon it lies within, else of the nearest polygon (-1
    when there are none).

    The answers of STRtree queries of the points against the polygons (``within``, then
    ``query_nearest``), found faster: each polygon is prepared once and tests the points in its
    box (a prepared polygon's point test is a lookup in its own edge index, where a point's
    ``within`` walks every edge); points outside every polygon (offshore, or on an edge) find
    the nearest polygon by its nearest edge, in one tree of all the polygons' edges. Points in
    two polygons at once, or as near to two, get the STRtree queries' own answer."""
    n = len(pts)
    if n == 0 or len(provinces) == 0:
        return np.full(n, -1, np.int64)
    polys = shapely.from_wkb(shapely.to_wkb(provinces))  # prepared copies: the layer is shared
    shapely.prepare(polys)
    gi, pi = shapely.STRtree(pts).query(polys)  # boxes meet
    inside = shapely.contains_xy(polys[gi], lon[pi], lat[pi])
    gi, pi = gi[inside], pi[inside]
    hits = np.bincount(pi, minlength=n)
    out = np.full(n, -1, np.int64)
    out[pi] = gi
    tree = None
    if (hits > 1).any():  # in overlapping polygons: as the within query decides it
        tree = shapely.STRtree(provinces)
        both = np.flatnonzero(hits > 1)
        si, gj = tree.query(pts[both], predicate="within")
        out[both[si]] = gj
    rest = np.flatnonzero(hits == 0)
    if len(rest):
        parts, part_of = shapely.get_parts(provinces, return_index=True)
        rings, ring_of = shapely.get_rings(parts, return_index=True)
        xy, vertex_of = shapely.get_coordinates(rings, return_index=True)
        edge = np.flatnonzero(vertex_of[1:] == vertex_of[:-1])
        edges = shapely.linestrings(np.stack([xy[edge], xy[edge + 1]], axis=1))
        ri, ei = shapely.STRtree(edges).query_nearest(pts[rest], all_matches=True)
        pairs = pd.DataFrame({"p": ri, "g": part_of[ring_of[vertex_of[edge]]][ei]}).drop_duplicates()
        count = np.bincount(pairs["p"].to_numpy(), minlength=len(rest))
        alone = pairs[count[pairs["p"].to_numpy()] == 1]
        out[rest[alone["p"].to_numpy()]] = alone["g"].to_numpy()
        tie = np.flatnonzero(count != 1)
        if len(tie):
            tree = tree if tree is not None else shapely.STRtree(provinces)
            ti, gj = tree.query_nearest(pts[rest[tie]], all_matches=False)
            out[rest[tie[ti]]] = gj
    return out


def _placed_population(scenario: Scenario, shapes_of: _Boundaries) -> dasymetric.ZonalTable:
    """The raster step: the population grid per commune pair and set of covering inputs. It needs
    no village result, so it runs beside the village step; its cells are checked as it reads them."""
    grid = scenario.population
    geometry = dasymetric.CoverageGeometry.build(grid.crs, scenario.sites, scenario.rasters, scenario.footprints)
    return dasymetric.zonal_table(grid, shapes_of("63", "commune"), shapes_of("34", "commune"), geometry)


def _located_remainder(scenario: Scenario, cov: engine.VillageCoverage, registry: Registry,
                       placed: dasymetric.ZonalTable) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Remainder households placed by the population raster, with their coverage per layer."""
    rem = engine.remainder(scenario.households, scenario.villages)
    rates = dasymetric.fixed_rates(cov.layers, cov.table, cov.fixed_operators,
                                   {fp.operator for fp in scenario.footprints if fp.technology == "fixed"})
    return dasymetric.located_remainder(rem, placed.sums(cov.layers), rates, cov.layers, registry.commune_crosswalk)


def _layer_sources(scenario: Scenario, cov: engine.VillageCoverage) -> dict[str, list[dict]]:
    """Which inputs (with provenance and as-of date) feed each layer."""
    declared = {s.get("file"): s for s in scenario.meta.get("sources", [])}
    kinds = {c.get("file"): c.get("kind", "") for c in scenario.meta.get("coverage", [])}

    def _licence(file: str) -> str:
        """The source's declared licence, else the known licence of a public data set."""
        return str(declared.get(file, {}).get("licence") or PUBLIC_LICENCES.get(kinds.get(file, ""), ""))
    tables = {Path(f).stem: f for f in scenario.hashes if "/" not in f and Path(f).suffix in TABLE_SUFFIXES}

    def _src(file: str, default: str) -> dict:
        file = tables.get(Path(file).stem, file)  # sites.xlsx as well as sites.csv
        entry = declared.get(file, {})
        return {"file": file, "provenance": entry.get("provenance", default), "as_of": str(entry.get("as_of", "")),
                "licence": _licence(file)}

    inputs: list[tuple[str, str, dict]] = []  # (technology, operator, source)
    for (tech, op), _ in scenario.sites.groupby(["technology", "operator"]) if len(scenario.sites) else []:
        if tech in ("4G", "5G"):
            inputs.append((tech, op, _src("sites.csv", "modelled")))
    for op in scenario.fixed["operator"].unique() if len(scenario.fixed) else []:
        inputs.append(("fixed", op, _src("fixed.csv", "declared")))
    for item in (*scenario.rasters, *scenario.footprints):
        inputs.append((item.technology, item.operator, {"file": item.file, "provenance": item.provenance,
                                                        "as_of": item.as_of, "licence": _licence(item.file)}))
    covers = {"4G": {"4G", "mobile", "any"}, "5G": {"5G", "mobile", "any"}, "fixed": {"fixed", "any"}}
    out: dict[str, list[dict]] = {}
    for key in cov.layers:
        tech, op = key.split("__", 1)
        out[key] = [src for t, o, src in inputs if tech in covers[t] and op in ("all", o)]
    return out


def build(scenario_dir: Path | str, out: Path | str, data_dir: Path | str | None = None,
          progress: Progress | None = None, force: bool = False) -> Path:
    """Compute everything for a scenario and write the store atomically; returns its path.

    When the store already holds results of the same inputs, versions and boundaries, it is
    reused unless ``force``.
    """
    say = progress or (lambda _msg: None)
    out = Path(out)
    folder = _resolve_data_dir(data_dir)
    say("reading scenario")
    with ThreadPoolExecutor(1, thread_name_prefix="vnbb-registry") as side:
        registry_f = side.submit(load_registry, folder)  # built while the files that need none are read
        scenario = load_scenario(scenario_dir, registry_f.result, check_population=False)  # checked when read
        registry = registry_f.result()
    key = {"inputs": scenario.hashes, "versions": _versions(), "data_dir": str(folder),
           "store_version": STORE_VERSION, "crosswalk": registry.crosswalk_source}
    old_manifest = out / "manifest.json"
    if not force and old_manifest.is_file():
        try:
            if json.loads(old_manifest.read_text(encoding="utf-8")).get("key") == key:
                say("inputs unchanged: reusing the existing results")
                return out
        except (OSError, json.JSONDecodeError):
            pass
    shapes_of = _Boundaries(folder)
    # The raster step needs no village result: it runs on a thread of its own (its strips on one
    # thread per core) while this thread does the villages, the sites, the boundary layers and
    # whatever else of the results needs no household figure.
    with ThreadPoolExecutor(1, thread_name_prefix="vnbb-raster") as side:
        placing = side.submit(_placed_population, scenario, shapes_of) if scenario.population is not None else None
        say("village coverage")
        rule = scenario.targets.village_rule
        cov = engine.village_coverage(scenario.villages, scenario.sites, scenario.fixed, rule,
                                      scenario.rasters, scenario.footprints)
        provinces63 = shapes_of("63", "province")
        sites = _located_sites(scenario.sites, provinces63, registry)
        for level, scheme in LEVELS:
            shapes_of(scheme, level)
        village_points = gpd.points_from_xy(cov.table["lon"], cov.table["lat"])
        layer_sources = _layer_sources(scenario, cov)
        located = factors = None
        if placing is not None:
            say("placing households with the population raster")
            located, factors = _located_remainder(scenario, cov, registry, placing.result())
    say("locating households")
    pc = engine.pieces(cov, scenario.households, registry, located)
    say("aggregating communes and provinces (63 and 34 schemes)")
    tables = _unit_tables(pc, cov.layers, scenario, registry, shapes_of)
    national = _national(tables, sites, scenario)
    village_tab = cov.table.copy()
    village_pieces = pc.iloc[: len(village_tab)]
    village_tab["commune_34"] = village_pieces["commune_34"].to_numpy()
    village_tab["province_63"] = village_pieces["province_63"].to_numpy()
    village_tab["province_34"] = village_pieces["province_34"].to_numpy()
    villages = gpd.GeoDataFrame(village_tab, geometry=village_points, crs=4326)
    manifest = {
        "store_version": STORE_VERSION, "key": key,
        "built_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "scenario": {"folder": str(Path(scenario_dir).resolve()), "name": scenario.meta.get("name"),
                     "synthetic": scenario.synthetic, "as_of": str(scenario.meta.get("as_of", "")),
                     "sources": scenario.meta.get("sources", []), "description": scenario.meta.get("description", "")},
        "inputs": scenario.hashes,
        "targets": [{**t.__dict__, "deadline": t.deadline.isoformat()} for t in scenario.targets.targets],
        "targets_file": scenario.targets.path,
        "village_rule": scenario.targets.village_rule.describe(),
        "method": engine.METHOD,
        "household_spread": (dasymetric.__doc__.split("\n\n", 1)[1].strip() if scenario.population is not None
                             else "households outside villages are covered in the same proportion as the "
                                  "commune's village households (no population raster given)"),
        "population": ({"file": scenario.population.file, "provenance": scenario.population.provenance,
                        "as_of": scenario.population.as_of, "crs": scenario.population.crs.to_string(),
                        "path": str(scenario.population.path),
                        "transform": list(scenario.population.transform)[:6],
                        "shape": list(scenario.population.shape)}
                       if scenario.population is not None else None),
        "layer_sources": layer_sources,
        "layers": cov.layers, "mobile_operators": cov.mobile_operators, "fixed_operators": cov.fixed_operators,
        "provenance": sorted({s.get("provenance", "unknown") for s in scenario.meta.get("sources", [])}),
        "boundaries": {name: str(t["boundary_source"].dropna().iloc[0]) if t["boundary_source"].notna().any()
                       else "none" for name, t in tables.items()},
        "crosswalk": registry.crosswalk_source, "versions": _versions(),
        "attribution": provinces63.attrs.get("attribution", ""),
    }
    say("writing results")
    extra = {"villages": villages, "sites": sites}
    if factors is not None:
        extra["remainder_factors"] = factors  # households per unit of population, per commune
    _write_store(out, tables | extra, national, manifest)
    return out


def _write_store(out: Path, tables: dict[str, pd.DataFrame], national: dict, manifest: dict) -> None:
    """Write a complete store version beside ``out``, then point ``out`` at it.

    ``out`` is a symbolic link to the current version folder, replaced with one atomic rename,
    so a reader (or a killed build) always sees a complete store: there is no moment when ``out``
    is missing. A store written by an older version (a plain folder) is converted once.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    version = Path(tempfile.mkdtemp(prefix=f".{out.name}.v-", dir=out.parent))
    try:
        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:  # Arrow writes let go of the GIL
            for done in [pool.submit(table.to_parquet, version / f"{name}.parquet", index=False)
                         for name, table in tables.items()]:
                done.result()
        (version / "national.json").write_text(json.dumps(national, indent=2, ensure_ascii=False), encoding="utf-8")
        (version / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str),
                                               encoding="utf-8")
        version.chmod(0o755)
        previous = out.resolve() if out.is_symlink() else None
        if out.exists() and not out.is_symlink():  # a plain-folder store: move it aside first
            legacy = out.with_name(f".{out.name}.v-legacy-{os.getpid()}")
            os.replace(out, legacy)
            previous = legacy
        link = out.with_name(f".{out.name}.link-{os.getpid()}")
        link.unlink(missing_ok=True)
        link.symlink_to(version.name)
        os.replace(link, out)
    except BaseException:
        shutil.rmtree(version, ignore_errors=True)
        raise
    if previous is not None and previous != version.resolve():
        shutil.rmtree(previous, ignore_errors=True)
    for stale in out.parent.glob(f".{out.name}.v-*"):  # versions of builds killed before the swap
        if stale.resolve() != version.resolve():
            shutil.rmtree(stale, ignore_errors=True)


def read_table(store: Path | str, level: str = "province", scheme: str = "63") -> gpd.GeoDataFrame:
    """A unit table of a store."""
    path = Path(store) / f"{LEVELS[(level, scheme)]}.parquet"
    if not path.is_file():
        raise DataFileError(path, "does not exist: is this a results store? Run `vnbb build` first.")
    return gpd.read_parquet(path)


def read_manifest(store: Path | str) -> dict:
    path = Path(store) / "manifest.json"
    if not path.is_file():
        raise DataFileError(path, "does not exist: is this a results store? Run `vnbb build` first.")
    return json.loads(path.read_text(encoding="utf-8"))


def report(store: Path | str, level: str = "province", scheme: str = "63", technology: str = "any",
           operator: str = "all") -> pd.DataFrame:
    """The report table: figures for one layer and the gap to every applicable target."""
    table = read_table(store, level, scheme)
    key = engine.layer_key(technology, operator)
    if f"hh_cov__{key}" not in table:
        raise DataFileError(Path(store), f"has no layer {technology}/{operator}; layers are "
                                         f"{', '.join(read_manifest(store)['layers'])}.")
    return report_frame(table, key).sort_values("code", ignore_index=True)


def report_frame(table: pd.DataFrame, key: str) -> pd.DataFrame:
    """Report columns of a unit table for one layer: figures, then the gap to every target."""
    out = pd.DataFrame({
        "code": table["code"].to_numpy(), "name": table["name"].to_numpy(),
        "households": table["households"].round(0).astype("int64").to_numpy(),
        "households_covered": table[f"hh_cov__{key}"].round(0).astype("int64").to_numpy(),
        "households_pct": table[f"hh_pct__{key}"].round(2).to_numpy(),
        "villages": table["villages"].astype("int64").to_numpy(),
        "villages_covered": table[f"cov__{key}"].astype("int64").to_numpy(),
        "villages_pct": table[f"vil_pct__{key}"].round(2).to_numpy(),
    })
    for col in [c for c in table.columns if "__gap_" in c or c.endswith("__met")]:
        values = table[col].to_numpy()
        out[col] = values.round(2) if "gap_pp" in col else values
    return out
