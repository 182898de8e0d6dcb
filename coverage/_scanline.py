"""Polygons burnt into a grid with numpy, by the cell-centre rule of GDAL's rasterizer.

``rasterio.features.rasterize`` turns every shape into GeoJSON in Python before GDAL fills it,
which costs more than the fill when a strip meets tens of thousands of site discs. Here the
edges of all the polygons of a set are kept once, as arrays in the grid's pixel coordinates,
and a strip of rows is filled for all of them at once: each edge gives the column where it
crosses the centre line of each row it spans, the crossings of a polygon on a row pair up into
runs of cells (even-odd rule over all its rings, so holes and multi-part shapes work), and the
runs of all polygons are merged. A cell is inside when its centre is, exactly as GDAL decides
with ``all_touched`` off: an edge crosses row ``r`` when ``ymin <= r + 0.5 < ymax`` and a run
from crossing ``x0`` to ``x1`` fills columns ``floor(x0 + 0.5)`` to ``floor(x1 + 0.5) - 1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import math

import numpy as np
import shapely
from affine import Affine

# The 32 vertices of shapely.buffer(point, r, quad_segs=8), clockwise from east, as GEOS makes them
# (libm cosine and sine, exact zeros at the quarter turns): the discs come out bit for bit the same.
_STEP = 2.0 * math.pi / 32
_COS = np.array([0.0 if i in (8, 24) else math.cos(-i * _STEP) for i in range(32)] + [1.0])
_SIN = np.array([0.0 if i in (0, 16) else math.sin(-i * _STEP) for i in range(32)] + [0.0])


def rings(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Vertices of every ring of (multi)polygons: ``x, y``, ring number and polygon number."""
    geoms = np.asarray(geoms, dtype=object)
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    rs, ring_of = shapely.get_rings(parts, return_index=True)
    xy, vertex_of = shapely.get_coordinates(rs, return_index=True)
    return xy[:, 0], xy[:, 1], vertex_of, part_of[ring_of][vertex_of]


def disc_rings(x: np.ndarray, y: np.ndarray, radius: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                       np.ndarray]:
    """The rings of ``shapely.buffer(points(x, y), radius, quad_segs=8)`` without making the shapes
    (closed, 33 vertices each; ring and polygon numbers are the disc's)."""
    x, y, radius = (np.asarray(a, float)[:, None] for a in (x, y, radius))
    number = np.repeat(np.arange(len(x)), 33)
    return (x + radius * _COS).ravel(), (y + radius * _SIN).ravel(), number, number


@dataclass(frozen=True)
class Scanlines:
    """The edges of a set of polygons in a grid's pixel coordinates (column, row), sorted by the
    first row whose centre line they cross. Horizontal edges, and edges crossing no centre line,
    are left out: they never change a run."""

    x0: np.ndarray  # the end with the smaller row coordinate
    y0: np.ndarray
    x1: np.ndarray
    y1: np.ndarray
    first: np.ndarray  # first row crossed (int64)
    last: np.ndarray  # last row crossed, inclusive
    poly: np.ndarray  # polygon number
    span: int  # most rows one edge crosses

    @classmethod
    def build(cls, x: np.ndarray, y: np.ndarray, ring: np.ndarray, poly: np.ndarray,
              transform: Affine) -> "Scanlines":
        """From ring vertices (closed rings, in the grid's CRS) and the grid's transform."""
        inv = ~transform
        col = inv.a * x + inv.b * y + inv.c
        row = inv.d * x + inv.e * y + inv.f
        same = ring[1:] == ring[:-1]  # consecutive vertices of one ring make an edge
        xa, ya, xb, yb = col[:-1][same], row[:-1][same], col[1:][same], row[1:][same]
        p = np.asarray(poly)[:-1][same]
        down = ya > yb
        x0, y0 = np.where(down, xb, xa), np.where(down, yb, ya)
        x1, y1 = np.where(down, xa, xb), np.where(down, ya, yb)
        first = np.ceil(y0 - 0.5).astype(np.int64)
        last = np.ceil(y1 - 0.5).astype(np.int64) - 1
        keep = (y0 < y1) & (last >= first)
        order = np.argsort(first[keep], kind="stable")
        x0, y0, x1, y1, first, last, p = (a[keep][order] for a in (x0, y0, x1, y1, first, last, p))
        span = int((last - first).max()) + 1 if len(first) else 0
        return cls(x0, y0, x1, y1, first, last, p.astype(np.int64), span)

    @classmethod
    def of(cls, geoms: np.ndarray, transform: Affine) -> "Scanlines":
        """From shapely (multi)polygons in the grid's CRS."""
        return cls.build(*rings(geoms), transform)

    def _pieces(self, r0: int, r1: int, c0: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Runs ``[start, stop)`` of flat cell numbers ``(row - r0) * width + (col - c0)`` in the window,
        one per polygon and row it fills (not merged), with the polygon's number."""
        lo = np.searchsorted(self.first, r0 - self.span, side="left")
        hi = np.searchsorted(self.first, r1, side="left")
        idx = lo + np.flatnonzero(self.last[lo:hi] >= r0)
        if len(idx) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
        a = np.maximum(self.first[idx], r0)
        n = np.minimum(self.last[idx], r1 - 1) - a + 1
        edge = np.repeat(idx, n)
        ends = np.cumsum(n)
        row = np.repeat(a - (ends - n), n) + np.arange(ends[-1])
        y0, x0 = self.y0[edge], self.x0[edge]
        x = (row + 0.5 - y0) * (self.x1[edge] - x0) / (self.y1[edge] - y0) + x0
        # Columns clipped to one outside the window on either side keep the order of crossings.
        col = np.clip(np.floor(x + 0.5), c0 - 1, c0 + width + 1).astype(np.int64) - (c0 - 1)
        h, w3 = r1 - r0, width + 3
        key = np.sort((self.poly[edge] * h + (row - r0)) * w3 + col)
        start, stop = key[0::2], key[1::2]  # a polygon crosses a row an even number of times
        poly, rel = np.divmod(start // w3, h)
        start = np.clip(start % w3 - 1, 0, width)
        stop = np.clip(stop % w3 - 1, 0, width)
        full = stop > start
        return rel[full] * width + start[full], rel[full] * width + stop[full], poly[full]

    def runs(self, r0: int, r1: int, c0: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Cells inside any polygon in rows ``r0..r1-1`` and columns ``c0..c0+width-1``, as disjoint
        sorted runs ``[start, stop)`` of flat cell numbers ``(row - r0) * width + (col - c0)``."""
        start, stop, _ = self._pieces(r0, r1, c0, width)
        return _merge(start, stop)

    def labels(self, r0: int, r1: int, c0: int, width: int, cells: np.ndarray) -> np.ndarray:
        """For each of ``cells`` (sorted flat cell numbers of the window), 1 + the number of the polygon
        holding it, 0 for none; where polygons overlap the highest number wins, as when GDAL burns
        them in order."""
        start, stop, poly = self._pieces(r0, r1, c0, width)
        out = np.zeros(len(cells), np.int64)
        if len(start) == 0 or len(cells) == 0:
            return out
        order = np.argsort(start, kind="stable")
        start, stop, poly = start[order], stop[order], poly[order]
        i = np.searchsorted(start, cells, side="right") - 1
        hit = (i >= 0) & (cells < stop[np.maximum(i, 0)])
        out[hit] = poly[i[hit]] + 1
        if (start[1:] >= np.maximum.accumulate(stop)[:-1]).all():
            return out  # no two runs overlap: the run starting last before a cell is the only candidate
        # Runs overlap (slivers between neighbouring shapes): cells held by several runs, or held by
        # one that is not the last to start before them, are settled run by run in polygon order.
        j0, j1 = np.searchsorted(cells, start), np.searchsorted(cells, stop)
        count = np.cumsum(np.bincount(j0, minlength=len(cells) + 1) - np.bincount(j1, minlength=len(cells) + 1))
        fix = np.flatnonzero((count[:-1] > 1) | ((count[:-1] == 1) & ~hit))
        if len(fix):
            k0, k1 = np.searchsorted(cells[fix], start), np.searchsorted(cells[fix], stop)
            touch = np.flatnonzero(k1 > k0)
            for k in touch[np.argsort(poly[touch], kind="stable")]:
                out[fix[k0[k]:k1[k]]] = poly[k] + 1
        return out

    def mask(self, r0: int, r1: int, c0: int, width: int) -> np.ndarray:
        """The same cells as a boolean array of shape ``(r1 - r0, width)``."""
        start, stop = self.runs(r0, r1, c0, width)
        return fill(start, stop, (r1 - r0, width))


def _merge(start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Overlapping or touching runs joined: disjoint, sorted runs covering the same cells."""
    if len(start) == 0:
        return start, stop
    order = np.argsort(start, kind="stable")
    start, stop = start[order], np.maximum.accumulate(stop[order])
    new = np.empty(len(start), bool)
    new[0] = True
    new[1:] = start[1:] > stop[:-1]
    heads = np.flatnonzero(new)
    return start[heads], stop[np.append(heads[1:] - 1, len(start) - 1)]


def fill(start: np.ndarray, stop: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Disjoint runs of flat cell numbers as a boolean array of ``shape``."""
    n = shape[0] * shape[1]
    step = np.zeros(n + 1, np.int8)
    step[start] += 1
    step[stop] -= 1
    return np.cumsum(step[:n], dtype=np.int8).astype(bool).reshape(shape)


def covered(cells: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Whether each of ``cells`` (sorted flat cell numbers) lies in one of the disjoint runs."""
    i = np.searchsorted(stop, cells, side="right")
    inside = np.zeros(len(cells), bool)
    ok = i < len(start)
    inside[ok] = cells[ok] >= start[i[ok]]
    return inside
