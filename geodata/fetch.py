"""``vnbb data fetch``: download the published province layer and derive the project's layers.

The Open Development Vietnam KML carries province names with typos and a placeholder code, so
GSO codes are attached by the registry's name resolution; the 34-unit layer is the 63-unit one
dissolved along the 63 -> 34 crosswalk (the 2025 merger joined whole provinces).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pooch

from geodata._cache import atomic_write
from geodata._validate import read_vector
from geodata.errors import DataFileError, FetchError, UnitNameError
from geodata.registry import Registry, load_registry
from geodata.settings import cache_dir

SOURCE_URL = ("https://raw.githubusercontent.com/TaliaCao/Vietnam-Shape-Map/"
              "35f693a24757fc0c25b539cf81902c257c786780/Maps/KML/diaphantinhvn.kml")
SOURCE_SHA256 = "00e556d412beae40e607a7c82aacaa4fc9056cc9bab0a633e5a68c509640a872"
SOURCE_FILE = "diaphantinhvn.kml"
_NAME_FIELD = "ten_tinh"


def download_source(url: str | None = None, *, progress: bool = False) -> Path:
    """Download (or reuse from the cache) the source KML, verified against its SHA-256."""
    try:
        path = pooch.retrieve(url or SOURCE_URL, known_hash=f"sha256:{SOURCE_SHA256}", fname=SOURCE_FILE,
                              path=cache_dir() / "downloads", progressbar=progress)
    except ValueError as exc:  # pooch's hash mismatch
        raise FetchError(f"{url or SOURCE_URL}: the downloaded file does not match the published "
                         f"SHA-256 {SOURCE_SHA256}; it was not used. ({exc})") from exc
    except Exception as exc:  # network errors come in many types
        raise FetchError(f"could not download {url or SOURCE_URL}: {exc}") from exc
    return Path(path)


def derive_provinces_63(kml: Path, registry: Registry) -> gpd.GeoDataFrame:
    """The 63-unit layer (gso_code, name, source_name) from the source KML."""
    src = read_vector(kml, id_field=_NAME_FIELD)
    if _NAME_FIELD not in src.columns:
        raise DataFileError(kml, f"has no '{_NAME_FIELD}' field with province names.")
    codes, names, problems = [], [], []
    for i, name in enumerate(src[_NAME_FIELD]):
        try:
            unit = registry.resolve(name, "63", "province")
        except UnitNameError as exc:
            problems.append(f"feature {i + 1} ({_NAME_FIELD}={name!r}): {exc}")
            continue
        codes.append(unit.code)
        names.append(unit.short_name)
    if problems:
        raise DataFileError(kml, "some province names could not be resolved.", problems)
    out = gpd.GeoDataFrame({"gso_code": codes, "name": names, "source_name": src[_NAME_FIELD].to_numpy()},
                           geometry=src.geometry.to_numpy(), crs=src.crs)
    dup = out["gso_code"][out["gso_code"].duplicated()].tolist()
    if dup or len(out) != 63:
        raise DataFileError(kml, f"expected 63 distinct provinces, found {out['gso_code'].nunique()}"
                                 + (f" (repeated codes: {', '.join(dup)})" if dup else "") + ".")
    return out.sort_values("gso_code", ignore_index=True)


def derive_provinces_34(provinces63: gpd.GeoDataFrame, registry: Registry) -> gpd.GeoDataFrame:
    """The 34-unit layer: the 63 provinces dissolved along the crosswalk."""
    merged = provinces63[["gso_code", "geometry"]].copy()
    merged["gso_code"] = registry.new_province_of(merged["gso_code"]).to_numpy()
    out = merged.dissolve("gso_code").reset_index()
    out["name"] = [registry.province_name(c, "34") for c in out["gso_code"]]
    return out[["gso_code", "name", "geometry"]]


def fetch_boundaries(out: Path | None = None, url: str | None = None, data_dir: Path | None = None,
                     *, progress: bool = False) -> list[Path]:
    """Download, verify and derive; write ``boundaries/provinces_{63,34}.gpkg`` under ``out``.

    ``out`` defaults to the user's cache data folder (which the project reads when no
    ``VNBB_DATA_DIR`` is set). Each file is written atomically.
    """
    registry = load_registry(data_dir)
    kml = download_source(url, progress=progress)
    p63 = derive_provinces_63(kml, registry)
    p34 = derive_provinces_34(p63, registry)
    folder = Path(out) if out else cache_dir() / "data"
    written = []
    for layer, name in ((p63, "provinces_63"), (p34, "provinces_34")):
        target = folder / "boundaries" / f"{name}.gpkg"
        written.append(atomic_write(target, lambda tmp, lay=layer, n=name: lay.to_file(tmp, layer=n, driver="GPKG")))
    return written
