"""The population raster's check: the same problems whether the scenario loader reads the grid to
check it, or the build checks it on its one read of the grid (the raster step)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from coverage import store
from coverage.dasymetric import CoverageGeometry, zonal_table
from coverage.scenario import load_population, validate_file
from geodata import boundaries, load_registry
from geodata.errors import DataFileError

CELL = 0.01
H, W = 40, 30
TRANSFORM = from_origin(105.70, 21.10, CELL, CELL)  # over Hà Nội


def _tif(path: Path, values: np.ndarray, nodata: float | None = -1.0, mask: np.ndarray | None = None) -> None:
    with rasterio.open(path, "w", driver="GTiff", height=values.shape[0], width=values.shape[1], count=1,
                       dtype=values.dtype, crs="EPSG:4326", transform=TRANSFORM, nodata=nodata) as dst:
        dst.write(values, 1)
        if mask is not None:
            dst.write_mask(mask.astype("uint8") * 255)


def _population(seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pop = rng.integers(0, 30, size=(H, W)).astype("float32")
    pop[rng.uniform(size=(H, W)) < 0.2] = -1.0  # nodata
    return pop


ENTRY = {"file": "population.tif", "provenance": "modelled", "as_of": "2020-01-01"}
BAD = {(3, 4): -5.0, (17, 0): np.nan, (17, 29): np.inf, (39, 12): -0.5}  # (row, column): value


def _bad_population() -> np.ndarray:
    pop = _population()
    for (r, c), v in BAD.items():
        pop[r, c] = v
    return pop


def _expected_problems() -> list[str]:
    return [f"cell at row {r}, column {c}: {float(v)!r} is not a non-negative number" for (r, c), v in sorted(BAD.items())]


@pytest.fixture(scope="module")
def communes(data_dir: Path) -> tuple:
    c63, c34 = boundaries.load("63", "commune", data_dir=data_dir), boundaries.load("34", "commune", data_dir=data_dir)
    return c63, c34


def _deferred_error(folder: Path, communes: tuple, rows: int = 7, mapper=None) -> DataFileError:
    """The error of the raster step's check on a grid loaded without its own check."""
    grid = load_population(folder, ENTRY, check=False)
    geometry = CoverageGeometry.build(grid.crs, pd.DataFrame({"technology": [], "operator": [], "lon": [],
                                                              "lat": [], "radius_m": []}))
    with pytest.raises(DataFileError) as err:
        zonal_table(grid, *communes, geometry, rows=rows, mapper=mapper)
    return err.value


def test_bad_cells_are_named_by_the_loader_and_by_the_raster_step(tmp_path: Path, communes: tuple) -> None:
    _tif(tmp_path / "population.tif", _bad_population())
    with pytest.raises(DataFileError) as err:
        load_population(tmp_path, ENTRY)
    loaded = err.value
    assert loaded.problems == _expected_problems()
    assert str(loaded).startswith(f"{tmp_path / 'population.tif'}: has 4 problem(s).")
    # Strips met in any order (as a Dask mapper may return them): the same problems, in row order.
    for mapper in (None, lambda task, windows: [task(w) for w in reversed(windows)]):
        deferred = _deferred_error(tmp_path, communes, mapper=mapper)
        assert str(deferred) == str(loaded)
        assert deferred.problems == loaded.problems and deferred.path == loaded.path
    report = validate_file(tmp_path / "population.tif", "population", load_registry())
    assert not report.ok and report.problems == _expected_problems()
    assert report.table()[0] == {"file": "population.tif", "where": "cell at row 3, column 4", "field": "",
                                 "message": "-5.0 is not a non-negative number"}


def test_nodata_and_masked_cells_are_not_problems(tmp_path: Path, communes: tuple) -> None:
    """-1 as nodata, NaN as nodata, and cells hidden by a mask band are left out, not refused."""
    pop = _population()
    _tif(tmp_path / "population.tif", pop)
    grid = load_population(tmp_path, ENTRY)
    with rasterio.open(grid.path) as ds:
        cells, weight, found = grid.cells(ds, next(grid.strips()))
    assert found.invalid == 0 and found.total == pytest.approx(pop[pop > 0].sum())
    assert np.array_equal(cells, np.flatnonzero(pop > 0)) and np.array_equal(weight, pop[pop > 0])
    nan = np.where(pop < 0, np.nan, pop).astype("float32")
    _tif(tmp_path / "population.tif", nan, nodata=np.nan)
    load_population(tmp_path, ENTRY)
    masked = pop.copy()
    masked[pop < 0] = -7.0
    _tif(tmp_path / "population.tif", masked, nodata=None, mask=pop >= 0)
    grid = load_population(tmp_path, ENTRY)
    with rasterio.open(grid.path) as ds:
        cells, _, found = grid.cells(ds, next(grid.strips()))
    assert found.invalid == 0 and np.array_equal(cells, np.flatnonzero(pop > 0))
    _tif(tmp_path / "population.tif", masked, nodata=None)  # the same cells without the mask: refused
    with pytest.raises(DataFileError, match=f"has {int((pop < 0).sum())} problem"):
        load_population(tmp_path, ENTRY)


def test_many_bad_cells_are_all_counted_and_the_first_listed(tmp_path: Path, communes: tuple) -> None:
    pop = _population()
    pop[10:20, :] = -3.0  # 300 bad cells over two strips of 7 rows and more
    _tif(tmp_path / "population.tif", pop, nodata=-1.0)
    with pytest.raises(DataFileError) as err:
        load_population(tmp_path, ENTRY)
    assert "has 300 problem(s); the first 200 are listed." in str(err.value)
    assert len(err.value.problems) == 200
    assert err.value.problems[0] == "cell at row 10, column 0: -3.0 is not a non-negative number"
    assert err.value.problems[-1] == "cell at row 16, column 19: -3.0 is not a non-negative number"
    assert str(_deferred_error(tmp_path, communes, rows=4)) == str(err.value)


def test_a_grid_without_people_is_refused(tmp_path: Path, communes: tuple) -> None:
    pop = np.where(_population() > 0, 0.0, -1.0).astype("float32")
    _tif(tmp_path / "population.tif", pop)
    with pytest.raises(DataFileError, match="holds no population") as err:
        load_population(tmp_path, ENTRY)
    assert str(_deferred_error(tmp_path, communes)) == str(err.value)


def test_build_refuses_a_bad_grid_and_keeps_the_previous_store(tmp_path: Path, data_dir: Path) -> None:
    """The build checks the grid on its one read of it: same error as the loader's, old store intact."""
    registry = load_registry(data_dir)
    communes63 = boundaries.load("63", "commune", data_dir=data_dir)
    inside = communes63[communes63.intersects(shapely.box(105.71, 20.71, 105.99, 21.09))]["code"].tolist()[:3]
    assert inside
    folder = tmp_path / "scn"
    folder.mkdir()
    pd.DataFrame({"commune_code": inside, "households": [500] * len(inside)}).to_csv(folder / "households.csv",
                                                                                   index=False)
    centres = registry.units("63", "commune").set_index("code")
    pd.DataFrame({"village_id": ["V1"], "name": ["Thôn 1"], "commune_code": [inside[0]],
                  "lon": [centres.at[inside[0], "lon"]], "lat": [centres.at[inside[0], "lat"]],
                  "households": [0]}).to_csv(folder / "villages.csv", index=False)
    (folder / "scenario.toml").write_text('name = "population check"\nsynthetic = true\n\n[population]\n'
                                          'file = "population.tif"\nprovenance = "modelled"\n'
                                          'as_of = "2020-01-01"\n', encoding="utf-8")
    _tif(folder / "population.tif", _population())
    out = store.build(folder, tmp_path / "store", data_dir=data_dir)
    before = {p.name: p.read_bytes() for p in out.resolve().iterdir()}
    _tif(folder / "population.tif", _bad_population())
    with pytest.raises(DataFileError) as err:
        store.build(folder, tmp_path / "store", data_dir=data_dir)
    assert err.value.problems == _expected_problems()
    assert err.value.path == str(folder / "population.tif")
    assert {p.name: p.read_bytes() for p in (tmp_path / "store").resolve().iterdir()} == before
