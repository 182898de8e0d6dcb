"""Reading the unit tables shipped by the ``vietnamadminunits`` package (MIT licence).

The package carries, for both schemes, every commune with its code, names, type, province and
centre point, plus bounding boxes in the 63-unit scheme and a 63 -> 34 conversion table keyed by
name keys. This module turns those into plain frames keyed by GSO code; nothing else in the
project touches the package's internals.
"""

from __future__ import annotations

import json
import sqlite3
from functools import lru_cache
from importlib import metadata, util
from pathlib import Path

import numpy as np
import pandas as pd

# Located, not imported: importing the package parses its address tables (a quarter of a second
# that every app visit would pay), and only its data files are read here.
_SPEC = util.find_spec("vietnamadminunits")
if _SPEC is None or _SPEC.origin is None:
    raise ImportError("the vietnamadminunits package is not installed (it is a dependency of vnbb)")
_PKG_DIR = Path(_SPEC.origin).parent
_DB = _PKG_DIR / "data" / "dataset.db"
_CONVERTER = _PKG_DIR / "data" / "converter_2025.json"

PROVINCE_TYPES = {"Tỉnh": "province", "Thành phố": "city"}
COMMUNE_TYPES = {"Xã": "commune", "Phường": "ward", "Thị trấn": "town", "Đặc khu": "special zone"}


def package_label() -> str:
    """Name and version, for the ``source`` column of everything built from the package."""
    return f"vietnamadminunits {metadata.version('vietnamadminunits')}"


def package_fingerprint() -> str:
    """Changes whenever the package's data changes (for cache keys)."""
    stat = _DB.stat()
    return f"{package_label()}:{stat.st_size}"


def _query(sql: str) -> pd.DataFrame:
    with sqlite3.connect(f"file:{_DB}?mode=ro", uri=True) as conn:
        return pd.read_sql(sql, conn)


def _split_type(full: pd.Series, short: pd.Series) -> pd.Series:
    """The type prefix of each full name ("Tỉnh Hà Giang" minus "Hà Giang" -> "Tỉnh")."""
    return pd.Series(
        [f[: len(f) - len(s)].strip() if isinstance(f, str) else None for f, s in zip(full, short)],
        index=full.index,
    )


def _parse_bounds(values: pd.Series) -> np.ndarray:
    """'lat1,lon1 – lat2,lon2' strings to an (n, 4) array of minx, miny, maxx, maxy."""
    parts = values.str.split(" – ", expand=True)
    a = parts[0].str.split(",", expand=True).astype(float)
    b = parts[1].str.split(",", expand=True).astype(float)
    return np.column_stack([
        np.minimum(a[1], b[1]), np.minimum(a[0], b[0]), np.maximum(a[1], b[1]), np.maximum(a[0], b[0]),
    ])


@lru_cache(maxsize=None)
def provinces(scheme: str) -> pd.DataFrame:
    """Provincial units: code, name, short_name, type, key (package name key)."""
    table = "admin_units_legacy" if scheme == "63" else "admin_units"
    df = _query(
        f"SELECT DISTINCT provinceCode AS code, province AS name, provinceShort AS short_name, "
        f"provinceKey AS key FROM {table} ORDER BY provinceCode"
    )
    prefix = _split_type(df["name"], df["short_name"])
    df.insert(3, "type", prefix.map(PROVINCE_TYPES))
    return df.reset_index(drop=True)


@lru_cache(maxsize=None)
def communes(scheme: str) -> pd.DataFrame:
    """Communes of a scheme with their centre (lon, lat) and, in the 63 scheme, district and bbox."""
    if scheme == "63":
        df = _query(
            "SELECT wardCode AS code, ward AS name, wardShort AS short_name, wardType AS type_vi, "
            "provinceCode AS parent_code, districtCode AS district_code, district AS district_name, "
            "districtType AS district_type, wardLon AS lon, wardLat AS lat, wardBounds AS bounds, "
            "provinceKey || '_' || districtKey || '_' || wardKey AS key "
            "FROM admin_units_legacy WHERE wardCode IS NOT NULL ORDER BY wardCode"
        )
        bounds = _parse_bounds(df.pop("bounds"))
        df[["minx", "miny", "maxx", "maxy"]] = bounds
    else:
        df = _query(
            "SELECT wardCode AS code, ward AS name, wardShort AS short_name, wardType AS type_vi, "
            "provinceCode AS parent_code, wardLon AS lon, wardLat AS lat, wardAreaKm2 AS area_km2, "
            "provinceKey || '_' || wardKey AS key FROM admin_units ORDER BY wardCode"
        )
    df.insert(3, "type", df.pop("type_vi").map(COMMUNE_TYPES))
    return df.drop_duplicates("code").reset_index(drop=True)


@lru_cache(maxsize=None)
def districts() -> pd.DataFrame:
    """Districts of the 63 scheme (abolished on 1 July 2025), for telling users what a name is."""
    return _query(
        "SELECT DISTINCT districtCode AS code, district AS name, districtShort AS short_name, "
        "districtType AS type_vi, provinceCode AS parent_code FROM admin_units_legacy "
        "ORDER BY districtCode"
    )


@lru_cache(maxsize=None)
def province_crosswalk() -> pd.DataFrame:
    """63 -> 34 province table from the package: old_code, new_code."""
    conv = json.loads(_CONVERTER.read_text(encoding="utf-8"))["DICT_PROVINCE"]
    old = provinces("63").set_index("key")["code"]
    new = provinces("34").set_index("key")["code"]
    rows = [(old[o], new[n]) for n, olds in conv.items() for o in olds]
    return pd.DataFrame(rows, columns=["old_code", "new_code"]).sort_values("old_code", ignore_index=True)


@lru_cache(maxsize=None)
def commune_crosswalk() -> pd.DataFrame:
    """Old -> new commune table from the package: old_code, new_code, relation (full/partial).

    Entries whose keys the package cannot tie to a code (a few island districts, unnormalised
    keys) are left out; the data folder's crosswalk is preferred whenever present.
    """
    conv = json.loads(_CONVERTER.read_text(encoding="utf-8"))
    old = communes("63").set_index("key")["code"]
    new = communes("34").set_index("key")["code"]
    rows = []
    for prov, wards in conv["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for new_key, old_keys in wards.items():
            rows += [(o, f"{prov}_{new_key}", "full") for o in old_keys]
    for prov, olds in conv["DICT_PROVINCE_WARD_DIVIDED"].items():
        for old_key, targets in olds.items():
            rows += [(old_key, f"{prov}_{t['newWardKey']}", "partial") for t in targets]
    df = pd.DataFrame(rows, columns=["old_key", "new_key", "relation"])
    df["old_code"] = df["old_key"].map(old)
    df["new_code"] = df["new_key"].map(new)
    df = df.dropna(subset=["old_code", "new_code"])
    # An old commune listed as both full and partial is partial.
    df = df.sort_values("relation", ascending=False).drop_duplicates(["old_code", "new_code"])
    split = df.groupby("old_code")["new_code"].transform("size") > 1
    df.loc[split, "relation"] = "partial"
    return df[["old_code", "new_code", "relation"]].sort_values(["old_code", "new_code"], ignore_index=True)
