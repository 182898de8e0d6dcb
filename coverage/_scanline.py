"""Polygons burnt into a grid with numpy, by the cell-centre rule of GDAL's rasterizer.

``rasterio.features.rasterize`` turns every shape into GeoJSON in Python before GDAL fills it,
which costs more than the fill when a strip meets tens of thousands of site discs. Here the
edges of all the polygons of a set are kept once, as arrays in the grid's pixel coordinates,
and a strip of rows is filled for all of them at once: each edge gives the column where it
crosses the centre line of each row it spans, the crossings of a polygon on a row pair up into
runs of cells (even-odd rule over all its rings, so holes and multi-part shapes work), and the
runs of all polygons are merged. A cell is inside when its centre is, exactly as GDAL decides
with ``all_touched`` off: an edge crosses row ``r`` when ``ymin <= r + 0.5 < ymax`` and a run
from crossing ``x0`` to ``x1`` fills columns ``floor(x0 + 0.5)`` to ``floor(x1 + 0.5) - 1``. (One
difference, on boundaries only: for a horizontal edge lying exactly on a row's centre line, GDAL
fills its cells when the edge runs right to left in its ring; here the half-open rule alone
decides, so they are in when the edge is the polygon's top there and out when it is its bottom.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from affine import Affine

# The 32 vertices of shapely.buffer(point, r, quad_segs=8), clockwise from east, as GEOS makes them
# (libm cosine and sine, exact zeros at the quarter turns): the discs come out bit for bit the same.
_STEP = 2.0 * math.pi / 32
_COS = np.array([0.0 if i in (8, 24) else math.cos(-i * _STEP) for i in range(32)] + [1.0])
_SIN = np.array([0.0 if i in (0, 16) else math.sin(-i * _STEP) for i in range(32)] + [0.0])
DISC_VERTICES = len(_COS)  # per disc ring, closed


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
    number = np.repeat(np.arange(len(x)), DISC_VERTICES)
    return (x + radius * _COS).ravel(), (y + radius * _SIN).ravel(), number, number


@dataclass(frozen=True)
class Scanlines:
    """The edges of a set of polygons in a grid's pixel coordinates (column, row), grouped by
    polygon, polygons in the order of the first row they reach. Horizontal edges, and edges
    crossing no centre line, are left out: they never change a run."""

    x0: np.ndarray  # the end with the smaller row coordinate
    y0: np.ndarray
    x1: np.ndarray
    y1: np.ndarray
    first: np.ndarray  # first row whose centre line the edge crosses (int64)
    last: np.ndarray  # last such row, inclusive
    poly: np.ndarray  # polygon number (as given)
    top: np.ndarray  # per polygon (in order): its first row, non-decreasing
    reach: np.ndarray  # per polygon: the last row of it and of every polygon before it
    offset: np.ndarray  # per polygon: where its edges start (one more entry: the end)

    @classmethod
    def build(cls, x: np.ndarray, y: np.ndarray, ring: np.ndarray, poly: np.ndarray,
              transform: Affine) -> "Scanlines":
        """From ring vertices (closed rings, in the grid's CRS, the vertices of each polygon
        together) and the grid's transform."""
        inv = ~transform
        col = inv.a * x + inv.c if inv.b == 0 else inv.a * x + inv.b * y + inv.c
        row = inv.e * y + inv.f if inv.d == 0 else inv.d * x + inv.e * y + inv.f
        ya, yb = row[:-1], row[1:]
        lower, upper = np.minimum(ya, yb), np.maximum(ya, yb)
        first = np.ceil(lower - 0.5).astype(np.int64)
        last = np.ceil(upper - 0.5).astype(np.int64) - 1
        # Consecutive vertices of one ring make an edge; a horizontal one has last < first.
        edge = np.flatnonzero((ring[1:] == ring[:-1]) & (last >= first))
        number = np.asarray(poly, np.int64)[:-1][edge]
        if len(edge) and (np.diff(number) < 0).any():
            keep = np.argsort(number, kind="stable")
            edge, number = edge[keep], number[keep]
        heads = np.flatnonzero(np.append(True, number[1:] != number[:-1])) if len(edge) else np.zeros(0, np.int64)
        top = np.minimum.reduceat(first[edge], heads) if len(edge) else np.zeros(0, np.int64)
        bottom = np.maximum.reduceat(last[edge], heads) if len(edge) else np.zeros(0, np.int64)
        sizes = np.diff(np.append(heads, len(edge)))
        order = _argsort_rows(top)
        if (np.diff(order) < 0).any():  # move whole polygons, their edges staying together
            ends = np.cumsum(sizes[order])
            edge = edge[np.repeat(heads[order] - (ends - sizes[order]), sizes[order]) + np.arange(len(edge))]
            top, bottom, sizes = top[order], bottom[order], sizes[order]
        down = ya[edge] > yb[edge]
        x0 = np.where(down, col[1:][edge], col[:-1][edge])
        x1 = np.where(down, col[:-1][edge], col[1:][edge])
        reach = np.maximum.accumulate(bottom) if len(bottom) else bottom
        return cls(x0, lower[edge], x1, upper[edge], first[edge], last[edge], np.asarray(poly, np.int64)[:-1][edge],
                   top, reach, np.append(0, np.cumsum(sizes)))

    @classmethod
    def of(cls, geoms: np.ndarray, transform: Affine) -> "Scanlines":
        """From shapely (multi)polygons in the grid's CRS."""
        return cls.build(*rings(geoms), transform)

    def _pieces(self, r0: int, r1: int, c0: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Runs ``[start, stop)`` of flat cell numbers ``(row - r0) * width + (col - c0)`` in the window,
        one per polygon and row it fills (not merged), with the polygon's number."""
        lo = self.offset[np.searchsorted(self.reach, r0, side="left")]
        hi = self.offset[np.searchsorted(self.top, r1, side="left")]
        idx = lo + np.flatnonzero((self.last[lo:hi] >= r0) & (self.first[lo:hi] < r1))
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

    def labels(self, r0: int, r1: int, c0: int, width: int, cells: np.ndarray | None = None) -> np.ndarray:
        """1 + the number of the polygon holding each cell of the window (0 for none), for ``cells``
        (flat cell numbers) or the whole window (flat). Where polygons overlap the highest number
        wins, as when GDAL burns them in order."""
        start, stop, poly = self._pieces(r0, r1, c0, width)
        n = (r1 - r0) * width
        order = np.argsort(start, kind="stable")
        start, stop, poly = start[order], stop[order], poly[order] + 1
        # Runs sharing a cell with another (slivers between neighbours) are painted one by one, in
        # polygon order; the others, disjoint, are laid out in one go with the gaps between them.
        alone = np.ones(len(start), bool)
        if len(start) > 1:
            reach = np.maximum.accumulate(stop)
            new = np.append(True, start[1:] >= reach[:-1])
            chain = np.cumsum(new) - 1
            alone = np.bincount(chain)[chain] == 1
        s, e = start[alone], stop[alone]
        lengths = np.diff(np.concatenate([[0], np.column_stack([s, e]).ravel(), [n]]))
        values = np.zeros(2 * len(s) + 1, np.int32)
        values[1::2] = poly[alone]
        out = np.repeat(values, lengths)
        shared = np.flatnonzero(~alone)
        for k in shared[np.argsort(poly[shared], kind="stable")]:
            out[start[k]:stop[k]] = poly[k]
        return out if cells is None else out[cells]

    def mask(self, r0: int, r1: int, c0: int, width: int) -> np.ndarray:
        """The same cells as a boolean array of shape ``(r1 - r0, width)``."""
        start, stop = self.runs(r0, r1, c0, width)
        return fill(start, stop, (r1 - r0, width))


def _argsort_rows(rows: np.ndarray) -> np.ndarray:
    """Order of row numbers; a radix sort (16-bit keys) when they span under 65,536 rows."""
    if len(rows) and int(rows.max()) - int(rows.min()) < 2**16:
        return np.argsort((rows - rows.min()).astype(np.uint16), kind="stable")
    return np.argsort(rows)


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
