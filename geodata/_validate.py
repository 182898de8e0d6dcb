"""Reading and checking vector layers at the edge, so everything inside can trust them."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely

from geodata.crs import DISPLAY_CRS
from geodata.errors import CRSError, DataFileError, GeometryError


def read_vector(path: Path | str, layer: str | None = None, *, id_field: str | None = None) -> gpd.GeoDataFrame:
    """Read a vector file, check its CRS and geometries, and return it in EPSG:4326.

    Invalid geometries are repaired with ``make_valid`` (a warning names each one); empty or
    missing geometries are refused with the feature named by ``id_field`` (or its row number).
    """
    path = Path(path)
    if not path.exists():
        raise DataFileError(path, "does not exist.")
    if path.stat().st_size == 0:
        raise DataFileError(path, "is empty (0 bytes).")
    try:
        gdf = gpd.read_file(path, layer=layer, engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError) as exc:
        raise DataFileError(path, f"cannot be read as a vector layer ({exc}). Is it truncated or "
                                  "not a GeoPackage/GeoJSON/Shapefile/KML?") from exc
    if len(gdf) == 0:
        raise DataFileError(path, "has no features.")
    return check_layer(gdf, path, id_field=id_field)


def check_layer(gdf: gpd.GeoDataFrame, path: Path | str, *, id_field: str | None = None) -> gpd.GeoDataFrame:
    """CRS and geometry checks of :func:`read_vector`, for layers already in memory."""
    if gdf.crs is None:
        raise CRSError(path, "has no coordinate reference system. Save it with one (EPSG:4326 or a "
                             "VN-2000 zone), or state it when importing.")
    if not gdf.crs.equals(DISPLAY_CRS):
        try:
            gdf = gdf.to_crs(DISPLAY_CRS)
        except Exception as exc:  # pyproj raises several types
            raise CRSError(path, f"its CRS ({gdf.crs.name}) cannot be converted to EPSG:4326: {exc}") from exc
    labels = gdf[id_field].astype(str) if id_field and id_field in gdf else None

    def _name(i: int) -> str:
        label = f"feature {i + 1}"
        return f"{label} ({id_field} {labels.iloc[i]})" if labels is not None else label

    geoms = gdf.geometry.to_numpy()
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if empty.any():
        raise GeometryError(path, f"{int(empty.sum())} feature(s) have no geometry.",
                            [f"{_name(i)}: geometry is empty" for i in empty.nonzero()[0]])
    bad = ~shapely.is_valid(geoms)
    if bad.any():
        reasons = shapely.is_valid_reason(geoms[bad])
        warnings.warn(f"{path}: repaired {int(bad.sum())} invalid geometries: "
                      + "; ".join(f"{_name(i)}: {r}" for i, r in zip(bad.nonzero()[0][:10], reasons)),
                      stacklevel=2)
        fixed = shapely.make_valid(geoms[bad])
        still = shapely.is_empty(fixed) | ~shapely.is_valid(fixed)
        if still.any():
            raise GeometryError(path, "some geometries cannot be repaired.",
                                [f"{_name(i)}: {r}" for i, r in zip(bad.nonzero()[0][still], reasons[still])])
        geoms = geoms.copy()
        geoms[bad] = fixed
        gdf = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
    bounds = gdf.total_bounds
    if not (95 <= bounds[0] and bounds[2] <= 125 and 0 <= bounds[1] and bounds[3] <= 30):
        raise CRSError(path, f"its features lie at {bounds.round(2).tolist()} (lon/lat), outside "
                             "Vietnam and its waters: is the stated CRS wrong?")
    return gdf
