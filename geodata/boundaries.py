"""Province and commune boundaries for both schemes: official when the data folder has them,
approximate otherwise, always with a ``source`` column that says which.

Columns of every layer: ``code, name, parent_code, type, source, geometry`` (EPSG:4326).
Official province layers are read from ``<data folder>/boundaries/provinces_{63,34}.gpkg``
(field ``gso_code``); commune layers are always approximate (see :mod:`geodata.approximate`).
Built layers are cached as GeoParquet keyed by their inputs.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from geodata import _package, approximate
from geodata._cache import cached_layer, file_fingerprint
from geodata._validate import read_vector
from geodata.crs import AREA_CRS
from geodata.errors import DataFileError
from geodata.registry import Registry, load_registry
from geodata.settings import data_dir as _resolve_data_dir

OFFICIAL = "official"
ATTRIBUTION_OFFICIAL = ("Province boundaries: Open Development Vietnam, 'Địa phận tỉnh' "
                        "(Department of Survey and Mapping), CC BY-SA 4.0")
ATTRIBUTION_APPROXIMATE = ("Approximate boundaries built from commune centres of the "
                           "vietnamadminunits package (MIT); not official")
_ALGORITHM = "v1"  # bump when the construction changes, to invalidate caches
_COLUMNS = ["code", "name", "parent_code", "type", "source", "geometry"]


def official_province_path(scheme: str, data_dir: Path | None) -> Path | None:
    """Path of the official province layer of a scheme, if the data folder has it."""
    if data_dir is None:
        return None
    path = Path(data_dir) / "boundaries" / f"provinces_{scheme}.gpkg"
    return path if path.is_file() else None


def read_official_provinces(path: Path, scheme: str, registry: Registry) -> gpd.GeoDataFrame:
    """Read and check an official province layer: CRS, geometry, and one feature per GSO code."""
    gdf = read_vector(path, id_field="gso_code")
    if "gso_code" not in gdf.columns:
        raise DataFileError(path, f"has no 'gso_code' field; fields are {', '.join(map(str, gdf.columns))}.")
    codes = gdf["gso_code"].astype(str).str.zfill(2)
    units = registry.units(scheme, "province").set_index("code")
    problems = [f"feature {i + 1}: gso_code {c} appears more than once"
                for i, c in enumerate(codes) if codes.duplicated(keep=False).iloc[i]]
    problems += [f"feature {i + 1}: gso_code {c} is not a province of the {scheme}-unit scheme"
                 for i, c in enumerate(codes) if c not in units.index]
    problems += [f"province {c} ({units.at[c, 'name']}) has no feature"
                 for c in units.index if c not in set(codes)]
    if problems:
        raise DataFileError(path, "does not hold exactly one feature per province.", problems)
    out = gpd.GeoDataFrame({"code": codes.to_numpy()}, geometry=gdf.geometry.to_numpy(), crs=gdf.crs)
    return out.dissolve("code").reset_index()


def load(scheme: str = "63", level: str = "province", data_dir: str | Path | None = None) -> gpd.GeoDataFrame:
    """The boundary layer of a scheme and level (official provinces when available)."""
    folder = _resolve_data_dir(data_dir)
    registry = load_registry(folder)
    if level == "province":
        return _provinces(scheme, folder, registry)
    if level == "commune":
        return _communes(scheme, folder, registry)
    raise ValueError(f"level must be 'province' or 'commune', not {level!r}")


def _provinces(scheme: str, folder: Path | None, registry: Registry) -> gpd.GeoDataFrame:
    path = official_province_path(scheme, folder)
    if path is not None:
        key = {"file": file_fingerprint(path), "scheme": scheme, "algo": _ALGORITHM}
        layer = cached_layer(f"provinces{scheme}-official",
                             key, lambda: read_official_provinces(path, scheme, registry))
        return _finish(layer, registry.units(scheme, "province"), OFFICIAL)
    key = {"package": _package.package_fingerprint(), "crosswalk": registry.crosswalk_source,
           "scheme": scheme, "algo": _ALGORITHM}
    layer = cached_layer(f"provinces{scheme}-approx", key,
                         lambda: _approximate_provinces(scheme, registry))
    return _finish(layer, registry.units(scheme, "province"), approximate.APPROXIMATE)


def _approximate_provinces(scheme: str, registry: Registry) -> gpd.GeoDataFrame:
    provinces63 = approximate.dissolve_provinces(_approximate_communes63(registry))
    if scheme == "63":
        return provinces63
    provinces63["code"] = registry.new_province_of(provinces63["code"]).to_numpy()
    return provinces63.dissolve("code").reset_index()[["code", "geometry"]]


def _approximate_communes63(registry: Registry) -> gpd.GeoDataFrame:
    key = {"package": _package.package_fingerprint(), "algo": _ALGORITHM}
    return cached_layer("communes63-free", key,
                        lambda: approximate.communes_63(registry.units("63", "commune")))


def _communes(scheme: str, folder: Path | None, registry: Registry) -> gpd.GeoDataFrame:
    provinces = _provinces(scheme, folder, registry)
    units = registry.units(scheme, "commune")
    if scheme == "63" and (provinces["source"] == approximate.APPROXIMATE).all():
        layer = _approximate_communes63(registry)
    else:
        key = {"package": _package.package_fingerprint(), "scheme": scheme, "algo": _ALGORITHM,
               "provinces": pd.util.hash_pandas_object(provinces.geometry.to_wkb(), index=False).sum()}
        layer = cached_layer(f"communes{scheme}", key,
                             lambda: approximate.communes_in_provinces(units, provinces))
    return _finish(layer[["code", "geometry"]], units, approximate.APPROXIMATE)


def _finish(layer: gpd.GeoDataFrame, units: pd.DataFrame, source: str) -> gpd.GeoDataFrame:
    """Attach names and types from the registry and the ``source`` label; order by code."""
    out = layer[["code", "geometry"]].merge(units[["code", "name", "parent_code", "type"]], on="code", how="left")
    out["source"] = source
    out = gpd.GeoDataFrame(out[_COLUMNS], geometry="geometry", crs=layer.crs).sort_values("code", ignore_index=True)
    out.attrs["attribution"] = ATTRIBUTION_OFFICIAL if source == OFFICIAL else ATTRIBUTION_APPROXIMATE
    return out


def areas_km2(layer: gpd.GeoDataFrame) -> pd.Series:
    """Area of each feature in km², computed in :data:`geodata.crs.AREA_CRS`."""
    return layer.geometry.to_crs(AREA_CRS).area / 1e6
