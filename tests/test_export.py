"""Gap-layer exports: what operators load into QGIS/ArcGIS, in every format, with metadata."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from typer.testing import CliRunner

from app.cli import app
from coverage import export
from coverage.access import AccessDenied, Principal
from coverage.clusters import point_clusters
from geodata import load_registry
from tests.test_store import _write_scenario


@pytest.fixture(scope="module")
def store(tmp_path_factory, request) -> Path:
    data_dir = request.getfixturevalue("data_dir")
    root = tmp_path_factory.mktemp("export")
    _write_scenario(root / "scn", load_registry(data_dir))
    result = CliRunner().invoke(app, ["build", "--scenario", str(root / "scn"), "--out", str(root / "store")])
    assert result.exit_code == 0, result.output
    return root / "store"


def test_uncovered_villages_by_technology_and_operator(store) -> None:
    # V1 is under the Viettel 4G site, V2 (5 km east) and V3 are not; V3 has VNPT fibre.
    mobile = export.gap_layer(store, "uncovered-villages", technology="4G")
    assert sorted(mobile["village_id"]) == ["V2", "V3"]
    fixed = export.gap_layer(store, "uncovered-villages", technology="fixed", operator="VNPT")
    assert sorted(fixed["village_id"]) == ["V1", "V2"]
    anyb = export.gap_layer(store, "uncovered-villages")
    assert list(anyb["village_id"]) == ["V2"]
    row = anyb.iloc[0]
    assert (row["households"], row["households_uncovered"], row["province_63"]) == (200, 200, "01")
    assert anyb.attrs["metadata"]["synthetic"] is True


def test_filters_and_unknown_names_fail_clearly(store) -> None:
    assert len(export.gap_layer(store, "uncovered-villages", provinces=["02"])) == 0
    with pytest.raises(export.ExportError, match="unknown province code"):
        export.gap_layer(store, "uncovered-villages", provinces=["99"])
    with pytest.raises(export.ExportError, match="no fixed coverage for operator 'FPT'"):
        export.gap_layer(store, "uncovered-villages", technology="fixed", operator="FPT")
    with pytest.raises(export.ExportError, match="unknown layer"):
        export.gap_layer(store, "gaps")


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_every_format_round_trips_with_metadata(store, tmp_path, fmt) -> None:
    layer = export.gap_layer(store, "uncovered-villages", technology="4G")
    path = export.write(layer, fmt, tmp_path / f"gap{export.SUFFIXES[fmt]}")
    if fmt == "gpkg":
        back = gpd.read_file(path, layer="uncovered_villages")
        meta = pyogrio.read_info(path, layer="uncovered_villages")["layer_metadata"]
        assert meta["technology"] == "4G" and "SYNTHETIC" in meta["warning"]
        table = gpd.read_file(path, layer="metadata")
        assert "attribution" in set(table["key"])
    elif fmt == "geojson":
        back = gpd.read_file(path)
        assert json.loads(path.read_text(encoding="utf-8"))["metadata"]["layer"] == "uncovered-villages"
    elif fmt == "shp":
        back = gpd.read_file(f"zip://{path}")
        meta = json.loads(zipfile.ZipFile(path).read("metadata.json"))
        assert meta["fields"]["hh_uncov"] == "households_uncovered"
        back = back.rename(columns={k: v for k, v in meta["fields"].items()})
    elif fmt == "csv":
        back = pd.read_csv(path, dtype={"village_id": str})
        assert back["source"].str.contains("SYNTHETIC").all()
    else:
        sheets = pd.read_excel(path, sheet_name=None)
        back = sheets["data"]
        assert "attribution" in set(sheets["metadata"]["key"])
    assert sorted(back["village_id"]) == ["V2", "V3"]
    assert sorted(back["households_uncovered"]) == [200, 500]
    assert export.to_bytes(layer, fmt)[:2] == path.read_bytes()[:2]


def test_coverage_layer_and_cli(store, tmp_path) -> None:
    out = tmp_path / "communes.zip"
    result = CliRunner().invoke(app, ["export", "--store", str(store), "--layer", "coverage", "--province",
                                      "Ha Noi", "--format", "shp", "--out", str(tmp_path / "communes.shp")])
    assert result.exit_code == 0, result.output
    back = gpd.read_file(f"zip://{out}")
    assert (back["parent"] == "01").all() and back["hh"].sum() == 2000
    bad = CliRunner().invoke(app, ["export", "--store", str(store), "--layer", "coverage", "--province",
                                   "Ha Noii", "--out", str(tmp_path / "x.gpkg")])
    assert bad.exit_code == 1 and "Hà Nội" in bad.stderr


def test_failed_export_keeps_previous_file(store, tmp_path, monkeypatch) -> None:
    path = tmp_path / "gap.gpkg"
    export.write(export.gap_layer(store, "uncovered-villages"), "gpkg", path)
    before = path.read_bytes()

    def _broken(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(export.pyogrio, "write_dataframe", _broken)
    with pytest.raises(Exception, match="disk full"):
        export.write(export.gap_layer(store, "uncovered-villages"), "gpkg", path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["gap.gpkg"]


def test_point_clusters_link_nearby_villages() -> None:
    """Three villages 1 km apart form one cluster, a fourth 20 km away another; covered ones drop."""
    lon = np.array([105.0, 105.0097, 105.0194, 105.2, 105.3])
    lat = np.full(5, 21.0)
    clusters = point_clusters(lon, lat, np.array([10, 20, 30, 5, 0]), link_m=1500)
    assert list(clusters["households"]) == [60, 5] and list(clusters["villages"]) == [3, 1]
    assert clusters.geometry.iloc[0].contains(gpd.points_from_xy(lon[:3], lat[:3])).all()


def test_xlsx_never_cuts_shapes(store, tmp_path, monkeypatch) -> None:
    """A shape too long for a spreadsheet cell is left out whole (point kept), not truncated."""
    monkeypatch.setattr(export, "_XLSX_CELL_LIMIT", 60)
    layer = export.gap_layer(store, "coverage", provinces=["01"])
    sheets = pd.read_excel(export.write(layer, "xlsx", tmp_path / "c.xlsx"), sheet_name=None)
    data = sheets["data"]
    wkt = data["wkt"].fillna("").astype(str)
    assert (wkt == "").any() and ((wkt == "") | wkt.str.startswith("POLYGON")).all()
    assert data["lon"].notna().all()
    assert "exceed a spreadsheet cell" in str(sheets["metadata"].set_index("key").loc["xlsx_note", "value"])


def test_exports_obey_roles(store) -> None:
    """The rules hold in the export function itself, whatever page or request calls it."""
    viettel = Principal("vt", "operator", operator="Viettel")
    mobifone = Principal("mf", "operator", operator="MobiFone")
    own = export.gap_layer(store, "uncovered-villages", technology="4G", operator="Viettel", who=viettel)
    assert own.attrs["metadata"]["exported_for"] == "vt (operator: Viettel)"
    with pytest.raises(AccessDenied, match="per-operator layer '4G__Viettel'"):
        export.gap_layer(store, "uncovered-villages", technology="4G", operator="Viettel", who=mobifone)
    assert sorted(export.gap_layer(store, "uncovered-villages", technology="4G", who=mobifone)["village_id"]) \
        == ["V2", "V3"]  # aggregate gap layers are for every operator
    hanoi = Principal("hn", "province", province="01", scheme="63")
    other = Principal("x", "province", province="02", scheme="63")
    assert sorted(export.gap_layer(store, "uncovered-villages", technology="4G", who=hanoi)["village_id"]) \
        == ["V2", "V3"]
    assert len(export.gap_layer(store, "uncovered-villages", technology="4G", who=other)) == 0
    with pytest.raises(AccessDenied, match="own province only; not 01"):
        export.gap_layer(store, "uncovered-villages", provinces=["01"], who=other)
    national = export.gap_layer(store, "coverage", level="province", who=other)  # figures: public
    assert "01" in set(national["code"])
