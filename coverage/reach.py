"""Which coverage layers reach which points: site radii, signal rasters and footprint polygons.

Array in, array out: every function takes point coordinates (lon/lat arrays, EPSG:4326) and
returns boolean arrays, one per (technology, operator), computed with a k-d tree, an STRtree or
a raster lookup, never a loop over points, sites or cells. The inputs' own checks live in
:mod:`coverage.scenario`; here they are trusted.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from pyproj import CRS, Transformer

from geodata.crs import AREA_CRS, DISPLAY_CRS

_TO_METRES = Transformer.from_crs(DISPLAY_CRS, AREA_CRS, always_xy=True)
MOBILE_TECHS = ("4G", "5G")


@dataclass(frozen=True)
class SignalRaster:
    """A modelled or measured signal grid (e.g. RSRP in dBm) of one operator and technology.

    A point is covered when the cell containing it holds a value at or above ``threshold``.
    """

    values: np.ma.MaskedArray
    transform: Affine
    crs: CRS
    operator: str
    technology: str
    threshold: float
    file: str
    provenance: str
    as_of: str


@dataclass(frozen=True)
class Footprint:
    """Coverage polygons of one operator and technology (4G, 5G or fixed), in EPSG:4326."""

    shapes: gpd.GeoSeries
    operator: str
    technology: str
    file: str
    provenance: str
    as_of: str


def within_radius(lon: np.ndarray, lat: np.ndarray, sites: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (point index, site index) where the point lies within the site's service radius.

    Distances are measured in metres in the equal-area projection (under 0.1 % scale error over
    a few km in Vietnam). Sites are taken in classes of similar radius (within a factor 1.3), each
    matched against a k-d tree of the points up to its largest radius, so that few pairs beyond a
    site's own radius are ever formed; the pairs are then kept by each site's exact radius.
    """
    if len(sites) == 0 or len(lon) == 0:
        return np.array([], int), np.array([], int)
    # Imported here: the app imports this module on every page, and only builds need the trees
    # (scipy.spatial is a tenth of a second of the app's first run).
    from scipy.spatial import cKDTree

    px, py = _TO_METRES.transform(np.asarray(lon, float), np.asarray(lat, float))
    sx, sy = _TO_METRES.transform(sites["lon"].to_numpy(float), sites["lat"].to_numpy(float))
    radius = sites["radius_m"].to_numpy(float)
    points = cKDTree(np.column_stack([px, py]))
    size = np.floor(np.log(np.maximum(radius, 1.0)) / np.log(1.3)).astype(np.int64)
    pis, sis = [], []
    for s in np.unique(size):
        idx = np.flatnonzero(size == s)
        near = cKDTree(np.column_stack([sx[idx], sy[idx]])).sparse_distance_matrix(
            points, float(radius[idx].max()) * (1 + 1e-9), output_type="ndarray")
        pis.append(near["j"].astype(np.int64))
        sis.append(idx[near["i"]])
    pi, si = np.concatenate(pis), np.concatenate(sis)
    keep = (px[pi] - sx[si]) ** 2 + (py[pi] - sy[si]) ** 2 <= radius[si] ** 2
    return pi[keep], si[keep]


def cells_under(lon: np.ndarray, lat: np.ndarray, transform: Affine, crs: CRS,
                shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row and column of the grid cell under each lon/lat point, and whether it is on the grid."""
    to_grid = Transformer.from_crs(DISPLAY_CRS, crs, always_xy=True)
    x, y = to_grid.transform(np.asarray(lon, float), np.asarray(lat, float))
    col, row = ~transform @ (x, y)
    row, col = np.floor(row).astype(np.int64), np.floor(col).astype(np.int64)
    inside = (row >= 0) & (row < shape[0]) & (col >= 0) & (col < shape[1])
    return row, col, inside


def sample(raster: SignalRaster, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """The raster value under each point (NaN outside the grid or on nodata)."""
    row, col, inside = cells_under(lon, lat, raster.transform, raster.crs, raster.values.shape)
    out = np.full(len(row), np.nan)
    r, c = row[inside], col[inside]
    vals = raster.values.data[r, c].astype(float)
    vals[np.ma.getmaskarray(raster.values)[r, c]] = np.nan
    out[inside] = vals
    return out


def in_footprint(footprint: Footprint, lon: np.ndarray, lat: np.ndarray,
                 points: shapely.STRtree | None = None) -> np.ndarray:
    """Whether each point lies inside (or on the edge of) one of the footprint's polygons.

    ``points``: an STRtree of these points, when several footprints test the same points (each
    polygon is then tested once against the points in its box)."""
    flag = np.zeros(len(lon), bool)
    if len(lon) == 0 or len(footprint.shapes) == 0:
        return flag
    tree = points if points is not None else _points(lon, lat)
    _, pi = tree.query(footprint.shapes.to_numpy(), predicate="intersects")
    flag[pi] = True
    return flag


def _points(lon: np.ndarray, lat: np.ndarray) -> shapely.STRtree:
    return shapely.STRtree(shapely.points(np.asarray(lon, float), np.asarray(lat, float)))


def mobile_reach(lon: np.ndarray, lat: np.ndarray, sites: pd.DataFrame, rasters: tuple[SignalRaster, ...] = (),
                 footprints: tuple[Footprint, ...] = ()) -> dict[tuple[str, str], np.ndarray]:
    """For every (technology, operator) with any mobile input: which points it reaches.

    A point is reached when any input of that technology and operator says so (site radius,
    raster threshold or footprint): the inputs are alternatives, not votes.
    """
    n = len(lon)
    reach: dict[tuple[str, str], np.ndarray] = {}

    def _flag(tech: str, op: str) -> np.ndarray:
        return reach.setdefault((tech, op), np.zeros(n, bool))

    pi, si = within_radius(lon, lat, sites)
    if len(sites):
        for op in sites["operator"].unique():  # an operator with only 2G/3G sites reaches no one
            for tech in MOBILE_TECHS:
                _flag(tech, str(op))
        groups = pd.MultiIndex.from_arrays([sites["technology"].to_numpy(), sites["operator"].to_numpy()])
        code, uniques = pd.factorize(groups)
        hit = np.zeros((len(uniques), n), bool)
        hit[code[si], pi] = True
        for i, (tech, op) in enumerate(uniques):
            if (tech, str(op)) in reach:
                reach[(tech, str(op))] |= hit[i]
    for raster in rasters:
        _flag("5G" if raster.technology == "4G" else "4G", raster.operator)
        _flag(raster.technology, raster.operator)[:] |= sample(raster, lon, lat) >= raster.threshold
    tree = None
    for fp in footprints:
        if fp.technology in MOBILE_TECHS:
            tree = _points(lon, lat) if tree is None else tree
            _flag("5G" if fp.technology == "4G" else "4G", fp.operator)
            _flag(fp.technology, fp.operator)[:] |= in_footprint(fp, lon, lat, tree)
    return reach


def fixed_reach(lon: np.ndarray, lat: np.ndarray, footprints: tuple[Footprint, ...] = ()) -> dict[str, np.ndarray]:
    """For every operator with a fixed-network footprint: which points it passes."""
    out: dict[str, np.ndarray] = {}
    tree = None
    for fp in footprints:
        if fp.technology == "fixed":
            tree = _points(lon, lat) if tree is None else tree
            flag = out.setdefault(fp.operator, np.zeros(len(lon), bool))
            flag |= in_footprint(fp, lon, lat, tree)
    return out
