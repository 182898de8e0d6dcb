"""Raster and footprint inputs: signal thresholds, footprints, population spread; checked against
rasterstats (an independent zonal computation) to within 0.1 percentage point."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from rasterio.transform import from_origin
from pyproj import Transformer
from rasterio.warp import transform_bounds
from rasterstats import zonal_stats
from shapely.geometry import box

from coverage import export, store
from coverage.scenario import load_scenario
from geodata import boundaries, load_registry
from geodata.errors import CRSError, DataFileError

UTM48 = "EPSG:32648"
CELL = 100.0


def _tif(path: Path, values: np.ndarray, transform, crs: str | None = UTM48, nodata: float | None = None) -> None:
    with rasterio.open(path, "w", driver="GTiff", height=values.shape[0], width=values.shape[1], count=1,
                       dtype=values.dtype, crs=crs, transform=transform, nodata=nodata) as dst:
        dst.write(values, 1)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory, data_dir) -> dict:
    """Two Hà Nội communes, all households outside villages, a population raster and a 4G signal raster."""
    registry = load_registry(data_dir)
    communes = boundaries.load("63", "commune", data_dir=data_dir)
    hn = communes[communes["parent_code"] == "01"].iloc[[0, 1]]
    folder = tmp_path_factory.mktemp("raster") / "scn"
    folder.mkdir()
    x0, y0, x1, y1 = transform_bounds("EPSG:4326", UTM48, *hn.total_bounds)
    x0, y1 = np.floor(x0 / CELL) * CELL - 500, np.ceil(y1 / CELL) * CELL + 500
    w, h = int((x1 - x0) // CELL) + 10, int((y1 - y0) // CELL) + 10
    transform = from_origin(x0, y1, CELL, CELL)
    rng = np.random.default_rng(7)
    population = rng.integers(0, 50, size=(h, w)).astype("float32")
    signal = rng.uniform(-130, -90, size=(h, w)).astype("float32")  # about half the cells reach -110 dBm
    _tif(folder / "population.tif", population, transform)
    _tif(folder / "viettel_4g.tif", signal, transform, nodata=-9999)
    c1, c2 = hn["code"].tolist()
    centres = registry.units("63", "commune").set_index("code")
    pd.DataFrame({"commune_code": [c1, c2], "households": [1000, 2000]}).to_csv(folder / "households.csv", index=False)
    pd.DataFrame({"village_id": ["V1", "V2"], "name": ["Thôn 1", "Thôn 2"], "commune_code": [c1, c2],
                  "lon": [centres.at[c1, "lon"], centres.at[c2, "lon"]],
                  "lat": [centres.at[c1, "lat"], centres.at[c2, "lat"]],
                  "households": [0, 0]}).to_csv(folder / "villages.csv", index=False)
    # A fixed footprint covering the western half of the box.
    lon0, lat0, lon1, lat1 = hn.total_bounds
    gpd.GeoDataFrame({"name": ["west"]}, geometry=[box(lon0 - 0.1, lat0 - 0.1, (lon0 + lon1) / 2, lat1 + 0.1)],
                     crs=4326).to_file(folder / "vnpt_fibre.gpkg")
    (folder / "scenario.toml").write_text("""
name = "raster test"
synthetic = true
as_of = "2024-12-31"

[population]
file = "population.tif"
provenance = "modelled"
as_of = "2020-01-01"

[[coverage]]
file = "viettel_4g.tif"
kind = "raster"
operator = "Viettel"
technology = "4G"
threshold = -110
provenance = "modelled"
as_of = "2024-06-30"

[[coverage]]
file = "vnpt_fibre.gpkg"
kind = "footprint"
operator = "VNPT"
technology = "fixed"
provenance = "declared"
as_of = "2024-12-31"
""", encoding="utf-8")
    out = store.build(folder, folder.parent / "store", data_dir=data_dir)
    return {"folder": folder, "store": out, "communes": hn, "population": population, "signal": signal,
            "transform": transform}


def test_signal_raster_matches_rasterstats(scenario) -> None:
    """Households covered per commune agree with an independent zonal sum to within 0.1 pp."""
    table = store.read_table(scenario["store"], "commune", "63").set_index("code")
    polys = scenario["communes"].to_crs(UTM48)
    pop, covered = scenario["population"], scenario["population"] * (scenario["signal"] >= -110)
    total = zonal_stats(polys, pop, affine=scenario["transform"], stats="sum", nodata=-1)
    hit = zonal_stats(polys, covered.astype("float32"), affine=scenario["transform"], stats="sum", nodata=-1)
    for code, t, c in zip(polys["code"], total, hit):
        expected = 100 * c["sum"] / t["sum"]
        assert table.at[code, "hh_pct__4G__Viettel"] == pytest.approx(expected, abs=0.1)
        assert 5 < expected < 95  # the commune straddles the coverage edge: the test can fail
    assert table["households"].sum() == pytest.approx(3000)


def test_fixed_footprint_and_provenance(scenario) -> None:
    """The footprint passes the households of cells whose centre lies west of its edge."""
    table = store.read_table(scenario["store"], "commune", "63").set_index("code")
    pop, transform = scenario["population"], scenario["transform"]
    rows, cols = np.indices(pop.shape)
    x, y = transform * (cols + 0.5, rows + 0.5)
    lon, _ = Transformer.from_crs(UTM48, 4326, always_xy=True).transform(x, y)
    lon0, _, lon1, _ = scenario["communes"].total_bounds
    west = (pop * (lon <= (lon0 + lon1) / 2)).astype("float32")
    polys = scenario["communes"].to_crs(UTM48)
    total = zonal_stats(polys, pop, affine=transform, stats="sum", nodata=-1)
    hit = zonal_stats(polys, west, affine=transform, stats="sum", nodata=-1)
    expected = [100 * c["sum"] / t["sum"] for t, c in zip(total, hit)]
    assert table.loc[polys["code"], "hh_pct__fixed__VNPT"].to_numpy() == pytest.approx(expected, abs=0.1)
    assert len(set(np.round(expected))) == 2  # the two communes differ: the test can fail
    manifest = store.read_manifest(scenario["store"])
    sources = manifest["layer_sources"]
    assert sources["4G__Viettel"] == [{"file": "viettel_4g.tif", "provenance": "modelled", "as_of": "2024-06-30",
                                          "licence": ""}]
    assert {s["provenance"] for s in sources["any__all"]} == {"modelled", "declared"}
    assert manifest["population"]["file"] == "population.tif"


def test_raster_clusters_hold_the_uncovered_households(scenario) -> None:
    clusters = export.gap_layer(scenario["store"], "uncovered-households", technology="4G", operator="Viettel")
    table = store.read_table(scenario["store"], "commune", "63")
    uncovered = (table["households"] - table["hh_cov__4G__Viettel"]).sum()
    # Cells with under half an uncovered household are left out of the clusters.
    assert 0.9 * uncovered <= clusters["households_uncovered"].sum() <= uncovered + 1e-6
    assert clusters.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    assert "population raster" in clusters.attrs["metadata"]["method"]


def test_raster_without_crs_or_off_vietnam_is_refused(scenario, tmp_path) -> None:
    registry = load_registry()
    folder = tmp_path / "scn"
    folder.mkdir()
    for name in ("households.csv", "villages.csv", "scenario.toml", "population.tif", "vnpt_fibre.gpkg"):
        (folder / name).write_bytes((scenario["folder"] / name).read_bytes())
    _tif(folder / "viettel_4g.tif", scenario["signal"], scenario["transform"], crs=None)
    with pytest.raises(CRSError, match="viettel_4g.tif.*no coordinate reference system"):
        load_scenario(folder, registry)
    _tif(folder / "viettel_4g.tif", scenario["signal"], from_origin(500000, 6000000, CELL, CELL))
    with pytest.raises(CRSError, match="outside Vietnam"):
        load_scenario(folder, registry)
    text = (scenario["folder"] / "scenario.toml").read_text(encoding="utf-8")
    (folder / "scenario.toml").write_text(text.replace('technology = "4G"', 'technology = "3G"')
                                          .replace("threshold = -110", 'threshold = "strong"'), encoding="utf-8")
    with pytest.raises(DataFileError) as err:
        load_scenario(folder, registry)
    assert "[[coverage]] entry 1, field technology: '3G'" in str(err.value.problems)
    assert "[[coverage]] entry 1, field threshold: 'strong' is not a number" in str(err.value.problems)
