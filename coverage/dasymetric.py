"""Households outside villages, placed by a population raster and covered where they live.

A commune's *remainder* (households not in any listed village) is spread over the raster cells
whose centre lies in the commune, in proportion to the cells' values (dasymetric). A layer
covers a cell when its site discs, signal rasters (value >= threshold, sampled at the cell
centre) or footprints hold the cell centre; a fixed operator known only by households passed per
village passes the commune's village share of the rest. So, per commune and layer, with ``S``
the population in the commune and ``M`` the population in covered cells:
``covered = remainder * (M + rate * (S - M)) / S``. A commune holding no populated cell centre
keeps the village-rate rule (see :mod:`coverage.engine`).

The raster is read in strips of rows (rasterio windows) and every strip is reduced to sums per
(63-scheme commune, 34-scheme commune) pair with numpy, so memory stays bounded by the strip, not the
country: a national 3 arc-second grid never has to fit in memory, and strips could be handed to
Dask workers as they are (each strip's sums are independent and add up).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from rasterio import features
from rasterio.enums import Resampling
from rasterio.warp import reproject
from rasterio.windows import Window, bounds as window_bounds

from coverage.reach import Footprint, SignalRaster
from geodata.crs import AREA_CRS, DISPLAY_CRS

Group = tuple[str, str]  # (technology, operator): 4G, 5G or fixed
_ROWS_PER_STRIP = 512


@dataclass(frozen=True)
class PopulationGrid:
    """A population GeoTIFF on disk: its grid, read strip by strip (never whole)."""

    path: Path
    transform: Affine
    crs: CRS
    shape: tuple[int, int]
    nodata: float | None
    file: str
    provenance: str
    as_of: str

    def strips(self, rows: int = _ROWS_PER_STRIP, window: Window | None = None) -> Iterator[Window]:
        """Windows of ``rows`` full-width rows covering ``window`` (default: the whole grid)."""
        w = window or Window(0, 0, self.shape[1], self.shape[0])
        for r0 in range(int(w.row_off), int(w.row_off + w.height), rows):
            yield Window(w.col_off, r0, w.width, min(rows, int(w.row_off + w.height) - r0))

    def read(self, ds: rasterio.DatasetReader, window: Window) -> np.ndarray:
        """Cell values of a window as float64, nodata and non-finite values as 0."""
        values = ds.read(1, window=window, masked=True).astype("float64").filled(0.0)
        values[~np.isfinite(values)] = 0.0
        return values

    def window_of(self, lonlat_bounds: tuple[float, float, float, float]) -> Window:
        """The grid window covering a lon/lat box (clipped to the grid)."""
        x0, y0, x1, y1 = rasterio.warp.transform_bounds(DISPLAY_CRS, self.crs, *lonlat_bounds)
        win = rasterio.windows.from_bounds(x0, y0, x1, y1, transform=self.transform)
        win = win.round_offsets(op="floor").round_lengths(op="ceil")
        return win.intersection(Window(0, 0, self.shape[1], self.shape[0]))


@dataclass
class CoverageGeometry:
    """Every geometric coverage input per (technology, operator) group, in the grid's CRS."""

    crs: CRS
    discs: dict[Group, np.ndarray] = field(default_factory=dict)
    rasters: dict[Group, list[SignalRaster]] = field(default_factory=dict)
    footprints: dict[Group, np.ndarray] = field(default_factory=dict)
    _trees: dict[tuple[str, Group], shapely.STRtree] = field(default_factory=dict)
    _signals: dict[int, np.ndarray] = field(default_factory=dict)

    @classmethod
    def build(cls, crs: CRS, sites: pd.DataFrame, rasters: tuple[SignalRaster, ...] = (),
              footprints: tuple[Footprint, ...] = ()) -> "CoverageGeometry":
        """Site service discs (drawn in metres, then projected) and footprints in ``crs``."""
        geo = cls(crs)
        to_grid = Transformer.from_crs(AREA_CRS, crs, always_xy=True)
        from_lonlat = Transformer.from_crs(DISPLAY_CRS, crs, always_xy=True)
        mobile = sites[sites["technology"].isin(["4G", "5G"])] if len(sites) else sites
        if len(mobile):
            x, y = Transformer.from_crs(DISPLAY_CRS, AREA_CRS, always_xy=True).transform(
                mobile["lon"].to_numpy(float), mobile["lat"].to_numpy(float))
            discs = shapely.buffer(shapely.points(x, y), mobile["radius_m"].to_numpy(float), quad_segs=8)
            discs = shapely.transform(discs, lambda xy: np.column_stack(to_grid.transform(xy[:, 0], xy[:, 1])))
            keys = list(zip(mobile["technology"], mobile["operator"]))
            for group in sorted(set(keys)):
                geo.discs[group] = discs[np.array([k == group for k in keys])]
        for raster in rasters:
            geo.rasters.setdefault((raster.technology, raster.operator), []).append(raster)
        for fp in footprints:
            shapes = shapely.transform(fp.shapes.to_numpy(),
                                       lambda xy: np.column_stack(from_lonlat.transform(xy[:, 0], xy[:, 1])))
            group = (fp.technology, fp.operator)
            geo.footprints[group] = np.concatenate([geo.footprints.get(group, np.array([], object)), shapes])
        return geo

    @property
    def groups(self) -> list[Group]:
        return sorted(set(self.discs) | set(self.rasters) | set(self.footprints))

    def _burn(self, kind: str, group: Group, geoms: np.ndarray, box: shapely.Polygon, shape: tuple[int, int],
              transform: Affine) -> np.ndarray:
        tree = self._trees.setdefault((kind, group), shapely.STRtree(geoms))
        hits = geoms[tree.query(box)]
        if len(hits) == 0:
            return np.zeros(shape, bool)
        return features.rasterize(((g, 1) for g in hits), out_shape=shape, transform=transform, fill=0,
                                  dtype="uint8").astype(bool)

    def _signal(self, raster: SignalRaster) -> np.ndarray:
        """The signal grid as float32 with nodata as NaN, made once (not once per strip)."""
        if id(raster) not in self._signals:
            self._signals[id(raster)] = raster.values.astype("float32").filled(np.nan)
        return self._signals[id(raster)]

    def masks(self, shape: tuple[int, int], transform: Affine) -> dict[Group, np.ndarray]:
        """Covered cells (cell centre inside a disc or footprint, or signal >= threshold) per group."""
        h, w = shape
        box = shapely.box(*window_bounds(Window(0, 0, w, h), transform))
        out: dict[Group, np.ndarray] = {}
        for group in self.groups:
            mask = np.zeros(shape, bool)
            if group in self.discs:
                mask |= self._burn("disc", group, self.discs[group], box, shape, transform)
            if group in self.footprints:
                mask |= self._burn("footprint", group, self.footprints[group], box, shape, transform)
            for raster in self.rasters.get(group, []):
                sampled = np.full(shape, np.nan, dtype="float32")
                src = self._signal(raster)
                reproject(src, sampled, src_transform=raster.transform, src_crs=raster.crs, src_nodata=np.nan,
                          dst_transform=transform, dst_crs=self.crs, dst_nodata=np.nan,
                          resampling=Resampling.nearest)
                mask |= sampled >= raster.threshold
            out[group] = mask
        return out


def layer_groups(layer: str, geometry: CoverageGeometry) -> list[Group]:
    """The groups whose geometry covers a layer ``tech__op`` (fixed groups: footprints only)."""
    tech, op = layer.split("__", 1)
    techs = {"4G": {"4G"}, "5G": {"5G"}, "mobile": {"4G", "5G"}, "fixed": {"fixed"},
             "any": {"4G", "5G", "fixed"}}[tech]
    return [g for g in geometry.groups if g[0] in techs and op in ("all", g[1])]


def fixed_rates(layers: list[str], villages: pd.DataFrame, fixed_operators: list[str],
                footprint_operators: set[str]) -> pd.DataFrame:
    """Per commune and layer, the share of non-footprint households passed by fixed networks
    known only by counts per village: the commune's village share (0 for mobile layers)."""
    by = villages.groupby("commune_code")
    village_hh = by["households"].sum().replace(0, np.nan)
    counted = [op for op in fixed_operators if op not in footprint_operators]
    rates = {}
    for layer in layers:
        tech, op = layer.split("__", 1)
        if tech not in ("fixed", "any") or not counted or (op != "all" and op not in counted):
            continue
        rates[layer] = (by[f"hh_cov__fixed__{op}"].sum() / village_hh).fillna(0.0)
    return pd.DataFrame(rates).rename_axis("commune_63")


def _labels(polys: gpd.GeoDataFrame, tree: shapely.STRtree, box: shapely.Polygon, shape: tuple[int, int],
            transform: Affine) -> np.ndarray:
    """Raster of 1-based row numbers of ``polys`` (0 outside every polygon)."""
    idx = tree.query(box)
    if len(idx) == 0:
        return np.zeros(shape, np.int32)
    geoms = polys.geometry.to_numpy()[idx]
    return features.rasterize(zip(geoms, (idx + 1).tolist()), out_shape=shape, transform=transform,
                              fill=0, dtype="int32")


def zonal_sums(grid: PopulationGrid, communes63: gpd.GeoDataFrame, communes34: gpd.GeoDataFrame,
               geometry: CoverageGeometry, layers: list[str], rows: int = _ROWS_PER_STRIP) -> pd.DataFrame:
    """Population per (commune_63, commune_34) pair, total (``S``) and in cells covered by each
    layer's geometry (``M__<layer>``), summed strip by strip."""
    c63 = communes63.to_crs(grid.crs).reset_index(drop=True)
    c34 = communes34.to_crs(grid.crs).reset_index(drop=True)
    t63, t34 = shapely.STRtree(c63.geometry.to_numpy()), shapely.STRtree(c34.geometry.to_numpy())
    n34 = len(c34) + 1
    wanted = {layer: layer_groups(layer, geometry) for layer in layers}
    parts = []
    with rasterio.open(grid.path) as ds:
        for win in grid.strips(rows):
            pop = grid.read(ds, win)
            if not pop.any():
                continue
            transform = ds.window_transform(win)
            box = shapely.box(*window_bounds(win, ds.transform))
            lab63 = _labels(c63, t63, box, pop.shape, transform)
            sel = (pop > 0) & (lab63 > 0)
            if not sel.any():
                continue
            lab34 = _labels(c34, t34, box, pop.shape, transform)
            key = lab63[sel].astype(np.int64) * n34 + lab34[sel]
            keys, inverse = np.unique(key, return_inverse=True)
            weight = pop[sel]
            cols = {"key": keys, "S": np.bincount(inverse, weights=weight, minlength=len(keys))}
            masks = {g: m[sel] for g, m in geometry.masks(pop.shape, transform).items()}
            for layer, groups in wanted.items():
                if groups:
                    covered = np.logical_or.reduce([masks[g] for g in groups])
                    cols[f"M__{layer}"] = np.bincount(inverse, weights=weight * covered, minlength=len(keys))
                else:
                    cols[f"M__{layer}"] = np.zeros(len(keys))
            parts.append(pd.DataFrame(cols))
    if not parts:
        return pd.DataFrame(columns=["commune_63", "commune_34", "S", *(f"M__{k}" for k in layers)])
    sums = pd.concat(parts, ignore_index=True).groupby("key").sum().reset_index()
    i63, i34 = np.divmod(sums.pop("key").to_numpy(), n34)
    sums.insert(0, "commune_63", c63["code"].to_numpy()[i63 - 1])
    sums.insert(1, "commune_34", np.where(i34 > 0, c34["code"].to_numpy()[np.maximum(i34 - 1, 0)], None))
    return sums


def _successors(sums: pd.DataFrame, crosswalk: pd.DataFrame) -> pd.DataFrame:
    """Move sums landing in a 34-scheme commune that is not a successor of their 63-scheme commune (an
    artefact of approximate polygons) to the successor holding most of that commune's people."""
    valid = crosswalk[["old_code", "new_code"]].rename(columns={"old_code": "commune_63", "new_code": "commune_34"})
    ok = sums.merge(valid.assign(_ok=True), on=["commune_63", "commune_34"], how="left")["_ok"].fillna(False)
    ok = ok.to_numpy(bool)
    if ok.all():
        return sums
    good = sums[ok]
    main = good.sort_values("S", ascending=False).drop_duplicates("commune_63").set_index("commune_63")["commune_34"]
    first = valid.drop_duplicates("commune_63").set_index("commune_63")["commune_34"]
    moved = sums[~ok].copy()
    moved["commune_34"] = moved["commune_63"].map(main).fillna(moved["commune_63"].map(first)).to_numpy()
    return pd.concat([good, moved]).groupby(["commune_63", "commune_34"], dropna=False).sum().reset_index()


def located_remainder(remainder: pd.Series, sums: pd.DataFrame, rates: pd.DataFrame, layers: list[str],
                      crosswalk: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Remainder households and their coverage per (commune_63, commune_34), from zonal sums.

    Returns the located pieces (``households``, ``hh_cov__<layer>``) and, per 63-scheme commune, the
    factors that turn population into households (``factor = remainder / S``) with the fixed
    rates, which is all a later export needs to redraw the households on the grid.
    """
    sums = _successors(sums, crosswalk)
    rem = remainder[remainder > 0]
    sums = sums[sums["commune_63"].isin(rem.index)]
    total = sums.groupby("commune_63")["S"].transform("sum")
    sums = sums[total > 0]
    total = total[total > 0]
    factor = rem.reindex(sums["commune_63"]).to_numpy() / total.to_numpy()
    out = pd.DataFrame({"commune_63": sums["commune_63"].to_numpy(), "commune_34": sums["commune_34"].to_numpy(),
                        "households": sums["S"].to_numpy() * factor})
    for layer in layers:
        m = sums[f"M__{layer}"].to_numpy()
        rate = (rates[layer].reindex(sums["commune_63"]).fillna(0.0).to_numpy() if layer in rates
                else np.zeros(len(sums)))
        out[f"hh_cov__{layer}"] = factor * (m + rate * (sums["S"].to_numpy() - m))
    factors = pd.DataFrame({"commune_63": sums["commune_63"].to_numpy(), "factor": factor}).drop_duplicates(
        "commune_63").set_index("commune_63")
    factors = factors.join(rates.add_prefix("rate__"), how="left").fillna(0.0).reset_index()
    return out, factors


def uncovered_grid(grid: PopulationGrid, window: Window, communes63: gpd.GeoDataFrame, factors: pd.DataFrame,
                   geometry: CoverageGeometry, layer: str) -> tuple[np.ndarray, Affine]:
    """Uncovered remainder households per cell over ``window`` (for household clusters)."""
    c63 = communes63.merge(factors, left_on="code", right_on="commune_63").to_crs(grid.crs).reset_index(drop=True)
    tree = shapely.STRtree(c63.geometry.to_numpy())
    groups = layer_groups(layer, geometry)
    rate_col = f"rate__{layer}"
    factor = np.concatenate([[0.0], c63["factor"].to_numpy(float)])
    rate = np.concatenate([[0.0], c63[rate_col].to_numpy(float) if rate_col in c63 else np.zeros(len(c63))])
    out = np.zeros((int(window.height), int(window.width)))
    with rasterio.open(grid.path) as ds:
        window_transform = ds.window_transform(window)
        for win in grid.strips(window=window):
            pop = grid.read(ds, win)
            transform = ds.window_transform(win)
            box = shapely.box(*window_bounds(win, ds.transform))
            lab = _labels(c63, tree, box, pop.shape, transform)
            masks = geometry.masks(pop.shape, transform)
            covered = (np.logical_or.reduce([masks[g] for g in groups]) if groups
                       else np.zeros(pop.shape, bool))
            share = np.where(covered, 1.0, rate[lab])
            r0 = int(win.row_off - window.row_off)
            out[r0:r0 + pop.shape[0]] = pop * factor[lab] * (1.0 - share)
    return out, window_transform
