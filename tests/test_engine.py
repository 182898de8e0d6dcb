"""The coverage engine on small scenarios whose answers are known by hand."""

from __future__ import annotations

import pandas as pd
import pytest
from pyproj import Transformer

from coverage import engine
from coverage.targets import VillageRule, load_targets
from geodata import load_registry
from geodata.crs import AREA_CRS

_TO_LONLAT = Transformer.from_crs(AREA_CRS, 4326, always_xy=True)
_TO_M = Transformer.from_crs(4326, AREA_CRS, always_xy=True)


def _east_of(lon: float, lat: float, metres: float) -> tuple[float, float]:
    x, y = _TO_M.transform(lon, lat)
    return _TO_LONLAT.transform(x + metres, y)


@pytest.fixture()
def registry(data_dir):
    return load_registry(data_dir)


def _villages(rows):
    return pd.DataFrame(rows, columns=["village_id", "name", "commune_code", "lon", "lat", "households"])


def _sites(rows):
    return pd.DataFrame(rows, columns=["site_id", "operator", "technology", "lon", "lat", "radius_m"])


def test_village_on_coverage_edge() -> None:
    """A village 999 m from a 1,000 m site is covered; one at 1,001 m is not."""
    lon, lat = 105.85, 21.03
    inside = _east_of(lon, lat, 999.0)
    outside = _east_of(lon, lat, 1001.0)
    v = _villages([("A", "a", "00001", *inside, 10), ("B", "b", "00001", *outside, 20)])
    s = _sites([("S1", "Viettel", "4G", lon, lat, 1000.0)])
    cov = engine.village_coverage(v, s, pd.DataFrame(columns=["village_id", "operator", "households_passed"]),
                                  VillageRule())
    t = cov.table
    assert t["cov__4G__all"].tolist() == [True, False]
    assert t["hh_cov__any__all"].tolist() == [10, 0]
    assert t["operators"].tolist() == [1, 0]


def test_operator_filter_and_operator_count() -> None:
    v = _villages([("A", "a", "00001", 105.85, 21.03, 100)])
    s = _sites([("S1", "Viettel", "4G", 105.85, 21.03, 500), ("S2", "MobiFone", "5G", 105.85, 21.03, 500),
                ("S3", "VinaPhone", "3G", 105.85, 21.03, 500)])
    f = pd.DataFrame({"village_id": ["A"], "operator": ["VNPT"], "households_passed": [40]})
    t = engine.village_coverage(v, s, f, VillageRule()).table.iloc[0]
    assert t["cov__4G__Viettel"] and not t["cov__5G__Viettel"]
    assert t["cov__5G__MobiFone"] and not t["cov__4G__MobiFone"]
    assert not t["cov__mobile__VinaPhone"]  # 3G is not broadband
    assert t["hh_cov__fixed__VNPT"] == 40 and t["hh_cov__fixed__all"] == 40
    assert t["hh_cov__any__all"] == 100
    assert t["operators"] == 2


def test_household_share_rule() -> None:
    v = _villages([("A", "a", "00001", 105.85, 21.03, 100), ("B", "b", "00001", 105.9, 21.0, 100)])
    f = pd.DataFrame({"village_id": ["A", "B"], "operator": ["VNPT", "VNPT"], "households_passed": [50, 49]})
    empty = _sites([])
    point = engine.village_coverage(v, empty, f, VillageRule("point")).table
    share = engine.village_coverage(v, empty, f, VillageRule("households", 0.5)).table
    assert point["cov__fixed__all"].tolist() == [True, True]
    assert share["cov__fixed__all"].tolist() == [True, False]


def test_split_commune_and_totals_add_up(registry) -> None:
    """Villages of a split old commune go to the nearest new commune; the remainder is
    apportioned by village households; sums agree across levels and schemes."""
    cw = registry.commune_crosswalk
    split = cw[cw["relation"] == "partial"].groupby("old_code")["new_code"].apply(list)
    old, (new_a, new_b) = next((o, n[:2]) for o, n in split.items() if len(n) == 2)
    centres = registry.units("34", "commune").set_index("code")
    v = _villages([("A", "a", old, centres.at[new_a, "lon"], centres.at[new_a, "lat"], 30),
                   ("B", "b", old, centres.at[new_b, "lon"], centres.at[new_b, "lat"], 10)])
    hh = pd.DataFrame({"commune_code": [old], "households": [80]})
    s = _sites([("S1", "Viettel", "4G", centres.at[new_a, "lon"], centres.at[new_a, "lat"], 100)])
    cov = engine.village_coverage(v, s, pd.DataFrame(columns=["village_id", "operator", "households_passed"]),
                                  VillageRule())
    pc = engine.pieces(cov, hh, registry)
    c34 = engine.aggregate(pc, cov.layers, "commune_34").set_index("code")
    # 40 remaining households split 30:10; covered like the villages (30 of 40 village households).
    assert c34.at[new_a, "households"] == pytest.approx(30 + 30)
    assert c34.at[new_b, "households"] == pytest.approx(10 + 10)
    assert c34.at[new_a, "hh_cov__any__all"] == pytest.approx(30 + 30 * 0.75)
    assert c34.at[new_b, "hh_cov__any__all"] == pytest.approx(10 * 0.75)
    c63 = engine.aggregate(pc, cov.layers, "commune_63").set_index("code")
    assert c63.at[old, "hh_cov__any__all"] == pytest.approx(60)  # 75 % of 80
    for by in ("province_63", "province_34", "commune_63", "commune_34"):
        agg = engine.aggregate(pc, cov.layers, by)
        assert agg["households"].sum() == pytest.approx(80)
        assert agg["hh_cov__any__all"].sum() == pytest.approx(60)


def test_target_just_met_and_just_missed() -> None:
    targets = load_targets()
    t = pd.DataFrame({"code": ["x", "y", "z"], "households": [1000.0, 1000.0, 1000.0], "villages": [10.0] * 3,
                      "hh_cov__any__all": [801.0, 800.0, 700.0], "cov__any__all": [10.0, 9.0, 10.0]})
    g = engine.gaps(t, targets).set_index("code")
    hh = "2289-households-2025"
    assert g[f"{hh}__met"].tolist() == [True, False, False]  # "over 80 %": 80.0 % is not enough
    assert g[f"{hh}__gap_households"].tolist() == [0, 1, 101]
    assert g[f"{hh}__gap_pp"].tolist() == pytest.approx([0, 0, 10])
    vil = "2289-villages-2025"
    assert g[f"{vil}__met"].tolist() == [True, False, True]
    assert g[f"{vil}__gap_villages"].tolist() == [0, 1, 0]


def test_fixed_footprint_covers_village_point_even_without_counted_households() -> None:
    import geopandas as gpd
    from shapely.geometry import box

    from coverage.reach import Footprint

    v = _villages([("A", "a", "00001", 105.85, 21.03, 0), ("B", "b", "00001", 105.95, 21.03, 40)])
    fp = Footprint(gpd.GeoSeries([box(105.84, 21.02, 105.86, 21.04)], crs=4326), "VNPT", "fixed", "f.gpkg",
                   "declared", "2024-12-31")
    t = engine.village_coverage(v, _sites([]), pd.DataFrame(columns=["village_id", "operator", "households_passed"]),
                                VillageRule(), footprints=(fp,)).table
    assert t["cov__fixed__VNPT"].tolist() == [True, False]
    assert t["cov__any__all"].tolist() == [True, False]
    assert t["hh_cov__fixed__all"].tolist() == [0, 0]
