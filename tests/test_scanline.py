"""The engine's fast paths against the slow, obvious ones: numpy scanlines against GDAL's
rasterizer, k-d tree village reach against all pairs, the one-pass zonal sums against one
rasterize and one sum per layer."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from pyproj import Transformer
from rasterio import features
from rasterio.transform import from_origin

from coverage import dasymetric, reach
from coverage._scanline import Scanlines, disc_rings
from coverage.dasymetric import CoverageGeometry, PopulationGrid, zonal_sums
from geodata.crs import AREA_CRS

CELL = 30 / 3600
TRANSFORM = from_origin(105.0, 21.0, CELL, CELL)
H, W = 300, 420


def _shapes(rng: np.random.Generator) -> np.ndarray:
    """Discs (some over the grid's edges), star polygons with holes, multipolygons, overlaps."""
    x1, y0 = 105.0 + W * CELL, 21.0 - H * CELL
    n = 400
    discs = shapely.buffer(shapely.points(rng.uniform(104.95, x1 + 0.05, n), rng.uniform(y0 - 0.05, 21.05, n)),
                           rng.uniform(0.002, 0.06, n), quad_segs=8)
    stars = []
    for i in range(60):
        x, y = rng.uniform(105.0, x1), rng.uniform(y0, 21.0)
        k = int(rng.integers(5, 30))
        angle, radius = np.sort(rng.uniform(0, 2 * np.pi, k)), rng.uniform(0.01, 0.15, k)
        star = shapely.Polygon(np.column_stack([x + radius * np.cos(angle), y + radius * np.sin(angle)]))
        hole = shapely.Point(x, y).buffer(0.006, quad_segs=3)
        if star.is_valid and star.contains(hole):
            star = star.difference(hole)
        if i % 3 == 0 and star.geom_type == "Polygon":
            star = shapely.MultiPolygon([star, shapely.box(x + 0.3, y, x + 0.34, y + 0.06)])
        stars.append(star)
    return np.concatenate([discs, np.array(stars, dtype=object)])


def test_scanlines_burn_cell_centres_like_gdal() -> None:
    """Masks and labels, whole grid and an offset window: the same cells as rasterio.features.rasterize."""
    shapes = _shapes(np.random.default_rng(3))
    scan = Scanlines.of(shapes, TRANSFORM)
    union = features.rasterize(((g, 1) for g in shapes), out_shape=(H, W), transform=TRANSFORM, fill=0,
                               dtype="uint8").astype(bool)
    strips = np.vstack([scan.mask(r0, min(r0 + 64, H), 0, W) for r0 in range(0, H, 64)])
    assert 0.2 < union.mean() < 0.9  # the test can fail: much is covered, not all
    assert (strips == union).all()
    r0, r1, c0, w = 40, 170, 95, 200
    window = TRANSFORM * TRANSFORM.translation(c0, r0)
    expected = features.rasterize(((g, 1) for g in shapes), out_shape=(r1 - r0, w), transform=window, fill=0,
                                  dtype="uint8").astype(bool)
    assert (scan.mask(r0, r1, c0, w) == expected).all()
    # Labels: overlapping shapes burnt in order, the last one wins.
    labels = features.rasterize(zip(shapes, range(1, len(shapes) + 1)), out_shape=(H, W), transform=TRANSFORM,
                                fill=0, dtype="int32").ravel()
    assert (scan.labels(0, H, 0, W) == labels).all()
    cells = np.flatnonzero(np.random.default_rng(4).uniform(size=H * W) < 0.2)
    assert (scan.labels(0, H, 0, W, cells) == labels[cells]).all()


def test_disc_rings_are_shapely_buffers() -> None:
    """The discs are made without shapely, vertex for vertex the same as its 32-sided buffers."""
    rng = np.random.default_rng(5)
    x, y, r = rng.uniform(-6e5, 6e5, 3000), rng.uniform(-9e5, 9e5, 3000), np.round(rng.uniform(200, 8000, 3000))
    xs, ys, ring, poly = disc_rings(x, y, r)
    expected = shapely.get_coordinates(shapely.buffer(shapely.points(x, y), r, quad_segs=8))
    assert (xs == expected[:, 0]).all() and (ys == expected[:, 1]).all()
    assert (ring == np.repeat(np.arange(3000), 33)).all() and (poly == ring).all()


def test_within_radius_is_every_pair_within_each_radius() -> None:
    rng = np.random.default_rng(6)
    lon, lat = rng.uniform(105, 106, 3000), rng.uniform(20, 21, 3000)
    sites = pd.DataFrame({"lon": rng.uniform(105, 106, 800), "lat": rng.uniform(20, 21, 800),
                          "radius_m": rng.choice([300.0, 2500.0, 8000.0], 800) * rng.uniform(0.8, 1.2, 800)})
    pi, si = reach.within_radius(lon, lat, sites)
    to_m = Transformer.from_crs(4326, AREA_CRS, always_xy=True)
    px, py = to_m.transform(lon, lat)
    sx, sy = to_m.transform(sites["lon"].to_numpy(), sites["lat"].to_numpy())
    d2 = (px[:, None] - sx[None, :]) ** 2 + (py[:, None] - sy[None, :]) ** 2
    expected = set(zip(*np.nonzero(d2 <= sites["radius_m"].to_numpy()[None, :] ** 2)))
    assert len(expected) > 1000
    assert set(zip(pi.tolist(), si.tolist())) == expected


@pytest.fixture()
def small_grid(tmp_path: Path) -> dict:
    """A population grid, two commune layers cutting it differently, and sites of two operators."""
    rng = np.random.default_rng(8)
    pop = rng.integers(0, 20, size=(H, W)).astype("float32")
    pop[rng.uniform(size=(H, W)) < 0.1] = -1  # nodata
    path = tmp_path / "pop.tif"
    with rasterio.open(path, "w", driver="GTiff", height=H, width=W, count=1, dtype="float32", crs="EPSG:4326",
                       transform=TRANSFORM, nodata=-1) as dst:
        dst.write(pop, 1)
    x0, y1, x1, y0 = 105.0, 21.0, 105.0 + W * CELL, 21.0 - H * CELL

    def _cut(nx: int, ny: int, prefix: str) -> gpd.GeoDataFrame:
        xs, ys = np.linspace(x0 + 0.01, x1 - 0.01, nx + 1), np.linspace(y0 + 0.01, y1 - 0.01, ny + 1)
        boxes = [shapely.box(xs[i], ys[j], xs[i + 1], ys[j + 1]) for i in range(nx) for j in range(ny)]
        return gpd.GeoDataFrame({"code": [f"{prefix}{k:03d}" for k in range(len(boxes))]}, geometry=boxes, crs=4326)

    n = 300
    sites = pd.DataFrame({"operator": rng.choice(["A", "B"], n),
                          "technology": rng.choice(["4G", "5G"], n, p=[0.8, 0.2]),
                          "lon": rng.uniform(x0, x1, n), "lat": rng.uniform(y0, y1, n),
                          "radius_m": rng.uniform(300, 4000, n)})
    grid = PopulationGrid(path, TRANSFORM, rasterio.crs.CRS.from_epsg(4326), (H, W), -1.0, "pop.tif", "test", "2024")
    return {"grid": grid, "pop": np.where(pop > 0, pop, 0), "c63": _cut(7, 5, "A"), "c34": _cut(3, 4, "B"),
            "sites": sites}


def test_zonal_sums_in_one_pass_are_the_sums_per_layer(small_grid: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """Population per commune pair, total and covered by each layer, as one rasterize and one sum
    per layer would give; the same when group bits do not fit one integer."""
    d = small_grid
    layers = ["mobile__all", "4G__A", "5G__B", "mobile__B", "4G__all"]
    geometry = CoverageGeometry.build(d["grid"].crs, d["sites"])
    sums = zonal_sums(d["grid"], d["c63"], d["c34"], geometry, layers, rows=37)

    def _raster(polys: gpd.GeoDataFrame) -> np.ndarray:
        return features.rasterize(zip(polys.geometry, range(1, len(polys) + 1)), out_shape=(H, W),
                                  transform=TRANSFORM, fill=0, dtype="int32")

    l63, l34 = _raster(d["c63"]), _raster(d["c34"])
    x, y = Transformer.from_crs(4326, AREA_CRS, always_xy=True).transform(d["sites"]["lon"], d["sites"]["lat"])
    discs = gpd.GeoSeries(shapely.buffer(shapely.points(x, y), d["sites"]["radius_m"].to_numpy(), quad_segs=8),
                          crs=AREA_CRS).to_crs(4326).to_numpy()
    frame = pd.DataFrame({"commune_63": d["c63"]["code"].to_numpy()[np.maximum(l63.ravel() - 1, 0)],
                          "commune_34": d["c34"]["code"].to_numpy()[np.maximum(l34.ravel() - 1, 0)],
                          "S": d["pop"].ravel().astype(float)})
    frame = frame[(l63.ravel() > 0) & (l34.ravel() > 0) & (frame["S"] > 0).to_numpy()]
    for layer in layers:
        tech, op = layer.split("__")
        m = d["sites"]["technology"].isin(["4G", "5G"] if tech == "mobile" else [tech]).to_numpy().copy()
        if op != "all":
            m &= (d["sites"]["operator"] == op).to_numpy()
        covered = features.rasterize(((g, 1) for g in discs[m]), out_shape=(H, W), transform=TRANSFORM, fill=0,
                                     dtype="uint8").ravel().astype(bool)
        frame[f"M__{layer}"] = frame["S"] * covered[frame.index]
    expected = frame.groupby(["commune_63", "commune_34"]).sum().sort_index()
    got = sums.set_index(["commune_63", "commune_34"]).sort_index()
    assert got.index.equals(expected.index)
    assert np.allclose(got[expected.columns].to_numpy(), expected.to_numpy(), rtol=1e-12, atol=1e-9)
    assert 0 < expected["M__5G__B"].sum() < 0.5 * expected["S"].sum()  # the test can fail
    # Strips run anywhere (here one after the other, as a Dask mapper would hand them out).
    serial = zonal_sums(d["grid"], d["c63"], d["c34"], geometry, layers, rows=37,
                        mapper=lambda task, windows: [task(w) for w in reversed(windows)])
    serial = serial.set_index(["commune_63", "commune_34"]).sort_index()
    assert np.allclose(serial[expected.columns].to_numpy(), expected.to_numpy(), rtol=1e-12, atol=1e-9)
    # Two groups per integer: several words of bits, grouped as columns instead of one code.
    monkeypatch.setattr(dasymetric, "_GROUPS_PER_WORD", 2)
    again = zonal_sums(d["grid"], d["c63"], d["c34"], CoverageGeometry.build(d["grid"].crs, d["sites"]), layers,
                       rows=64, workers=1).set_index(["commune_63", "commune_34"]).sort_index()
    assert np.allclose(again[expected.columns].to_numpy(), expected.to_numpy(), rtol=1e-12, atol=1e-9)
