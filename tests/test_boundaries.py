"""Boundaries: official layers, the approximate fallback, and bad files refused clearly."""

from __future__ import annotations

import shutil

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geodata import boundaries, load_registry
from geodata.crs import AREA_CRS
from geodata.errors import CRSError, DataFileError

# Offshore archipelagos in the official layer (Hoàng Sa in Đà Nẵng, Trường Sa in Khánh Hòa) that no
# commune centre represents: left out of the comparison.
_MAINLAND = shapely.box(100.0, 8.0, 110.5, 24.0)


def test_official_layers(data_dir) -> None:
    for scheme, n in (("63", 63), ("34", 34)):
        layer = boundaries.load(scheme, "province", data_dir=data_dir)
        assert len(layer) == n and (layer["source"] == "official").all()
        assert layer.crs.to_epsg() == 4326 and layer.is_valid.all()
        assert "Open Development Vietnam" in layer.attrs["attribution"]
    total = boundaries.areas_km2(boundaries.load("63", data_dir=data_dir)).sum()
    assert 328_000 < total < 333_000  # about 330,800 km² including the islands


def test_approximate_layers_offline(no_data_dir) -> None:
    for scheme, level, n in (("63", "province", 63), ("34", "province", 34), ("34", "commune", 3321)):
        layer = boundaries.load(scheme, level)
        assert len(layer) == n
        assert (layer["source"] == "approximate").all()
        assert not layer.geometry.is_empty.any() and layer.is_valid.all()


def test_approximate_provinces_match_official(data_dir, no_data_dir) -> None:
    """Per-province IoU of the approximate 63 layer against the official one (islands left out)."""
    approx = boundaries.load("63", "province").set_index("code")
    official = boundaries.load("63", "province", data_dir=data_dir).set_index("code")
    assert (approx["source"] == "approximate").all() and (official["source"] == "official").all()
    a = approx.geometry.to_crs(AREA_CRS)
    b = gpd.GeoSeries(official.geometry.intersection(_MAINLAND), crs=4326).to_crs(AREA_CRS).reindex(a.index)
    iou = a.intersection(b).area / a.union(b).area
    print(f"\napproximate vs official IoU: median {iou.median():.3f}, worst {iou.min():.3f} "
          f"({official.at[iou.idxmin(), 'name']})")
    assert iou.median() >= 0.85
    assert iou.min() >= 0.45


def test_communes_tile_official_provinces(data_dir) -> None:
    communes = boundaries.load("34", "commune", data_dir=data_dir)
    provinces = boundaries.load("34", "province", data_dir=data_dir)
    assert len(communes) == 3321 and not communes.geometry.is_empty.any()
    area_c = boundaries.areas_km2(communes).groupby(communes["parent_code"].to_numpy()).sum()
    area_p = boundaries.areas_km2(provinces).set_axis(provinces["code"])
    np.testing.assert_allclose(area_c.sort_index(), area_p.sort_index(), rtol=1e-3)


def _copy_official(data_dir, tmp_path):
    target = tmp_path / "data"
    shutil.copytree(data_dir / "crosswalk", target / "crosswalk")
    (target / "boundaries").mkdir(parents=True)
    return target


def test_corrupted_boundary_file(data_dir, tmp_path) -> None:
    folder = _copy_official(data_dir, tmp_path)
    raw = (data_dir / "boundaries/provinces_63.gpkg").read_bytes()
    (folder / "boundaries/provinces_63.gpkg").write_bytes(raw[: len(raw) // 3])
    with pytest.raises(DataFileError, match="provinces_63.gpkg"):
        boundaries.load("63", data_dir=folder)


def test_missing_crs_is_refused(data_dir, tmp_path) -> None:
    folder = _copy_official(data_dir, tmp_path)
    layer = gpd.read_file(data_dir / "boundaries/provinces_63.gpkg")
    with pytest.warns(UserWarning, match="crs"):
        layer.set_crs(None, allow_override=True).to_file(folder / "boundaries/provinces_63.gpkg")
    with pytest.raises(CRSError, match="no coordinate reference system"):
        boundaries.load("63", data_dir=folder)


def test_wrong_crs_is_refused(data_dir, tmp_path) -> None:
    """Metres labelled as degrees: the features land outside Vietnam, and the message says so."""
    folder = _copy_official(data_dir, tmp_path)
    layer = gpd.read_file(data_dir / "boundaries/provinces_63.gpkg").to_crs(AREA_CRS)
    layer.set_crs(4326, allow_override=True).to_file(folder / "boundaries/provinces_63.gpkg")
    with pytest.raises(CRSError, match="outside Vietnam"):
        boundaries.load("63", data_dir=folder)


def test_projected_crs_is_converted(data_dir, tmp_path) -> None:
    folder = _copy_official(data_dir, tmp_path)
    gpd.read_file(data_dir / "boundaries/provinces_63.gpkg").to_crs(3405).to_file(
        folder / "boundaries/provinces_63.gpkg")  # VN-2000 / UTM 48N
    layer = boundaries.load("63", data_dir=folder)
    assert layer.crs.to_epsg() == 4326 and len(layer) == 63


def test_duplicate_and_unknown_codes(data_dir, tmp_path) -> None:
    folder = _copy_official(data_dir, tmp_path)
    layer = gpd.read_file(data_dir / "boundaries/provinces_63.gpkg")
    layer.loc[1, "gso_code"] = "01"
    layer.loc[2, "gso_code"] = "99"
    layer.to_file(folder / "boundaries/provinces_63.gpkg")
    with pytest.raises(DataFileError) as err:
        boundaries.load("63", data_dir=folder)
    text = str(err.value)
    assert "feature 2: gso_code 01 appears more than once" in text
    assert "feature 3: gso_code 99 is not a province" in text
    assert "province 02 (Tỉnh Hà Giang) has no feature" in text


def test_invalid_geometry_is_repaired(data_dir, tmp_path) -> None:
    folder = _copy_official(data_dir, tmp_path)
    layer = gpd.read_file(data_dir / "boundaries/provinces_63.gpkg")
    x0, y0, x1, y1 = layer.geometry.iloc[0].bounds
    bowtie = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
    layer.loc[0, "geometry"] = bowtie
    layer.to_file(folder / "boundaries/provinces_63.gpkg")
    with pytest.warns(UserWarning, match=r"feature 1 \(gso_code 01\): Self-intersection"):
        out = boundaries.load("63", data_dir=folder)
    assert out.is_valid.all()


def test_empty_geometry_is_refused(data_dir, tmp_path) -> None:
    folder = _copy_official(data_dir, tmp_path)
    layer = gpd.read_file(data_dir / "boundaries/provinces_63.gpkg")
    layer.loc[4, "geometry"] = shapely.Polygon()
    layer.to_file(folder / "boundaries/provinces_63.gpkg")
    with pytest.raises(DataFileError, match=r"feature 5 \(gso_code 08\): geometry is empty"):
        boundaries.load("63", data_dir=folder)


def test_registry_from_fresh_folder(data_dir) -> None:
    assert load_registry(data_dir).crosswalk_source.startswith("data folder")
