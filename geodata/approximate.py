"""Approximate polygons built from commune centres and bounding boxes, for when no official
boundaries are at hand (communes always: no open official commune set exists).

Method (documented in the README, measured against the official province layer in the tests):

1. The country mask is the concave hull of all commune centres intersected with the union of
   the communes' bounding boxes (the boxes follow the coast; the hull trims their corners at sea).
2. Each 63-scheme commune is represented by its centre plus four points 30 % of the way from the
   centre to the corners of its bounding box, so that large communes claim more space than a
   plain Voronoi cell of the centre would give them.
3. The Voronoi cells of all those points are dissolved per commune and clipped to the mask; a
   province is the union of its communes. Communes of the 34 scheme (which carry centres only)
   are Voronoi cells of their centres, clipped to their province.

Every layer made here has ``source = "approximate"``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import geopandas as gpd
import shapely

from geodata.crs import DISPLAY_CRS

APPROXIMATE = "approximate"
_CORNER_SHARE = 0.3
_HULL_RATIO = 0.2
_WORLD = shapely.box(95.0, 0.0, 125.0, 30.0)


def _jitter_duplicates(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nudge repeated coordinates apart (by ~1 m steps) so each keeps its own Voronoi cell."""
    frame = pd.DataFrame({"x": x, "y": y})
    rank = frame.groupby(["x", "y"]).cumcount().to_numpy()
    return x + rank * 1e-5, y + rank * 1e-5


def voronoi_by_label(x: np.ndarray, y: np.ndarray, labels: np.ndarray, extent: shapely.Geometry) -> pd.Series:
    """Voronoi cells of points, unioned per label: a Series of polygons indexed by label."""
    x, y = _jitter_duplicates(np.asarray(x, float), np.asarray(y, float))
    points = shapely.points(x, y)
    if len(points) == 1:
        return pd.Series([extent], index=pd.Index(labels))
    cells = np.asarray(shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(points), extend_to=extent)))
    point_idx, cell_idx = shapely.STRtree(cells).query(points, predicate="intersects")
    first = pd.Series(cell_idx).groupby(point_idx).first()
    owner = pd.Series(np.asarray(labels)[first.index.to_numpy()], index=first.to_numpy())
    frame = gpd.GeoDataFrame({"label": owner.to_numpy()}, geometry=cells[owner.index.to_numpy()])
    return frame.dissolve("label").geometry


def country_mask(communes63: pd.DataFrame) -> shapely.Geometry:
    """Approximate land outline of Vietnam from commune centres and bounding boxes."""
    boxes = shapely.box(communes63["minx"], communes63["miny"], communes63["maxx"], communes63["maxy"])
    hull = shapely.concave_hull(shapely.multipoints(shapely.points(communes63["lon"], communes63["lat"])),
                                ratio=_HULL_RATIO)
    return shapely.make_valid(shapely.intersection(hull, shapely.union_all(boxes)))


def communes_63(communes63: pd.DataFrame) -> gpd.GeoDataFrame:
    """Approximate 63-scheme commune polygons from centres and bounding boxes (no official layer)."""
    x, y = communes63["lon"].to_numpy(), communes63["lat"].to_numpy()
    xs, ys, labels = [x], [y], [communes63["code"].to_numpy()]
    for cx, cy in (("minx", "miny"), ("maxx", "miny"), ("minx", "maxy"), ("maxx", "maxy")):
        xs.append(x + _CORNER_SHARE * (communes63[cx].to_numpy() - x))
        ys.append(y + _CORNER_SHARE * (communes63[cy].to_numpy() - y))
        labels.append(communes63["code"].to_numpy())
    cells = voronoi_by_label(np.concatenate(xs), np.concatenate(ys), np.concatenate(labels), _WORLD)
    geoms = shapely.make_valid(shapely.intersection(cells.reindex(communes63["code"]).to_numpy(),
                                                    country_mask(communes63)))
    return gpd.GeoDataFrame(
        {"code": communes63["code"].to_numpy(), "parent_code": communes63["parent_code"].to_numpy()},
        geometry=geoms, crs=DISPLAY_CRS)


def communes_in_provinces(communes: pd.DataFrame, provinces: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Voronoi cells of commune centres, built and clipped province by province.

    A centre lying outside its province polygon (a geocoding slip in the registry) is moved to
    the nearest point of the polygon, so every commune gets a cell.
    """
    out = []
    prov_geom = provinces.set_index("code").geometry
    for code, group in communes.groupby("parent_code", sort=True):
        if code not in prov_geom.index:
            continue
        polygon = prov_geom[code]
        pts = shapely.points(group["lon"].to_numpy(), group["lat"].to_numpy())
        outside = ~shapely.intersects(polygon, pts)
        if outside.any():
            pts[outside] = shapely.get_point(shapely.shortest_line(polygon, pts[outside]), 0)
        extent = shapely.box(*shapely.bounds(polygon)).buffer(0.1)
        cells = voronoi_by_label(shapely.get_x(pts), shapely.get_y(pts), group["code"].to_numpy(), extent)
        geoms = shapely.make_valid(shapely.intersection(cells.reindex(group["code"]).to_numpy(), polygon))
        out.append(gpd.GeoDataFrame({"code": group["code"].to_numpy(), "parent_code": code},
                                    geometry=geoms, crs=DISPLAY_CRS))
    return pd.concat(out, ignore_index=True)


def dissolve_provinces(communes: gpd.GeoDataFrame, by: str = "parent_code") -> gpd.GeoDataFrame:
    """Provinces as the union of their communes' polygons."""
    merged = communes[[by, "geometry"]].dissolve(by).reset_index()
    return merged.rename(columns={by: "code"})[["code", "geometry"]]
