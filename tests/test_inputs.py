"""Real-world inputs (issue 5): the tables, layers and public formats people send, read as they
come, and every bad case refused with a message naming file, row or feature, field and fix."""

from __future__ import annotations


import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import CRS, Transformer

import corpus
from coverage import _public
from coverage.reach import in_footprint
from coverage.scenario import load_households, load_sites, load_villages, validate_file
from geodata import load_registry
from geodata._validate import read_vector
from geodata.errors import CRSError, DataFileError, GeometryError, InputLimitError, UnsafeArchiveError
from geodata.vn2000 import PROVINCE_MERIDIANS, parse_crs, province_zone


@pytest.fixture(scope="module")
def registry(data_dir):
    return load_registry(data_dir)


def _refused(exc: pytest.ExceptionInfo) -> str:
    return str(exc.value) + "\n" + "\n".join(exc.value.problems)


# -- tables -------------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding, sep, decimal", [
    ("utf-8", ",", "."), ("utf-8-sig", ",", "."), ("cp1258", ";", ","), ("utf-16", "\t", "."),
    ("utf-8-sig", ";", ","),
])
def test_csv_encodings_separators_and_decimal_commas(tmp_path, encoding, sep, decimal) -> None:
    df = corpus.sites_frame().rename(columns={"lon": "Kinh độ", "lat": "Vĩ độ"})
    df["operator"] = ["Viettel", "MobiFone"]
    path = tmp_path / "sites.csv"
    text = corpus.csv_text(df, sep, decimal)
    path.write_bytes(corpus.cp1258_bytes(text) if encoding == "cp1258" else text.encode(encoding))
    sites = load_sites(path)
    assert sites["lon"].tolist() == [105.85, 105.8612] and sites["lat"].tolist() == [21.03, 21.0405]
    assert sites["radius_m"].tolist() == [500, 300]


def test_windows_1258_names_come_back_composed(tmp_path, registry) -> None:
    # Windows-1258 writes tone marks as combining characters; names must match the registry's.
    path = tmp_path / "households.csv"
    path.write_bytes(corpus.cp1258_bytes("commune_code;households;province\nPhúc Xá;1.234;Hà Nội\n"))
    assert "Phúc".encode("utf-8") not in path.read_bytes() and len(path.read_bytes().decode("cp1258")) > 45
    hh = load_households(path, registry)
    assert hh["commune_code"].tolist() == ["00001"] and hh["households"].tolist() == [1234]


def test_xlsx_title_rows_and_several_sheets(tmp_path) -> None:
    path = corpus.xlsx_with_title(tmp_path / "sites.xlsx", corpus.sites_frame().rename(columns={"lon": "lng"}))
    sites = load_sites(path)
    assert sites["site_id"].tolist() == ["S1", "S2"] and sites["lon"].iloc[0] == 105.85
    report = validate_file(path, "sites")
    assert report.ok and "sheet 'Trạm', header on row 3" in report.note and "'lng' as lon" in report.note


def test_xlsx_without_the_columns_names_each_sheet(tmp_path) -> None:
    path = corpus.xlsx_with_title(tmp_path / "sites.xlsx", corpus.sites_frame().drop(columns="radius_m"))
    with pytest.raises(DataFileError) as exc:
        load_sites(path)
    text = _refused(exc)
    assert "no sheet with the columns" in text and "sheet 'Trạm': lacks radius_m" in text


def test_scenario_may_hold_xlsx(tmp_path, registry, data_dir) -> None:
    from test_store import _write_scenario

    from coverage.scenario import load_scenario

    _write_scenario(tmp_path / "scn", registry)
    villages = pd.read_csv(tmp_path / "scn/villages.csv", dtype={"commune_code": str})
    (tmp_path / "scn/villages.csv").unlink()
    corpus.xlsx_with_title(tmp_path / "scn/villages.xlsx", villages, sheet="Thôn")
    scenario = load_scenario(tmp_path / "scn", registry)
    assert scenario.villages["village_id"].tolist() == ["V1", "V2", "V3"]
    villages.to_csv(tmp_path / "scn/villages.csv", index=False)
    with pytest.raises(DataFileError, match="2 files for villages"):
        load_scenario(tmp_path / "scn", registry)


def test_names_instead_of_codes(tmp_path, registry) -> None:
    path = tmp_path / "households.csv"
    path.write_text("Tỉnh,Xã,Số hộ\nHà Nội,Tân Lập,100\n01,Phuc Xa,200\nTP. Hồ Chí Minh,Phường Bến Nghé,300\n",
                    encoding="utf-8")
    hh = load_households(path, registry)
    expected = [registry.resolve("Tân Lập", "63", "commune", province="01").code, "00001",
                registry.resolve("Bến Nghé", "63", "commune", province="79").code]
    assert hh["commune_code"].tolist() == expected and hh["households"].tolist() == [100, 200, 300]


def test_thousands_of_commune_names_resolve_quickly(tmp_path, registry) -> None:
    """Names are looked up in an index, not compared with every commune: a national file's
    thousands of distinct names without a province column take seconds (a scan per name took
    about 45 ms each, over two minutes for these 4,000). Names that differ only by diacritics
    ("Xã Phù Linh", Hà Nội; "Xã Phú Linh", Hà Giang) are told apart when spelt exactly."""
    import time

    communes = registry.units("63", "commune")
    unique = communes[~communes["name"].duplicated(keep=False)].head(4000)
    path = tmp_path / "households.csv"
    pd.DataFrame({"Xã": unique["name"], "Số hộ": 10}).to_csv(path, index=False)
    start = time.perf_counter()
    hh = load_households(path, registry)
    assert time.perf_counter() - start < 30
    assert hh["commune_code"].tolist() == unique["code"].tolist()
    assert registry.resolve("Xã Phù Linh", "63", "commune").code == "00400"
    with pytest.raises(Exception, match="names 2 communes"):
        registry.resolve("Xa Phu Linh", "63", "commune")  # without diacritics: still ambiguous
    # the misspelling path still suggests the likely communes
    with pytest.raises(Exception, match="matches no commune.*Did you mean"):
        registry.resolve(str(unique["short_name"].iloc[0])[:-1] + "x", "63", "commune")


def test_unknown_and_ambiguous_names(tmp_path, registry) -> None:
    path = tmp_path / "households.csv"
    path.write_text("commune_code,households\nTân Lập,100\nXyzzy Nowhere,5\n00001,7\n", encoding="utf-8")
    with pytest.raises(DataFileError) as exc:
        load_households(path, registry)
    text = _refused(exc)
    assert "row 2, field commune_code: 'Tân Lập' names" in text and "Did you mean" in text
    assert "Add a province column" in text
    assert "row 3, field commune_code: 'Xyzzy Nowhere' matches no commune" in text
    assert "row 4" not in text
    path.write_text("province,commune_code,households\nHa Noi City,00001,1\nĐà Lạt,00004,2\n", encoding="utf-8")
    with pytest.raises(DataFileError) as exc:
        load_households(path, registry)
    text = _refused(exc)
    assert "row 3, field province: 'Đà Lạt' is not a provincial unit" in text and "Lâm Đồng" in text


def test_duplicate_ids(tmp_path) -> None:
    df = corpus.sites_frame()
    df.loc[1, "site_id"] = "S1"
    df.to_csv(tmp_path / "sites.csv", index=False)
    with pytest.raises(DataFileError) as exc:
        load_sites(tmp_path / "sites.csv")
    assert "row 3, field site_id: 'S1' repeats row 2; ids must be unique" in _refused(exc)


def test_households_negative_non_numeric_and_over_the_commune_total(tmp_path, registry) -> None:
    hh = tmp_path / "households.csv"
    hh.write_text("commune_code,households\n00001,-5\n00004,abc\n00006,10.5\n00007,100\n", encoding="utf-8")
    with pytest.raises(DataFileError) as exc:
        load_households(hh, registry)
    text = _refused(exc)
    assert "has 3 problem(s)" in text
    assert "row 2, field households: -5 is negative; expected 0 or more" in text
    assert "row 3, field households: 'abc' is not a number; expected a whole number" in text
    assert "row 4, field households: '10.5' is not a whole number" in text
    hh.write_text("commune_code,households\n00001,100\n", encoding="utf-8")
    households = load_households(hh, registry)
    villages = tmp_path / "villages.csv"
    villages.write_text("village_id,name,commune_code,lon,lat,households\nV1,Thôn 1,1,105.85,21.04,80\n"
                        "V2,Thôn 2,00001,105.85,21.05,30\n", encoding="utf-8")
    with pytest.raises(DataFileError) as exc:
        load_villages(villages, households, registry)
    assert ("rows 2, 3, field households: the villages of commune 00001 hold 110 households, more than the "
            "commune's 100") in _refused(exc)


def test_outside_vietnam_and_swapped_coordinates(tmp_path) -> None:
    df = corpus.sites_frame()
    df.loc[0, ["lon", "lat"]] = [21.03, 105.85]
    df.loc[1, ["lon", "lat"]] = [2.35, 48.85]
    df.to_csv(tmp_path / "sites.csv", index=False)
    with pytest.raises(DataFileError) as exc:
        load_sites(tmp_path / "sites.csv")
    text = _refused(exc)
    assert "row 2, fields lon/lat: (21.03, 105.85) looks like lat/lon swapped" in text and "swap the columns" in text
    assert "row 3, fields lon/lat: (2.35, 48.85) is outside Vietnam" in text


def test_problem_cap_on_a_huge_file(tmp_path) -> None:
    n = 200_000
    df = pd.DataFrame({"site_id": [f"S{i}" for i in range(n)], "operator": "Viettel", "technology": "4G",
                       "lon": "x", "lat": 21.0, "radius_m": 500})
    df.to_csv(tmp_path / "sites.csv", index=False)
    with pytest.raises(DataFileError) as exc:
        load_sites(tmp_path / "sites.csv")
    assert "has 200,000 problem(s); the first 200 are listed" in str(exc.value)
    assert len(exc.value.problems) == 200 and str(exc.value).count("\n  - ") == 20


def test_empty_and_truncated_tables(tmp_path, registry) -> None:
    empty = tmp_path / "households.csv"
    empty.write_bytes(b"")
    with pytest.raises(DataFileError, match=r"is empty \(0 bytes\)"):
        load_households(empty, registry)
    empty.write_text("commune_code,households\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="has a header but no rows"):
        load_households(empty, registry)
    cut = tmp_path / "sites.csv"
    cut.write_text(corpus.csv_text(corpus.sites_frame()).rstrip().rsplit(",", 2)[0], encoding="utf-8")
    with pytest.raises(DataFileError) as exc:
        load_sites(cut)
    assert "row 3, field lat: is empty; expected a number" in _refused(exc)
    book = corpus.xlsx_with_title(tmp_path / "full.xlsx", corpus.sites_frame())
    bad = corpus.truncated(tmp_path / "sites.xlsx", book)
    with pytest.raises(DataFileError, match="cannot be read as an XLSX workbook .*truncated or corrupt"):
        load_sites(bad)
    noise = tmp_path / "noise.csv"
    noise.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(DataFileError, match="binary data|neither UTF-8"):
        load_sites(noise)


def test_file_over_the_limit(tmp_path, monkeypatch) -> None:
    path = tmp_path / "sites.csv"
    corpus.sites_frame().to_csv(path, index=False)
    monkeypatch.setenv("VNBB_MAX_INPUT_MB", str(50 / 2**20))  # 50 bytes
    with pytest.raises(InputLimitError, match="over the 0.0 MB limit. Split it .* VNBB_MAX_INPUT_MB"):
        load_sites(path)


# -- vector layers --------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix, driver", [(".geojson", "GeoJSON"), (".gpkg", "GPKG"), (".kml", "KML"),
                                            (".shp", "ESRI Shapefile")])
def test_vector_formats(tmp_path, suffix, driver) -> None:
    path = corpus.polygon_layer(tmp_path / f"fp{suffix}", [corpus.hanoi_square()], driver=driver)
    layer = read_vector(path)
    assert len(layer) == 1 and layer.crs.to_epsg() == 4326
    assert layer.geometry.iloc[0].contains(gpd.points_from_xy([105.85], [21.03])[0])


def test_zipped_shapefile_with_and_without_prj(tmp_path, registry) -> None:
    zone = province_zone("01")
    square = gpd.GeoSeries([corpus.hanoi_square()], crs=4326).to_crs(zone)
    layer = gpd.GeoDataFrame({"name": ["a"]}, geometry=square)
    with_prj = read_vector(corpus.shapefile_zip(tmp_path / "a.zip", layer))
    assert with_prj.geometry.iloc[0].centroid.distance(gpd.points_from_xy([105.85], [21.03])[0]) < 1e-4
    bare = corpus.shapefile_zip(tmp_path / "b.zip", layer, with_prj=False)
    with pytest.raises(CRSError) as exc:
        read_vector(bare)
    assert "has no coordinate reference system" in str(exc.value) and "VN-2000 TM-3" in str(exc.value)
    stated = read_vector(bare, crs=parse_crs("VN-2000:Hà Nội", registry))
    assert stated.geometry.iloc[0].equals_exact(with_prj.geometry.iloc[0], 1e-7)


def test_missing_crs_allowed_only_for_lon_lat_over_vietnam(tmp_path) -> None:
    layer = gpd.GeoDataFrame({"name": ["a"]}, geometry=[corpus.hanoi_square()])  # no CRS
    path = corpus.shapefile_zip(tmp_path / "a.zip", layer, with_prj=False)
    with pytest.warns(UserWarning, match="can only be lon/lat degrees over Vietnam, so WGS 84"):
        assert read_vector(path).crs.to_epsg() == 4326


def test_wrong_crs(tmp_path) -> None:
    metres = gpd.GeoSeries([corpus.hanoi_square()], crs=4326).to_crs(province_zone("01"))
    path = corpus.polygon_layer(tmp_path / "fp.gpkg", list(metres.geometry), crs="EPSG:4326")
    with pytest.raises(CRSError) as exc:
        read_vector(path)
    text = str(exc.value)
    assert "outside Vietnam and its waters: is that CRS wrong?" in text and "TM-3" in text
    swapped = corpus.polygon_layer(tmp_path / "sw.gpkg", [corpus.hanoi_square().reverse()], crs="EPSG:4326")
    from shapely.ops import transform

    swapped = corpus.polygon_layer(tmp_path / "sw2.gpkg", [transform(lambda x, y: (y, x), corpus.hanoi_square())])
    with pytest.raises(CRSError, match="lat/lon with the axes swapped"):
        read_vector(swapped)


def test_invalid_geometries_repaired_empty_ones_refused(tmp_path) -> None:
    path = corpus.polygon_layer(tmp_path / "fp.gpkg", [corpus.hanoi_square(), corpus.bowtie()])
    with pytest.warns(UserWarning, match="repaired 1 invalid geometries: feature 2: Self-intersection"):
        layer = read_vector(path)
    assert layer.is_valid.all()
    gdf = gpd.GeoDataFrame({"name": ["a", "b"]}, geometry=[corpus.hanoi_square(), None], crs=4326)
    gdf.to_file(tmp_path / "empty.geojson")
    with pytest.raises(GeometryError) as exc:
        read_vector(tmp_path / "empty.geojson", id_field="name")
    assert "feature 2 (name b): geometry is empty; expected a shape" in _refused(exc)


def test_truncated_and_empty_vector_files(tmp_path) -> None:
    full = corpus.polygon_layer(tmp_path / "full.geojson", [corpus.hanoi_square()] * 3)
    with pytest.raises(DataFileError, match="cannot be read as a vector layer .*truncated or corrupt"):
        read_vector(corpus.truncated(tmp_path / "cut.geojson", full))
    gpkg = corpus.polygon_layer(tmp_path / "full.gpkg", [corpus.hanoi_square()])
    with pytest.raises(DataFileError, match="cannot be read as a vector layer"):
        read_vector(corpus.truncated(tmp_path / "cut.gpkg", gpkg, keep=0.3))
    (tmp_path / "empty.gpkg").write_bytes(b"")
    with pytest.raises(DataFileError, match=r"is empty \(0 bytes\)"):
        read_vector(tmp_path / "empty.gpkg")
    zipped = corpus.shapefile_zip(tmp_path / "a.zip", gpd.read_file(full))
    with pytest.raises(DataFileError, match="not a readable zip archive .*truncated"):
        read_vector(corpus.truncated(tmp_path / "cut.zip", zipped))


def test_zip_escaping_its_folder(tmp_path) -> None:
    with pytest.raises(UnsafeArchiveError) as exc:
        read_vector(corpus.zip_escape(tmp_path / "evil.zip"))
    assert "member '../../outside.txt': its path leads outside the archive's folder" in _refused(exc)
    assert not (tmp_path.parent / "outside.txt").exists()


def test_zip_bombs(tmp_path, monkeypatch) -> None:
    bomb = corpus.zip_bomb(tmp_path / "bomb.zip", 64)
    assert bomb.stat().st_size < 2**20
    with pytest.raises(InputLimitError, match=r"ratio .*refused as a likely zip bomb"):
        read_vector(bomb)
    monkeypatch.setenv("VNBB_MAX_INPUT_MB", "16")
    with pytest.raises(InputLimitError, match=r"declares 64.0 MB once unpacked, over the 16.0 MB limit"):
        read_vector(bomb)


def test_zip_lying_about_its_size(tmp_path, monkeypatch) -> None:
    """A zip whose headers declare less than it holds: refused while unpacking, by actual size."""
    import zipfile

    path = tmp_path / "liar.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("layer.geojson", b"x" * (3 * 2**20))
    data = bytearray(path.read_bytes())
    # Patch the uncompressed size (local header offset 22, central directory offset 24) to 1 KB.
    data[22:26] = (1024).to_bytes(4, "little")
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 24:cd + 28] = (1024).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    monkeypatch.setenv("VNBB_MAX_INPUT_MB", "3.5")
    with pytest.raises(DataFileError) as exc:
        read_vector(path)
    assert isinstance(exc.value, InputLimitError) or "cannot be unpacked" in str(exc.value)


def test_raster_without_georeference(tmp_path) -> None:
    path = corpus.raster_without_georeference(tmp_path / "rsrp.tif")
    report = validate_file(path, "coverage-raster")
    assert not report.ok and "has no coordinate reference system" in report.message


# -- VN-2000 ----------------------------------------------------------------------------------
def test_vn2000_zones_match_epsg(registry) -> None:
    assert set(PROVINCE_MERIDIANS) == set(registry.units("63", "province")["code"])
    ours = Transformer.from_crs(province_zone("79"), 4326, always_xy=True)  # HCM: 105°45'
    epsg = Transformer.from_crs(CRS.from_epsg(9210), 4326, always_xy=True)  # VN-2000 / TM-3 105-45
    assert np.allclose(ours.transform(600000, 1190000), epsg.transform(600000, 1190000), atol=1e-9)
    assert parse_crs("TM-3 107-45").equals(province_zone("48"))
    assert parse_crs("VN-2000").to_epsg() == 4756
    with pytest.raises(CRSError, match="names no VN-2000 provincial zone"):
        parse_crs("VN-2000:Đà Lạt", registry)


# -- public formats ----------------------------------------------------------------------------
def test_opencellid_cells_as_modelled_footprints(tmp_path, registry) -> None:
    rural = registry.units("63", "commune").query("type == 'commune' and parent_code == '11'").iloc[0]
    rows = [("LTE", 452, 4, 105.8520, 21.0290, 50000),   # Viettel 4G, Hoàn Kiếm (urban), huge position error
            ("NR", 452, 1, 105.8520, 21.0290, 10),       # MobiFone 5G, urban
            ("LTE", 452, 2, rural["lon"], rural["lat"], 10),  # VinaPhone 4G, rural commune
            ("GSM", 452, 4, 105.85, 21.03, 10),          # 2G: not broadband
            ("LTE", 452, 9, 105.85, 21.03, 10),          # unknown network
            ("LTE", 520, 1, 100.5, 13.7, 10)]            # Thailand
    path = tmp_path / "452.csv"
    path.write_text(corpus.opencellid_csv(rows), encoding="utf-8")
    footprints, notes = _public.opencellid_footprints(path, registry, {"file": "452.csv", "as_of": "2025-01-01"})
    by = {(f.operator, f.technology): f for f in footprints}
    assert set(by) == {("Viettel", "4G"), ("MobiFone", "5G"), ("VinaPhone", "4G")}
    assert all(f.provenance == "modelled" for f in footprints)
    to_m = Transformer.from_crs(4326, "EPSG:32648", always_xy=True)
    for (op, tech), radius in {("Viettel", "4G"): 1000, ("MobiFone", "5G"): 300, ("VinaPhone", "4G"): 3000}.items():
        area = gpd.GeoSeries(by[(op, tech)].shapes, crs=4326).to_crs(32648).area.iloc[0]
        assert area == pytest.approx(np.pi * radius ** 2, rel=0.03), (op, tech)  # range (50 km) is not reach
    assert any("other countries" in n for n in notes) and any("MNC 9" in n for n in notes)
    assert any("2G/3G" in n for n in notes)
    x, y = to_m.transform(105.8520, 21.0290)
    near = Transformer.from_crs("EPSG:32648", 4326, always_xy=True).transform(x + 900, y)
    assert in_footprint(by[("Viettel", "4G")], np.array([near[0]]), np.array([near[1]]))[0]
    assert not in_footprint(by[("MobiFone", "5G")], np.array([near[0]]), np.array([near[1]]))[0]


def test_opencellid_bad_rows_reported(tmp_path, registry) -> None:
    path = tmp_path / "cells.csv"
    path.write_text("radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal\n"
                    "LTE,452,4,1,2,0,abc,21.0,10,1,1,0,0,0\nLTE,452,4,1,3,0,105.8,21.0,10,1,1,0,0,0\n",
                    encoding="utf-8")
    with pytest.raises(DataFileError) as exc:
        _public.read_opencellid(path, registry)
    assert "row 2, field lon: 'abc' is not a number" in _refused(exc)


def _quadkey(lon: float, lat: float, z: int = 16) -> str:
    import math

    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return "".join(str(((x >> i) & 1) | (((y >> i) & 1) << 1)) for i in range(z - 1, -1, -1))


def test_ookla_tiles_as_measured_footprint(tmp_path) -> None:
    fast, slow = _quadkey(105.85, 21.03), _quadkey(105.95, 21.03)
    df = pd.DataFrame({"quadkey": [fast, slow, _quadkey(2.35, 48.85)], "avg_d_kbps": [120_000, 20_000, 500_000],
                       "avg_u_kbps": [30_000, 5_000, 1], "avg_lat_ms": [20, 40, 5], "tests": [12, 30, 3],
                       "devices": [5, 9, 1]})
    df.to_parquet(tmp_path / "tiles.parquet")
    entry = {"file": "tiles.parquet", "operator": "Ookla (all operators)", "technology": "4G",
             "min_download_mbps": 40, "as_of": "2024-10-01"}
    fp, notes = _public.ookla_footprint(tmp_path / "tiles.parquet", entry)
    assert fp.provenance == "measured" and len(fp.shapes) == 1 and "1 of 2 tiles" in notes[0]
    covered = in_footprint(fp, np.array([105.85, 105.95]), np.array([21.03, 21.03]))
    assert covered.tolist() == [True, False]
    with_wkt = df.assign(tile=_public._quadkey_tiles(df["quadkey"]).astype(object)).drop(columns="quadkey")
    with_wkt["tile"] = [g.wkt for g in with_wkt["tile"]]
    with_wkt.to_parquet(tmp_path / "wkt.parquet")
    fp2, _ = _public.ookla_footprint(tmp_path / "wkt.parquet", {**entry, "file": "wkt.parquet"})
    assert fp2.shapes.iloc[0].equals_exact(fp.shapes.iloc[0], 1e-9)
    df.loc[1, "avg_d_kbps"] = -3
    df.to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(DataFileError, match="tile 2, field avg_d_kbps: '-3' is not a number 0 or more"):
        _public.read_ookla(tmp_path / "bad.parquet")


def test_ookla_parquet_reads_only_vietnam(tmp_path) -> None:
    """A global file sorted by quadkey: only the needed columns and the row groups over Vietnam's
    box are read, so bad values elsewhere in the world are never seen; the tile-centre columns
    of recent releases filter the same way. A WKT-only file is read whole."""
    import pyarrow.parquet as pq

    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(-170, 170, 4000), rng.uniform(-55, 65, 4000)
    lon[:300], lat[:300] = rng.uniform(102.5, 109, 300), rng.uniform(10, 22, 300)
    keys = sorted({_quadkey(x, y) for x, y in zip(lon, lat)})
    tiles = _public._quadkey_tiles(pd.Series(keys))
    x, y = shapely.get_x(shapely.centroid(tiles)), shapely.get_y(shapely.centroid(tiles))
    inside = (x >= 102) & (x <= 117.5) & (y >= 8) & (y <= 23.5)
    df = pd.DataFrame({"quadkey": keys, "avg_d_kbps": np.where(inside, 50_000, -1),  # -1: refused if read
                       "tests": 4, "devices": 1})
    df.to_parquet(tmp_path / "world.parquet", row_group_size=64)
    df.assign(tile_x=x, tile_y=y).to_parquet(tmp_path / "world_xy.parquet", row_group_size=64)
    assert pq.ParquetFile(tmp_path / "world.parquet").num_row_groups > 20
    for name in ("world.parquet", "world_xy.parquet"):
        out = _public.read_ookla(tmp_path / name)
        assert len(out) == int(inside.sum()) > 250 and list(out.columns) == ["avg_d_kbps", "tests", "geometry"]
    # a WKT-only file cannot be filtered while read; the tiles elsewhere are dropped unchecked
    wkt = pd.DataFrame({"tile": shapely.to_wkt(tiles), "avg_d_kbps": df["avg_d_kbps"], "tests": 1})
    wkt.to_parquet(tmp_path / "wkt.parquet")
    assert len(_public.read_ookla(tmp_path / "wkt.parquet")) == int(inside.sum())
    df.loc[np.flatnonzero(inside)[:2], "avg_d_kbps"] = -5  # over Vietnam: refused, quadkey named
    df.to_parquet(tmp_path / "world.parquet", row_group_size=64)
    with pytest.raises(DataFileError, match=rf"(?s)has 2 problem.*field avg_d_kbps: '-5' is not a number 0 or more "
                                            rf"\(quadkey {df['quadkey'][np.flatnonzero(inside)[0]]}\)"):
        _public.read_ookla(tmp_path / "world.parquet")
    good = _quadkey(105.85, 21.03)
    bad = pd.DataFrame({"quadkey": [good, good[:-1] + "9"], "avg_d_kbps": [1, 2], "tests": [1, 1]})
    bad.to_parquet(tmp_path / "badkey.parquet")
    with pytest.raises(DataFileError, match=rf"tile 2, field quadkey: not a quadkey \(quadkey {good[:-1]}9\)"):
        _public.read_ookla(tmp_path / "badkey.parquet")
