"""Households outside villages, placed by a population raster and covered where they live.

A commune's *remainder* (households not in any listed village) is spread over the raster cells
whose centre lies in the commune, in proportion to the cells' values (dasymetric). A layer
covers a cell when its site discs, signal rasters (value >= threshold, sampled at the cell
centre) or footprints hold the cell centre; a fixed operator known only by households passed per
village passes the commune's village share of the rest. So, per commune and layer, with ``S``
the population in the commune and ``M`` the population in covered cells:
``covered = remainder * (M + rate * (S - M)) / S``. A commune holding no populated cell centre
keeps the village-rate rule (see :mod:`coverage.engine`).

The raster is read in strips of rows (rasterio windows) and every strip is reduced with numpy to
population per (63-scheme commune, 34-scheme commune) pair and set of covering inputs, so memory
stays bounded by the strip, not the country: a national 3 arc-second grid never has to fit in
memory. Site discs (32-sided polygons drawn in metres), footprints and communes are burnt by the
cell-centre rule of GDAL's rasterizer, for all shapes of a strip at once (see
:mod:`coverage._scanline`). Strips are independent and their sums add: they run on one thread per
core, and can be handed to Dask workers as they are (``zonal_sums(..., mapper=...)``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.enums import MaskFlags, Resampling
from rasterio.errors import RasterioIOError
from rasterio.warp import reproject
from rasterio.windows import Window

from coverage._scanline import DISC_VERTICES as _DISC_VERTICES, Scanlines, disc_rings, fill, rings
from coverage.reach import Footprint, SignalRaster
from geodata.crs import AREA_CRS, DISPLAY_CRS
from geodata.errors import DataFileError

Group = tuple[str, str]  # (technology, operator): 4G, 5G or fixed
Mapper = Callable[[Callable[[Window], "StripSums"], list[Window]], Iterable["StripSums"]]
_Rings = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # vertices x, y, ring and polygon numbers
_ROWS_PER_STRIP = 512
_GROUPS_PER_WORD = 52  # group bits per int64 word, so that sums of them stay exact in float64
_SHOWN = 200  # bad cells listed in an error (every one is counted)


@dataclass(frozen=True)
class CellCheck:
    """What the check of one window's cells found: its population and the cells holding no valid
    number (how many, and the first ones as grid row, column and value)."""

    row: int
    total: float
    invalid: int = 0
    shown: tuple[tuple[int, int, float], ...] = ()


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
    given: Path | None = None  # the path as the scenario gave it, which errors quote (default: ``path``)

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

    def cells(self, ds: rasterio.DatasetReader, window: Window) -> tuple[np.ndarray, np.ndarray, CellCheck]:
        """The cells of a window holding people (valid, finite and above 0): their flat numbers
        (sorted) and values (in the raster's type), without a float64 copy of the window; and the
        check of the window's cells (a valid cell must hold a finite number, 0 or more), made on
        the same read so that the grid is never read twice."""
        values = ds.read(1, window=window)
        ok = values > 0  # NaN and -inf fail too
        if np.issubdtype(values.dtype, np.floating):
            ok &= values < np.inf
        bad = ~ok
        bad &= values != 0  # negative, NaN or infinite: a problem unless the cell is nodata or masked
        flags = ds.mask_flag_enums[0]
        if MaskFlags.nodata in flags and self.nodata is not None:
            if self.nodata > 0:  # a nodata at or below 0 (or NaN) is already left out of ``ok``
                ok &= values != self.nodata
                if self.nodata == np.inf:
                    bad &= values != np.inf
            elif np.isnan(self.nodata):
                bad &= ~np.isnan(values)
            elif self.nodata < 0:
                bad &= values != self.nodata
        elif MaskFlags.all_valid not in flags:  # a mask band or alpha: read it
            valid = ds.read_masks(1, window=window) > 0
            ok &= valid
            bad &= valid
        cells = np.flatnonzero(ok)
        weight = values[ok]  # in the raster's own type: float64 sums of it are the same either way
        r0, c0 = int(window.row_off), int(window.col_off)
        found = CellCheck(r0, float(weight.sum(dtype=np.float64)))
        if bad.any():
            rows, cols = np.nonzero(bad)
            found = CellCheck(r0, found.total, len(rows), tuple(
                (int(r) + r0, int(c) + c0, float(values[r, c])) for r, c in zip(rows[:_SHOWN], cols[:_SHOWN])))
        return cells, weight, found

    def check(self, found: Iterable[CellCheck]) -> None:
        """Raise the file's problems when the checks of its windows found any, or when it holds no
        population."""
        path = self.given or self.path
        found = sorted(found, key=lambda f: f.row)
        invalid = sum(f.invalid for f in found)
        if invalid:
            shown = [f"cell at row {r}, column {c}: {v!r} is not a non-negative number"
                     for f in found for r, c, v in f.shown][:_SHOWN]
            listed = f"; the first {len(shown)} are listed" if invalid > len(shown) else ""
            raise DataFileError(path, f"has {invalid:,} problem(s){listed}.", shown)
        if sum(f.total for f in found) <= 0:
            raise DataFileError(path, "holds no population (every cell is 0 or nodata).")

    def window_of(self, lonlat_bounds: tuple[float, float, float, float]) -> Window:
        """The grid window covering a lon/lat box (clipped to the grid)."""
        x0, y0, x1, y1 = rasterio.warp.transform_bounds(DISPLAY_CRS, self.crs, *lonlat_bounds)
        win = rasterio.windows.from_bounds(x0, y0, x1, y1, transform=self.transform)
        win = win.round_offsets(op="floor").round_lengths(op="ceil")
        return win.intersection(Window(0, 0, self.shape[1], self.shape[0]))


@dataclass
class CoverageGeometry:
    """Every geometric coverage input per (technology, operator) group, in the grid's CRS.

    Site discs (drawn in metres, then projected) and footprints are kept as ring vertices, and
    burnt into strips by :class:`coverage._scanline.Scanlines` (the cell-centre rule of GDAL's
    rasterizer, without handing shapes to it one by one); signal rasters are sampled at cell
    centres.
    """

    crs: CRS
    shapes: dict[Group, _Rings] = field(default_factory=dict)
    rasters: dict[Group, list[SignalRaster]] = field(default_factory=dict)
    _scans: dict[Group, list[tuple[Affine, Scanlines]]] = field(default_factory=dict)
    _signals: dict[int, np.ndarray] = field(default_factory=dict)

    @classmethod
    def build(cls, crs: CRS, sites: pd.DataFrame, rasters: tuple[SignalRaster, ...] = (),
              footprints: tuple[Footprint, ...] = ()) -> "CoverageGeometry":
        """Site service discs (32-sided polygons drawn in metres, then projected) and footprints in ``crs``."""
        geo = cls(crs)
        for raster in rasters:
            geo.rasters.setdefault((raster.technology, raster.operator), []).append(raster)
        from_lonlat = None if CRS.from_user_input(crs) == DISPLAY_CRS else (DISPLAY_CRS, crs)
        mobile = sites[sites["technology"].isin(["4G", "5G"])] if len(sites) else sites
        # One thread per core: projecting the discs' vertices is most of the work, and PROJ (like
        # shapely, reading the footprints' rings) lets go of the GIL.
        with ThreadPoolExecutor(_workers()) as pool:
            drawn = [pool.submit(lambda fp=fp: _project(rings(fp.shapes.to_numpy()), from_lonlat))
                     for fp in footprints]
            parts: dict[Group, list[_Rings]] = {}
            if len(mobile):
                # North to south in each group: the discs come in the order the strips meet them.
                mobile = mobile.iloc[np.argsort(-mobile["lat"].to_numpy(float), kind="stable")]
                keys = pd.MultiIndex.from_arrays([mobile["technology"].to_numpy(), mobile["operator"].to_numpy()])
                codes, groups = pd.factorize(keys, sort=True)
                order = np.argsort(codes, kind="stable")
                x, y = Transformer.from_crs(DISPLAY_CRS, AREA_CRS, always_xy=True).transform(
                    mobile["lon"].to_numpy(float)[order], mobile["lat"].to_numpy(float)[order])
                discs = _project(disc_rings(x, y, mobile["radius_m"].to_numpy(float)[order]), (AREA_CRS, crs), pool)
                bounds = np.searchsorted(codes[order], np.arange(len(groups) + 1))
                for i, group in enumerate(groups):
                    at = slice(_DISC_VERTICES * bounds[i], _DISC_VERTICES * bounds[i + 1])
                    number = discs[2][at] - bounds[i]
                    parts[tuple(group)] = [(discs[0][at], discs[1][at], number, number)]
            for fp, job in zip(footprints, drawn):
                parts.setdefault((fp.technology, fp.operator), []).append(job.result())
        geo.shapes = {group: _concat(p) for group, p in parts.items()}
        return geo

    @property
    def groups(self) -> list[Group]:
        return sorted(set(self.shapes) | set(self.rasters))

    def prepare(self, transform: Affine) -> None:
        """Lay every group's edges on a grid once (before strips are burnt in parallel), the groups
        on one thread per core (the work is numpy's, which lets go of the GIL)."""
        todo = [g for g in self.shapes if not any(self._on(base, transform) is not None
                                                  for base, _ in self._scans.get(g, []))]
        todo.sort(key=lambda g: -len(self.shapes[g][0]))  # the largest first
        with ThreadPoolExecutor(_workers()) as pool:
            scans = list(pool.map(lambda g: Scanlines.build(*self.shapes[g], transform), todo))
        for group, scan in zip(todo, scans):
            self._scans.setdefault(group, []).append((transform, scan))

    def _scan(self, group: Group, transform: Affine) -> tuple[Scanlines, int, int]:
        """The group's edges on a grid, and the window's row and column offsets on it."""
        for base, scan in self._scans.get(group, []):
            shift = self._on(base, transform)
            if shift is not None:
                return scan, *shift
        scan = Scanlines.build(*self.shapes[group], transform)
        self._scans.setdefault(group, []).append((transform, scan))
        return scan, 0, 0

    @staticmethod
    def _on(base: Affine, transform: Affine) -> tuple[int, int] | None:
        """Row and column offsets of ``transform``'s grid on ``base``'s: the same grid shifted by
        whole cells (``None`` otherwise)."""
        col, row = ~base @ (transform.c, transform.f)
        if (base.a, base.b, base.d, base.e) == (transform.a, transform.b, transform.d, transform.e) and \
                abs(col - round(col)) < 1e-6 and abs(row - round(row)) < 1e-6:
            return int(round(row)), int(round(col))
        return None

    def _runs(self, group: Group, shape: tuple[int, int], transform: Affine) -> tuple[np.ndarray, np.ndarray]:
        """Runs of cells (flat numbers in the window) inside the group's discs and footprints."""
        if group not in self.shapes:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        scan, r0, c0 = self._scan(group, transform)
        return scan.runs(r0, r0 + shape[0], c0, shape[1])

    def _signal(self, raster: SignalRaster) -> np.ndarray:
        """The signal grid as float32 with nodata as NaN, made once (not once per strip)."""
        if id(raster) not in self._signals:
            self._signals[id(raster)] = raster.values.astype("float32").filled(np.nan)
        return self._signals[id(raster)]

    def _sampled(self, group: Group, shape: tuple[int, int], transform: Affine) -> np.ndarray | None:
        """Cells whose centre has a signal at or above the threshold in one of the group's rasters."""
        mask = None
        for raster in self.rasters.get(group, []):
            sampled = np.full(shape, np.nan, dtype="float32")
            src = self._signal(raster)
            reproject(src, sampled, src_transform=raster.transform, src_crs=raster.crs, src_nodata=np.nan,
                      dst_transform=transform, dst_crs=self.crs, dst_nodata=np.nan, resampling=Resampling.nearest)
            hit = sampled >= raster.threshold
            mask = hit if mask is None else mask | hit
        return mask

    def masks(self, shape: tuple[int, int], transform: Affine) -> dict[Group, np.ndarray]:
        """Covered cells (cell centre inside a disc or footprint, or signal >= threshold) per group."""
        out: dict[Group, np.ndarray] = {}
        for group in self.groups:
            mask = fill(*self._runs(group, shape, transform), shape)
            sampled = self._sampled(group, shape, transform)
            out[group] = mask if sampled is None else mask | sampled
        return out

    def bits(self, cells: np.ndarray, shape: tuple[int, int], transform: Affine) -> list[np.ndarray]:
        """For each of ``cells`` (sorted flat cell numbers of the window), which groups cover it: bit
        ``i % 52`` of word ``i // 52`` for group ``self.groups[i]`` (one pass for all groups)."""
        groups = self.groups
        words = []
        for w0 in range(0, len(groups), _GROUPS_PER_WORD):
            word = np.zeros(len(cells), np.int64)
            at, step = [], []
            for b, group in enumerate(groups[w0:w0 + _GROUPS_PER_WORD]):
                start, stop = self._runs(group, shape, transform)
                if len(start):  # the runs are disjoint: each adds 2**b over the cells it holds
                    at += [np.searchsorted(cells, start), np.searchsorted(cells, stop)]
                    step += [np.full(len(start), 2.0 ** b), np.full(len(stop), -(2.0 ** b))]
                sampled = self._sampled(group, shape, transform)
                if sampled is not None:
                    word |= sampled.ravel()[cells].astype(np.int64) << b
            if at:
                # Partial sums are sums of distinct powers of two below 2**52: exact in float64.
                steps = np.bincount(np.concatenate(at), weights=np.concatenate(step), minlength=len(cells) + 1)
                word |= np.cumsum(steps[:-1], dtype=np.int64)  # whole numbers: the same in int64
            words.append(word)
        return words


def _project(r: _Rings, crs: tuple[object, object] | None, pool: ThreadPoolExecutor | None = None) -> _Rings:
    """Ring vertices from one CRS to another (``crs``: the pair; ``None``: already there), in
    pieces on ``pool``'s threads when there are many (each point's result is the same either way)."""
    if crs is None:
        return r
    pieces = _workers() if pool is not None and len(r[0]) >= 100_000 else 1
    cut = np.linspace(0, len(r[0]), pieces + 1).astype(int)

    def _piece(i: int) -> tuple[np.ndarray, np.ndarray]:  # a transformer per thread: they are not shared
        return Transformer.from_crs(*crs, always_xy=True).transform(r[0][cut[i]:cut[i + 1]], r[1][cut[i]:cut[i + 1]])

    done = list(pool.map(_piece, range(pieces))) if pieces > 1 else [_piece(0)]
    x = np.concatenate([np.asarray(d[0], float) for d in done])
    y = np.concatenate([np.asarray(d[1], float) for d in done])
    return x, y, r[2], r[3]


def _workers() -> int:
    return max(1, os.cpu_count() or 1)


def _concat(parts: list[_Rings]) -> _Rings:
    """Ring sets joined, their ring and polygon numbers kept distinct."""
    if len(parts) == 1:
        return parts[0]
    xs, ys, ring, poly = [], [], [], []
    r_off = p_off = 0
    for x, y, r, p in parts:
        xs.append(x), ys.append(y), ring.append(r + r_off), poly.append(p + p_off)
        r_off += int(r.max()) + 1 if len(r) else 0
        p_off += int(p.max()) + 1 if len(p) else 0
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ring), np.concatenate(poly)


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


def _labels(polys: gpd.GeoDataFrame, grid: PopulationGrid) -> Scanlines:
    """The polygons' edges on the grid; their ``labels`` are 1-based row numbers of ``polys`` (0 outside)."""
    polys = polys if polys.crs == grid.crs else polys.to_crs(grid.crs)
    return Scanlines.of(polys.geometry.to_numpy(), grid.transform)


@dataclass(frozen=True)
class StripSums:
    """What one strip adds up to: population per (commune pair key, group bits) (``None``: no
    populated cell in a commune), and the check of the strip's cells."""

    table: pd.DataFrame | None
    check: CellCheck


@dataclass(frozen=True)
class _StripTask:
    """The work on one strip of the grid: read it once, check its cells, and reduce it to
    population per (commune pair key, group bits).

    Strips are independent and their tables add: this is the unit of work handed to a thread
    here, and what a Dask task would run (see the README)."""

    grid: PopulationGrid
    labels63: Scanlines
    labels34: Scanlines
    n34: int
    geometry: CoverageGeometry
    packed: int | None

    def __call__(self, win: Window) -> StripSums:
        with rasterio.open(self.grid.path) as ds:
            cells, weight, found = self.grid.cells(ds, win)
            transform = ds.window_transform(win)
        if not len(cells):
            return StripSums(None, found)
        place = (int(win.row_off), int(win.row_off + win.height), int(win.col_off), int(win.width))
        lab63 = self.labels63.labels(*place, cells)
        inside = lab63 > 0
        if not inside.any():
            return StripSums(None, found)
        cells, weight, lab63 = cells[inside], weight[inside], lab63[inside]
        key = lab63.astype(np.int64) * self.n34 + self.labels34.labels(*place, cells)
        bits = self.geometry.bits(cells, (int(win.height), int(win.width)), transform)
        return StripSums(_tally(key, bits, weight, self.packed), found)


@dataclass(frozen=True)
class ZonalTable:
    """Population over a grid per (commune pair, set of covering groups), before any layer is
    chosen: the strips' tables added. Each layer's sums are read off it (:meth:`sums`), so the
    raster step need not wait for the list of layers."""

    table: pd.DataFrame  # key (commune pair), w0, w1, ... (group bits), S
    groups: list[Group]
    geometry: CoverageGeometry
    codes63: np.ndarray
    codes34: np.ndarray

    def sums(self, layers: list[str]) -> pd.DataFrame:
        """Population per (commune_63, commune_34) pair, total (``S``) and in cells covered by each
        layer's geometry (``M__<layer>``)."""
        table, groups = self.table, self.groups
        if not len(table):
            return pd.DataFrame(columns=["commune_63", "commune_34", "S", *(f"M__{k}" for k in layers)])
        pairs, at = np.unique(table["key"].to_numpy(), return_inverse=True)
        weight = table["S"].to_numpy()
        cols = {"S": np.bincount(at, weights=weight, minlength=len(pairs))}
        for layer in layers:
            wanted = {groups.index(g) for g in layer_groups(layer, self.geometry)}
            covered = np.zeros(len(table), bool)
            for w in range(0, len(groups), _GROUPS_PER_WORD):
                bits = sum(1 << (i - w) for i in wanted if w <= i < w + _GROUPS_PER_WORD)
                if bits:
                    covered |= (table[f"w{w // _GROUPS_PER_WORD}"].to_numpy() & bits) != 0
            cols[f"M__{layer}"] = np.bincount(at, weights=weight * covered, minlength=len(pairs))
        sums = pd.DataFrame(cols)
        n34 = len(self.codes34) + 1
        i63, i34 = np.divmod(pairs, n34)
        sums.insert(0, "commune_63", self.codes63[i63 - 1])
        sums.insert(1, "commune_34", np.where(i34 > 0, self.codes34[np.maximum(i34 - 1, 0)], None))
        return sums


def zonal_table(grid: PopulationGrid, communes63: gpd.GeoDataFrame, communes34: gpd.GeoDataFrame,
                geometry: CoverageGeometry, rows: int = _ROWS_PER_STRIP, workers: int | None = None,
                mapper: Mapper | None = None) -> ZonalTable:
    """The grid's population per (commune pair, set of covering groups), summed strip by strip: on
    ``workers`` threads (default one per core), or by ``mapper(task, windows)``, which runs the
    task on every window anywhere (on Dask: ``dask.compute(*(dask.delayed(task)(w) for w in
    windows))``) and returns what the task returned.

    Each strip is read once: its cells are checked as they are summed (a cell that is not nodata
    must hold a finite number, 0 or more), and a grid failing the check raises
    :class:`DataFileError` naming its cells. Each strip is reduced to population per (commune
    pair, set of covering groups): one pass over the populated cells whatever the number of
    layers."""
    c63, c34 = communes63.reset_index(drop=True), communes34.reset_index(drop=True)
    n34 = len(c34) + 1
    groups = geometry.groups
    packed = 0 < len(groups) <= _GROUPS_PER_WORD and (len(c63) * n34 + n34).bit_length() + len(groups) <= 62
    geometry.prepare(grid.transform)
    task = _StripTask(grid, _labels(c63, grid), _labels(c34, grid), n34, geometry, len(groups) if packed else None)
    windows = list(grid.strips(rows))
    workers = max(1, min(workers or os.cpu_count() or 1, len(windows)))
    try:
        if mapper is not None:
            done = list(mapper(task, windows))
        elif workers > 1:
            with ThreadPoolExecutor(workers) as pool:
                done = list(pool.map(task, windows))
        else:
            done = [task(w) for w in windows]
    except RasterioIOError as exc:
        raise DataFileError(grid.given or grid.path, f"cannot be read as a GeoTIFF ({exc}).") from exc
    grid.check(d.check for d in done)
    done.sort(key=lambda d: d.check.row)  # the same sums, in the same order, however the strips ran
    parts = [d.table for d in done if d.table is not None]
    empty = pd.DataFrame({"key": np.zeros(0, np.int64), "S": np.zeros(0)})
    table = pd.concat(parts, ignore_index=True) if parts else empty
    table = table.groupby([c for c in table.columns if c != "S"], sort=False)["S"].sum().reset_index()
    if "code" in table:  # packed: key and group bits in one integer
        code = table.pop("code").to_numpy()
        table.insert(0, "key", code >> len(groups))
        table.insert(1, "w0", code & ((1 << len(groups)) - 1))
    return ZonalTable(table, groups, geometry, c63["code"].to_numpy(), c34["code"].to_numpy())


def zonal_sums(grid: PopulationGrid, communes63: gpd.GeoDataFrame, communes34: gpd.GeoDataFrame,
               geometry: CoverageGeometry, layers: list[str], rows: int = _ROWS_PER_STRIP,
               workers: int | None = None, mapper: Mapper | None = None) -> pd.DataFrame:
    """Population per (commune_63, commune_34) pair, total (``S``) and in cells covered by each
    layer's geometry (``M__<layer>``): :func:`zonal_table`'s sums of ``layers``."""
    return zonal_table(grid, communes63, communes34, geometry, rows, workers, mapper).sums(layers)


def _tally(key: np.ndarray, words: list[np.ndarray], weight: np.ndarray, packed: int | None) -> pd.DataFrame:
    """Population per distinct (key, group bits) of one strip. Key and the bits of ``packed`` groups
    share one integer (``code``) when the caller found they fit, else they are columns ``key, w0, ...``."""
    if packed is not None:
        codes, uniques = pd.factorize((key << packed) | words[0])
        return pd.DataFrame({"code": uniques, "S": np.bincount(codes, weights=weight, minlength=len(uniques))})
    frame = pd.DataFrame({"key": key, **{f"w{i}": w for i, w in enumerate(words)}, "S": weight.astype(np.float64)})
    return frame.groupby([c for c in frame.columns if c != "S"], sort=False)["S"].sum().reset_index()


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
    c63 = communes63.merge(factors, left_on="code", right_on="commune_63").reset_index(drop=True)
    labels = _labels(c63, grid)
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
            place = (int(win.row_off), int(win.row_off + win.height), int(win.col_off), int(win.width))
            lab = labels.labels(*place).reshape(pop.shape)
            masks = geometry.masks(pop.shape, transform)
            covered = (np.logical_or.reduce([masks[g] for g in groups]) if groups
                       else np.zeros(pop.shape, bool))
            share = np.where(covered, 1.0, rate[lab])
            r0 = int(win.row_off - window.row_off)
            out[r0:r0 + pop.shape[0]] = pop * factor[lab] * (1.0 - share)
    return out, window_transform
