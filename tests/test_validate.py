"""`vnbb validate`, and nothing lost: a failed build (any bad input of the corpus) leaves the
results store byte-identical, and a build killed mid-way leaves the previous store readable."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import corpus
from app.cli import app
from coverage import export, store
from coverage.access import Principal
from geodata import load_registry
from geodata.errors import DataFileError
from test_store import _write_scenario

ROOT = Path(__file__).resolve().parents[1]


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def built(tmp_path_factory, data_dir) -> Path:
    root = tmp_path_factory.mktemp("validate")
    _write_scenario(root / "scn", load_registry(data_dir))
    store.build(root / "scn", root / "store", data_dir=data_dir)
    return root


def test_validate_ok_and_refused(built, tmp_path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["validate", str(built / "scn/sites.csv"), "--kind", "sites"])
    assert ok.exit_code == 0 and "OK, 1 rows" in ok.stdout
    villages = tmp_path / "villages.csv"
    villages.write_text("village_id,name,commune_code,lon,lat,households\nV1,A,00001,105.85,21.03,-4\n"
                        "V1,B,99999,21.03,105.85,3\n", encoding="utf-8")
    bad = runner.invoke(app, ["validate", str(villages), "--kind", "villages"])
    assert bad.exit_code == 1
    for text in ("REFUSED", "has 4 problem(s)", "row 2, field households: -4 is negative",
                 "row 3, field village_id: 'V1' repeats row 2", "row 3, field commune_code: '99999' is not a commune",
                 "row 3, fields lon/lat: (21.03, 105.85) looks like lat/lon swapped"):
        assert text in bad.stdout, text
    against = runner.invoke(app, ["validate", str(villages), "--kind", "villages", "--scenario", str(built / "scn")])
    assert "is not a commune listed in the households table" in against.stdout


def test_validate_boundaries_with_stated_crs(tmp_path) -> None:
    import geopandas as gpd

    from geodata.vn2000 import province_zone

    metres = gpd.GeoDataFrame({"name": ["a"]}, geometry=[corpus.hanoi_square()], crs=4326).to_crs(province_zone("01"))
    path = corpus.shapefile_zip(tmp_path / "xa.zip", metres, with_prj=False)
    runner = CliRunner()
    refused = runner.invoke(app, ["validate", str(path), "--kind", "boundaries"])
    assert refused.exit_code == 1 and "has no coordinate reference system" in refused.stdout
    ok = runner.invoke(app, ["validate", str(path), "--kind", "boundaries", "--crs", "VN-2000:Hà Nội"])
    assert ok.exit_code == 0, ok.stdout
    assert "OK, 1 items" in ok.stdout


def test_validate_size_limit_option(built, tmp_path) -> None:
    result = CliRunner().invoke(app, ["validate", str(built / "scn/villages.csv"), "--kind", "villages",
                                      "--max-mb", "0.00001"])
    assert result.exit_code == 1 and "over the 0.0 MB limit" in result.stdout
    assert "VNBB_MAX_INPUT_MB" not in os.environ or os.environ["VNBB_MAX_INPUT_MB"] != "0.00001"


def _bad_households(folder: Path) -> str:
    (folder / "households.csv").write_text("commune_code,households\nTân Lập,100\n", encoding="utf-8")
    return "names"


def _bad_villages_total(folder: Path) -> str:
    v = pd.read_csv(folder / "villages.csv", dtype={"commune_code": str})
    v.loc[0, "households"] = 5000
    v.to_csv(folder / "villages.csv", index=False)
    return "more than the commune's"


def _dup_sites(folder: Path) -> str:
    s = pd.read_csv(folder / "sites.csv")
    pd.concat([s, s]).to_csv(folder / "sites.csv", index=False)
    return "repeats row 2"


def _swapped_sites(folder: Path) -> str:
    s = pd.read_csv(folder / "sites.csv")
    s[["lon", "lat"]] = s[["lat", "lon"]].to_numpy()
    s.to_csv(folder / "sites.csv", index=False)
    return "looks like lat/lon swapped"


def _empty_fixed(folder: Path) -> str:
    (folder / "fixed.csv").write_bytes(b"")
    return "is empty (0 bytes)"


def _truncated_villages_xlsx(folder: Path) -> str:
    v = pd.read_csv(folder / "villages.csv", dtype={"commune_code": str})
    (folder / "villages.csv").unlink()
    full = corpus.xlsx_with_title(folder.parent / f"{folder.name}-full.xlsx", v)
    corpus.truncated(folder / "villages.xlsx", full)
    return "truncated or corrupt"


def _coverage_entry(folder: Path, file: str, extra: str = "") -> None:
    with open(folder / "scenario.toml", "a", encoding="utf-8") as f:
        f.write(f'\n[[coverage]]\nfile = "{file}"\nkind = "footprint"\noperator = "Viettel"\ntechnology = "4G"\n'
                f'provenance = "declared"\nas_of = "2024-06-30"\n{extra}')


def _zip_escape(folder: Path) -> str:
    corpus.zip_escape(folder / "fp.zip")
    _coverage_entry(folder, "fp.zip")
    return "outside the folder"


def _zip_bomb(folder: Path) -> str:
    corpus.zip_bomb(folder / "fp.zip", 64)
    _coverage_entry(folder, "fp.zip")
    return "zip bomb"


def _no_crs(folder: Path) -> str:
    import geopandas as gpd

    from geodata.vn2000 import province_zone

    gdf = gpd.GeoDataFrame({"n": [1]}, geometry=[corpus.hanoi_square()], crs=4326).to_crs(province_zone("01"))
    corpus.shapefile_zip(folder / "fp.zip", gdf, with_prj=False)
    _coverage_entry(folder, "fp.zip")
    return "has no coordinate reference system"


def _wrong_crs(folder: Path) -> str:
    import geopandas as gpd

    from geodata.vn2000 import province_zone

    metres = gpd.GeoSeries([corpus.hanoi_square()], crs=4326).to_crs(province_zone("01"))
    corpus.polygon_layer(folder / "fp.gpkg", list(metres), crs="EPSG:4326")
    _coverage_entry(folder, "fp.gpkg")
    return "is that CRS wrong?"


def _empty_geometry(folder: Path) -> str:
    import geopandas as gpd

    gpd.GeoDataFrame({"n": [1, 2]}, geometry=[corpus.hanoi_square(), None], crs=4326).to_file(folder / "fp.geojson")
    _coverage_entry(folder, "fp.geojson")
    return "geometry is empty"


def _raster_no_georef(folder: Path) -> str:
    corpus.raster_without_georeference(folder / "rsrp.tif")
    with open(folder / "scenario.toml", "a", encoding="utf-8") as f:
        f.write('\n[[coverage]]\nfile = "rsrp.tif"\nkind = "raster"\noperator = "Viettel"\ntechnology = "4G"\n'
                'threshold = -110\nprovenance = "modelled"\nas_of = "2024-06-30"\n')
    return "has no coordinate reference system"


def _too_large(folder: Path) -> str:
    v = pd.read_csv(folder / "villages.csv", dtype={"commune_code": str})
    pd.concat([v] * 20000, ignore_index=True).to_csv(folder / "villages.csv", index=False)  # > 1 MB
    return "over the 1.0 MB limit"


CASES = [_bad_households, _bad_villages_total, _dup_sites, _swapped_sites, _empty_fixed, _truncated_villages_xlsx,
         _zip_escape, _zip_bomb, _no_crs, _wrong_crs, _empty_geometry, _raster_no_georef, _too_large]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__.strip("_") for c in CASES])
def test_failed_build_leaves_the_store_byte_identical(built, tmp_path, data_dir, monkeypatch, case) -> None:
    before = _digest(built / "store")
    scn = tmp_path / "scn"
    shutil.copytree(built / "scn", scn)
    expected = case(scn)
    monkeypatch.setenv("VNBB_MAX_INPUT_MB", "1")
    with pytest.raises(DataFileError) as exc:
        store.build(scn, built / "store", data_dir=data_dir, force=True)
    assert expected in str(exc.value) + "\n".join(exc.value.problems)
    assert _digest(built / "store") == before
    # Nothing half-written left beside it: only the store and the version folder it points to.
    assert sorted(p.name for p in built.iterdir()) == sorted(["scn", "store", (built / "store").resolve().name])


def test_killed_build_leaves_the_previous_store_readable(built, tmp_path, data_dir) -> None:
    """SIGKILL a real `vnbb build` subprocess while it writes; the previous store stays whole."""
    out = tmp_path / "store"
    shutil.copytree(built / "store", out)
    before = _digest(out)
    vnbb = Path(sys.executable).with_name("vnbb")
    env = {**os.environ, "VNBB_DATA_DIR": str(data_dir)}
    killed_mid_build = False
    for delay in (None, 1.0, 2.5, 4.0):
        proc = subprocess.Popen([str(vnbb), "build", "--scenario", str(built / "scn"), "--out", str(out), "--force"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        start = time.monotonic()
        while proc.poll() is None and time.monotonic() - start < 120:
            writing = any(p.name.startswith(".store.v-") and p.name != out.resolve().name for p in tmp_path.iterdir())
            if (delay is None and writing) or (delay is not None and time.monotonic() - start >= delay):
                break
            time.sleep(0.002)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed_mid_build = True
        proc.wait()
        # Whatever the moment: the store is complete (old or new) and readable.
        assert (out / "manifest.json").is_file(), f"store missing after kill (delay {delay})"
        assert set(before) <= set(_digest(out))
        table = store.report(out, "province", "63")
        assert table["households"].sum() == 2000
        after = _digest(out)
        assert after == before or set(after) == set(before)  # the old store, or a complete new one
    assert killed_mid_build
    # Leftover temporary folders never replace the store, and the next build succeeds.
    result = CliRunner().invoke(app, ["build", "--scenario", str(built / "scn"), "--out", str(out), "--force"])
    assert result.exit_code == 0, result.output
    assert store.report(out, "province", "34")["households"].sum() == 2000


def test_build_with_opencellid_and_ookla(built, tmp_path, data_dir) -> None:
    """Public formats in a scenario: their layers reach the store, marked modelled and measured."""
    import json

    from test_inputs import _quadkey

    scn = tmp_path / "scn"
    shutil.copytree(built / "scn", scn)
    v = pd.read_csv(scn / "villages.csv")
    lon, lat = float(v.loc[2, "lon"]), float(v.loc[2, "lat"])  # V3: no mobile site in the base scenario
    (scn / "cells.csv").write_text(corpus.opencellid_csv([("NR", 452, 2, lon, lat, 9000)]), encoding="utf-8")
    pd.DataFrame({"quadkey": [_quadkey(lon, lat)], "avg_d_kbps": [150_000], "avg_u_kbps": [1], "avg_lat_ms": [9],
                  "tests": [5], "devices": [2]}).to_parquet(scn / "tiles.parquet")
    with open(scn / "scenario.toml", "a", encoding="utf-8") as f:
        f.write('\n[[coverage]]\nfile = "cells.csv"\nkind = "opencellid"\nas_of = "2025-01-15"\n'
                '\n[[coverage]]\nfile = "tiles.parquet"\nkind = "ookla"\noperator = "Ookla (all operators)"\n'
                'technology = "fixed"\nmin_download_mbps = 100\nas_of = "2024-12-31"\n')
    out = store.build(scn, tmp_path / "store", data_dir=data_dir)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    sources = manifest["layer_sources"]
    assert {"file": "cells.csv", "provenance": "modelled", "as_of": "2025-01-15",
            "licence": "CC BY-SA 4.0"} in sources["5G__VinaPhone"]
    assert {"file": "tiles.parquet", "provenance": "measured", "as_of": "2024-12-31",
            "licence": "CC BY-NC-SA 4.0"} in sources["fixed__all"]
    # Ookla's open data forbids commercial use: an operator's export of a layer built on it is
    # marked and warned; a layer without it is not.
    viettel = Principal("vt", "operator", operator="Viettel")
    meta = export.gap_layer(out, "uncovered-villages", technology="fixed", who=viettel).attrs["metadata"]
    assert meta["non_commercial"] and meta["title"].endswith("[NON-COMMERCIAL]")
    assert "CC BY-NC-SA 4.0" in meta["licence_warning"] and "CC BY-NC-SA 4.0" in meta["licences"]
    meta = export.gap_layer(out, "uncovered-villages", technology="5G", who=viettel).attrs["metadata"]
    assert not meta["non_commercial"] and meta["licence_warning"] == ""
    assert "CC BY-SA 4.0" in meta["licences"] and meta["exported_for"] == "vt (operator: Viettel)"
    villages = pd.read_parquet(out / "villages.parquet").set_index("village_id")
    assert bool(villages.at["V3", "cov__5G__VinaPhone"]) and not bool(villages.at["V1", "cov__5G__VinaPhone"])
