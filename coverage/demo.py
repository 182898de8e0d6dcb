"""A synthetic demo scenario, so the app can be shown and tested without any operator's data.

Only two things in it are real: the GSO 2019 census households per province (carried below, so
the demo runs without the reference data folder) and the unit registry (communes, their centres
and bounding boxes, from the ``vietnamadminunits`` package). Everything below the province is
generated: the spread of households over communes, the villages, the mobile sites and the fixed
networks. The generator is calibrated so that national figures resemble the published ones of
late 2024 (see ``CALIBRATION`` and ``/work/shared/DOMAIN.md``); the figures it reaches are
measured, not assumed, and written into ``scenario.toml`` and ``README.txt``.

Output format: ``coverage/SCENARIO_FORMAT.md``. Same seed, same package data -> same bytes.

:func:`write_history` writes a SYNTHETIC quarterly history ending with the demo's quarter:
earlier quarters thin out the demo's sites and fixed networks (see :data:`HISTORY_METHOD`), so
that the progress page has something plausible to show; every quarter says it is synthetic.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import shutil
import tempfile
import textwrap
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from rasterio.io import MemoryFile
from rasterio.transform import from_origin
from scipy import ndimage

from geodata import load_registry
from geodata.crs import AREA_CRS
from geodata.errors import VnbbError

__all__ = ["CALIBRATION", "CENSUS_2019_HOUSEHOLDS", "Calibration", "DemoError", "quarter_ends", "write_demo",
           "write_history"]

# Households per province, 63-unit scheme: (total, urban, rural).
# Source: GSO, 2019 Population and Housing Census (General Statistics Office of Vietnam).
# Official statistics; national total 26,870,079 households.
CENSUS_2019_HOUSEHOLDS: dict[str, tuple[int, int, int]] = {
    "01": (2_224_107, 1_137_948, 1_086_159),  # Thành phố Hà Nội
    "02": (190_777, 36_358, 154_419),  # Tỉnh Hà Giang
    "04": (137_802, 35_718, 102_084),  # Tỉnh Cao Bằng
    "06": (82_835, 17_859, 64_976),  # Tỉnh Bắc Kạn
    "08": (210_831, 31_196, 179_635),  # Tỉnh Tuyên Quang
    "10": (175_034, 47_767, 127_267),  # Tỉnh Lào Cai
    "11": (134_273, 24_646, 109_627),  # Tỉnh Điện Biên
    "12": (101_010, 22_360, 78_650),  # Tỉnh Lai Châu
    "14": (289_516, 48_085, 241_431),  # Tỉnh Sơn La
    "15": (214_184, 48_296, 165_888),  # Tỉnh Yên Bái
    "17": (220_630, 38_434, 182_196),  # Tỉnh Hoà Bình
    "19": (359_236, 124_566, 234_670),  # Tỉnh Thái Nguyên
    "20": (198_805, 43_189, 155_616),  # Tỉnh Lạng Sơn
    "22": (368_727, 241_619, 127_108),  # Tỉnh Quảng Ninh
    "24": (478_834, 56_728, 422_106),  # Tỉnh Bắc Giang
    "25": (402_618, 75_634, 326_984),  # Tỉnh Phú Thọ
    "26": (308_251, 81_378, 226_873),  # Tỉnh Vĩnh Phúc
    "27": (424_623, 109_537, 315_086),  # Tỉnh Bắc Ninh
    "30": (585_432, 144_550, 440_882),  # Tỉnh Hải Dương
    "31": (599_156, 266_682, 332_474),  # Thành phố Hải Phòng
    "33": (377_582, 45_634, 331_948),  # Tỉnh Hưng Yên
    "34": (606_947, 62_266, 544_681),  # Tỉnh Thái Bình
    "35": (269_692, 43_986, 225_706),  # Tỉnh Hà Nam
    "36": (570_901, 99_964, 470_937),  # Tỉnh Nam Định
    "37": (296_369, 60_896, 235_473),  # Tỉnh Ninh Bình
    "38": (979_951, 151_102, 828_849),  # Tỉnh Thanh Hoá
    "40": (848_977, 132_742, 716_235),  # Tỉnh Nghệ An
    "42": (378_648, 72_147, 306_501),  # Tỉnh Hà Tĩnh
    "44": (244_277, 51_771, 192_506),  # Tỉnh Quảng Bình
    "45": (168_495, 51_528, 116_967),  # Tỉnh Quảng Trị
    "46": (305_905, 152_774, 153_131),  # Tỉnh Thừa Thiên Huế
    "48": (300_501, 262_231, 38_270),  # Thành phố Đà Nẵng
    "49": (422_950, 103_851, 319_099),  # Tỉnh Quảng Nam
    "51": (358_015, 58_289, 299_726),  # Tỉnh Quảng Ngãi
    "52": (434_379, 135_870, 298_509),  # Tỉnh Bình Định
    "54": (260_436, 74_535, 185_901),  # Tỉnh Phú Yên
    "56": (332_697, 139_333, 193_364),  # Tỉnh Khánh Hoà
    "58": (161_013, 59_921, 101_092),  # Tỉnh Ninh Thuận
    "60": (329_086, 125_223, 203_863),  # Tỉnh Bình Thuận
    "62": (137_699, 46_187, 91_512),  # Tỉnh Kon Tum
    "64": (374_512, 117_329, 257_183),  # Tỉnh Gia Lai
    "66": (487_951, 128_086, 359_865),  # Tỉnh Đắk Lắk
    "67": (162_061, 26_636, 135_425),  # Tỉnh Đắk Nông
    "68": (358_753, 148_790, 209_963),  # Tỉnh Lâm Đồng
    "70": (273_399, 67_436, 205_963),  # Tỉnh Bình Phước
    "72": (334_827, 58_828, 275_999),  # Tỉnh Tây Ninh
    "74": (832_087, 679_662, 152_425),  # Tỉnh Bình Dương
    "75": (871_133, 288_416, 582_717),  # Tỉnh Đồng Nai
    "77": (321_007, 189_905, 131_102),  # Tỉnh Bà Rịa - Vũng Tàu
    "79": (2_558_914, 2_026_761, 532_153),  # Thành phố Hồ Chí Minh
    "80": (478_494, 79_665, 398_829),  # Tỉnh Long An
    "82": (501_766, 75_594, 426_172),  # Tỉnh Tiền Giang
    "83": (402_860, 40_753, 362_107),  # Tỉnh Bến Tre
    "84": (284_675, 50_681, 233_994),  # Tỉnh Trà Vinh
    "86": (298_391, 52_851, 245_540),  # Tỉnh Vĩnh Long
    "87": (446_228, 89_243, 356_985),  # Tỉnh Đồng Tháp
    "89": (525_656, 167_021, 358_635),  # Tỉnh An Giang
    "91": (456_773, 132_413, 324_360),  # Tỉnh Kiên Giang
    "92": (359_375, 258_260, 101_115),  # Thành phố Cần Thơ
    "93": (201_970, 52_732, 149_238),  # Tỉnh Hậu Giang
    "94": (319_732, 100_515, 219_217),  # Tỉnh Sóc Trăng
    "95": (223_024, 66_034, 156_990),  # Tỉnh Bạc Liêu
    "96": (305_290, 71_194, 234_096),  # Tỉnh Cà Mau
}
CENSUS_CITATION = "GSO, 2019 Population and Housing Census"
CENSUS_AS_OF = "2019-04-01"
DEMO_AS_OF = "2024-12-31"  # the current quarter of the demo; its synthetic history ends here

FIXED_OPERATORS = ("Viettel", "VNPT", "FPT")  # VNPT: the VinaPhone group's fixed network
MOBILE_OPERATORS = ("Viettel", "VinaPhone", "MobiFone", "Vietnamobile", "Gmobile")
MOBILE_SHARES = (0.45, 0.25, 0.20, 0.07, 0.03)  # approximate shares of sites

# Regions that shape the synthetic networks (63-scheme province codes).
NORTH_WEST = frozenset({"02", "04", "06", "10", "11", "12", "14", "15", "17"})  # northern mountains
NORTH_UPLAND = frozenset({"08", "19", "20", "22", "24", "25"})  # other northern midlands/uplands
CENTRAL_HIGHLANDS = frozenset({"62", "64", "66", "67", "68"})
CENTRAL_UPLAND = frozenset({"38", "40", "42", "44", "45", "46", "49", "51", "52", "54", "56", "58", "60"})
BIG_CITIES = frozenset({"01", "79", "31", "48", "92"})
# Provinces whose provincial city also got Viettel 5G in the demo (Hạ Long, Bắc Ninh, Thanh Hóa,
# Vinh, Huế, Nha Trang, Buôn Ma Thuột, Thủ Dầu Một, Biên Hòa, Vũng Tàu).
CAPITALS_5G = frozenset({"22", "27", "38", "40", "46", "56", "66", "74", "75", "77"})
SOUTH = frozenset({"70", "72", "74", "75", "77", "79", "80", "82", "83", "84", "86", "87", "89",
                   "91", "92", "93", "94", "95", "96"})

_VN_BBOX = (102.0, 8.0, 117.5, 23.5)  # same box the scenario loader checks
_MARGIN_M = 50.0  # clearance kept between a site's footprint and a village meant to stay dark
_KM_PER_DEG = 111.32


@dataclass(frozen=True)
class Calibration:
    """Figures the demo is tuned to (late-2024 press reports of ministry data, DOMAIN.md)."""

    villages: int = 70_000                 # thôn/bản/ấp/tổ dân phố (79,899 rural ones in 2016)
    villages_without_mobile: int = 761     # Sep 2024: villages without usable mobile signal
    villages_without_fibre: int = 3_500    # villages no fixed network reaches at all
    fibre_household_share: float = 0.82    # H1 2024: 82.2 % of households use fibre
    households_per_5g_site: int = 1_500    # Viettel 5G (Oct 2024) in the big cities only


CALIBRATION = Calibration()


class DemoError(VnbbError):
    """The demo cannot be written (a folder in the way, units that do not match the census)."""


# -- entry point ------------------------------------------------------------------------------
def write_demo(out: Path, seed: int = 42, data_dir: Path | None = None) -> Path:
    """Write a complete synthetic scenario folder to ``out`` and return it.

    The folder is built next to ``out`` and renamed into place only when complete, so a reader
    never sees half a scenario; an existing ``out`` is replaced only if it is empty or an earlier
    synthetic scenario (never a folder of real data).
    """
    out = Path(out)
    _check_replaceable(out)
    d = _generate(seed, data_dir)
    files = _base_files(d)
    files["sites.csv"] = _csv(d.sites)
    files["fixed.csv"] = _csv(d.fixed)
    files["scenario.toml"] = _scenario_toml(seed, d.units_source, d.stats)
    files["README.txt"] = _readme(seed, d.units_source, d.stats)
    return _write_atomically(out, files)


@dataclass(frozen=True)
class _Demo:
    """Everything one seed generates (the files are written from it)."""

    units_source: str
    communes: pd.DataFrame
    villages: pd.DataFrame
    sites: pd.DataFrame
    fixed: pd.DataFrame
    stats: dict


def _generate(seed: int, data_dir: Path | None) -> _Demo:
    registry = load_registry(data_dir)
    units = registry.units("63", "commune")
    rng_households, rng_villages, rng_mobile, rng_fixed = np.random.default_rng(seed).spawn(4)

    communes = _spread_households(units, rng_households)
    villages = _make_villages(communes, rng_villages)
    sites, mobile, no_4g = _make_sites(communes, villages, rng_mobile)
    fixed, fibre = _make_fixed(communes, villages, no_4g, rng_fixed)
    stats = {**_summary(communes, villages, sites), **mobile, **fibre}
    return _Demo(registry.units_source, communes, villages, sites, fixed, stats)


def _base_files(d: _Demo) -> dict[str, str | bytes]:
    """The files every quarter shares: households, villages and the population raster."""
    return {
        "households.csv": _csv(d.communes.loc[d.communes["households"] > 0,
                                              ["commune_code", "households", "households_urban",
                                               "households_rural"]]),
        "villages.csv": _csv(d.villages[["village_id", "name", "commune_code", "lon", "lat", "households"]]),
        "population.tif": _population_raster(d.villages),
    }


# -- households -------------------------------------------------------------------------------
def _allocate(totals: np.ndarray, group: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Split integer ``totals[g]`` over the items of each group ``g`` in proportion to ``weight``.

    Largest-remainder rounding keeps every group's sum exact, which is what lets the census
    totals survive the spread unchanged.
    """
    n = len(group)
    totals = np.asarray(totals, dtype=np.int64)
    wsum = np.bincount(group, weights=weight, minlength=len(totals))
    quota = totals[group] * (weight / wsum[group])
    base = np.floor(quota).astype(np.int64)
    short = totals - np.bincount(group, weights=base, minlength=len(totals)).round().astype(np.int64)
    frac = quota - base
    order = np.lexsort((np.arange(n), -frac, group))
    sorted_group = group[order]
    rank = np.arange(n) - np.searchsorted(sorted_group, sorted_group, side="left")
    add = np.zeros(n, dtype=np.int64)
    add[order] = rank < short[sorted_group]
    result = base + add
    if (short < 0).any() or not np.array_equal(np.bincount(group, weights=result, minlength=len(totals)),
                                               totals.astype(float)):
        raise DemoError("internal error: largest-remainder allocation lost households")
    return result


def _bbox_km2(units: pd.DataFrame) -> np.ndarray:
    width = (units["maxx"] - units["minx"]).to_numpy() * _KM_PER_DEG * np.cos(np.radians(units["lat"].to_numpy()))
    height = (units["maxy"] - units["miny"]).to_numpy() * _KM_PER_DEG
    return width * height


def _region(province: pd.Series) -> np.ndarray:
    """A coarse region label per province code; the synthetic networks differ by region."""
    labels = np.full(len(province), "lowland", dtype=object)
    for name, codes in (("central_upland", CENTRAL_UPLAND), ("north_upland", NORTH_UPLAND),
                        ("north_west", NORTH_WEST), ("central_highlands", CENTRAL_HIGHLANDS),
                        ("city", BIG_CITIES)):
        labels[province.isin(codes).to_numpy()] = name
    return labels


def _spread_households(units: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Census households of each province spread over its communes (urban to wards and towns)."""
    units = units.sort_values("code", ignore_index=True)
    known, census = set(units["parent_code"]), set(CENSUS_2019_HOUSEHOLDS)
    if known != census:
        raise DemoError(f"the unit registry's provinces do not match the census table: "
                        f"{sorted(known ^ census)}")
    codes = sorted(CENSUS_2019_HOUSEHOLDS)
    table = np.array([CENSUS_2019_HOUSEHOLDS[c] for c in codes], dtype=np.int64)
    prov = units["parent_code"].map({c: i for i, c in enumerate(codes)}).to_numpy()
    urban_type = units["type"].isin(["ward", "town"]).to_numpy()
    has_urban = np.bincount(prov[urban_type], minlength=len(codes)) > 0
    has_rural = np.bincount(prov[~urban_type], minlength=len(codes)) > 0
    # Larger communes hold somewhat more households; the noise keeps neighbours from being equal.
    weight = (_bbox_km2(units) + 0.5) ** 0.3 * rng.lognormal(0.0, 0.4, len(units))
    weight = np.where(units["type"].to_numpy() == "town", 0.6 * weight, weight)
    parts = {}
    for col, kind, eligible in (("households_urban", 1, urban_type | ~has_urban[prov]),
                                ("households_rural", 2, ~urban_type | ~has_rural[prov])):
        values = np.zeros(len(units), dtype=np.int64)
        values[eligible] = _allocate(table[:, kind], prov[eligible], weight[eligible])
        parts[col] = values
    out = units.rename(columns={"code": "commune_code"})
    out["households_urban"] = parts["households_urban"]
    out["households_rural"] = parts["households_rural"]
    out["households"] = out["households_urban"] + out["households_rural"]
    out["urban"] = urban_type
    out["region"] = _region(out["parent_code"])
    out["area_km2"] = _bbox_km2(units)
    return out


# -- villages ---------------------------------------------------------------------------------
_VILLAGE_SIZE = {"north_west": 110, "north_upland": 180, "central_highlands": 170,
                 "central_upland": 260, "lowland": 330, "city": 330}  # rural households per village
_URBAN_VILLAGE_SIZE = 550  # households per tổ dân phố


def _make_villages(communes: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Thôn/bản/ấp points around each commune centre, and tổ dân phố in wards and towns."""
    n_units = len(communes)
    urban = communes["urban"].to_numpy()
    hh = communes["households"].to_numpy()
    share = np.where(urban, rng.uniform(0.75, 0.95, n_units), rng.uniform(0.93, 0.99, n_units))
    in_villages = np.floor(share * hh).astype(np.int64)
    size = np.where(urban, _URBAN_VILLAGE_SIZE, pd.Series(communes["region"]).map(_VILLAGE_SIZE).to_numpy())
    raw = in_villages / size * rng.lognormal(0.0, 0.25, n_units)
    count = np.round(raw * CALIBRATION.villages / raw.sum()).astype(np.int64)
    count = np.minimum(np.maximum(count, (in_villages > 0).astype(np.int64)), in_villages)

    commune = np.repeat(np.arange(n_units), count)
    first = np.cumsum(count) - count
    number = np.arange(len(commune)) - first[commune] + 1
    # One household each, the rest spread unevenly: villages differ in size.
    households = 1 + _allocate(in_villages - count, commune, rng.gamma(2.0, 1.0, len(commune)))

    c = communes.iloc[commune]
    frac = 0.4
    lon = c["lon"].to_numpy() + rng.uniform(-frac, frac, len(commune)) * (c["maxx"] - c["minx"]).to_numpy()
    lat = c["lat"].to_numpy() + rng.uniform(-frac, frac, len(commune)) * (c["maxy"] - c["miny"]).to_numpy()
    lon = np.clip(np.clip(lon, c["minx"].to_numpy(), c["maxx"].to_numpy()), _VN_BBOX[0], _VN_BBOX[2])
    lat = np.clip(np.clip(lat, c["miny"].to_numpy(), c["maxy"].to_numpy()), _VN_BBOX[1], _VN_BBOX[3])

    prov = c["parent_code"]
    prefix = np.where(c["urban"].to_numpy(), "Tổ dân phố",
                      np.where(prov.isin(NORTH_WEST).to_numpy(), "Bản",
                               np.where(prov.isin(SOUTH).to_numpy(), "Ấp", "Thôn")))
    return pd.DataFrame({
        "village_id": "V" + pd.Series(np.arange(1, len(commune) + 1)).astype(str).str.zfill(7),
        "name": pd.Series(prefix).str.cat(pd.Series(number).astype(str), sep=" "),
        "commune_code": c["commune_code"].to_numpy(),
        "lon": np.round(lon, 6),
        "lat": np.round(lat, 6),
        "households": households,
        "commune_index": commune,
    })


# -- mobile sites -----------------------------------------------------------------------------
_TO_METRES = Transformer.from_crs("EPSG:4326", AREA_CRS, always_xy=True)
_TO_LONLAT = Transformer.from_crs(AREA_CRS, "EPSG:4326", always_xy=True)
_HOUSEHOLDS_PER_SITE = {"ward": 650.0, "town": 900.0, "commune": 1_300.0}
_SPARSE = {"north_west": 1.8, "central_highlands": 1.6, "north_upland": 1.2}  # fewer sites there
_DARK_WEIGHT = {"north_west": 12.0, "central_highlands": 6.0, "north_upland": 3.0,
                "central_upland": 2.0, "lowland": 0.03, "city": 0.0}


def _xy(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    x, y = _TO_METRES.transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.column_stack([x, y])


def _lonlat(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Metres back to lon/lat, rounded as written (decisions use the written coordinates)."""
    lon, lat = _TO_LONLAT.transform(xy[:, 0], xy[:, 1])
    return (np.round(np.clip(lon, _VN_BBOX[0], _VN_BBOX[2]), 6),
            np.round(np.clip(lat, _VN_BBOX[1], _VN_BBOX[3]), 6))


def _radius(kind: np.ndarray, region: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Modelled 4G service radius by area type: short in towns, long in the countryside."""
    n = len(kind)
    mountain = np.isin(region, ["north_west", "central_highlands"])
    rural = np.where(mountain, rng.uniform(3_000, 4_500, n), rng.uniform(3_000, 6_000, n))
    return np.round(np.select([kind == "ward", kind == "town"],
                              [rng.uniform(1_000, 1_500, n), rng.uniform(1_500, 2_500, n)], rural))


def _covered(points: np.ndarray, sites: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Which points lie within some site's radius (one STRtree query for all sites)."""
    hit = np.zeros(len(points), dtype=bool)
    if len(sites) and len(points):
        tree = shapely.STRtree(shapely.points(points))
        pairs = tree.query(shapely.points(sites), predicate="dwithin", distance=radius)
        hit[pairs[1]] = True
    return hit


def _nearest_distance(points: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Distance from each point to the nearest target (inf when there are none)."""
    dist = np.full(len(points), np.inf)
    if len(points) and len(targets):
        tree = shapely.STRtree(shapely.points(targets))
        idx, d = tree.query_nearest(shapely.points(points), return_distance=True, all_matches=False)
        dist[idx[0]] = d
    return dist


def _pick_top(weight: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """A weighted sample of ``k`` items without replacement (Gumbel top-k), as a mask."""
    key = np.full(len(weight), -np.inf)
    positive = weight > 0
    key[positive] = np.log(weight[positive]) + rng.gumbel(size=int(positive.sum()))
    mask = np.zeros(len(weight), dtype=bool)
    k = min(k, int(positive.sum()))
    if k:
        mask[np.argsort(-key, kind="stable")[:k]] = True
    return mask


def _remoteness(communes: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """A per-commune factor: large communes, plus chance, are the hard-to-reach ones."""
    return np.sqrt(communes["area_km2"].to_numpy() + 1.0) * rng.lognormal(0.0, 1.0, len(communes))


def _sites_at_villages(n: np.ndarray, villages: pd.DataFrame, vxy: np.ndarray,
                       reach: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``n[c]`` sites in commune ``c``, each near a village drawn in proportion to households.

    Returns the sites' metric coordinates; ``reach`` is each site's largest offset from its village.
    """
    commune = np.repeat(np.arange(len(n)), n)
    vc = villages["commune_index"].to_numpy()
    vhh = villages["households"].to_numpy().astype(float)
    cum = np.cumsum(vhh)
    first = np.searchsorted(vc, np.arange(len(n)), side="left")
    last = np.searchsorted(vc, np.arange(len(n)), side="right") - 1
    start = np.where(first > 0, cum[np.maximum(first - 1, 0)], 0.0)
    span = cum[np.maximum(last, 0)] - start
    draw = start[commune] + rng.uniform(0.0, 1.0, len(commune)) * span[commune]
    village = np.clip(np.searchsorted(cum, draw, side="right"), first[commune], last[commune])
    angle = rng.uniform(0.0, 2 * np.pi, len(commune))
    dist = np.sqrt(rng.uniform(0.0, 1.0, len(commune))) * reach
    xy = vxy[village] + np.column_stack([np.cos(angle), np.sin(angle)]) * dist[:, None]
    return xy


def _make_sites(communes: pd.DataFrame, villages: pd.DataFrame,
                rng: np.random.Generator) -> tuple[pd.DataFrame, dict, np.ndarray]:
    """4G sites where households are, 5G in the big cities, and villages left without signal.

    Calibration: the villages meant to stay dark are drawn first (remote, small, mostly in the
    northern mountains and the Central Highlands); sites are placed by households, any site
    reaching a dark village is dropped, and every other village left uncovered gets a gap-filling
    site (the public-service programme) whose radius stops short of the dark villages.
    """
    vxy = _xy(villages["lon"], villages["lat"])
    vcomm = villages["commune_index"].to_numpy()
    kind = communes["type"].to_numpy()
    region = communes["region"].to_numpy()
    vhh = villages["households"].to_numpy()
    village_hh = np.bincount(vcomm, weights=vhh, minlength=len(communes))

    # Villages without signal.
    weight = (pd.Series(region).map(_DARK_WEIGHT).to_numpy() * _remoteness(communes, rng)
              * (kind == "commune"))[vcomm] / np.sqrt(np.maximum(vhh, 1))
    dark = _pick_top(np.where(vhh > 0, weight, 0.0), CALIBRATION.villages_without_mobile, rng)
    dark_xy = vxy[dark]

    # 4G sites by households.
    per_site = pd.Series(kind).map(_HOUSEHOLDS_PER_SITE).to_numpy() * np.where(
        kind == "commune", pd.Series(region).map(_SPARSE).fillna(1.0).to_numpy(), 1.0)
    n = np.round(communes["households"].to_numpy() / per_site * rng.lognormal(0.0, 0.25, len(communes)))
    n = np.where(village_hh > 0, np.maximum(n, 1), 0).astype(np.int64)
    radius_c = _radius(np.repeat(kind, n), np.repeat(region, n), rng)
    base = _sites_at_villages(n, villages, vxy, 0.5 * radius_c, rng)
    tech = np.full(len(base), "4G", dtype=object)

    # Viettel 5G (launched 15 Oct 2024) in the big cities' wards and a few provincial cities.
    prov = communes["parent_code"]
    city_5g = (kind == "ward") & (prov.isin(BIG_CITIES) | (
        prov.isin(CAPITALS_5G) & (communes["district_type"] == "Thành phố"))).to_numpy()
    n5 = np.round(communes["households"].to_numpy() / CALIBRATION.households_per_5g_site
                  * rng.lognormal(0.0, 0.2, len(communes)))
    n5 = np.where(city_5g & (village_hh > 0), np.maximum(n5, 1), 0).astype(np.int64)
    radius_5 = np.round(rng.uniform(250, 600, int(n5.sum())))
    five = _sites_at_villages(n5, villages, vxy, np.full(int(n5.sum()), 800.0), rng)

    xy = np.vstack([base, five])
    lon, lat = _lonlat(xy)
    xy = _xy(lon, lat)
    radius = np.concatenate([radius_c, radius_5])
    tech = np.concatenate([tech, np.full(len(five), "5G", dtype=object)])

    # Nothing may reach a dark village.
    reaches_dark = _nearest_distance(xy, dark_xy) <= radius + _MARGIN_M
    dropped = int(reaches_dark.sum())
    xy, radius, tech, lon, lat = xy[~reaches_dark], radius[~reaches_dark], tech[~reaches_dark], \
        lon[~reaches_dark], lat[~reaches_dark]

    # Gap filling, first one site per 4 km cell of uncovered villages, then one per village left.
    vkind = kind[vcomm]
    vregion = region[vcomm]
    fills = []
    for cell in (4_000.0, None):
        is4g = tech == "4G"
        extra = np.vstack([f[0] for f in fills]) if fills else np.empty((0, 2))
        extra_r = np.concatenate([f[1] for f in fills]) if fills else np.empty(0)
        need = ~dark & (vhh > 0) & ~_covered(vxy, np.vstack([xy[is4g], extra]),
                                              np.concatenate([radius[is4g], extra_r]))
        if not need.any():
            break
        idx = np.flatnonzero(need)
        if cell is None:
            at = vxy[idx]
            lead = idx  # the village itself sets the area type
        else:
            key = pd.DataFrame({"cx": np.floor(vxy[idx, 0] / cell), "cy": np.floor(vxy[idx, 1] / cell),
                                "w": vhh[idx], "x": vxy[idx, 0] * vhh[idx], "y": vxy[idx, 1] * vhh[idx],
                                "v": idx})
            g = key.sort_values(["cx", "cy", "w", "v"], ascending=[True, True, False, True]).groupby(
                ["cx", "cy"], sort=True)
            sums = g[["w", "x", "y"]].sum()
            at = np.column_stack([sums["x"] / sums["w"], sums["y"] / sums["w"]])
            lead = g["v"].first().to_numpy()  # the cell's largest village sets the area type
        flon, flat = _lonlat(at)
        at = _xy(flon, flat)
        r = _radius(vkind[lead], vregion[lead], rng)
        r = np.minimum(r, np.floor(_nearest_distance(at, dark_xy) - _MARGIN_M))
        keep = r >= (1_000.0 if cell else 100.0)
        fills.append((at[keep], r[keep], flon[keep], flat[keep]))
    gap = sum(len(f[1]) for f in fills)

    xy = np.vstack([xy] + [f[0] for f in fills])
    radius = np.concatenate([radius] + [f[1] for f in fills])
    tech = np.concatenate([tech, np.full(gap, "4G", dtype=object)])
    lon = np.concatenate([lon] + [f[2] for f in fills])
    lat = np.concatenate([lat] + [f[3] for f in fills])
    operator = np.asarray(MOBILE_OPERATORS, dtype=object)[
        rng.choice(len(MOBILE_OPERATORS), size=len(xy), p=MOBILE_SHARES)]
    operator[tech == "5G"] = "Viettel"

    no_4g = (vhh > 0) & ~_covered(vxy, xy[tech == "4G"], radius[tech == "4G"])
    sites = pd.DataFrame({
        "site_id": "S" + pd.Series(np.arange(1, len(xy) + 1)).astype(str).str.zfill(7),
        "operator": operator, "technology": tech, "lon": lon, "lat": lat,
        "radius_m": radius.astype(np.int64),
    })
    vprov = communes["parent_code"].to_numpy()[vcomm]
    by_region = pd.Series(vregion[no_4g]).value_counts().sort_index()
    stats = {
        "villages_without_4g": int(no_4g.sum()),
        "villages_without_4g_in_mountains_and_highlands": int(
            np.isin(vprov[no_4g], sorted(NORTH_WEST | NORTH_UPLAND | CENTRAL_HIGHLANDS)).sum()),
        "villages_without_4g_by_region": {str(k): int(v) for k, v in by_region.items()},
        "sites_dropped_near_dark_villages": dropped,
        "gap_filling_sites": int(gap),
    }
    return sites, stats, no_4g


# -- fixed broadband --------------------------------------------------------------------------
_NO_FIBRE_WEIGHT = {"north_west": 10.0, "central_highlands": 6.0, "north_upland": 4.0,
                    "central_upland": 1.5, "lowland": 0.05, "city": 0.0}
_FIBRE_EFFECT = {"north_west": -1.3, "central_highlands": -0.9, "north_upland": -0.6,
                 "central_upland": -0.3, "lowland": 0.0, "city": 1.2}  # logit shift by region


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _make_fixed(communes: pd.DataFrame, villages: pd.DataFrame, no_mobile: np.ndarray,
                rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    """Households passed per village by Viettel, VNPT and FPT, tuned to the national fibre share.

    Villages without any fibre are drawn first (remote ones, and mostly those without mobile
    signal too). Elsewhere the share of a village's households passed follows a logistic model
    (region, province, commune and village effects, towns higher); one national shift is solved
    by bisection so that the households passed reach the target share of all census households.
    Operators' footprints in a village are nested (the leader passes most, others a subset), so
    the households passed by any operator equal the largest operator's figure.
    """
    vcomm = villages["commune_index"].to_numpy()
    vhh = villages["households"].to_numpy()
    region = communes["region"].to_numpy()
    vregion = region[vcomm]
    urban = communes["urban"].to_numpy()[vcomm]
    codes = sorted(CENSUS_2019_HOUSEHOLDS)
    pidx = communes["parent_code"].map({c: i for i, c in enumerate(codes)}).to_numpy()
    vprov = pidx[vcomm]
    total = sum(v[0] for v in CENSUS_2019_HOUSEHOLDS.values())

    weight = (pd.Series(region).map(_NO_FIBRE_WEIGHT).to_numpy() * _remoteness(communes, rng))[vcomm]
    weight = weight * np.where(urban, 0.02, 1.0) * (1.0 + 20.0 * no_mobile) / np.sqrt(np.maximum(vhh, 1))
    no_fibre = _pick_top(np.where(vhh > 0, weight, 0.0), CALIBRATION.villages_without_fibre, rng)

    province_effect = rng.normal(0.0, 0.4, len(codes))
    commune_effect = rng.normal(0.0, 0.5, len(communes))
    logit = (pd.Series(vregion).map(_FIBRE_EFFECT).to_numpy() + province_effect[vprov]
             + commune_effect[vcomm] + rng.normal(0.0, 0.8, len(vhh)) + np.where(urban, 1.0, 0.0))
    fibre = ~no_fibre & (vhh > 0)

    def passed_at(shift: float) -> np.ndarray:
        return np.where(fibre, np.clip(np.floor(_sigmoid(logit + shift) * vhh), 1, vhh), 0).astype(np.int64)

    # The engine counts a commune's households outside villages as passed in the same share as
    # its village households, so each village's passes weigh commune households / village households.
    commune_vhh = np.bincount(vcomm, weights=vhh, minlength=len(communes))
    scale = (communes["households"].to_numpy(float) / np.maximum(commune_vhh, 1))[vcomm]
    lo, hi = -15.0, 15.0
    target = CALIBRATION.fibre_household_share * total
    if (passed_at(hi) * scale).sum() < target:
        raise DemoError("the fibre target cannot be reached with these villages")
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if (passed_at(mid) * scale).sum() < target else (lo, mid)
    lead = passed_at(hi)

    # Operators: a leader per village, a second and third passing part of the leader's footprint.
    mountain = np.isin(vregion, ["north_west", "central_highlands", "north_upland"])
    first = np.where(mountain, rng.choice(2, len(vhh), p=[0.55, 0.45]),
                     rng.choice(3, len(vhh), p=[0.50, 0.38, 0.12]))
    second = (first + 1 + rng.integers(0, 2, len(vhh))) % 3
    second = np.where(mountain & (second == 2), 3 - first - second, second)
    third = 3 - first - second
    has_second = fibre & (rng.uniform(size=len(vhh)) < np.where(urban, 0.8, 0.35))
    has_third = has_second & ~mountain & (rng.uniform(size=len(vhh)) < np.where(urban, 0.5, 0.08))
    part2 = np.floor(lead * rng.uniform(0.3, 1.0, len(vhh))).astype(np.int64)
    part3 = np.floor(lead * rng.uniform(0.2, 0.9, len(vhh))).astype(np.int64)
    rows = pd.concat([
        pd.DataFrame({"v": np.flatnonzero(m), "op": o[m], "households_passed": p[m]})
        for m, o, p in ((fibre, first, lead), (has_second & (part2 > 0), second, part2),
                        (has_third & (part3 > 0), third, part3))
    ], ignore_index=True).sort_values(["v", "op"], ignore_index=True)
    fixed = pd.DataFrame({
        "village_id": villages["village_id"].to_numpy()[rows["v"].to_numpy()],
        "operator": np.asarray(FIXED_OPERATORS, dtype=object)[rows["op"].to_numpy()],
        "households_passed": rows["households_passed"].to_numpy(),
    })

    hh_prov = np.array([CENSUS_2019_HOUSEHOLDS[c][0] for c in codes])
    share_prov = np.bincount(vprov, weights=lead * scale, minlength=len(codes)) / hh_prov
    stats = {
        "fibre_household_share": round(float((lead * scale).sum() / total), 4),
        "households_passed_by_fibre": int(round((lead * scale).sum())),
        "villages_without_fibre": int((lead == 0).sum()),
        "provinces_below_80pct_fibre": int((share_prov < 0.8).sum()),
        "provinces_at_or_above_80pct_fibre": int((share_prov >= 0.8).sum()),
        "fixed_rows_per_operator": {op: int((fixed["operator"] == op).sum()) for op in FIXED_OPERATORS},
    }
    return fixed, stats


# -- population raster ------------------------------------------------------------------------
_GRID_ORIGIN = (102.1, 23.5)  # lon/lat of the grid's north-west corner
_GRID_CELL = 0.02             # degrees (about 2 km)
_GRID_SHAPE = (760, 380)      # rows, columns: down to 8.3 N, east to 109.7 E


def _population_raster(villages: pd.DataFrame) -> bytes:
    """A SYNTHETIC population grid (GeoTIFF bytes): village households smoothed over ~3 km, plus a
    thin floor so every commune has weight. The engine uses it only as relative weights within
    a commune, to place the households that live outside villages near settlements."""
    rows, cols = _GRID_SHAPE
    r = np.floor((_GRID_ORIGIN[1] - villages["lat"].to_numpy()) / _GRID_CELL).astype(int).clip(0, rows - 1)
    c = np.floor((villages["lon"].to_numpy() - _GRID_ORIGIN[0]) / _GRID_CELL).astype(int).clip(0, cols - 1)
    grid = np.bincount(r * cols + c, weights=villages["households"].to_numpy(float), minlength=rows * cols)
    grid = ndimage.gaussian_filter(grid.reshape(rows, cols), sigma=1.5)
    grid = (grid + 0.01 * grid[grid > 0].mean()).astype("float32")
    profile = {"driver": "GTiff", "height": rows, "width": cols, "count": 1, "dtype": "float32",
               "crs": "EPSG:4326", "transform": from_origin(*_GRID_ORIGIN, _GRID_CELL, _GRID_CELL),
               "compress": "deflate", "predictor": 3}
    with MemoryFile() as mem:
        with mem.open(**profile) as dst:
            dst.write(grid, 1)
            dst.update_tags(SYNTHETIC="yes", generator="coverage.demo",
                            description="SYNTHETIC relative population weights (demo); not real data")
        return mem.read()


# -- writing ----------------------------------------------------------------------------------
def _summary(communes: pd.DataFrame, villages: pd.DataFrame, sites: pd.DataFrame) -> dict:
    counts = sites.groupby(["operator", "technology"]).size()
    return {
        "households": int(communes["households"].sum()),
        "communes_with_households": int((communes["households"] > 0).sum()),
        "villages": len(villages),
        "village_households": int(villages["households"].sum()),
        "sites": len(sites),
        "sites_by_operator_technology": {f"{o} {t}": int(n) for (o, t), n in counts.items()},
    }


def _csv(df: pd.DataFrame) -> str:
    return df.to_csv(index=False, lineterminator="\n", float_format="%.6f")


def _toml_value(value: object) -> str:
    """A TOML value; JSON strings are valid TOML basic strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k, ensure_ascii=False)} = {_toml_value(v)}"
                                for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {type(value).__name__}")


_METHOD = """\
Households: the GSO 2019 census households of each province (urban and rural) are spread over \
its communes of the 63-unit scheme, urban households over wards and towns and rural households \
over rural communes (the other group when a province has none), in proportion to a weight \
(commune bounding-box area to the power 0.3 times log-normal noise; towns 0.6), with \
largest-remainder rounding so that every province total is exact. \
Villages: each commune holds a share of its households in villages (rural communes 93-99 %, \
wards and towns 75-95 % as tổ dân phố; the rest are scattered dwellings), split over a number \
of villages set by a typical village size per region (smaller in the mountains) and scaled to \
about {villages} villages nationally; points are the commune centre plus a uniform offset of up \
to 40 % of the commune's bounding box, clipped to the box. \
Mobile: {dark} villages meant to stay without signal are drawn first (weighted towards remote, \
small villages in the northern mountains and the Central Highlands); 4G sites are placed near \
villages in proportion to households (one per about 650 households in wards, 900 in towns, \
1,300 in rural communes, 1.2-1.8 times fewer in the mountains and highlands), with modelled \
radii of 1,000-1,500 m (wards), 1,500-2,500 m (towns) and 3,000-6,000 m (rural; 3,000-4,500 m \
in the mountains and highlands); Viettel 5G sites (radius 250-600 m) in the wards of Hà Nội, Hồ \
Chí Minh City, Hải Phòng, Đà Nẵng, Cần Thơ and ten provincial cities. Sites within reach of a \
dark village are dropped, and every other uncovered village gets a gap-filling 4G site whose \
radius stops {margin:.0f} m short of the nearest dark village. Operators are drawn with shares \
45/25/20/7/3 % (Viettel, VinaPhone, MobiFone, Vietnamobile, Gmobile); 5G is Viettel only. \
Fixed: {no_fibre} villages without any fixed network are drawn (remote villages, mostly those \
without mobile signal, in the same regions); elsewhere the share of households passed follows \
a logistic model with region, province, commune and village effects and one national shift \
solved by bisection so that households passed equal {fibre:.0%} of the census households \
(counting, as the engine does, a commune's households outside villages as passed in the same \
share as its village households). VNPT stands for the VNPT-VinaPhone group's \
fixed network; FPT appears outside the mountains. In each village the operators' footprints are \
nested: households passed by any operator = the largest operator's households_passed."""


def _method_text() -> str:
    return _METHOD.format(villages=f"{CALIBRATION.villages:,}", dark=CALIBRATION.villages_without_mobile,
                          no_fibre=f"{CALIBRATION.villages_without_fibre:,}", margin=_MARGIN_M,
                          fibre=CALIBRATION.fibre_household_share)


def _scenario_toml(seed: int, units_source: str, stats: dict, as_of: str = DEMO_AS_OF,
                   history: dict | None = None) -> str:
    """scenario.toml of the demo; ``history`` (an earlier quarter) replaces the calibration
    tables, which describe the current quarter only, by how that quarter was derived."""
    lines = [
        f"name = {_toml_value(f'Vietnam demo (SYNTHETIC, seed {seed})')}",
        "synthetic = true",
        "description = " + _toml_value(
            "SYNTHETIC demo data. Only the census household totals per province (GSO, 2019 "
            "Population and Housing Census) and the unit registry (communes of the 63-unit "
            f"scheme, {units_source}) are real; the spread of households over communes, the "
            "villages, the mobile sites and the fixed networks are generated and calibrated to "
            "published national figures of late 2024. Do not use it for decisions."),
        f"as_of = {_toml_value(as_of)}",
        f"seed = {seed}",
        'generator = "coverage.demo.write_demo"',
        f"method = {_toml_value(_method_text())}",
        "",
        "[population]  # spreads households outside villages inside their commune",
        'file = "population.tif"',
        'provenance = "synthetic"',
        f"as_of = {_toml_value(as_of)}",
        "",
    ]
    if history is None:
        lines += [
            "[calibration]  # targets the generator was tuned to",
            *(f"{k} = {_toml_value(v)}" for k, v in asdict(CALIBRATION).items()),
            "",
            "[calibration.achieved]  # measured on the files written",
            *(f"{k} = {_toml_value(v)}" for k, v in stats.items()),
            "",
        ]
    else:
        lines += [
            "[history]  # an earlier quarter of the synthetic history, derived from the current one",
            *(f"{k} = {_toml_value(v)}" for k, v in history.items()),
            "",
            "[history.achieved]  # measured on the files written",
            *(f"{k} = {_toml_value(v)}" for k, v in stats.items()),
            "",
        ]
    sources = [
        {"file": "households.csv", "provenance": "official", "as_of": CENSUS_AS_OF,
         "citation": CENSUS_CITATION,
         "note": "Province totals (urban and rural) are the official census figures; their spread "
                 f"over communes is SYNTHETIC. Communes: {units_source}."},
        {"file": "villages.csv", "provenance": "synthetic", "as_of": as_of,
         "citation": "generated by coverage.demo",
         "note": "Village points, names and households are invented; no open village list exists."},
        {"file": "sites.csv", "provenance": "synthetic", "as_of": as_of,
         "citation": "generated by coverage.demo",
         "note": "Invented sites; radii are modelled by area type. Calibrated to about 761 villages "
                 "without mobile signal (Sep 2024)."},
        {"file": "fixed.csv", "provenance": "synthetic", "as_of": as_of,
         "citation": "generated by coverage.demo",
         "note": "Invented households passed per village (Viettel, VNPT, FPT), calibrated to about "
                 "82 % of households reached by fibre (H1 2024: 82.2 %)."},
        {"file": "population.tif", "provenance": "synthetic", "as_of": as_of,
         "citation": "generated by coverage.demo",
         "note": "Invented relative population weights: village households smoothed over about 3 km."},
    ]
    if history is not None:
        for src in sources[1:]:
            src["note"] = ("Earlier quarter of the SYNTHETIC history, derived from the demo's current quarter "
                           f"({DEMO_AS_OF}; see [history]). ") + src["note"]
    for src in sources:
        lines.append("[[sources]]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in src.items()]
        lines.append("")
    text = "\n".join(lines)
    tomllib.loads(text)  # fail here, not in the app, if the writer ever produces bad TOML
    return text


def _readme(seed: int, units_source: str, stats: dict) -> str:
    per_op = "\n".join(f"  {k}: {v:,}" for k, v in stats["sites_by_operator_technology"].items())
    below, above = stats["provinces_below_80pct_fibre"], stats["provinces_at_or_above_80pct_fibre"]
    return f"""\
SYNTHETIC DEMO SCENARIO - NOT REAL DATA
=======================================

Generated by coverage.demo.write_demo (seed {seed}). Everything here is invented except:
  - the households per province: {CENSUS_CITATION} (total {stats['households']:,});
  - the list of communes (63-unit scheme), their centres and bounding boxes: {units_source}.

The spread of households over communes, the villages, the mobile sites and the fixed networks
are generated, and calibrated so that national figures resemble published ones of late 2024.
No figure below a province, and no site, village or network in this folder, describes reality.

How it was made
---------------
{textwrap.fill(_method_text(), width=96)}

Figures measured on these files
-------------------------------
households: {stats['households']:,}  (villages hold {stats['village_households']:,})
villages: {stats['villages']:,}
households reached by fibre: {stats['fibre_household_share']:.1%}  (target {CALIBRATION.fibre_household_share:.0%})
villages without any fibre: {stats['villages_without_fibre']:,}  (target {CALIBRATION.villages_without_fibre:,})
provinces below / at or above 80 % fibre: {below} / {above}
villages without 4G signal: {stats['villages_without_4g']:,}  (target {CALIBRATION.villages_without_mobile:,})
sites: {stats['sites']:,}
{per_op}

Files: scenario.toml (metadata and provenance), households.csv, villages.csv, sites.csv,
fixed.csv, population.tif (synthetic weights placing households outside villages near
settlements); format in coverage/SCENARIO_FORMAT.md.
"""


# -- synthetic history ------------------------------------------------------------------------
MAX_HISTORY = 12  # quarters: three years back at most (the growth rates below are per quarter)
# Per quarter back, the chance that a 4G site was not yet on air, by its area (nearest village).
_SITE_GROWTH = {"ward": 0.008, "town": 0.015, "commune": 0.03}
_SITE_GROWTH_MOUNTAIN = 0.045  # rural communes of the northern mountains and the Central Highlands
_5G_TRIAL_SHARE = 0.15         # 5G sites on air before the commercial launch (Q4 2024)
_5G_TRIAL_DECLINE = 0.04       # ... fewer by this share per further quarter back
# Per quarter back, the chance that an operator's fixed network in a village was not yet there.
_FIBRE_ARRIVAL = {"urban": 0.004, "lowland": 0.012, "city": 0.004, "central_upland": 0.02,
                  "north_upland": 0.03, "north_west": 0.03, "central_highlands": 0.03}
_FIBRE_FILL = {True: 0.006, False: 0.015}  # households passed grow by about this share per quarter
_RELOCATED = 0.004             # share of rural 4G sites moved 2-4 km during the history
_MOUNTAINS = ("north_west", "central_highlands", "north_upland")

HISTORY_METHOD = (
    "Earlier quarters are derived from the current one (the demo as of {end}), so that the history "
    "ends exactly at the demo. Households and villages are the same in every quarter. Each site gets "
    "a SYNTHETIC commissioning date: going back one quarter removes a 4G site with probability "
    "{ward:.1%} in wards, {town:.1%} in towns, {rural:.1%} in rural communes and {mountain:.1%} in the "
    "rural communes of the mountains and highlands (a site removed in a quarter is also absent from "
    "every earlier one); 5G (commercial launch in October {end_year}) is down to {trial:.0%} of its "
    "sites (trial sites) in the quarter before, {decline:.0f} percentage points fewer for each further "
    "quarter. About "
    "{relocated:.1%} of rural 4G sites were moved 2-4 km at some quarter, so a few villages lose "
    "coverage too. Fixed networks: an operator's network in a village is absent going back a quarter "
    "with probability {fibre_urban:.1%} in towns and wards up to {fibre_mountain:.0%} in the mountains, "
    "and households passed shrink by about {fill_urban:.1%} (urban) or {fill_rural:.1%} (rural) per "
    "quarter back."
)


def _history_method() -> str:
    return HISTORY_METHOD.format(
        end=DEMO_AS_OF, end_year=DEMO_AS_OF[:4], ward=_SITE_GROWTH["ward"], town=_SITE_GROWTH["town"],
        rural=_SITE_GROWTH["commune"], mountain=_SITE_GROWTH_MOUNTAIN, trial=_5G_TRIAL_SHARE,
        decline=100 * _5G_TRIAL_DECLINE, relocated=_RELOCATED, fibre_urban=_FIBRE_ARRIVAL["urban"],
        fibre_mountain=_FIBRE_ARRIVAL["north_west"], fill_urban=_FIBRE_FILL[True], fill_rural=_FIBRE_FILL[False])


def quarter_ends(quarters: int, end: str = DEMO_AS_OF) -> list[dt.date]:
    """The last ``quarters`` quarter-end dates up to ``end`` (a quarter end), oldest first."""
    last = dt.date.fromisoformat(end)
    out = []
    for back in range(quarters - 1, -1, -1):
        months = last.year * 12 + last.month - 1 - 3 * back
        year, month = divmod(months, 12)
        out.append(dt.date(year, month + 1, calendar.monthrange(year, month + 1)[1]))
    return out


@dataclass(frozen=True)
class _Draws:
    """Random draws fixed per site and per fixed-network row, so that every quarter of one
    history is consistent (what is on air in a quarter is on air in every later one)."""

    site_u: np.ndarray
    site_p: np.ndarray          # per-quarter removal chance (4G) or -1 for 5G
    relocated_at: np.ndarray    # 0: never moved; r: at its old position r or more quarters back
    old_lon: np.ndarray
    old_lat: np.ndarray
    fixed_u: np.ndarray
    fixed_q: np.ndarray
    fixed_shrink: np.ndarray


def _history_draws(d: _Demo, seed: int) -> _Draws:
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2024,)))
    v, c = d.villages, d.communes
    vxy = _xy(v["lon"], v["lat"])
    sites = d.sites
    sxy = _xy(sites["lon"], sites["lat"])
    nearest = shapely.STRtree(shapely.points(vxy)).query_nearest(shapely.points(sxy), all_matches=False)[1]
    commune = v["commune_index"].to_numpy()[nearest]
    kind = c["type"].to_numpy()[commune]
    region = c["region"].to_numpy()[commune]
    p = pd.Series(kind).map(_SITE_GROWTH).fillna(_SITE_GROWTH["commune"]).to_numpy()
    rural = kind == "commune"
    p = np.where(rural & np.isin(region, _MOUNTAINS), _SITE_GROWTH_MOUNTAIN, p)
    is5g = sites["technology"].to_numpy() == "5G"
    p = np.where(is5g, -1.0, p)
    moved = rural & ~is5g & (rng.uniform(size=len(sites)) < _RELOCATED)
    relocated_at = np.where(moved, rng.integers(1, MAX_HISTORY, len(sites)), 0)
    angle = rng.uniform(0, 2 * np.pi, len(sites))
    dist = rng.uniform(2_000, 4_000, len(sites))
    old_lon, old_lat = _lonlat(sxy + np.column_stack([np.cos(angle), np.sin(angle)]) * dist[:, None])

    f = d.fixed
    vidx = pd.Index(v["village_id"]).get_indexer(f["village_id"])
    fcomm = v["commune_index"].to_numpy()[vidx]
    urban = c["urban"].to_numpy()[fcomm]
    fregion = c["region"].to_numpy()[fcomm]
    q = np.where(urban, _FIBRE_ARRIVAL["urban"], pd.Series(fregion).map(_FIBRE_ARRIVAL).to_numpy())
    shrink = np.where(urban, _FIBRE_FILL[True], _FIBRE_FILL[False]) * rng.uniform(0.5, 1.5, len(f))
    return _Draws(rng.uniform(size=len(sites)), p, relocated_at, old_lon, old_lat,
                  rng.uniform(size=len(f)), q, shrink)


def _quarter(d: _Demo, draws: _Draws, back: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sites and fixed networks ``back`` quarters before the current one."""
    sites = d.sites.copy()
    if back == 0:
        return sites, d.fixed.copy()
    u, p = draws.site_u, draws.site_p
    five = p < 0
    gone_5g = u >= np.maximum(_5G_TRIAL_SHARE - _5G_TRIAL_DECLINE * (back - 1), 0.0)
    on_air = np.where(five, ~gone_5g, u >= p * back)
    moved = (draws.relocated_at > 0) & (back >= draws.relocated_at)
    on_air |= draws.relocated_at > 0  # a moved site was on air throughout, at one place or the other
    sites.loc[moved, "lon"] = draws.old_lon[moved]
    sites.loc[moved, "lat"] = draws.old_lat[moved]
    sites = sites[on_air].reset_index(drop=True)

    fixed = d.fixed.copy()
    there = draws.fixed_u >= draws.fixed_q * back
    factor = np.clip(1.0 - draws.fixed_shrink * back, 0.2, 1.0)
    passed = np.maximum(np.floor(fixed["households_passed"].to_numpy() * factor), 1).astype(np.int64)
    fixed["households_passed"] = passed
    return sites, fixed[there].reset_index(drop=True)


def _quarter_stats(d: _Demo, sites: pd.DataFrame, fixed: pd.DataFrame) -> dict:
    v = d.villages
    vhh = v["households"].to_numpy()
    four = sites["technology"].to_numpy() == "4G"
    covered = _covered(_xy(v["lon"], v["lat"]), _xy(sites["lon"][four], sites["lat"][four]),
                       sites["radius_m"].to_numpy(float)[four])
    passed = v["village_id"].map(fixed.groupby("village_id")["households_passed"].max()).fillna(0).to_numpy()
    return {
        **_summary(d.communes, v, sites),
        "villages_without_4g": int(((vhh > 0) & ~covered).sum()),
        "villages_without_fibre": int(((vhh > 0) & (passed == 0)).sum()),
        "village_households_passed_by_fibre": round(float(passed.sum() / max(vhh.sum(), 1)), 4),
    }


def write_history(out: Path, quarters: int = 5, seed: int = 42, data_dir: Path | None = None,
                  only: set[dt.date] | None = None) -> list[tuple[dt.date, Path]]:
    """Write a SYNTHETIC quarterly history of the demo: ``quarters`` scenario folders
    ``out/<as-of>/`` ending with the current demo quarter (identical to :func:`write_demo`'s),
    oldest first; ``only`` limits which quarters are written. Returns (as-of, folder) pairs.

    How earlier quarters are derived is stated in :data:`HISTORY_METHOD` and in each quarter's
    ``scenario.toml`` (``[history]``); every folder is marked synthetic.
    """
    if not 1 <= quarters <= MAX_HISTORY + 1:
        raise DemoError(f"a demo history has 1 to {MAX_HISTORY + 1} quarters, not {quarters}")
    out = Path(out)
    dates = quarter_ends(quarters)
    wanted = [day for day in dates if only is None or day in only]
    if not wanted:
        return []
    for day in wanted:
        _check_replaceable(out / day.isoformat())
    d = _generate(seed, data_dir)
    draws = _history_draws(d, seed)
    base = _base_files(d)
    written = []
    for day in wanted:
        back = len(dates) - 1 - dates.index(day)
        sites, fixed = _quarter(d, draws, back)
        files = dict(base)
        files["sites.csv"], files["fixed.csv"] = _csv(sites), _csv(fixed)
        if back == 0:
            files["scenario.toml"] = _scenario_toml(seed, d.units_source, d.stats)
            files["README.txt"] = _readme(seed, d.units_source, d.stats)
        else:
            stats = _quarter_stats(d, sites, fixed)
            history = {"quarter": day.isoformat(), "quarters_before_current": back, "current": DEMO_AS_OF,
                       "method": _history_method()}
            files["scenario.toml"] = _scenario_toml(seed, d.units_source, stats, as_of=day.isoformat(),
                                                    history=history)
            files["README.txt"] = _history_readme(seed, day, back, stats)
        written.append((day, _write_atomically(out / day.isoformat(), files)))
    return written


def _history_readme(seed: int, day: dt.date, back: int, stats: dict) -> str:
    per_op = "\n".join(f"  {k}: {v:,}" for k, v in stats["sites_by_operator_technology"].items())
    return f"""\
SYNTHETIC DEMO SCENARIO - NOT REAL DATA - EARLIER QUARTER ({day.isoformat()})
==========================================================================

One quarter of the synthetic history of the demo (seed {seed}): {back} quarter(s) before the current
demo quarter ({DEMO_AS_OF}). Households and villages are those of the demo; sites and fixed
networks are the demo's, thinned out as below. Nothing here describes reality.

How it was derived
------------------
{textwrap.fill(_history_method(), width=96)}

Figures measured on these files
-------------------------------
sites: {stats['sites']:,}
{per_op}
villages without 4G signal: {stats['villages_without_4g']:,}
villages without any fibre: {stats['villages_without_fibre']:,}
village households passed by fibre: {stats['village_households_passed_by_fibre']:.1%}
"""


def _is_replaceable(out: Path) -> bool:
    """An empty folder or an earlier synthetic scenario may be replaced; anything else may not."""
    if not out.is_dir():
        return False
    if not any(out.iterdir()):
        return True
    meta = out / "scenario.toml"
    try:
        return bool(tomllib.loads(meta.read_text(encoding="utf-8")).get("synthetic", False))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False


def _check_replaceable(out: Path) -> None:
    if out.is_symlink():  # a scenario with imported versions (coverage.imports): never overwritten
        raise DemoError(f"{out} is a scenario with imported versions ({out.resolve().parent}); "
                        "choose another folder for the demo.")
    if out.exists() and not _is_replaceable(out):
        raise DemoError(f"{out} exists and is not an earlier synthetic scenario; "
                        "choose another folder or remove it first.")


def _write_atomically(out: Path, files: dict[str, str | bytes]) -> Path:
    """Write every file into a sibling temporary folder, then swap it in."""
    out.parent.mkdir(parents=True, exist_ok=True)
    _check_replaceable(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; a scenario folder is an ordinary folder
    old: Path | None = None
    try:
        for name, content in files.items():
            if isinstance(content, bytes):
                (tmp / name).write_bytes(content)
            else:
                (tmp / name).write_text(content, encoding="utf-8", newline="\n")
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            old.rmdir()
            out.rename(old)
        tmp.rename(out)
    except BaseException:
        if old is not None and old.exists() and not out.exists():
            old.rename(out)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return out
