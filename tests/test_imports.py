"""Nothing lost (issue 5): an import adds a new version of the scenario, and a refused file, a
failed whole-scenario check or a failed build changes nothing: the scenario, its versions and
the results store stay byte-identical."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from typer.testing import CliRunner

import corpus
from app.cli import app
from coverage import _toml, imports, store
from coverage.scenario import ValidationReport, load_scenario, problem_parts
from geodata import load_registry
from geodata.errors import ScenarioImportError
from test_store import _write_scenario

runner = CliRunner()


def _tree(root: Path) -> dict[str, str]:
    """Every file's SHA-256 and every link's target under ``root`` (links not followed)."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out[rel] = "-> " + os.readlink(path)
            elif path.is_file():
                out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                out[rel] = "dir"
    return out


@pytest.fixture(scope="module")
def base(tmp_path_factory, data_dir) -> Path:
    """A small scenario and its store, built once; tests work on copies."""
    root = tmp_path_factory.mktemp("imports")
    _write_scenario(root / "scn", load_registry(data_dir))
    store.build(root / "scn", root / "store", data_dir=data_dir)
    return root


@pytest.fixture()
def work(base, tmp_path) -> Path:
    root = tmp_path / "w"
    shutil.copytree(base, root, symlinks=True)  # the store stays a link to its version folder
    assert (root / "store").is_symlink()
    return root


def _sites(root: Path, rows: list[tuple]) -> Path:
    path = root.parent / "sent" / "sites_new.csv"
    path.parent.mkdir(exist_ok=True)
    pd.DataFrame(rows, columns=["site_id", "operator", "technology", "lon", "lat", "radius_m"]).to_csv(path,
                                                                                                       index=False)
    return path


def _village(root: Path, i: int) -> tuple[float, float]:
    v = pd.read_csv(root / "scn/villages.csv")
    return float(v.loc[i, "lon"]), float(v.loc[i, "lat"])


def test_import_adds_a_version_rebuilds_and_keeps_the_old(work) -> None:
    original = _tree(work / "scn")
    lon, lat = _village(work, 2)  # V3: no mobile site yet
    sent = _sites(work, [("S1", "Viettel", "4G", *_village(work, 0), 500), ("S2", "MobiFone", "4G", lon, lat, 800)])
    result = runner.invoke(app, ["import", str(sent), "--kind", "sites", "--scenario", str(work / "scn"),
                                 "--store", str(work / "store"), "--provenance", "declared",
                                 "--citation", "MobiFone site list"])
    assert result.exit_code == 0, result.output
    assert "OK, 2 rows" in result.stdout and "version 2" in result.stdout
    scn = work / "scn"
    assert scn.is_symlink() and imports.is_versioned(scn)
    listed = imports.versions(scn)
    assert [(v.number, v.kind, v.current) for v in listed] == [(1, "initial", False), (2, "sites", True)]
    assert listed[1].file == "sites.csv" and listed[1].source == "sites_new.csv"
    assert listed[1].sha256 == hashlib.sha256(sent.read_bytes()).hexdigest()
    assert _tree(listed[0].path) == original  # version 1 is the folder as it was, byte for byte
    assert (scn / "sites.csv").read_bytes() == sent.read_bytes()
    meta = tomllib.loads((scn / "scenario.toml").read_text(encoding="utf-8"))
    assert {"file": "sites.csv", "provenance": "declared", "citation": "MobiFone site list"} in meta["sources"]
    assert meta["synthetic"] is True  # an import never makes a synthetic scenario look real
    # The store was rebuilt from version 2, and its figures show the new site.
    manifest = store.read_manifest(work / "store")
    assert manifest["scenario"]["folder"] == str(listed[1].path) and listed[1].store == str(work / "store")
    assert imports.scenario_of(manifest["scenario"]["folder"]) == scn.absolute()
    assert "MobiFone" in manifest["mobile_operators"]
    villages = pd.read_parquet(work / "store/villages.parquet").set_index("village_id")
    assert bool(villages.at["V3", "cov__4G__MobiFone"])
    assert {"file": "sites.csv", "provenance": "declared", "as_of": "", "licence": ""} in manifest["layer_sources"]["4G__all"]
    out = runner.invoke(app, ["scenario", "versions", str(scn)])
    assert out.exit_code == 0 and listed[1].sha256 in out.stdout and " 2 * " in out.stdout
    lines = [json.loads(x) for x in runner.invoke(app, ["scenario", "versions", str(scn), "--json"]).stdout.split("\n")
             if x]
    assert [x["current"] for x in lines] == [False, True]
    # A second import adds version 3; the first two stay as they were.
    before = {v.number: _tree(v.path) for v in listed}
    sent.write_text(sent.read_text(encoding="utf-8").replace("800", "900"), encoding="utf-8")
    again = imports.import_file(scn, sent, "sites", store=work / "store")
    assert again.ok and again.version.number == 3
    assert {v.number: _tree(v.path) for v in imports.versions(scn) if v.number < 3} == before
    # The same file again: no new version.
    same = imports.import_file(scn, sent, "sites", store=work / "store")
    assert same.ok and same.unchanged and same.version is None
    assert [v.number for v in imports.versions(scn)] == [1, 2, 3]


def _bad_sites(root: Path) -> tuple[Path, str, list[str]]:
    lon, lat = _village(root, 0)
    path = _sites(root, [("S1", "Viettel", "4G", lon, lat, -5), ("S1", "Vinaphone", "6G", lat, lon, 500)])
    return path, "sites", ["row 2, field radius_m", "row 3, field site_id: 'S1' repeats row 2",
                           "row 3, field technology: '6G'", "row 3, fields lon/lat"]


def _truncated_xlsx(root: Path) -> tuple[Path, str, list[str]]:
    v = pd.read_csv(root / "scn/villages.csv", dtype={"commune_code": str})
    full = corpus.xlsx_with_title(root.parent / "full.xlsx", v)
    return corpus.truncated(root.parent / "villages.xlsx", full), "villages", ["truncated or corrupt"]


def _zip_bomb(root: Path) -> tuple[Path, str, list[str]]:
    return corpus.zip_bomb(root.parent / "fp.zip", 64), "footprint", ["zip bomb"]


def _zip_escape(root: Path) -> tuple[Path, str, list[str]]:
    return corpus.zip_escape(root.parent / "fp.zip"), "footprint", ["outside the"]


def _no_crs(root: Path) -> tuple[Path, str, list[str]]:
    from geodata.vn2000 import province_zone

    gdf = gpd.GeoDataFrame({"n": [1]}, geometry=[corpus.hanoi_square()], crs=4326).to_crs(province_zone("01"))
    return corpus.shapefile_zip(root.parent / "fp.zip", gdf, with_prj=False), "footprint", ["no coordinate"]


def _raster(root: Path) -> tuple[Path, str, list[str]]:
    return corpus.raster_without_georeference(root.parent / "rsrp.tif"), "coverage-raster", ["no coordinate"]


def _names(root: Path) -> tuple[Path, str, list[str]]:
    path = root.parent / "households.csv"
    path.write_text("commune_code,households\nTân Lập,100\n", encoding="utf-8")
    return path, "households", ["row 2, field commune_code: 'Tân Lập' names"]


def _too_large(root: Path) -> tuple[Path, str, list[str]]:
    v = pd.read_csv(root / "scn/villages.csv", dtype={"commune_code": str})
    path = root.parent / "villages.csv"
    pd.concat([v] * 20000, ignore_index=True).to_csv(path, index=False)
    return path, "villages", ["over the 1.0 MB limit"]


BAD = [_bad_sites, _truncated_xlsx, _zip_bomb, _zip_escape, _no_crs, _raster, _names, _too_large]


@pytest.mark.parametrize("versioned", [False, True], ids=["plain", "versioned"])
@pytest.mark.parametrize("case", BAD, ids=[c.__name__.strip("_") for c in BAD])
def test_refused_file_changes_nothing(work, monkeypatch, case, versioned) -> None:
    if versioned:  # a scenario that already has a version from an earlier import
        lon, lat = _village(work, 0)
        assert imports.import_file(work / "scn", _sites(work, [("S9", "Viettel", "5G", lon, lat, 300)]), "sites").ok
    path, kind, expected = case(work)
    before = _tree(work)
    monkeypatch.setenv("VNBB_MAX_INPUT_MB", "1")
    result = runner.invoke(app, ["import", str(path), "--kind", kind, "--scenario", str(work / "scn"), "--store",
                                 str(work / "store"), "--operator", "Viettel", "--technology", "4G", "--threshold",
                                 "-110", "--as-of", "2024-06-30"])
    assert result.exit_code == 1, result.output
    assert "REFUSED" in result.stdout and "unchanged" in result.stderr
    for text in expected:
        assert text in result.stdout, text
    assert _tree(work) == before


def test_whole_scenario_check_refuses_and_changes_nothing(work) -> None:
    """A households table that is fine alone but too small for the scenario's villages."""
    hh = pd.read_csv(work / "scn/households.csv", dtype={"commune_code": str})
    hh["households"] = 10
    sent = work.parent / "households.csv"
    hh.to_csv(sent, index=False)
    before = _tree(work)
    for target in (work / "store", None):
        result = imports.import_file(work / "scn", sent, "households", store=target)
        assert not result.ok and result.version is None
        assert "more than the commune's 10" in "\n".join(result.report.problems)
        assert str(work / "scn") in result.report.message and ".versions" not in result.report.message
        assert _tree(work) == before


def test_failed_build_changes_nothing(work, monkeypatch) -> None:
    lon, lat = _village(work, 2)
    sent = _sites(work, [("S2", "MobiFone", "4G", lon, lat, 800)])
    before = _tree(work)

    def broken(*args, **kwargs):
        (work / "store").resolve()  # the store is read, never touched
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "build", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        imports.import_file(work / "scn", sent, "sites", store=work / "store")
    assert _tree(work) == before


def test_coverage_layers_replace_their_own_entry(work, tmp_path) -> None:
    scn = work / "scn"
    first = corpus.polygon_layer(tmp_path / "viettel_4g.geojson", [corpus.hanoi_square(0.5)])
    missing = imports.import_file(scn, first, "footprint", entry={"operator": "Viettel", "technology": "4G"})
    assert not missing.ok and "field 'as_of' is missing" in "\n".join(missing.report.problems)
    entry = {"operator": "Viettel", "technology": "4G", "as_of": "2024-06-30"}
    assert imports.import_file(scn, first, "footprint", entry=entry).ok
    other = corpus.polygon_layer(tmp_path / "mobi.geojson", [corpus.hanoi_square(0.2)])
    assert imports.import_file(scn, other, "footprint", entry={**entry, "operator": "MobiFone"}).ok
    second = corpus.polygon_layer(tmp_path / "viettel_4g_v2.geojson", [corpus.hanoi_square(0.1)])
    result = imports.import_file(scn, second, "footprint", entry={**entry, "as_of": "2025-01-31",
                                                                  "provenance": "measured"})
    assert result.ok and result.version.number == 4
    meta = tomllib.loads((scn / "scenario.toml").read_text(encoding="utf-8"))
    cov = [(e["file"], e["operator"], str(e["as_of"]), e["provenance"]) for e in meta["coverage"]]
    assert cov == [("coverage/viettel_4g_v2.geojson", "Viettel", "2025-01-31", "measured"),
                   ("coverage/mobi.geojson", "MobiFone", "2024-06-30", "declared")]
    assert not (scn / "coverage/viettel_4g.geojson").exists()  # replaced here ...
    assert (imports.versions(scn)[2].path / "coverage/viettel_4g.geojson").is_file()  # ... kept in version 3
    loaded = load_scenario(scn, load_registry())
    assert [(f.operator, f.file) for f in loaded.footprints] == [("Viettel", "coverage/viettel_4g_v2.geojson"),
                                                                  ("MobiFone", "coverage/mobi.geojson")]


def test_boundaries_are_not_an_import_kind(work, tmp_path) -> None:
    path = corpus.polygon_layer(tmp_path / "b.geojson", [corpus.hanoi_square()])
    with pytest.raises(ScenarioImportError, match="reference data"):
        imports.import_file(work / "scn", path, "boundaries")


def test_killed_import_leaves_the_scenario_and_store_whole(work, data_dir) -> None:
    """SIGKILL a real `vnbb import --store` while it writes; then a new import cleans up."""
    before = _tree(work)
    lon, lat = _village(work, 2)
    sent = _sites(work, [("S2", "MobiFone", "4G", lon, lat, 800)])
    vnbb = Path(sys.executable).with_name("vnbb")
    env = {**os.environ, "VNBB_DATA_DIR": str(data_dir)}
    proc = subprocess.Popen([str(vnbb), "import", str(sent), "--kind", "sites", "--scenario", str(work / "scn"),
                             "--store", str(work / "store")], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    versions = work / "scn.versions"
    start = time.monotonic()
    while proc.poll() is None and time.monotonic() - start < 120:
        if versions.is_dir() and any(p.name == "0002" for p in versions.iterdir()):
            break  # the new version is written: the build is running
        time.sleep(0.002)
    killed = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert killed, "the import finished before it could be killed"
    assert not (work / "scn").is_symlink()  # never switched
    assert {k: v for k, v in _tree(work).items() if k.startswith("scn/")} == \
        {k: v for k, v in before.items() if k.startswith("scn/")}
    assert store.report(work / "store", "province", "63")["households"].sum() == 2000
    result = imports.import_file(work / "scn", sent, "sites", store=work / "store")
    assert result.ok and result.version.number == 3  # 2 was the killed one's number; left out, then removed
    assert sorted(p.name for p in versions.iterdir()) == ["0001", "0001.json", "0003", "0003.json"]


def test_toml_round_trip(demo_store) -> None:
    from geodata.settings import cache_dir

    demo = tomllib.loads((cache_dir() / "app/demo-scenario/scenario.toml").read_text(encoding="utf-8"))
    doc = {"name": 'a "quoted" name', "n": 3, "x": -110.5, "flag": False, "day": dt.date(2024, 6, 30),
           "list": [1, 2], "sources": [{"file": "a.csv", "note": "ư\nline"}],
           "coverage": [{"file": "c.csv.gz", "kind": "opencellid", "radii": {"4G": {"urban": 800, "rural": 2500}}}],
           "population": {"file": "p.tif"}, "odd key": {"a.b": 1}}
    for d in (demo, doc):
        assert tomllib.loads(_toml.dumps(d, "header\nsecond line")) == d


def test_report_table_names_row_and_field() -> None:
    assert problem_parts("row 3, field village_id: 'V1' repeats row 2") == ("row 3", "village_id", "'V1' repeats row 2")
    assert problem_parts("rows 2, 5, field households: too many") == ("rows 2, 5", "households", "too many")
    assert problem_parts("row 4, fields lon/lat: swapped") == ("row 4", "lon/lat", "swapped")
    assert problem_parts("feature 2: a LineString, not a polygon") == ("feature 2", "", "a LineString, not a polygon")
    assert problem_parts("[[coverage]] entry 1: field 'as_of' is missing") == \
        ("[[coverage]] entry 1", "", "field 'as_of' is missing")
    assert problem_parts("something general") == ("", "", "something general")
    report = ValidationReport("/x/sites.csv", "sites", ok=False, message="has 1 problem(s).",
                              problems=["row 2, field radius_m: must be more than 0"])
    assert report.table() == [{"file": "sites.csv", "where": "row 2", "field": "radius_m",
                               "message": "must be more than 0"}]
    single = ValidationReport("/x/sites.csv", "sites", ok=False, message="/x/sites.csv: is empty (0 bytes)")
    assert single.table()[0]["message"].endswith("is empty (0 bytes)")


def test_the_demo_never_overwrites_a_scenario_with_imports(work) -> None:
    from coverage.demo import DemoError, write_demo

    lon, lat = _village(work, 0)
    assert imports.import_file(work / "scn", _sites(work, [("S9", "Viettel", "5G", lon, lat, 300)]), "sites").ok
    before = _tree(work)
    with pytest.raises(DemoError, match="imported versions"):
        write_demo(work / "scn")
    assert _tree(work) == before
