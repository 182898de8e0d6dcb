"""Uncovered household clusters: the polygons operators plan new sites and fibre routes against.

Two sources, both vectorised:

* :func:`point_clusters` groups uncovered households located at points (villages, or household
  points) that lie within ``link_m`` of each other (single linkage, via an STRtree and connected
  components), and draws each group as the convex hull of its points widened by ``pad_m``;
* :func:`grid_clusters` groups raster cells holding uncovered households that touch (8-connected)
  and draws each group as the union of its cells (the cells' outlines, from rasterio).

Each cluster carries its uncovered household count, so the sum over clusters equals the
uncovered households that were located.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine
from pyproj import Transformer
from rasterio import features
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from geodata.crs import AREA_CRS, DISPLAY_CRS

_TO_M = Transformer.from_crs(DISPLAY_CRS, AREA_CRS, always_xy=True)
_COLUMNS = ["cluster_id", "households", "villages", "geometry"]


def point_clusters(lon: np.ndarray, lat: np.ndarray, households: np.ndarray, link_m: float = 1500.0,
                   pad_m: float = 300.0) -> gpd.GeoDataFrame:
    """Clusters of points with uncovered households (``households`` > 0 are kept).

    ``villages`` counts the points in each cluster. Returned in EPSG:4326, largest first.
    """
    keep = np.asarray(households) > 0
    lon, lat, hh = np.asarray(lon)[keep], np.asarray(lat)[keep], np.asarray(households, float)[keep]
    if len(hh) == 0:
        return gpd.GeoDataFrame(columns=_COLUMNS, geometry="geometry", crs=DISPLAY_CRS)
    x, y = _TO_M.transform(lon, lat)
    pts = shapely.points(x, y)
    a, b = shapely.STRtree(pts).query(pts, predicate="dwithin", distance=link_m)
    graph = coo_matrix((np.ones(len(a), bool), (a, b)), shape=(len(hh), len(hh)))
    n, label = connected_components(graph, directed=False)
    order = np.argsort(label, kind="stable")
    hulls = shapely.multipoints(pts[order], indices=label[order])
    shapes = shapely.buffer(shapely.convex_hull(hulls), pad_m, quad_segs=4)
    out = gpd.GeoDataFrame({"households": np.bincount(label, weights=hh, minlength=n),
                            "villages": np.bincount(label, minlength=n)},
                           geometry=gpd.GeoSeries(shapes, crs=AREA_CRS).to_crs(DISPLAY_CRS))
    return _numbered(out)


def grid_clusters(uncovered: np.ndarray, transform: Affine, crs: object, villages: np.ndarray | None = None,
                  min_households: float = 0.5) -> gpd.GeoDataFrame:
    """Clusters of touching cells whose uncovered households exceed ``min_households``.

    ``uncovered`` is a 2-D array of uncovered households per cell on the grid ``transform``/``crs``;
    ``villages`` an optional same-shape count of uncovered villages per cell.
    """
    mask = uncovered > min_households
    label, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
    if n == 0:
        return gpd.GeoDataFrame(columns=_COLUMNS, geometry="geometry", crs=DISPLAY_CRS)
    flat = label.ravel()
    hh = np.bincount(flat, weights=uncovered.ravel(), minlength=n + 1)[1:]
    vil = (np.bincount(flat, weights=villages.ravel(), minlength=n + 1)[1:] if villages is not None
           else np.zeros(n))
    # One polygon per 8-connected region; a region touching only at corners may come out in parts.
    parts = gpd.GeoDataFrame.from_features(
        [{"type": "Feature", "geometry": geom, "properties": {"region": int(value) - 1}}
         for geom, value in features.shapes(label.astype(np.int32), mask=mask, transform=transform,
                                              connectivity=8)], crs=crs)
    regions = parts.dissolve(by="region")  # a region touching only at corners comes out in parts
    idx = regions.index.to_numpy()
    out = gpd.GeoDataFrame({"households": hh[idx], "villages": vil[idx]},
                           geometry=regions.geometry.to_crs(DISPLAY_CRS).to_numpy(), crs=DISPLAY_CRS)
    return _numbered(out)


def _numbered(out: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = out.sort_values("households", ascending=False, ignore_index=True)
    out.insert(0, "cluster_id", np.arange(1, len(out) + 1))
    out["households"] = out["households"].round(1)
    out["villages"] = out["villages"].astype("int64")
    return out
