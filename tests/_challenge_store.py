"""A small hand-made results store for the challenge and correction tests.

Two Hà Nội communes (63-unit scheme) of 1,000 households each:

* commune 1: village V1 (600 households) under a Viettel 4G site of 500 m; V2 (200) 0.05 degrees
  east, reached by nothing; 200 households outside villages, covered like the villages (75 %);
* commune 2: village V3 (500) under a MobiFone 5G site of 500 m, with 450 households passed by
  VNPT fibre; 500 households outside villages (any network: 100 %; fixed: 90 %).

No population raster, so the store uses the village-rate rule for households outside villages.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from coverage import store
from geodata import load_registry


def communes(data_dir: Path) -> list[tuple[str, float, float]]:
    """(code, lon, lat) of the two communes used."""
    table = load_registry(data_dir).units("63", "commune")
    hn = table[table["parent_code"] == "01"].head(2)
    return [(str(c), float(x), float(y)) for c, x, y in hn[["code", "lon", "lat"]].itertuples(index=False)]


def build(folder: Path, data_dir: Path) -> Path:
    (c1, lon1, lat1), (c2, lon2, lat2) = communes(data_dir)
    scn = folder / "scenario"
    scn.mkdir(parents=True)
    (scn / "scenario.toml").write_text(
        'name = "challenge test"\nsynthetic = true\nas_of = "2024-12-31"\n'
        '[[sources]]\nfile = "sites.csv"\nprovenance = "modelled"\nas_of = "2024-12-31"\n', encoding="utf-8")
    pd.DataFrame({"commune_code": [c1, c2], "households": [1000, 1000]}).to_csv(scn / "households.csv", index=False)
    pd.DataFrame({"village_id": ["V1", "V2", "V3"], "name": ["Thôn 1", "Thôn 2", "Tổ 1"],
                  "commune_code": [c1, c1, c2], "lon": [lon1, lon1 + 0.05, lon2], "lat": [lat1, lat1, lat2],
                  "households": [600, 200, 500]}).to_csv(scn / "villages.csv", index=False)
    pd.DataFrame({"site_id": ["S1", "S2"], "operator": ["Viettel", "MobiFone"], "technology": ["4G", "5G"],
                  "lon": [lon1, lon2], "lat": [lat1, lat2], "radius_m": [500, 500]}).to_csv(scn / "sites.csv",
                                                                                         index=False)
    pd.DataFrame({"village_id": ["V3"], "operator": ["VNPT"], "households_passed": [450]}).to_csv(
        scn / "fixed.csv", index=False)
    return store.build(scn, folder / "store", data_dir=data_dir)
