"""The coordinate reference systems the project works in, and why.

* ``DISPLAY_CRS`` (EPSG:4326, WGS 84 lon/lat): storage, display and exchange.
* ``AREA_CRS``: an Albers equal-area projection centred on Vietnam (standard parallels 10°N and
  21°N, central meridian 106°E, WGS 84). Vietnam spans UTM zones 48 and 49, so a single UTM or
  VN-2000 zone would distort areas at one end of the country; an equal-area conic keeps
  km² exact everywhere and distances within a fraction of a percent over the mainland.
"""

from __future__ import annotations

from pyproj import CRS

DISPLAY_CRS = CRS.from_epsg(4326)
AREA_CRS = CRS.from_proj4(
    "+proj=aea +lat_0=16 +lon_0=106 +lat_1=10 +lat_2=21 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
)
