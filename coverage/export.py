"""Gap layers for operators' GIS: uncovered villages, uncovered household clusters, coverage.

:func:`gap_layer` selects a layer from a results store (filtered by province, technology and
operator) and attaches a metadata record (sources, attribution, method, filters); :func:`write`
and :func:`to_bytes` put it in one of :data:`FORMATS`, with the metadata inside the file where
the format has room for it (GeoPackage metadata and a ``metadata`` table, a GeoJSON ``metadata``
member, an XLSX sheet, a ``metadata.json`` in the Shapefile zip) and as a ``source`` column in
CSV. The command line (``vnbb export``) and the app's download buttons write the same files.
"""

from __future__ import annotations

import json
import tempfile
import tomllib
import zipfile
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from affine import Affine
from pyproj import CRS

from coverage import access, dasymetric, engine, store
from coverage.access import LOCAL, AccessDenied, Principal
from coverage.clusters import grid_clusters, point_clusters
from coverage.reach import cells_under
from coverage.scenario import load_coverage_inputs
from geodata import boundaries
from geodata.crs import AREA_CRS
from geodata._cache import atomic_write
from geodata.errors import DataFileError, VnbbError
from geodata.registry import load_registry

_XLSX_CELL_LIMIT = 32_767
_MIN_CELL_HOUSEHOLDS = 0.5  # a cell with less than half an uncovered household is not a gap
EXPORT_LAYERS = ("uncovered-villages", "uncovered-households", "coverage")
FORMATS = ("gpkg", "geojson", "shp", "csv", "xlsx")
SUFFIXES = {"gpkg": ".gpkg", "geojson": ".geojson", "shp": ".zip", "csv": ".csv", "xlsx": ".xlsx"}
MEDIA_TYPES = {
    "gpkg": "application/geopackage+sqlite3",
    "geojson": "application/geo+json",
    "shp": "application/zip",
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# Shapefile (dBase) field names are limited to 10 characters.
_SHP_FIELDS = {
    "village_id": "village_id", "commune_63": "comm_63", "commune_34": "comm_34", "province_63": "prov_63",
    "province_34": "prov_34", "households": "hh", "households_covered": "hh_cov",
    "households_uncovered": "hh_uncov", "operators_reaching": "n_ops", "technology": "tech",
    "operator": "operator", "cluster_id": "cluster_id", "villages": "villages",
    "villages_covered": "vil_cov", "households_pct": "hh_pct", "villages_pct": "vil_pct", "name": "name",
    "code": "code", "parent_code": "parent", "boundary_source": "bnd_src",
}


class ExportError(VnbbError):
    """An export that cannot be made as asked (unknown layer, format, province, operator)."""


def gap_layer(store_dir: Path | str, layer: str, *, provinces: Sequence[str] | None = None, scheme: str = "63",
              technology: str = "any", operator: str = "all", level: str = "commune",
              who: Principal = LOCAL) -> gpd.GeoDataFrame:
    """One gap layer of a store, as a GeoDataFrame in EPSG:4326 with ``attrs["metadata"]``.

    ``provinces`` are province codes of ``scheme``; ``level`` applies to the ``coverage`` layer
    (unit polygons with the layer's figures and gaps). ``who`` is checked here, not only in the
    page (:mod:`coverage.access`): an operator gets other operators' layers refused, and a
    province gets village-level layers of its own province only.
    """
    if layer not in EXPORT_LAYERS:
        raise ExportError(f"unknown layer {layer!r}; choose one of {', '.join(EXPORT_LAYERS)}")
    manifest = store.read_manifest(store_dir)
    key = engine.layer_key(technology, operator)
    if key not in manifest["layers"]:
        raise ExportError(f"the store has no {technology} coverage for operator {operator!r}; layers are "
                          f"{', '.join(manifest['layers'])}")
    access.check_layer(who, key)
    codes = _province_codes(store_dir, provinces, scheme)
    if who.role == "province" and layer != "coverage":
        codes = _own_codes(store_dir, who, codes, scheme)
    if layer == "coverage":
        out = _coverage(store_dir, key, codes, scheme, level)
    else:
        villages = gpd.read_parquet(Path(store_dir) / "villages.parquet", columns=[
            "village_id", "name", "commune_code", "commune_34", "province_63", "province_34", "lon", "lat",
            "households", "operators", f"hh_cov__{key}", f"cov__{key}", "geometry"])
        if codes is not None:
            villages = villages[villages[f"province_{scheme}"].isin(codes)]
        if layer == "uncovered-villages":
            out = _uncovered_villages(villages, key)
        elif manifest.get("population"):
            out = _grid_household_clusters(store_dir, manifest, villages, key, codes, scheme)
        else:
            out = _household_clusters(villages, key, scheme)
    out.insert(len(out.columns) - 1, "technology", technology)
    out.insert(len(out.columns) - 1, "operator", operator)
    out.attrs["metadata"] = _metadata(manifest, layer, technology, operator, codes, scheme, level, len(out), who)
    return out


def _own_codes(store_dir: Path | str, who: Principal, codes: list[str] | None, scheme: str) -> list[str]:
    """The asked province codes of ``scheme``, limited to the province user's own province.

    The user's province may be of the other scheme: its counterparts are the provinces of
    ``scheme`` holding its villages.
    """
    mine, theirs = f"province_{who.scheme}", f"province_{scheme}"
    v = pd.read_parquet(Path(store_dir) / "villages.parquet", columns=sorted({mine, theirs}))
    own = sorted(set(v.loc[v[mine] == who.province, theirs]))
    if codes is None:
        return own
    outside = [c for c in codes if c not in own]
    if outside:
        raise AccessDenied(f"{who.describe()} may export village-level layers of its own province only; "
                           f"not {', '.join(outside)} ({scheme} scheme)")
    return codes


def _province_codes(store_dir: Path | str, provinces: Sequence[str] | None, scheme: str) -> list[str] | None:
    if not provinces:
        return None
    known = set(load_registry().units(scheme, "province")["code"])
    codes = [str(p).strip().zfill(2) for p in provinces]
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise ExportError(f"unknown province code(s) {', '.join(unknown)} in the {scheme}-unit scheme")
    return codes


def _uncovered_villages(villages: gpd.GeoDataFrame, key: str) -> gpd.GeoDataFrame:
    gap = villages[~villages[f"cov__{key}"].astype(bool)]
    return gpd.GeoDataFrame({
        "village_id": gap["village_id"], "name": gap["name"], "commune_63": gap["commune_code"],
        "commune_34": gap["commune_34"], "province_63": gap["province_63"], "province_34": gap["province_34"],
        "households": gap["households"].astype("int64"),
        "households_covered": gap[f"hh_cov__{key}"].round(0).astype("int64"),
        "households_uncovered": (gap["households"] - gap[f"hh_cov__{key}"]).round(0).astype("int64"),
        "operators_reaching": gap["operators"].astype("int64"),
    }, geometry=gap.geometry.to_numpy(), crs=villages.crs).reset_index(drop=True)


def _grid_household_clusters(store_dir: Path | str, manifest: dict, villages: gpd.GeoDataFrame, key: str,
                             codes: list[str] | None, scheme: str) -> gpd.GeoDataFrame:
    """Clusters of touching population cells holding uncovered households (villages' included),
    redrawn on the population grid over the selected provinces, strip by strip."""
    pop = manifest["population"]
    path = Path(pop["path"])
    if not path.is_file():
        raise ExportError(f"the population raster {path} used by this store is gone; household clusters "
                          "are drawn from it. Put it back or rebuild the store.")
    grid = dasymetric.PopulationGrid(path, Affine(*pop["transform"]), CRS.from_user_input(pop["crs"]),
                                     tuple(pop["shape"]), None, pop["file"], pop["provenance"], pop["as_of"])
    data_dir = manifest.get("key", {}).get("data_dir")
    data_dir = None if data_dir in (None, "None") else data_dir
    communes = boundaries.load("63", "commune", data_dir=data_dir)
    province = (communes["parent_code"] if scheme == "63"
                else load_registry(data_dir).new_province_of(communes["parent_code"]))
    if codes is not None:
        communes = communes[province.isin(codes).to_numpy()]
    factors = pd.read_parquet(Path(store_dir) / "remainder_factors.parquet")
    scenario_dir = Path(manifest["scenario"]["folder"])
    entries = tomllib.loads((scenario_dir / "scenario.toml").read_text(encoding="utf-8")).get("coverage", [])
    rasters, footprints = load_coverage_inputs(scenario_dir, list(entries))
    geometry = dasymetric.CoverageGeometry.build(grid.crs, gpd.read_parquet(Path(store_dir) / "sites.parquet"),
                                                 rasters, footprints)
    window = grid.window_of(tuple(communes.total_bounds))
    unc, transform = dasymetric.uncovered_grid(grid, window, communes, factors, geometry, key)
    # Village households at their cell.
    unc_v = (villages["households"] - villages[f"hh_cov__{key}"]).to_numpy(float)
    vrow, vcol, on = cells_under(villages["lon"], villages["lat"], transform, grid.crs, unc.shape)
    on &= unc_v > 0
    np.add.at(unc, (vrow[on], vcol[on]), unc_v[on])
    nvil = np.zeros(unc.shape)
    np.add.at(nvil, (vrow[on], vcol[on]), 1.0)
    clusters = grid_clusters(unc, transform, grid.crs, nvil, min_households=_MIN_CELL_HOUSEHOLDS)
    if len(clusters):
        # The province of the commune under (or nearest to: cells straddle edges) each cluster.
        inside = gpd.sjoin_nearest(
            gpd.GeoDataFrame(clusters[["cluster_id"]], geometry=clusters.geometry.representative_point(),
                             crs=4326).to_crs(AREA_CRS),
            gpd.GeoDataFrame({"province": province.loc[communes.index].to_numpy()},
                             geometry=communes.geometry.to_numpy(), crs=4326).to_crs(AREA_CRS))
        main = inside.drop_duplicates("cluster_id").set_index("cluster_id")["province"]
        clusters.insert(3, f"province_{scheme}", clusters["cluster_id"].map(main))
    else:
        clusters.insert(3, f"province_{scheme}", pd.Series(dtype=str))
    return clusters.rename(columns={"households": "households_uncovered"})


def _with_province(clusters: gpd.GeoDataFrame, points: gpd.GeoDataFrame, scheme: str) -> gpd.GeoDataFrame:
    """The province holding most of each cluster's uncovered households."""
    col = f"province_{scheme}"
    if len(clusters) == 0:
        clusters.insert(3, col, pd.Series(dtype=str))
        return clusters
    joined = gpd.sjoin(points, clusters[["cluster_id", "geometry"]], predicate="intersects")
    weights = joined.groupby(["cluster_id", "province"])["weight"].sum().reset_index()
    main = weights.sort_values("weight", ascending=False).drop_duplicates("cluster_id").set_index("cluster_id")
    clusters.insert(3, col, clusters["cluster_id"].map(main["province"]))
    return clusters


def _household_clusters(villages: gpd.GeoDataFrame, key: str, scheme: str) -> gpd.GeoDataFrame:
    """Clusters of villages with uncovered households (the point method of coverage.clusters)."""
    unc = (villages["households"] - villages[f"hh_cov__{key}"]).to_numpy(float)
    clusters = point_clusters(villages["lon"].to_numpy(), villages["lat"].to_numpy(), unc)
    points = gpd.GeoDataFrame({"province": villages[f"province_{scheme}"].to_numpy(), "weight": unc},
                              geometry=villages.geometry.to_numpy(), crs=villages.crs)
    clusters = _with_province(clusters, points[points["weight"] > 0], scheme)
    return clusters.rename(columns={"households": "households_uncovered"})


def _coverage(store_dir: Path | str, key: str, codes: list[str] | None, scheme: str, level: str) -> gpd.GeoDataFrame:
    table = store.read_table(store_dir, level, scheme)
    if codes is not None:
        table = table[table["code"].isin(codes) if level == "province" else table["parent_code"].isin(codes)]
    figures = store.report_frame(table, key)
    return gpd.GeoDataFrame(figures.assign(parent_code=table["parent_code"].to_numpy(),
                                           boundary_source=table["boundary_source"].to_numpy()),
                            geometry=table.geometry.to_numpy(), crs=table.crs).reset_index(drop=True)


def licences(manifest: dict, key: str) -> list[str]:
    """The licences of everything a layer is made of: its coverage inputs, the declared
    sources (households...) and the boundaries."""
    found = [src.get("licence", "") for src in manifest.get("layer_sources", {}).get(key, [])]
    found += [src.get("licence", "") for src in manifest.get("scenario", {}).get("sources", [])]
    attribution = manifest.get("attribution", "")
    found += [lic for lic in ("CC BY-SA 4.0", "MIT") if lic in attribution]
    return sorted({lic for lic in found if lic})


def non_commercial(licence: str) -> bool:
    """True for licences that forbid commercial use (Creative Commons NC variants)."""
    return "-NC" in licence.upper().replace(" NC", "-NC")


def _metadata(manifest: dict, layer: str, technology: str, operator: str, codes: list[str] | None,
              scheme: str, level: str, rows: int, who: Principal = LOCAL) -> dict:
    scenario = manifest.get("scenario", {})
    synthetic = bool(scenario.get("synthetic"))
    boundaries = manifest.get("boundaries", {})
    found = licences(manifest, engine.layer_key(technology, operator))
    nc = [lic for lic in found if non_commercial(lic)]
    nc_warning = (f"NON-COMMERCIAL: built on data licensed {', '.join(nc)}; commercial use (e.g. an operator's "
                  "network planning) is not allowed by that licence." if nc else "")
    return {
        "title": f"vnbb {layer}: {technology} / {operator}" + (" [NON-COMMERCIAL]" if nc else ""),
        "licences": ", ".join(found),
        "non_commercial": bool(nc),
        "licence_warning": nc_warning,
        "exported_for": who.describe(),
        "layer": layer, "technology": technology, "operator": operator,
        "provinces": ",".join(codes) if codes else "all", "scheme": scheme,
        "level": level if layer == "coverage" else "",
        "features": rows,
        "synthetic": synthetic,
        "warning": "SYNTHETIC demo data: not for decisions." if synthetic else "",
        "scenario": scenario.get("name") or "", "as_of": scenario.get("as_of", ""),
        "sources": json.dumps(scenario.get("sources", []), ensure_ascii=False),
        "provenance": ",".join(manifest.get("provenance", [])),
        "boundaries": ", ".join(f"{k}: {v}" for k, v in boundaries.items()),
        "attribution": manifest.get("attribution", ""),
        "village_rule": manifest.get("village_rule", ""),
        "method": _layer_method(layer, manifest),
        "built_at": manifest.get("built_at", ""),
        "crs": "EPSG:4326",
        "software": f"vnbb {manifest.get('versions', {}).get('vnbb', '')}",
    }


def _layer_method(layer: str, manifest: dict) -> str:
    if layer == "uncovered-villages":
        return f"Villages not covered by the layer under the village rule ({manifest.get('village_rule', '')})."
    if layer == "uncovered-households" and manifest.get("population"):
        return ("Households not covered, located by the population raster "
                f"({manifest['population']['file']}) for those outside villages and at the village point "
                "for village households, summed per raster cell; touching cells (8-connected) holding "
                f"at least {_MIN_CELL_HOUSEHOLDS:g} uncovered households form one cluster polygon (the union "
                "of its cells).")
    if layer == "uncovered-households":
        return ("Villages with uncovered households, grouped when within 1,500 m of each other; each "
                "polygon is the group's convex hull widened by 300 m; households_uncovered is the sum of "
                "the group's uncovered village households (households outside villages are not located "
                "without a population raster).")
    return "Unit polygons with the layer's figures and the gap to every target. " + manifest.get("method", "")


def _source_line(meta: dict) -> str:
    parts = [meta["warning"], meta["attribution"], f"built {meta['built_at']} by {meta['software']}"]
    return " | ".join(p for p in parts if p)


def _write_file(gdf: gpd.GeoDataFrame, fmt: str, path: Path) -> None:
    """Write ``gdf`` as ``fmt`` to ``path`` (no atomicity here; see :func:`write`)."""
    meta = {k: str(v) for k, v in gdf.attrs.get("metadata", {}).items()}
    frame = gpd.GeoDataFrame(gdf.drop(columns="geometry"), geometry=gdf.geometry.to_numpy(), crs=gdf.crs)
    if fmt == "gpkg":
        name = meta.get("layer", "layer").replace("-", "_")
        pyogrio.write_dataframe(frame, path, layer=name, driver="GPKG", layer_metadata=meta)
        pyogrio.write_dataframe(pd.DataFrame({"key": list(meta), "value": list(meta.values())}), path,
                                layer="metadata", driver="GPKG", append=True)
    elif fmt == "geojson":
        doc = json.loads(frame.to_json(na="null", drop_id=True))
        doc = {"type": "FeatureCollection", "metadata": meta, "features": doc["features"]}
        path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    elif fmt == "shp":
        _write_shapefile_zip(frame, meta, path)
    elif fmt == "csv":
        _table(frame).assign(source=_source_line(meta) if meta else "").to_csv(path, index=False,
                                                                               encoding="utf-8-sig")
    elif fmt == "xlsx":
        table = _table(frame)
        if "wkt" in table:
            # A spreadsheet cell holds at most 32,767 characters: larger shapes are left out (with
            # a representative point kept), never cut into broken WKT.
            too_long = table["wkt"].str.len() > _XLSX_CELL_LIMIT
            point = frame.geometry.representative_point()
            table["lon"], table["lat"] = point.x.round(6).to_numpy(), point.y.round(6).to_numpy()
            table.loc[too_long.to_numpy(), "wkt"] = ""
            if too_long.any():
                meta["xlsx_note"] = (f"{int(too_long.sum())} shape(s) exceed a spreadsheet cell and are left out "
                                     "of the wkt column (lon/lat give a point inside); use GeoPackage for shapes.")
        with pd.ExcelWriter(path, engine="openpyxl") as xl:
            table.to_excel(xl, sheet_name="data", index=False)
            pd.DataFrame({"key": list(meta), "value": list(meta.values())}).to_excel(
                xl, sheet_name="metadata", index=False)
    else:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _table(frame: gpd.GeoDataFrame) -> pd.DataFrame:
    """A plain table: lon/lat for points, WKT for other shapes."""
    table = pd.DataFrame(frame.drop(columns="geometry"))
    if len(frame) and (frame.geom_type == "Point").all():
        table["lon"], table["lat"] = frame.geometry.x.round(6), frame.geometry.y.round(6)
    else:
        table["wkt"] = frame.geometry.to_wkt(rounding_precision=6)
    return table


def _write_shapefile_zip(frame: gpd.GeoDataFrame, meta: dict, path: Path) -> None:
    stem = meta.get("layer", "layer").replace("-", "_")
    names = _shapefile_names([c for c in frame.columns if c != "geometry"])
    renamed = frame.rename(columns=names)
    with tempfile.TemporaryDirectory() as tmp:
        shp = Path(tmp) / f"{stem}.shp"
        pyogrio.write_dataframe(renamed, shp, driver="ESRI Shapefile", layer_options={"ENCODING": "UTF-8"})
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for part in sorted(Path(tmp).iterdir()):
                zf.write(part, part.name)
            fields = {short: long for long, short in names.items()}
            zf.writestr("metadata.json", json.dumps({**meta, "fields": fields}, indent=2, ensure_ascii=False))


def _shapefile_names(columns: list[str]) -> dict[str, str]:
    """Unique field names of at most 10 characters (targets become t1_pct, t1_gap_hh, ...)."""
    abbrev = {"pct": "pct", "met": "met", "gap_pp": "gap_pp", "gap_households": "gap_hh", "gap_villages": "gap_vil"}
    targets: dict[str, int] = {}
    out: dict[str, str] = {}
    for col in columns:
        if col in _SHP_FIELDS:
            short = _SHP_FIELDS[col]
        elif "__" in col:
            target, what = col.rsplit("__", 1)
            number = targets.setdefault(target, len(targets) + 1)
            short = f"t{number}_{abbrev.get(what, what)}"[:10]
        else:
            short = col[:10]
        while short in out.values():
            short = short[:8] + f"{len(out) % 100:02d}"
        out[col] = short
    return out


def write(gdf: gpd.GeoDataFrame, fmt: str, out: Path | str) -> Path:
    """Write a gap layer to ``out`` atomically (an existing file is replaced only on success)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    out = Path(out)
    if fmt == "shp" and out.suffix.lower() != ".zip":
        out = out.with_suffix(".zip")  # a Shapefile is several files: they travel zipped
    try:
        return atomic_write(out, lambda tmp: _write_file(gdf, fmt, tmp))
    except OSError as exc:
        raise DataFileError(out, f"cannot be written ({exc}).") from exc


def to_bytes(gdf: gpd.GeoDataFrame, fmt: str) -> bytes:
    """The file :func:`write` would produce, as bytes (for download buttons)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"layer{SUFFIXES[fmt]}"
        _write_file(gdf, fmt, path)
        return path.read_bytes()

