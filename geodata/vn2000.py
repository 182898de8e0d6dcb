"""VN-2000, Vietnam's national datum, and the TM-3 provincial zones of its cadastral files.

Cadastral and provincial survey files are drawn in VN-2000 (EPSG:4756, WGS 84 ellipsoid, datum
origin N00 in Hà Nội; Decision 83/2000/QĐ-TTg of 12 July 2000) on a transverse Mercator
projection with 3° zones (TM-3): scale factor 0.9999, false easting 500,000 m, false northing 0,
and a central meridian fixed for each province. The central meridians below are those published
in the annex of Circular 973/2001/TT-TCĐC (20 June 2001, General Department of Land
Administration, "hướng dẫn áp dụng hệ quy chiếu và hệ tọa độ quốc gia VN-2000"), per province of
the 63-unit scheme (Hà Nội's after the 2008 merger with Hà Tây: 105°00').

The zones are built with pyproj on the EPSG:4756 geographic CRS, so conversion to WGS 84 uses
EPSG's "VN-2000 to WGS 84 (2)" transformation: the seven parameters published in Decision
05/2007/QĐ-BTNMT (27 February 2007).
"""

from __future__ import annotations

import re
from functools import lru_cache

from pyproj import CRS
from pyproj.crs import ProjectedCRS
from pyproj.crs.coordinate_operation import TransverseMercatorConversion

from geodata.errors import CRSError, UnitNameError

VN2000 = CRS.from_epsg(4756)
TM3_SCALE = 0.9999
TM3_FALSE_EASTING = 500_000.0

# GSO province code (63-unit scheme) -> central meridian in degrees (Circular 973/2001/TT-TCĐC).
PROVINCE_MERIDIANS: dict[str, float] = {
    "01": 105.0, "02": 105.5, "04": 105.75, "06": 106.5, "08": 106.0, "10": 104.75, "11": 103.0,
    "12": 103.0, "14": 104.0, "15": 104.75, "17": 106.0, "19": 106.5, "20": 107.25, "22": 107.75,
    "24": 107.0, "25": 104.75, "26": 105.0, "27": 105.5, "30": 105.5, "31": 105.75, "33": 105.5,
    "34": 105.5, "35": 105.0, "36": 105.5, "37": 105.0, "38": 105.0, "40": 104.75, "42": 105.5,
    "44": 106.0, "45": 106.25, "46": 107.0, "48": 107.75, "49": 107.75, "51": 108.0, "52": 108.25,
    "54": 108.5, "56": 108.25, "58": 108.25, "60": 108.5, "62": 107.5, "64": 108.5, "66": 108.5,
    "67": 108.5, "68": 107.75, "70": 106.25, "72": 105.5, "74": 105.75, "75": 107.75, "77": 107.75,
    "79": 105.75, "80": 105.75, "82": 105.75, "83": 105.75, "84": 105.5, "86": 105.5, "87": 105.0,
    "89": 104.75, "91": 104.5, "92": 105.0, "93": 105.0, "94": 105.5, "95": 105.0, "96": 104.5,
}


@lru_cache(maxsize=64)
def tm3(central_meridian: float) -> CRS:
    """The VN-2000 TM-3 zone with this central meridian (degrees east)."""
    if not 100.0 <= central_meridian <= 112.0:
        raise ValueError(f"a VN-2000 TM-3 central meridian lies between 100 and 112 °E, not {central_meridian}")
    d, m = int(central_meridian), round((central_meridian % 1) * 60)
    conversion = TransverseMercatorConversion(
        latitude_natural_origin=0.0, longitude_natural_origin=central_meridian,
        false_easting=TM3_FALSE_EASTING, false_northing=0.0, scale_factor_natural_origin=TM3_SCALE)
    return CRS(ProjectedCRS(conversion, name=f"VN-2000 / TM-3 {d}-{m:02d}", geodetic_crs=VN2000))


def province_zone(province_code: str) -> CRS:
    """The TM-3 zone a province's cadastral files use (63-unit GSO code)."""
    code = str(province_code).strip().zfill(2)
    if code not in PROVINCE_MERIDIANS:
        raise KeyError(f"{province_code!r} is not a province code of the 63-unit scheme")
    return tm3(PROVINCE_MERIDIANS[code])


_TM3 = re.compile(r"^(?:vn-?2000[ /:_-]*)?tm-?3[ /:_-]*(\d{3})(?:[-:°. ]?(\d{2}))?'?$", re.IGNORECASE)
_VN_PROVINCE = re.compile(r"^vn-?2000\s*[:/]\s*(.+)$", re.IGNORECASE)


def parse_crs(text: str, registry: object | None = None, *, path: object = "--crs") -> CRS:
    """A CRS stated by a user: ``EPSG:4326``, ``VN-2000`` (EPSG:4756), ``TM-3 105-45``,
    ``VN-2000:<province name or code>`` (its TM-3 zone), or anything pyproj understands.

    Province names are resolved with ``registry`` (a :class:`geodata.registry.Registry`).
    """
    value = str(text).strip()
    if value.lower().replace("-", "").replace(" ", "") in ("vn2000", "epsg:4756"):
        return VN2000
    hit = _TM3.match(value)
    if hit:
        return tm3(int(hit.group(1)) + int(hit.group(2) or 0) / 60)
    hit = _VN_PROVINCE.match(value)
    if hit:
        name = hit.group(1).strip()
        if name.isdigit():
            code = name.zfill(2)
        elif registry is None:
            raise CRSError(path, f"{value!r}: give the province's code (e.g. VN-2000:01) to name its zone.")
        else:
            try:
                code = registry.resolve(name, "63", "province").code  # type: ignore[attr-defined]
            except UnitNameError as exc:
                raise CRSError(path, f"{value!r} names no VN-2000 provincial zone: {exc}") from exc
        try:
            return province_zone(code)
        except KeyError as exc:
            raise CRSError(path, f"{value!r}: {exc.args[0]}.") from exc
    try:
        return CRS.from_user_input(value)
    except Exception as exc:  # pyproj raises CRSError of its own
        raise CRSError(path, f"{value!r} is not a coordinate reference system pyproj knows; use e.g. EPSG:4326, "
                             "VN-2000, 'TM-3 105-45' or 'VN-2000:Hà Nội'.") from exc
