"""Sites placed in provinces: the fast lookup gives exactly the answers of STRtree queries (the
polygon holding the point, else the nearest), on the real provinces and on awkward shapes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from coverage.store import _located_sites, _province_index
from geodata import boundaries, load_registry


def _by_queries(pts: np.ndarray, polys: np.ndarray) -> np.ndarray:
    """The plain way: an STRtree ``within`` query, then ``query_nearest`` for points in no polygon."""
    tree = shapely.STRtree(polys)
    out = pd.Series(-1, index=range(len(pts)))
    si, gi = tree.query(pts, predicate="within")
    out.iloc[si] = gi
    rest = np.flatnonzero(out.to_numpy() < 0)
    ri, gi = tree.query_nearest(pts[rest], all_matches=False)
    out.iloc[rest[ri]] = gi
    return out.to_numpy()


def _check(lon: np.ndarray, lat: np.ndarray, polys: np.ndarray) -> np.ndarray:
    pts = shapely.points(lon, lat)
    got = _province_index(pts, lon, lat, polys)
    assert np.array_equal(got, _by_queries(pts, polys))
    return got


def test_provinces_of_points_inland_offshore_and_on_borders(data_dir: Path) -> None:
    provinces = boundaries.load("63", "province", data_dir=data_dir)
    polys = provinces.geometry.to_numpy()
    rng = np.random.default_rng(5)
    xy = shapely.get_coordinates(polys)
    on = xy[rng.choice(len(xy), 3000)]  # on the borders' vertices (in no polygon: nearest, often a tie)
    near = on + rng.normal(0, 2e-4, on.shape)  # a few metres either side of a border
    box = np.column_stack([rng.uniform(101.5, 118.0, 20000), rng.uniform(6.5, 24.0, 20000)])  # many offshore
    lon, lat = np.concatenate([on, near, box]).T
    got = _check(lon, lat, polys)
    assert (np.bincount(got, minlength=len(polys)) > 0).all()  # every province holds some points
    offshore = ~shapely.intersects_xy(shapely.union_all(polys), lon, lat)
    assert offshore.sum() > 5000  # the nearest-province path is exercised
    # As the store records them: codes of both schemes.
    sites = pd.DataFrame({"site_id": [f"S{i}" for i in range(len(lon))], "lon": lon, "lat": lat})
    located = _located_sites(sites, provinces, load_registry(data_dir))
    assert located["province_63"].tolist() == provinces["code"].to_numpy()[got].tolist()
    assert located["province_34"].notna().all()


def test_overlapping_polygons_holes_and_ties() -> None:
    """Points in two polygons at once, in a hole, or as near to two polygons: as the queries say."""
    a = shapely.box(0, 0, 10, 10)
    b = shapely.box(8, 0, 20, 10)  # overlaps a over 8 <= x <= 10
    ring = shapely.Polygon([(30, 0), (50, 0), (50, 20), (30, 20)], [[(35, 5), (45, 5), (45, 15), (35, 15)]])
    islands = shapely.MultiPolygon([shapely.box(0, 30, 2, 32), shapely.box(6, 30, 8, 32)])
    polys = np.array([a, b, ring, islands, shapely.box(60, 0, 61, 1)], dtype=object)
    lon = np.array([9.0, 5.0, 15.0, 40.0, 40.0, 4.0, 10.0, 25.0, 25.0, 1.0, 55.5, 8.0, 0.0])
    lat = np.array([5.0, 5.0, 5.0, 10.0, 2.0, 31.0, 5.0, 5.0, 30.0, 31.0, 0.5, 10.0, 0.0])
    got = _check(lon, lat, polys)
    assert got[1] == 0 and got[2] == 1 and got[3] == 2 and got[9] == 3  # inside one polygon, hole's ring
    assert got[4] == 2  # in the ring, below the hole
    rng = np.random.default_rng(1)
    _check(rng.uniform(-5, 65, 5000), rng.uniform(-5, 35, 5000), polys)
    assert len(_province_index(shapely.points(np.zeros(0), np.zeros(0)), np.zeros(0), np.zeros(0), polys)) == 0
