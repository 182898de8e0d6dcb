"""Reading and checking vector layers at the edge, so everything inside can trust them.

Formats: GeoPackage, GeoJSON, Shapefile (also zipped, with or without ``.prj``), KML. CRS:
whatever the file declares (EPSG:4326, VN-2000 geographic or a TM-3 zone, ...); a layer without
one is refused unless the caller states one (see :func:`geodata.vn2000.parse_crs`), except when
its coordinates can only be lon/lat in Vietnam.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from geodata._archive import check_file, unpack_zip
from geodata.crs import DISPLAY_CRS
from geodata.errors import CRSError, DataFileError, GeometryError

VECTOR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".kml", ".zip", ".parquet")
_LONLAT_VN = (102.0, 8.0, 117.5, 23.5)  # lon/lat box of Vietnam's mainland and islands
_WIDE_VN = (95.0, 0.0, 125.0, 30.0)  # Vietnam and its waters, with room
_TM3_VN = (100_000.0, 800_000.0, 900_000.0, 2_700_000.0)  # TM-3/UTM easting, northing over Vietnam


def _inside(bounds: np.ndarray, box: tuple[float, float, float, float]) -> bool:
    return bool(box[0] <= bounds[0] and bounds[2] <= box[2] and box[1] <= bounds[1] and bounds[3] <= box[3])


def _vector_in_folder(folder: Path, archive: Path) -> Path:
    """The one vector dataset inside an unpacked archive."""
    found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".shp", ".gpkg", ".geojson", ".json", ".kml")
                   and not p.name.startswith("."))
    if not found:
        raise DataFileError(archive, "holds no .shp, .gpkg, .geojson or .kml file. Zip the layer's files "
                                     "(.shp with .shx, .dbf and .prj) together.")
    if len(found) > 1:
        raise DataFileError(archive, "holds several layers; send one per zip.",
                            [str(p.relative_to(folder)) for p in found][:20])
    return found[0]


def _read(path: Path, layer: str | None, shown: Path) -> gpd.GeoDataFrame:
    try:
        if path.suffix.lower() == ".parquet":
            return gpd.read_parquet(path)
        if layer is None and path.suffix.lower() == ".kml":
            names = [str(n) for n, _ in pyogrio.list_layers(path)]
            parts = [gpd.read_file(path, layer=n, engine="pyogrio") for n in names]
            parts = [p for p in parts if len(p)]
            return pd.concat(parts, ignore_index=True) if parts else gpd.GeoDataFrame(geometry=[], crs=4326)
        return gpd.read_file(path, layer=layer, engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError, OSError) as exc:
        raise DataFileError(shown, f"cannot be read as a vector layer ({exc}). Is it truncated or corrupt, or not "
                                   "a GeoPackage/GeoJSON/Shapefile/KML? Export it again.") from exc


def read_vector(path: Path | str, layer: str | None = None, *, id_field: str | None = None,
                crs: CRS | str | None = None, limit: int | None = None) -> gpd.GeoDataFrame:
    """Read a vector file, check its CRS and geometries, and return it in EPSG:4326.

    ``crs`` is the CRS the user states for a file that declares none. Zips are unpacked with
    :func:`geodata._archive.unpack_zip` (size limits, no escaping paths). Invalid geometries are
    repaired with ``make_valid`` (a warning names each one); empty or missing geometries are
    refused with the feature named by ``id_field`` (or its number).
    """
    path = check_file(path, limit)
    folder = None
    try:
        target = path
        if path.suffix.lower() == ".zip":
            folder = unpack_zip(path, limit=limit)
            target = _vector_in_folder(folder, path)
        gdf = _read(target, layer, path)
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    if len(gdf) == 0:
        raise DataFileError(path, "has no features.")
    return check_layer(gdf, path, id_field=id_field, crs=crs)


def _crs_hint(bounds: np.ndarray) -> str:
    """What the coordinates look like, to tell the user which CRS to state."""
    if _inside(bounds, _TM3_VN):
        return (" The coordinates look like metres of a transverse Mercator zone (VN-2000 TM-3, as cadastral "
                "files use): state it, e.g. --crs 'VN-2000:<province>' or --crs 'TM-3 105-45'.")
    if _inside(bounds[[1, 0, 3, 2]], _LONLAT_VN):
        return " The coordinates look like lat/lon with the axes swapped: export them as lon (x), lat (y)."
    return ""


def _assign_crs(gdf: gpd.GeoDataFrame, path: Path | str, crs: CRS | str | None) -> gpd.GeoDataFrame:
    if gdf.crs is not None:
        return gdf
    if crs is not None:
        return gdf.set_crs(crs)
    bounds = gdf.total_bounds
    if _inside(bounds, _LONLAT_VN):
        warnings.warn(f"{path}: no coordinate reference system; its coordinates can only be lon/lat degrees "
                      "over Vietnam, so WGS 84 (EPSG:4326) is assumed.", stacklevel=3)
        return gdf.set_crs(DISPLAY_CRS)
    raise CRSError(path, "has no coordinate reference system (a shapefile without its .prj?). Send it with "
                         "one, or state it (EPSG:4326, VN-2000, or a VN-2000 TM-3 zone)." + _crs_hint(bounds))


def check_layer(gdf: gpd.GeoDataFrame, path: Path | str, *, id_field: str | None = None,
                crs: CRS | str | None = None) -> gpd.GeoDataFrame:
    """CRS and geometry checks of :func:`read_vector`, for layers already in memory."""
    labels = gdf[id_field].astype(str) if id_field and id_field in gdf else None

    def _name(i: int) -> str:
        label = f"feature {i + 1}"
        return f"{label} ({id_field} {labels.iloc[i]})" if labels is not None else label

    geoms = gdf.geometry.to_numpy()
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if empty.any():
        raise GeometryError(path, f"{int(empty.sum())} feature(s) have no geometry: draw them or delete them.",
                            [f"{_name(i)}: geometry is empty; expected a shape" for i in empty.nonzero()[0]])
    gdf = _assign_crs(gdf, path, crs)
    raw_bounds, source_crs = gdf.total_bounds, gdf.crs.name
    if not gdf.crs.equals(DISPLAY_CRS):
        try:
            gdf = gdf.to_crs(DISPLAY_CRS)
        except Exception as exc:  # pyproj raises several types
            raise CRSError(path, f"its CRS ({gdf.crs.name}) cannot be converted to EPSG:4326: {exc}") from exc
    geoms = gdf.geometry.to_numpy()
    bad = ~shapely.is_valid(geoms)
    if bad.any():
        reasons = shapely.is_valid_reason(geoms[bad])
        warnings.warn(f"{path}: repaired {int(bad.sum())} invalid geometries: "
                      + "; ".join(f"{_name(i)}: {r}" for i, r in zip(bad.nonzero()[0][:10], reasons)),
                      stacklevel=2)
        fixed = shapely.make_valid(geoms[bad])
        still = shapely.is_empty(fixed) | ~shapely.is_valid(fixed)
        if still.any():
            raise GeometryError(path, "some geometries cannot be repaired: redraw them.",
                                [f"{_name(i)}: {r}" for i, r in zip(bad.nonzero()[0][still], reasons[still])])
        geoms = geoms.copy()
        geoms[bad] = fixed
        gdf = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
    bounds = gdf.total_bounds
    if not np.isfinite(bounds).all() or not _inside(bounds, _WIDE_VN):
        raise CRSError(path, f"its features lie at {np.round(bounds, 2).tolist()} (lon/lat, converted from "
                             f"{source_crs}), outside Vietnam and its waters: is that CRS wrong?" + _crs_hint(raw_bounds))
    return gdf
