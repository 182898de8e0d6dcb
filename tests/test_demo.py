"""The synthetic demo scenario: format, census totals, determinism and calibration.

The calibration checks recompute every figure from the written files (not from the generator's
own report), with an independent vectorised distance check for mobile coverage.
"""

from __future__ import annotations

import csv
import shutil
import tomllib
from pathlib import Path

import numpy as np
import rasterio
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from coverage.demo import CENSUS_2019_HOUSEHOLDS, DemoError, write_demo
from geodata import load_registry
from geodata.crs import AREA_CRS

FILES = ("scenario.toml", "households.csv", "villages.csv", "sites.csv", "fixed.csv", "README.txt")
VN_BBOX = (102.0, 8.0, 117.5, 23.5)
MOUNTAINS_AND_HIGHLANDS = {"02", "04", "06", "08", "10", "11", "12", "14", "15", "17", "19", "20",
                           "22", "24", "25", "62", "64", "66", "67", "68"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One demo for the whole module (generation takes a few seconds)."""
    return write_demo(tmp_path_factory.mktemp("demo") / "scenario", seed=42)


@pytest.fixture(scope="module")
def tables(demo: Path) -> dict[str, pd.DataFrame]:
    kw = {"encoding": "utf-8", "keep_default_na": False}
    return {
        "households": pd.read_csv(demo / "households.csv", dtype={"commune_code": str}, **kw),
        "villages": pd.read_csv(demo / "villages.csv", dtype={"commune_code": str, "village_id": str}, **kw),
        "sites": pd.read_csv(demo / "sites.csv", dtype={"site_id": str}, **kw),
        "fixed": pd.read_csv(demo / "fixed.csv", dtype={"village_id": str}, **kw),
    }


@pytest.fixture(scope="module")
def commune_province() -> pd.Series:
    return load_registry().units("63", "commune").set_index("code")["parent_code"]


@pytest.fixture(scope="module")
def fibre(tables: dict[str, pd.DataFrame], commune_province: pd.Series) -> pd.DataFrame:
    """Per village: households and households passed by any operator (footprints are nested)."""
    v = tables["villages"].copy()
    passed = tables["fixed"].groupby("village_id")["households_passed"].max()
    v["passed"] = v["village_id"].map(passed).fillna(0).astype(int)
    v["province"] = v["commune_code"].map(commune_province)
    return v


def _metres(lon: pd.Series, lat: pd.Series) -> np.ndarray:
    x, y = Transformer.from_crs("EPSG:4326", AREA_CRS, always_xy=True).transform(
        lon.to_numpy(float), lat.to_numpy(float))
    return np.column_stack([x, y])


def test_files_exist_and_metadata_says_synthetic(demo: Path) -> None:
    for name in FILES:
        assert (demo / name).is_file(), name
    meta = tomllib.loads((demo / "scenario.toml").read_text(encoding="utf-8"))
    assert meta["synthetic"] is True
    assert "SYNTHETIC" in meta["description"]
    assert meta["as_of"] == "2024-12-31" and meta["seed"] == 42 and meta["method"]
    sources = {s["file"]: s for s in meta["sources"]}
    assert set(sources) == {"households.csv", "villages.csv", "sites.csv", "fixed.csv", "population.tif"}
    assert sources["households.csv"]["provenance"] == "official"
    assert sources["households.csv"]["citation"] == "GSO, 2019 Population and Housing Census"
    assert all(sources[f]["provenance"] == "synthetic"
               for f in ("villages.csv", "sites.csv", "fixed.csv", "population.tif"))
    assert meta["population"]["file"] == "population.tif"
    with rasterio.open(demo / "population.tif") as ds:
        assert ds.tags()["SYNTHETIC"] == "yes" and ds.crs.to_epsg() == 4326
    assert "SYNTHETIC" in (demo / "README.txt").read_text(encoding="utf-8")
    # Plain CSVs: the header comes first, no comment lines, no leftover temporary folders.
    assert (demo / "villages.csv").read_text(encoding="utf-8").startswith("village_id,name,commune_code,")
    assert [p.name for p in demo.parent.iterdir()] == [demo.name]


def test_scenario_loader_accepts_it(demo: Path) -> None:
    from coverage.scenario import load_scenario

    scenario = load_scenario(demo, load_registry())
    assert scenario.synthetic
    assert len(scenario.villages) > 60_000 and len(scenario.sites) > 20_000


def test_census_constant(data_dir: Path) -> None:
    with open(data_dir / "census" / "households_2019_provinces_63.csv", encoding="utf-8") as fh:
        rows = {r["gso_code"]: (int(r["households_total"]), int(r["households_urban"]),
                                int(r["households_rural"])) for r in csv.DictReader(fh)}
    assert rows == CENSUS_2019_HOUSEHOLDS


def test_households_match_census(tables: dict[str, pd.DataFrame], commune_province: pd.Series) -> None:
    hh = tables["households"]
    assert hh["commune_code"].is_unique and hh["commune_code"].isin(commune_province.index).all()
    assert (hh["households"] >= 0).all()
    assert (hh["households_urban"] + hh["households_rural"] == hh["households"]).all()
    assert hh["households"].sum() == 26_870_079
    per_province = hh.groupby(hh["commune_code"].map(commune_province))[
        ["households", "households_urban", "households_rural"]].sum()
    expected = pd.DataFrame.from_dict(CENSUS_2019_HOUSEHOLDS, orient="index",
                                      columns=["households", "households_urban", "households_rural"])
    pd.testing.assert_frame_equal(per_province.sort_index(), expected.sort_index(), check_names=False)


def test_villages(tables: dict[str, pd.DataFrame]) -> None:
    v, hh = tables["villages"], tables["households"]
    assert v["village_id"].is_unique and v["village_id"].str.fullmatch(r"V\d{7}").all()
    assert 60_000 <= len(v) <= 80_000
    assert (v["households"] > 0).all()
    per_commune = v.groupby("commune_code")["households"].sum()
    limit = hh.set_index("commune_code")["households"].reindex(per_commune.index)
    assert (per_commune <= limit).all()
    assert v["name"].str.fullmatch(r"(Thôn|Bản|Ấp|Tổ dân phố) \d+").all()


@pytest.mark.parametrize("table", ["villages", "sites"])
def test_coordinates_inside_vietnam(tables: dict[str, pd.DataFrame], table: str) -> None:
    df = tables[table]
    x0, y0, x1, y1 = VN_BBOX
    assert df["lon"].between(x0, x1).all() and df["lat"].between(y0, y1).all()


def test_sites(tables: dict[str, pd.DataFrame], commune_province: pd.Series) -> None:
    s = tables["sites"]
    assert s["site_id"].is_unique
    assert set(s["operator"]) == {"Viettel", "VinaPhone", "MobiFone", "Vietnamobile", "Gmobile"}
    assert set(s["technology"]) <= {"2G", "3G", "4G", "5G"}
    assert (s["radius_m"] > 0).all()
    assert 20_000 <= len(s) <= 40_000
    shares = s.loc[s["technology"] == "4G", "operator"].value_counts(normalize=True)
    assert shares.index[0] == "Viettel" and 0.40 < shares["Viettel"] < 0.50
    assert set(s.loc[s["technology"] == "5G", "operator"]) == {"Viettel"}


def test_fixed(tables: dict[str, pd.DataFrame]) -> None:
    f, v = tables["fixed"], tables["villages"]
    assert set(f["operator"]) <= {"Viettel", "VNPT", "FPT"}
    assert not f.duplicated(["village_id", "operator"]).any()
    village_hh = f["village_id"].map(v.set_index("village_id")["households"])
    assert village_hh.notna().all()
    assert (f["households_passed"] >= 0).all() and (f["households_passed"] <= village_hh).all()


def test_fibre_calibration(fibre: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> None:
    # As the engine counts it: households outside villages passed at their commune's village share.
    commune_hh = tables["households"].set_index("commune_code")["households"]
    scale = fibre["commune_code"].map(commune_hh / fibre.groupby("commune_code")["households"].sum())
    fibre = fibre.assign(passed=fibre["passed"] * scale)
    share = fibre["passed"].sum() / 26_870_079
    assert 0.81 <= share <= 0.83
    no_fibre = fibre["passed"] == 0
    assert 2_500 <= no_fibre.sum() <= 4_500
    assert fibre.loc[no_fibre, "province"].isin(MOUNTAINS_AND_HIGHLANDS).mean() > 0.7
    by_province = fibre.groupby("province")["passed"].sum() / pd.Series(
        {p: v[0] for p, v in CENSUS_2019_HOUSEHOLDS.items()})
    assert len(by_province) == 63
    assert (by_province < 0.80).sum() >= 5
    assert (by_province >= 0.80).sum() >= 20


def test_mobile_calibration(tables: dict[str, pd.DataFrame], fibre: pd.DataFrame) -> None:
    v, s = tables["villages"], tables["sites"]
    s4 = s[s["technology"] == "4G"]
    tree = shapely.STRtree(shapely.points(_metres(v["lon"], v["lat"])))
    pairs = tree.query(shapely.points(_metres(s4["lon"], s4["lat"])), predicate="dwithin",
                       distance=s4["radius_m"].to_numpy(float))
    covered = np.zeros(len(v), dtype=bool)
    covered[pairs[1]] = True
    dark = ~covered
    assert 400 <= dark.sum() <= 1_200
    assert fibre.loc[dark, "province"].isin(MOUNTAINS_AND_HIGHLANDS).mean() > 0.7


def test_fewer_sites_in_mountains(tables: dict[str, pd.DataFrame], fibre: pd.DataFrame) -> None:
    """The north-west and the Central Highlands have far fewer 4G sites per km² than elsewhere."""
    from geodata.boundaries import areas_km2, load

    v, s = tables["villages"], tables["sites"]
    s4 = s[s["technology"] == "4G"]
    nearest_village = shapely.STRtree(shapely.points(_metres(v["lon"], v["lat"]))).query_nearest(
        shapely.points(_metres(s4["lon"], s4["lat"])), all_matches=False)[1]
    sparse = {"02", "04", "06", "10", "11", "12", "14", "15", "17", "62", "64", "66", "67", "68"}
    in_sparse = np.isin(fibre["province"].to_numpy()[nearest_village], sorted(sparse))
    provinces = load("63", "province")
    area = areas_km2(provinces).groupby(provinces["code"].isin(sparse).to_numpy()).sum()
    density_sparse = in_sparse.sum() / area[True]
    density_rest = (~in_sparse).sum() / area[False]
    assert density_sparse < 0.6 * density_rest


def test_deterministic_offline_and_replaces(demo: Path, tmp_path: Path, no_data_dir: Path) -> None:
    """Same seed -> same bytes, also without the data folder; an earlier demo is replaced."""
    target = tmp_path / "again"
    shutil.copytree(demo, target)
    (target / "villages.csv").write_text("stale\n", encoding="utf-8")
    write_demo(target, seed=42)
    for name in FILES:
        assert (target / name).read_bytes() == (demo / name).read_bytes(), name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again"]


def test_refuses_to_replace_other_folders(tmp_path: Path) -> None:
    precious = tmp_path / "real"
    precious.mkdir()
    (precious / "villages.csv").write_text("village_id\n", encoding="utf-8")
    with pytest.raises(DemoError):
        write_demo(precious)
    assert (precious / "villages.csv").read_text(encoding="utf-8") == "village_id\n"
